/**
 * A minimal HTTP/1.1 server over raw TCP or TLS (Deno, Bun or Node) whose
 * job is the WebSocket opening handshake: it reads one request head per
 * connection, hands a `Request` to your handler, and either switches the
 * socket to WebSocket (when the handler returns the response of
 * {@linkcode upgrade}) or writes the handler's response and closes. It
 * bounds what clients may cost (head size and time, connections, messages,
 * dead peers) and shuts down gracefully.
 *
 * @module
 */

import {
  answer,
  type ExchangeContext,
  runExchange,
  textResponse,
} from "./_http_exchange.ts";
import { HttpHeadError, HttpHeadReader } from "../http/request_head.ts";
import type { HttpHead } from "../http/request_head.ts";
import { getBun, getDeno } from "../transports/_runtime_types.ts";
import type { ServerConnectionDefaults } from "../connection/_server_defaults.ts";
import type { ServeHandler } from "../http/handler.ts";
export type { ServeHandler, ServeHandlerInfo } from "../http/handler.ts";
import type {
  NetAddr,
  TcpConnection,
  TcpListener,
} from "../transports/tcp_connection.ts";
import { listenBun } from "../transports/bun.ts";
import { listenDeno } from "../transports/deno.ts";
import { listenNode } from "../transports/node.ts";
import type { WebSocketStreamLike } from "../connection/websocket_stream_like.ts";
import { requireChannel } from "../transports/_socket_channel.ts";

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
   * The server's certificate chain, PEM. With `key`, the server speaks TLS
   * (`https:` / `wss:`); give both or neither.
   *
   * @default {undefined} plain TCP
   */
  cert?: string;
  /**
   * The private key of `cert`, PEM.
   *
   * @default {undefined} plain TCP
   */
  key?: string;
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
   * sending its request head (TLS handshake included); slower clients are
   * disconnected.
   *
   * @default {10000}
   */
  handshakeTimeout?: number;
  /**
   * The most TCP connections served at once: WebSockets, requests in
   * progress and clients still sending their head. A connection beyond it
   * is answered `503 Service Unavailable` with the reason as plain text and
   * closed. (On Node with TLS, connections count once their TLS handshake
   * is done.)
   *
   * @default {10000}
   */
  maxConnections?: number;
  /**
   * The largest WebSocket message accepted, in bytes, for upgrades that do
   * not set their own; larger ones fail the connection with 1009.
   *
   * @default {16777216} (16 MiB)
   */
  maxMessageSize?: number;
  /**
   * Close a WebSocket with 1001 ("Idle timeout") after this many
   * milliseconds without receiving anything (pongs count), for upgrades
   * that do not set their own; 0 disables it. With keepalive pings on, a
   * live peer never idles out: its pongs count.
   *
   * @default {120000}
   */
  idleTimeout?: number;
  /**
   * Send a keepalive ping on every WebSocket every this many milliseconds,
   * for upgrades that do not set their own; 0 disables keepalive. A peer
   * that sends nothing for `pongTimeout` after a ping is dropped: its
   * socket's `closed` reports 1006.
   *
   * @default {30000}
   */
  pingInterval?: number;
  /**
   * How long after a keepalive ping the peer must have sent something, in
   * milliseconds, for upgrades that do not set their own.
   *
   * @default {pingInterval}
   */
  pongTimeout?: number;
  /**
   * On shutdown, how long in milliseconds WebSockets get to finish their
   * closing handshake (and requests in progress to be answered) before the
   * remaining TCP connections are closed.
   *
   * @default {5000}
   */
  shutdownTimeout?: number;
  /**
   * Turns an error thrown by the handler (or by reading its response body)
   * into the response sent.
   *
   * @default {undefined} the error is logged with `console.error` and a
   * plain-text 500 is sent
   */
  onError?: (error: unknown) => Response | Promise<Response>;
}

