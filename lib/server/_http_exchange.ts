/**
 * One HTTP exchange of wstream's servers, after the request head was read:
 * register the request for `upgrade()`, call the handler, then either write
 * the 101 head and hand the socket to the WebSocket, or write the handler's
 * response (streamed, see `lib/http/_response_writer.ts`). For `serve()`
 * ({@linkcode serveExchange}) the request carries its body (see
 * `lib/http/_request_body.ts`) and the connection may be kept alive for the
 * next request; for `attachToNodeServer()` upgrades ({@linkcode runExchange})
 * a plain answer closes the connection. Private; never re-exported.
 *
 * @module
 */

import type { ServeHandler } from "../http/handler.ts";
import type { TcpConnection } from "../transports/tcp_connection.ts";
import type { ServerConnectionDefaults } from "../connection/_server_defaults.ts";
import type { WebSocketStreamLike } from "../connection/websocket_stream_like.ts";
import { type PendingUpgrade, pendingUpgrades } from "./_pending_upgrade.ts";
import { requireChannel } from "../transports/_socket_channel.ts";
import {
  hasToken,
  latin1,
  ResponseBodyError,
  STATUS_TEXT,
  writeHttpResponse,
} from "../http/_response_writer.ts";
import {
  HttpBodyError,
  RequestBody,
  requestBodyFraming,
} from "../http/_request_body.ts";

/** What the exchange needs from its server. */
export interface ExchangeContext {
  /** Answers the request. */
  handler: ServeHandler;
  /** Turns a handler error into a response. */
  onError: ((error: unknown) => Response | Promise<Response>) | undefined;
  /** Connection settings for `upgrade()`. */
  defaults: ServerConnectionDefaults;
  /** True once the server stopped taking new work: upgrades get 503. */
  shuttingDown(): boolean;
  /** Called with each WebSocket once its 101 head was written. */
  opened(socket: WebSocketStreamLike, connection: TcpConnection): void;
}

/** How an exchange ended. */
export type ExchangeOutcome = "upgraded" | "answered";

/** The limits of one `serve()` exchange. */
export interface ExchangeLimits {
  /** The largest request body accepted, in bytes. */
  maxBodySize: number;
  /** The longest wait for request body bytes, in milliseconds (0: none). */
  bodyTimeout: number;
  /** Whether the connection may be kept alive after this exchange. */
  keepAlive: boolean;
}

const CONTINUE = latin1("HTTP/1.1 100 Continue\r\n\r\n");

/** What a request maps to once its handler returned. */
const SETTLED: PendingUpgrade = {
  head: new Uint8Array(0),
  transport: new Promise<never>(() => {}),
  remoteAddr: null,
  defaults: {},
  response: null,
  socket: null,
  settled: true,
};

/** What the handler made of a request. */
interface Handled {
  response: Response;
  /** Whether the handler threw (or returned something else than a Response). */
  threw: boolean;
  pending: PendingUpgrade;
  transport: PromiseWithResolvers<TcpConnection>;
}

/** Registers `request` for `upgrade()` and calls the handler. */
async function callHandler(
  connection: TcpConnection,
  request: Request,
  rest: Uint8Array,
  context: ExchangeContext,
): Promise<Handled> {
  const transport = Promise.withResolvers<TcpConnection>();
  transport.promise.catch(() => {});
  const remoteAddr = connection.remoteAddr; // Not free on Bun: read once.
  const pending: PendingUpgrade = {
    head: rest,
    transport: transport.promise,
    remoteAddr: remoteAddr ?? null,
    defaults: context.defaults,
    response: null,
    socket: null,
    settled: false,
  };
  pendingUpgrades.set(request, pending);
  let response: Response;
  let threw = false;
  try {
    response = await context.handler(request, {
      remoteAddr: { transport: "tcp", ...remoteAddr },
    });
    if (!(response instanceof Response)) {
      throw new TypeError(
        `The handler returned ${
          Object.prototype.toString.call(response)
        }: return a Response`,
      );
    }
  } catch (error) {
    threw = true;
    response = await errorResponse(error, context.onError);
  }
  pending.settled = true;
  // Keep answering late upgrade() calls clearly, without keeping the socket.
  pendingUpgrades.set(request, SETTLED);
  return { response, threw, pending, transport };
}

