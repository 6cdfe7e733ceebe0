/**
 * A minimal HTTP/1.1 server over raw TCP (Deno or Bun) whose job is the
 * WebSocket opening handshake: it reads one request head per connection,
 * hands a `Request` to your handler, and either switches the socket to
 * WebSocket (when the handler returns the response of {@linkcode upgrade})
 * or writes the handler's response and closes.
 *
 * @module
 */

import { HttpHeadError, HttpHeadReader } from "./http_head.ts";
import type { HttpHead } from "./http_head.ts";
import { getBun, getDeno } from "./transports/_runtime_types.ts";
import {
  type PendingUpgrade,
  pendingUpgrades,
} from "./transports/_stream_socket.ts";
import type { NetAddr, TcpConnection, TcpListener } from "./transports/tcp.ts";
import { listenBun } from "./transports/bun.ts";
import { listenDeno } from "./transports/deno.ts";

/** Options of {@linkcode serve}. */
export interface ServeOptions {
  /**
   * The TCP port; 0 picks a free ephemeral port (read it from `addr.port`
   * or `onListen`).
   *
   * @default {8080}
   */
  port?: number;
  /**
   * The interface to listen on; `"0.0.0.0"` for all IPv4 interfaces.
   *
   * @default {"127.0.0.1"}
   */
  hostname?: string;
  /**
   * Shuts the server down when aborted, like {@linkcode Server.shutdown}.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
  /**
   * Called once the server listens, with the actual address.
   *
   * @default {undefined} nothing is printed
   */
  onListen?: (addr: NetAddr) => void;
  /**
   * The most bytes a request head may take; longer ones get 431.
   *
   * @default {16384}
   */
  maxHeadSize?: number;
  /**
   * How long, in milliseconds, a client has from connecting to finish
   * sending its request head; slower clients are disconnected.
   *
   * @default {10000}
   */
  handshakeTimeout?: number;
  /**
   * Turns an error thrown by the handler (or by reading its response body)
   * into the response sent.
   *
   * @default {undefined} the error is logged with `console.error` and a
   * plain-text 500 is sent
   */
  onError?: (error: unknown) => Response | Promise<Response>;
}

/**
 * Handles one request. Return the response of {@linkcode upgrade} to switch
 * to WebSocket, or any other response to answer plain HTTP.
 */
export type ServeHandler = (request: Request) => Response | Promise<Response>;

/** A running server, as {@linkcode serve} returns it. */
export interface Server {
  /** The address the server listens on, with the actual port. */
  readonly addr: NetAddr;
  /**
   * Resolves once the server shut down and every HTTP exchange in progress
   * ended; rejects if the listener failed.
   */
  readonly finished: Promise<void>;
  /**
   * Stops accepting connections, disconnects clients still sending their
   * request head, and waits for the handlers and responses in progress.
   * WebSocket connections already upgraded are left open: they belong to
   * the application, which closes them (for example with code 1001).
   *
   * @returns The `finished` promise.
   */
  shutdown(): Promise<void>;
}

const DEFAULT_PORT = 8080;
const DEFAULT_HOSTNAME = "127.0.0.1";
const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;