/** A running server, as {@linkcode serve} returns it. */
export interface Server {
  /**
   * The address the server listens on, with the actual port. On Node, which
   * binds asynchronously, it is the requested address until `listening`
   * resolves.
   */
  readonly addr: NetAddr;
  /**
   * Resolves with the actual address once the server listens (at once on
   * Deno and Bun); rejects if listening failed or the server was shut down
   * first.
   */
  readonly listening: Promise<NetAddr>;
  /**
   * Resolves once the server shut down and every connection is closed;
   * rejects if the listener failed.
   */
  readonly finished: Promise<void>;
  /**
   * Shuts down gracefully: stops accepting connections, disconnects clients
   * still sending their request head, answers upgrades completing meanwhile
   * with 503, closes every open WebSocket with 1001 ("Server shutting
   * down") after the messages already written to it, and waits up to
   * `shutdownTimeout` for those closing handshakes and for requests in
   * progress; then closes the remaining TCP connections. Idempotent.
   *
   * @returns The `finished` promise.
   */
  shutdown(): Promise<void>;
}

const DEFAULT_PORT = 8080;
const DEFAULT_HOSTNAME = "127.0.0.1";
const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;
const DEFAULT_MAX_CONNECTIONS = 10_000;
const DEFAULT_MAX_MESSAGE_SIZE = 16 * 1024 * 1024;
const DEFAULT_IDLE_TIMEOUT = 120_000;
const DEFAULT_PING_INTERVAL = 30_000;
const DEFAULT_SHUTDOWN_TIMEOUT = 5000;
/** The most 503 answers in progress; beyond, extra connections are closed. */
const MAX_REFUSING = 1024;
const MAX_TIMER = 2 ** 31 - 1;

/** The close code and reason sent to every WebSocket on shutdown. */
const SHUTDOWN_CLOSE = { closeCode: 1001, reason: "Server shutting down" };

/**
 * Starts a WebSocket-capable HTTP/1.1 server on Deno (`Deno.listen` /
 * `Deno.listenTls`), Bun (`Bun.listen`) or Node (`node:net` / `node:tls`).
 *
 * Each TCP connection carries one request: the server reads its head
 * (bounded by `maxHeadSize` and `handshakeTimeout`), calls `handler` with a
 * `Request` (no body: request bodies are not supported and never read), and
 * then:
 *
 * - if the handler returned the 101 response that {@linkcode upgrade} made
 *   for this request, writes `HTTP/1.1 101 Switching Protocols` with its
 *   headers and hands the socket to the upgrade's WebSocket connection,
 *   which gets the server's `maxMessageSize`, `idleTimeout`, `pingInterval`
 *   and `pongTimeout` unless the upgrade set its own;
 * - otherwise writes the response with `Content-Length` (the body is read
 *   in full first) and `Connection: close`, and closes the socket.
 *
 * A malformed head gets 400 (431 when too large, 501 for an unsupported
 * method, 505 for a version other than HTTP/1.1) with the reason as a
 * plain-text body; a connection beyond `maxConnections` gets 503. A
 * throwing handler gets a 500 (see `onError`). With `cert` and `key` the
 * server speaks TLS and request URLs are `https:`.
 *
 * @param options Port, interface, TLS, limits, timeouts and shutdown signal.
 * @param handler Answers each request.
 * @returns The running server.
 * @throws {TypeError} If only one of `cert` and `key` is given.
 * @throws {RangeError} If a port, size, count or time is out of range.
 * @throws {Error} The listen error, such as "address in use" (on Node it
 * rejects `listening` and `finished` instead).
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
 * const { port } = await server.listening;
 * const answer = await fetch(`http://127.0.0.1:${port}/`);
 * assert.equal(await answer.text(), "hello");
 * controller.abort();
 * await server.finished;
 * ```
 *
 * @example Serve WebSockets over TLS with production limits
 * ```ts ignore
 * import { serve, upgrade } from "@wstream/wstream";
 *
 * const server = serve({
 *   port: 443,
 *   hostname: "0.0.0.0",
 *   cert: await Deno.readTextFile("cert.pem"),
 *   key: await Deno.readTextFile("key.pem"),
 *   maxConnections: 50_000,
 *   maxMessageSize: 1 << 20,
 *   pingInterval: 20_000,
 * }, async (request) => (await upgrade(request)).response);
 * Deno.addSignalListener("SIGTERM", () => server.shutdown());
 * await server.finished;
 * ```
 */