/**
 * Completes an upgrade whose 101 the handler returned: writes it and hands
 * the socket over (503 instead during shutdown).
 *
 * @returns `"upgraded"`, or the refusal to send instead.
 */
async function completeUpgrade(
  connection: TcpConnection,
  handled: Handled,
  context: ExchangeContext,
  refusal: string | null,
): Promise<"upgraded" | "failed" | Response> {
  const { pending, transport, response } = handled;
  if (refusal !== null) {
    transport.reject(new Error(refusal));
    return textResponse(400, refusal);
  }
  if (context.shuttingDown()) {
    transport.reject(new Error("The server is shutting down"));
    return textResponse(503, "Service unavailable: shutting down");
  }
  try {
    await writeResponse(connection, response);
  } catch (error) {
    transport.reject(error);
    connection.close();
    return "failed";
  }
  transport.resolve(connection);
  if (pending.socket !== null) context.opened(pending.socket, connection);
  return "upgraded";
}

/** Checks a plain response: the upgrade's socket fails, 1xx becomes 500. */
async function plainResponse(
  handled: Handled,
  context: ExchangeContext,
): Promise<Response> {
  let response = handled.response;
  if (handled.pending.response !== null) {
    handled.transport.reject(
      new TypeError(
        "The handler did not return the response of upgrade(): the WebSocket was not opened",
      ),
    );
  }
  if (response.status < 200) {
    response = await errorResponse(
      new TypeError(
        `The handler returned status ${response.status}: only the response of upgrade() may be 1xx`,
      ),
      context.onError,
    );
  }
  return response;
}

/**
 * Runs the handler for `request` received on `connection` and answers, for
 * `attachToNodeServer()`'s upgrade requests. On `"answered"` the connection
 * is closed; on `"upgraded"` it belongs to the WebSocket.
 *
 * @param connection The socket the request came on.
 * @param request The request (no body).
 * @param rest Bytes received after the head.
 * @param context The server.
 * @returns How it ended.
 */
export async function runExchange(
  connection: TcpConnection,
  request: Request,
  rest: Uint8Array,
  context: ExchangeContext,
): Promise<ExchangeOutcome> {
  const handled = await callHandler(connection, request, rest, context);
  let response: Response;
  if (
    handled.pending.response !== null &&
    handled.response === handled.pending.response
  ) {
    const outcome = await completeUpgrade(connection, handled, context, null);
    if (outcome === "upgraded") return "upgraded";
    if (outcome === "failed") return "answered";
    response = outcome;
  } else {
    response = await plainResponse(handled, context);
  }
  await answer(connection, response, request.method === "HEAD", context);
  return "answered";
}

/**
 * Runs one request of a `serve()` connection: frames its body (refusing
 * ambiguous framing before the handler runs), calls the handler with the
 * body as `request.body`, streams the response, then reads what the
 * handler left of the body.
 *
 * @param connection The socket.
 * @param request The request as its head was read (no body yet).
 * @param version Its HTTP version.
 * @param rest Bytes received after the head.
 * @param context The server.
 * @param limits Body size and time, whether keep-alive is allowed.
 * @returns `"upgraded"` (the socket belongs to the WebSocket), `"closed"`,
 * or the bytes received after this request, for the next one.
 */