/** What a request maps to once its handler returned. */
const SETTLED: PendingUpgrade = {
  head: new Uint8Array(0),
  transport: new Promise<never>(() => {}),
  response: null,
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
 * Starts a WebSocket-capable HTTP/1.1 server on Deno or Bun.
 *
 * Each TCP connection carries one request: the server reads its head
 * (bounded by `maxHeadSize` and `handshakeTimeout`), calls `handler` with a
 * `Request` (no body: request bodies are not supported and never read), and
 * then:
 *
 * - if the handler returned the 101 response that {@linkcode upgrade} made
 *   for this request, writes `HTTP/1.1 101 Switching Protocols` with its
 *   headers and hands the socket to the upgrade's WebSocket connection;
 * - otherwise writes the response with `Content-Length` (the body is read
 *   in full first) and `Connection: close`, and closes the socket.
 *
 * A malformed head gets 400 (431 when too large, 501 for an unsupported
 * method, 505 for a version other than HTTP/1.1) with the reason as a
 * plain-text body. A throwing handler gets a 500 (see `onError`).
 *
 * @param options Port, interface, limits and shutdown signal.
 * @param handler Answers each request.
 * @returns The running server.
 * @throws {TypeError} If the runtime is neither Deno nor Bun.
 * @throws {RangeError} If `port`, `maxHeadSize` or `handshakeTimeout` is
 * out of range.
 * @throws {Error} The listen error, such as "address in use".
 *
 * @example Answer plain HTTP and WebSocket upgrades on an ephemeral port
 * ```ts
 * import { serve, upgrade } from "@wstream/wstream";
 * import assert from "node:assert/strict";
 *
 * const controller = new AbortController();
 * const server = serve({ port: 0, signal: controller.signal }, async (request) => {
 *   if (request.headers.get("upgrade") === null) return new Response("hello");
 *   const { response, socket } = await upgrade(request);
 *   socket?.opened.then(({ writable }) => writable.getWriter().write("hi"))
 *     .catch(() => {});
 *   return response;
 * });
 * const answer = await fetch(`http://127.0.0.1:${server.addr.port}/`);
 * assert.equal(await answer.text(), "hello");
 * controller.abort();
 * await server.finished;
 * ```
 */
export function serve(options: ServeOptions, handler: ServeHandler): Server {
  const port = options.port ?? DEFAULT_PORT;
  const hostname = options.hostname ?? DEFAULT_HOSTNAME;
  const handshakeTimeout = options.handshakeTimeout ??
    DEFAULT_HANDSHAKE_TIMEOUT;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`Invalid port ${port}: pass an integer 0-65535`);
  }
  if (!(handshakeTimeout > 0) || handshakeTimeout > 2 ** 31 - 1) {
    throw new RangeError(
      `Invalid handshakeTimeout ${handshakeTimeout}: pass milliseconds > 0`,
    );
  }
  const headOptions = { maxHeadSize: options.maxHeadSize ?? 16 * 1024 };
  new HttpHeadReader(headOptions); // Validates maxHeadSize.

  const inHead = new Set<TcpConnection>();
  const exchanges = new Set<Promise<void>>();
  let shuttingDown = false;
  let defaultHost = "";

  const onConnection = (connection: TcpConnection): void => {
    if (shuttingDown) {
      connection.close();
      return;
    }
    const exchange = handleConnection(connection).catch(() => {
      connection.close();
    }).finally(() => exchanges.delete(exchange));
    exchanges.add(exchange);
  };

  const handleConnection = async (connection: TcpConnection): Promise<void> => {
    inHead.add(connection);
    const timer = setTimeout(() => connection.close(), handshakeTimeout);
    let head: HttpHead | null = null;
    try {
      head = await readHead(
        connection,
        new HttpHeadReader({ ...headOptions, defaultHost }),
      );
    } catch (error) {
      if (error instanceof HttpHeadError) {
        await writeResponse(
          connection,
          textResponse(error.status, error.message),
          false,
        ).catch(() => {});
        await closeGracefully(connection);
      } else {
        connection.close(); // A socket error, or the timeout closed it.
      }
      return;
    } finally {
      clearTimeout(timer);
      inHead.delete(connection);
    }
    if (head === null) {
      connection.close(); // EOF before a complete head.
      return;
    }

    const { request, rest } = head;
    const transport = Promise.withResolvers<TcpConnection>();
    transport.promise.catch(() => {});
    const pending: PendingUpgrade = {
      head: rest,
      transport: transport.promise,
      response: null,
      settled: false,
    };
    pendingUpgrades.set(request, pending);
    let response: Response;
    try {
      response = await handler(request);
      if (!(response instanceof Response)) {
        throw new TypeError(
          `The handler returned ${
            Object.prototype.toString.call(response)
          }: return a Response`,
        );
      }
    } catch (error) {
      response = await errorResponse(error, options.onError);
    }
    pending.settled = true;
    // Keep answering late upgrade() calls clearly, without keeping the socket.
    pendingUpgrades.set(request, SETTLED);

    if (pending.response !== null && response === pending.response) {
      try {
        await writeResponse(connection, response, false);
      } catch (error) {
        transport.reject(error);
        connection.close();
        return;
      }
      transport.resolve(connection);
      return;
    }
    if (pending.response !== null) {
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
        options.onError,
      );
    }
    try {
      await writeResponse(connection, response, request.method === "HEAD");
    } catch (error) {
      // Reading the body failed before anything was written: answer 500.
      if (!(error instanceof WriteError)) {
        await writeResponse(
          connection,
          await errorResponse(error, options.onError),
          request.method === "HEAD",
        ).catch(() => {});
      }
    }
    await closeGracefully(connection);
  };

  let listener: TcpListener;
  const listenOptions = { hostname, port };
  if (getDeno() !== undefined) {
    listener = listenDeno(listenOptions, onConnection);
  } else if (getBun() !== undefined) {
    listener = listenBun(listenOptions, onConnection);
  } else {
    throw new TypeError(
      "serve() needs Deno or Bun: Node support comes later",
    );
  }
  const addr = listener.addr;
  defaultHost = `${
    addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname
  }:${addr.port}`;

  const stopped = Promise.withResolvers<void>();
  const finished = (async (): Promise<void> => {
    try {
      await Promise.race([listener.closed, stopped.promise]);
    } finally {
      shuttingDown = true;
      options.signal?.removeEventListener("abort", shutdown);
      listener.close();
      for (const connection of inHead) connection.close();
      while (exchanges.size > 0) await Promise.allSettled([...exchanges]);
    }
  })();

  function shutdown(): Promise<void> {
    stopped.resolve();
    return finished;
  }

  if (options.signal?.aborted) {
    shutdown();
  } else {
    options.signal?.addEventListener("abort", shutdown, { once: true });
    if (options.onListen !== undefined) {
      const onListen = options.onListen;
      queueMicrotask(() => {
        if (!shuttingDown) onListen({ ...addr });
      });
    }
  }
  return { addr, finished, shutdown };
}

/** Reads until a complete head, or `null` at EOF. */
async function readHead(
  connection: TcpConnection,
  reader: HttpHeadReader,
): Promise<HttpHead | null> {
  const bytes = connection.readable.getReader();
  try {
    while (true) {
      const { done, value } = await bytes.read();
      if (done) return null;
      const head = reader.push(value);
      if (head !== null) return head;
    }
  } finally {
    bytes.releaseLock();
  }
}

/** A failure writing to the socket, as opposed to reading the body. */
class WriteError extends Error {}

/** Writes a response head and, unless `headOnly`, its body. */
async function writeResponse(
  connection: TcpConnection,
  response: Response,
  headOnly: boolean,
): Promise<void> {
  const status = response.status;
  const lines = [
    `HTTP/1.1 ${status} ${response.statusText || STATUS_TEXT[status] || ""}`,
  ];
  let body: Uint8Array | null = null;
  if (status === 101) {
    for (const [name, value] of response.headers) {
      if (name !== "set-cookie") lines.push(`${name}: ${value}`);
    }
  } else {
    // Bodiless statuses (RFC 9110 §6.4.1) carry neither body nor length.
    const bodiless = status === 204 || status === 304;
    body = bodiless ? null : new Uint8Array(await response.arrayBuffer());
    for (const [name, value] of response.headers) {
      if (!FRAMING_HEADERS.has(name)) lines.push(`${name}: ${value}`);
    }
    if (body !== null) lines.push(`content-length: ${body.length}`);
    lines.push("connection: close");
  }
  for (const cookie of response.headers.getSetCookie()) {
    lines.push(`set-cookie: ${cookie}`);
  }
  const head = latin1(lines.join("\r\n") + "\r\n\r\n");
  let bytes = head;
  if (body !== null && body.length > 0 && !headOnly) {
    bytes = new Uint8Array(head.length + body.length);
    bytes.set(head);
    bytes.set(body, head.length);
  }
  const writer = connection.writable.getWriter();
  try {
    await writer.write(bytes);
  } catch (error) {
    throw new WriteError("Writing the response failed", { cause: error });
  } finally {
    writer.releaseLock();
  }
}

/**
 * Closes after the peer read our last bytes: the transport sends FIN, then
 * discards what the client still sends (an unread body) until it closes too,
 * for a bounded time (a lingering close, RFC 9112 §9.6), since closing a
 * socket with unread bytes sends a TCP reset that can destroy the response
 * before the client reads it.
 */
async function closeGracefully(connection: TcpConnection): Promise<void> {
  try {
    await connection.writable.close();
    await connection.readable.cancel();
  } catch {
    // Already closed or reset.
  } finally {
    connection.close();
  }
}

function textResponse(status: number, reason: string): Response {
  return new Response(reason, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}

async function errorResponse(
  error: unknown,
  onError: ServeOptions["onError"],
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

function latin1(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}
