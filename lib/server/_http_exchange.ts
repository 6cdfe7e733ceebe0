/**
 * One HTTP exchange of wstream's servers, after the request head was read:
 * register the request for `upgrade()`, call the handler, then either write
 * the 101 head and hand the socket to the WebSocket, or write the handler's
 * response (a small HTTP/1.1 writer: `Content-Length`, `Connection: close`)
 * and close gracefully. Shared by `serve()` and `attachToNodeServer()`.
 * Private; never re-exported.
 *
 * @module
 */

import type { ServeHandler } from "../http/handler.ts";
import type { TcpConnection } from "../transports/tcp_connection.ts";
import type { ServerConnectionDefaults } from "../connection/_server_defaults.ts";
import type { WebSocketStreamLike } from "../connection/websocket_stream_like.ts";
import { type PendingUpgrade, pendingUpgrades } from "./_pending_upgrade.ts";
import { requireChannel } from "../transports/_socket_channel.ts";

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
  opened(socket: WebSocketStreamLike): void;
}

/** How an exchange ended. */
export type ExchangeOutcome = "upgraded" | "answered";

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

const STATUS_TEXT: Record<number, string> = {
  101: "Switching Protocols",
  200: "OK",
  201: "Created",
  202: "Accepted",
  204: "No Content",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  304: "Not Modified",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  413: "Content Too Large",
  426: "Upgrade Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  505: "HTTP Version Not Supported",
};

/** Headers the server sets itself on plain responses. */
const FRAMING_HEADERS = new Set([
  "connection",
  "content-length",
  "keep-alive",
  "transfer-encoding",
  "upgrade",
  "set-cookie", // written one per line from getSetCookie()
]);

/**
 * Runs the handler for `request` received on `connection` and answers.
 * On `"answered"` the connection is closed; on `"upgraded"` it belongs to
 * the WebSocket.
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
  const transport = Promise.withResolvers<TcpConnection>();
  transport.promise.catch(() => {});
  const pending: PendingUpgrade = {
    head: rest,
    transport: transport.promise,
    remoteAddr: connection.remoteAddr ?? null,
    defaults: context.defaults,
    response: null,
    socket: null,
    settled: false,
  };
  pendingUpgrades.set(request, pending);
  let response: Response;
  try {
    response = await context.handler(request, {
      remoteAddr: { transport: "tcp", ...connection.remoteAddr },
    });
    if (!(response instanceof Response)) {
      throw new TypeError(
        `The handler returned ${
          Object.prototype.toString.call(response)
        }: return a Response`,
      );
    }
  } catch (error) {
    response = await errorResponse(error, context.onError);
  }
  pending.settled = true;
  // Keep answering late upgrade() calls clearly, without keeping the socket.
  pendingUpgrades.set(request, SETTLED);

  if (pending.response !== null && response === pending.response) {
    if (context.shuttingDown()) {
      transport.reject(new Error("The server is shutting down"));
      response = textResponse(503, "Service unavailable: shutting down");
    } else {
      try {
        await writeResponse(connection, response, false);
      } catch (error) {
        transport.reject(error);
        connection.close();
        return "answered";
      }
      transport.resolve(connection);
      if (pending.socket !== null) context.opened(pending.socket);
      return "upgraded";
    }
  } else if (pending.response !== null) {
    transport.reject(
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
  await answer(connection, response, request.method === "HEAD", context);
  return "answered";
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
  try {
    await writeResponse(connection, response, headOnly);
  } catch (error) {
    // Reading the body failed before anything was written: answer 500.
    if (!(error instanceof WriteError)) {
      await writeResponse(
        connection,
        await errorResponse(error, context.onError),
        headOnly,
      ).catch(() => {});
    }
  }
  await closeGracefully(connection);
}

/** A failure writing to the socket, as opposed to reading the body. */
export class WriteError extends Error {}

/**
 * Writes a response head and, unless `headOnly`, its body: the 101 of an
 * upgrade with its headers as they are; any other status with the body read
 * in full, `Content-Length` and `Connection: close`.
 *
 * @param connection The socket.
 * @param response What to send.
 * @param headOnly Send the head only (a HEAD request).
 * @throws {WriteError} If the socket write failed.
 * @throws Whatever reading the body throws.
 */
export async function writeResponse(
  connection: TcpConnection,
  response: Response,
  headOnly: boolean,
): Promise<void> {
  const channel = requireChannel(connection);
  const bytes = await encodeResponse(response, headOnly);
  try {
    await channel.write(bytes);
  } catch (error) {
    throw new WriteError("Writing the response failed", { cause: error });
  }
}

/**
 * Serializes a response as HTTP/1.1 bytes (see {@linkcode writeResponse}).
 *
 * @param response What to send.
 * @param headOnly Leave the body out (a HEAD request).
 * @returns The head and body in one buffer.
 */
export async function encodeResponse(
  response: Response,
  headOnly: boolean,
): Promise<Uint8Array> {
  const status = response.status;
  let text = `HTTP/1.1 ${status} ${
    response.statusText || STATUS_TEXT[status] || ""
  }\r\n`;
  let body: Uint8Array | null = null;
  if (status === 101) {
    for (const [name, value] of response.headers) {
      if (name !== "set-cookie") text += `${name}: ${value}\r\n`;
    }
  } else {
    // Bodiless statuses (RFC 9110 §6.4.1) carry neither body nor length.
    const bodiless = status === 204 || status === 304;
    body = bodiless ? null : new Uint8Array(await response.arrayBuffer());
    for (const [name, value] of response.headers) {
      if (!FRAMING_HEADERS.has(name)) text += `${name}: ${value}\r\n`;
    }
    if (body !== null) text += `content-length: ${body.length}\r\n`;
    text += "connection: close\r\n";
  }
  for (const cookie of response.headers.getSetCookie()) {
    text += `set-cookie: ${cookie}\r\n`;
  }
  text += "\r\n";
  const bodyLength = body !== null && !headOnly ? body.length : 0;
  const bytes = new Uint8Array(text.length + bodyLength);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  if (body !== null && bodyLength > 0) bytes.set(body, text.length);
  return bytes;
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