export async function serveExchange(
  connection: TcpConnection,
  request: Request,
  version: "HTTP/1.1" | "HTTP/1.0",
  rest: Uint8Array,
  context: ExchangeContext,
  limits: ExchangeLimits,
): Promise<"upgraded" | "closed" | Uint8Array> {
  const channel = requireChannel(connection);
  const http10 = version === "HTTP/1.0";
  const method = request.method;
  let framing;
  try {
    framing = requestBodyFraming(request.headers, http10, limits.maxBodySize);
  } catch (error) {
    const refusal = error as HttpBodyError;
    await answer(
      connection,
      textResponse(refusal.status, refusal.message),
      method === "HEAD",
      context,
    );
    return "closed";
  }

  let body: RequestBody | null = null;
  let responseStarted = false;
  const expectContinue = !http10 &&
    hasToken(request.headers.get("expect"), "100-continue");
  if (framing.kind !== "none") {
    body = new RequestBody(channel, framing, rest, {
      maxBodySize: limits.maxBodySize,
      timeout: limits.bodyTimeout,
      // RFC 9110 §10.1.1: the client waits for 100 before sending the body;
      // send it once the handler reads, unless it already answered.
      beforeFirstRead: expectContinue
        ? () => responseStarted ? Promise.resolve() : channel.write(CONTINUE)
        : undefined,
    });
    // GET and HEAD cannot carry a body in a Request: theirs is discarded.
    if (method !== "GET" && method !== "HEAD") {
      request = new Request(
        request.url,
        {
          method,
          headers: request.headers,
          body: body.stream,
          duplex: "half",
        } as RequestInit,
      );
    }
  }
  const connectionHeader = request.headers.get("connection");
  let keepAlive = limits.keepAlive &&
    (http10
      ? hasToken(connectionHeader, "keep-alive")
      : !hasToken(connectionHeader, "close"));

  const handled = await callHandler(connection, request, rest, context);
  let response: Response;
  if (
    handled.pending.response !== null &&
    handled.response === handled.pending.response
  ) {
    const outcome = await completeUpgrade(
      connection,
      handled,
      context,
      body !== null
        ? "A WebSocket upgrade request must not have a body"
        : http10
        ? "WebSocket upgrades need HTTP/1.1 (RFC 6455 §4.1)"
        : null,
    );
    if (outcome === "upgraded") return "upgraded";
    if (outcome === "failed") return "closed";
    response = outcome;
    keepAlive = false;
  } else {
    response = await plainResponse(handled, context);
  }

  const bodyError = body?.error ?? null;
  if (bodyError !== null) {
    keepAlive = false;
    if (!(bodyError instanceof HttpBodyError)) {
      // The socket failed under the body: the client is gone.
      await response.body?.cancel().catch(() => {});
      connection.close();
      return "closed";
    }
    // The handler failed on a body the server refused: say why.
    if (handled.threw) {
      response = textResponse(bodyError.status, bodyError.message);
    }
  }
  // A client that waits for 100 Continue may never send the body.
  if (body !== null && !body.started && expectContinue) keepAlive = false;
  if (context.shuttingDown()) keepAlive = false;

  // Watch for the client going away while the response streams, once the
  // body is in (a pipelined request is held for later; its FIN cancels).
  let watching = false;
  let gone = false;
  const goneSignal = Promise.withResolvers<void>();
  const held: { chunk: Uint8Array | null } = { chunk: null };
  if (body === null || body.complete) {
    watching = true;
    channel.receive({
      data(chunk): void {
        held.chunk = chunk;
        channel.receive(null);
      },
      end(): void {
        gone = true;
        goneSignal.resolve();
      },
    });
  }

  responseStarted = true;
  let reusable = false;
  try {
    reusable = await writeHttpResponse(response, channel, {
      headOnly: method === "HEAD",
      http10,
      keepAlive,
      aborted: goneSignal.promise,
    });
  } catch (error) {
    if (watching) channel.receive(null);
    if (error instanceof ResponseBodyError) {
      // Nothing was written yet: answer 500 (or what onError says).
      await answer(
        connection,
        await errorResponse(error.cause ?? error, context.onError),
        method === "HEAD",
        context,
      );
    } else {
      connection.close();
    }
    return "closed";
  }
  if (watching && !gone) channel.receive(null);
  if (!reusable || gone || context.shuttingDown()) {
    await closeGracefully(connection);
    return "closed";
  }
  let after = rest;
  if (body !== null) {
    try {
      after = await body.finish();
    } catch {
      connection.close(); // The body failed after the response: no reuse.
      return "closed";
    }
  }
  if (context.shuttingDown()) {
    await closeGracefully(connection);
    return "closed";
  }
  const extra = held.chunk;
  if (extra === null) return after;
  const joined = new Uint8Array(after.length + extra.length);
  joined.set(after);
  joined.set(extra, after.length);
  return joined;
}