export function serve(options: ServeOptions, handler: ServeHandler): Server {
  const port = options.port ?? DEFAULT_PORT;
  const hostname = options.hostname ?? DEFAULT_HOSTNAME;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`Invalid port ${port}: pass an integer 0-65535`);
  }
  const handshakeTimeout = checkTime(
    "handshakeTimeout",
    options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT,
    false,
  );
  const shutdownTimeout = checkTime(
    "shutdownTimeout",
    options.shutdownTimeout ?? DEFAULT_SHUTDOWN_TIMEOUT,
    true,
  );
  const maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  if (!Number.isSafeInteger(maxConnections) || maxConnections < 1) {
    throw new RangeError(
      `Invalid maxConnections ${maxConnections}: pass a positive integer`,
    );
  }
  const maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
  if (!Number.isSafeInteger(maxMessageSize) || maxMessageSize < 1) {
    throw new RangeError(
      `Invalid maxMessageSize ${maxMessageSize}: pass a positive integer`,
    );
  }
  const pingInterval = checkTime(
    "pingInterval",
    options.pingInterval ?? DEFAULT_PING_INTERVAL,
    true,
  );
  const defaults: ServerConnectionDefaults = {
    maxMessageSize,
    idleTimeout: checkTime(
      "idleTimeout",
      options.idleTimeout ?? DEFAULT_IDLE_TIMEOUT,
      true,
    ),
    pingInterval,
    pongTimeout: checkTime(
      "pongTimeout",
      options.pongTimeout ?? pingInterval,
      true,
    ),
  };
  const headOptions = { maxHeadSize: options.maxHeadSize ?? 16 * 1024 };
  new HttpHeadReader(headOptions); // Validates maxHeadSize.
  const tls = options.cert !== undefined || options.key !== undefined;

  /** Every counted connection, until it is closed. */
  const connections = new Set<TcpConnection>();
  /** Connections still sending their request head. */
  const inHead = new Set<TcpConnection>();
  /** Connections being refused with 503. */
  const refusing = new Set<TcpConnection>();
  /** Open WebSockets, to close with 1001 on shutdown. */
  const sockets = new Set<WebSocketStreamLike>();
  /** One per connection: settles once it is closed. */
  const lifetimes = new Set<Promise<void>>();
  let shuttingDown = false;

  const context: ExchangeContext = {
    handler,
    onError: options.onError,
    defaults,
    shuttingDown: () => shuttingDown,
    opened: (socket) => {
      sockets.add(socket);
      socket.closed.finally(() => sockets.delete(socket)).catch(() => {});
      if (shuttingDown) closeForShutdown(socket);
    },
  };

  /** Counts a connection until it is closed; every path of `work` closes it. */
  const track = (connection: TcpConnection, work: Promise<void>): void => {
    work.catch(() => connection.close());
    const lifetime = connection.closed.finally(() => {
      lifetimes.delete(lifetime);
      connections.delete(connection);
      refusing.delete(connection);
    });
    lifetimes.add(lifetime);
  };

  const onConnection = (connection: TcpConnection): void => {
    if (shuttingDown) {
      connection.close();
      return;
    }
    if (connections.size >= maxConnections) {
      if (refusing.size >= MAX_REFUSING) {
        connection.close();
        return;
      }
      refusing.add(connection);
      track(
        connection,
        answer(
          connection,
          textResponse(
            503,
            `Service unavailable: the server is at its limit of ${maxConnections} connections; retry later`,
            { "retry-after": "1" },
          ),
          false,
          context,
        ),
      );
      return;
    }
    connections.add(connection);
    track(connection, handleConnection(connection));
  };

  const handleConnection = async (connection: TcpConnection): Promise<void> => {
    inHead.add(connection);
    const timer = setTimeout(() => connection.close(), handshakeTimeout);
    let head: HttpHead | null = null;
    try {
      head = await readHead(
        connection,
        new HttpHeadReader({ ...headOptions, defaultHost: authority() }),
      );
    } catch (error) {
      if (error instanceof HttpHeadError) {
        await answer(
          connection,
          textResponse(error.status, error.message),
          false,
          context,
        );
      } else {
        connection.close(); // A socket error, or the timeout closed it.
      }
      return;
    } finally {
      clearTimeout(timer);
      inHead.delete(connection);
    }
    if (head === null || shuttingDown) {
      connection.close(); // EOF before a complete head, or shutting down.
      return;
    }
    let request = head.request;
    if (tls) {
      request = new Request(request.url.replace(/^http:/, "https:"), {
        method: request.method,
        headers: request.headers,
      });
    }
    // An upgraded connection still counts (see `track`) until its WebSocket
    // closed it; this frame (the request, its head) is not kept meanwhile.
    await runExchange(connection, request, head.rest, context);
  };

  let listener: TcpListener;
  const listenOptions = {
    hostname,
    port,
    ...(options.cert === undefined ? {} : { cert: options.cert }),
    ...(options.key === undefined ? {} : { key: options.key }),
  };
  if (
    getDeno() !== undefined && globalThis.process?.env?.WSTREAM_NODE_NET !== "1"
  ) {
    listener = listenDeno(listenOptions, onConnection);
  } else if (getBun() !== undefined) {
    listener = listenBun(listenOptions, onConnection);
  } else {
    listener = listenNode(
      { ...listenOptions, tlsHandshakeTimeout: handshakeTimeout },
      onConnection,
    );
  }
  const authority = (): string => {
    const addr = listener.addr;
    const host = addr.hostname.includes(":")
      ? `[${addr.hostname}]`
      : addr.hostname;
    return `${host}:${addr.port}`;
  };

  const stopped = Promise.withResolvers<void>();
  const finished = (async (): Promise<void> => {
    try {
      await Promise.race([listener.closed, stopped.promise]);
    } finally {
      shuttingDown = true;
      options.signal?.removeEventListener("abort", shutdown);
      listener.close();
      for (const connection of inHead) connection.close();
      for (const socket of sockets) closeForShutdown(socket);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const deadline = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, shutdownTimeout);
      });
      await Promise.race([settleAll(lifetimes), deadline]);
      clearTimeout(timer);
      for (const connection of connections) connection.close();
      for (const connection of refusing) connection.close();
      await settleAll(lifetimes);
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
    const onListen = options.onListen;
    if (onListen !== undefined) {
      listener.listening.then((addr) => {
        if (!shuttingDown) onListen(addr);
      }, () => {});
    }
  }
  return {
    get addr(): NetAddr {
      return listener.addr;
    },
    listening: listener.listening,
    finished,
    shutdown,
  };
}

function closeForShutdown(socket: WebSocketStreamLike): void {
  try {
    socket.close(SHUTDOWN_CLOSE);
  } catch {
    // Closing already.
  }
}

async function settleAll(promises: Set<Promise<void>>): Promise<void> {
  while (promises.size > 0) await Promise.allSettled([...promises]);
}

function checkTime(name: string, value: number, zeroOk: boolean): number {
  if (
    !(typeof value === "number" && (zeroOk ? value >= 0 : value > 0)) ||
    value > MAX_TIMER
  ) {
    throw new RangeError(
      `Invalid ${name} ${value}: pass milliseconds ${
        zeroOk ? ">= 0" : "> 0"
      } (at most ${MAX_TIMER})`,
    );
  }
  return value;
}

/** Reads until a complete head, or `null` at EOF. */
function readHead(
  connection: TcpConnection,
  reader: HttpHeadReader,
): Promise<HttpHead | null> {
  const channel = requireChannel(connection);
  return new Promise((resolve, reject) => {
    channel.receive({
      data(chunk): void {
        let head: HttpHead | null;
        try {
          head = reader.push(chunk);
        } catch (error) {
          channel.receive(null);
          reject(error);
          return;
        }
        if (head !== null) {
          // Bytes past the head wait in the channel for the WebSocket.
          channel.receive(null);
          resolve(head);
        }
      },
      end(error): void {
        if (error === undefined) resolve(null);
        else reject(error);
      },
    });
  });
}