/**
 * Writes a plain response and closes gracefully; a body that fails to read
 * turns into a 500 (when nothing was written yet).
 *
 * @param connection The socket.
 * @param response What to send.
 * @param headOnly Send the head only (a HEAD request).
 * @param context For `onError`.
 */
export async function answer(
  connection: TcpConnection,
  response: Response,
  headOnly: boolean,
  context: Pick<ExchangeContext, "onError">,
): Promise<void> {
  const channel = requireChannel(connection);
  const options = { headOnly, http10: false, keepAlive: false };
  try {
    await writeHttpResponse(response, channel, options);
  } catch (error) {
    // Reading the body failed before anything was written: answer 500.
    if (error instanceof ResponseBodyError) {
      await writeHttpResponse(
        await errorResponse(error.cause ?? error, context.onError),
        channel,
        options,
      ).catch(() => {});
    }
  }
  await closeGracefully(connection);
}

/**
 * Writes the 101 head of an upgrade, with its headers as they are.
 *
 * @param connection The socket.
 * @param response The response of `upgrade()`.
 * @throws {Error} If the socket write failed.
 */
export async function writeResponse(
  connection: TcpConnection,
  response: Response,
): Promise<void> {
  const channel = requireChannel(connection);
  await channel.write(encodeResponse(response));
}

/**
 * Serializes the head of a 101 response as HTTP/1.1 bytes.
 *
 * @param response The response of `upgrade()`.
 * @returns The head.
 */
export function encodeResponse(response: Response): Uint8Array {
  const status = response.status;
  let text = `HTTP/1.1 ${status} ${
    response.statusText || STATUS_TEXT[status] || ""
  }\r\n`;
  for (const [name, value] of response.headers) {
    if (name !== "set-cookie") text += `${name}: ${value}\r\n`;
  }
  for (const cookie of response.headers.getSetCookie()) {
    text += `set-cookie: ${cookie}\r\n`;
  }
  return latin1(text + "\r\n");
}

/**
 * Closes after the peer read our last bytes: the transport sends FIN, then
 * discards what the client still sends (an unread body) until it closes too,
 * for a bounded time (a lingering close, RFC 9112 §9.6), since closing a
 * socket with unread bytes sends a TCP reset that can destroy the response
 * before the client reads it.
 *
 * @param connection The socket; closed when this resolves.
 */
export async function closeGracefully(
  connection: TcpConnection,
): Promise<void> {
  const channel = requireChannel(connection);
  try {
    await channel.closeWrite();
    await channel.linger();
  } catch {
    // Already closed or reset.
  } finally {
    channel.close();
  }
}

/**
 * Builds a plain-text response.
 *
 * @param status The status.
 * @param reason The body.
 * @param headers More headers.
 * @returns The response.
 */
export function textResponse(
  status: number,
  reason: string,
  headers: Record<string, string> = {},
): Response {
  return new Response(reason, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", ...headers },
  });
}

/**
 * The response to send for a handler error: `onError`'s, else a logged
 * plain-text 500.
 *
 * @param error What the handler threw.
 * @param onError The server's error callback.
 * @returns The response.
 */
export async function errorResponse(
  error: unknown,
  onError: ExchangeContext["onError"],
): Promise<Response> {
  if (onError !== undefined) {
    try {
      const response = await onError(error);
      if (response instanceof Response && response.status >= 200) {
        return response;
      }
    } catch (nested) {
      console.error(nested);
    }
  } else {
    console.error(error);
  }
  return textResponse(500, "Internal Server Error");
}
