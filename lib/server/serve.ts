/**
 * An HTTP/1.1 server over raw TCP or TLS (Deno, Bun or Node) for WebSockets
 * and the plain requests beside them: it hands each request (with its body
 * as a stream) to your handler, and either switches the socket to WebSocket
 * (when the handler returns the response of {@linkcode upgrade}) or streams
 * the handler's response and keeps the connection for the next request. It
 * bounds what clients may cost (head and body size and time, connections,
 * messages, dead peers) and shuts down gracefully.
 *
 * @module
 */

import {
  answer,
  closeGracefully,
  type ExchangeContext,
  type ExchangeLimits,
  serveExchange,
  textResponse,
} from "./_http_exchange.ts";
import { HttpHeadError, HttpHeadReader } from "../http/request_head.ts";
import type { HttpHead } from "../http/request_head.ts";
import { getBun, getDeno } from "../transports/_runtime_types.ts";
import type { ServerConnectionDefaults } from "../connection/_server_defaults.ts";
import type { ServeHandler } from "../http/handler.ts";
import {
  type CompressionOptions,
  resolveServerCompression,
} from "../extensions/compression_options.ts";
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
import {
  requireChannel,
  type SocketChannel,
} from "../transports/_socket_channel.ts";

/**
 * Options of {@linkcode serve}.
 *
 * @example Limits for a public server
 * ```ts
 * import { serve, type ServeOptions } from "@wstream/wstream";
 *
 * const options: ServeOptions = {
 *   port: 0,
 *   maxConnections: 1_000,
 *   maxMessageSize: 1 << 20,
 *   pingInterval: 20_000,
 *   onListen: ({ hostname, port }) => console.log(`listening on ${hostname}:${port}`),
 * };
 * const server = serve(options, () => new Response("hello"));
 * await server.shutdown();
 * ```
 */
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
   * Let several servers, usually one per process and core, listen on the
   * same port (`SO_REUSEPORT`): the kernel spreads new connections among
   * them. Linux on Deno (run with `--unstable-net`: `Deno.listen`'s
   * `reusePort` is unstable), Bun and Node 22.12+; elsewhere the runtime
   * ignores it or fails to listen. On other systems, run Node's `node:cluster`
   * instead (its primary shares one listening socket with the workers).
   * Rooms spanning the processes need a backplane, such as
   * `@wstream/wstream/redis`.
   *
   * @default {false}
   */
  reusePort?: boolean;
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
   * The most header lines a request head may have; more get 431.
   *
   * @default {100}
   */
  maxHeaderCount?: number;
  /**
   * The most bytes one line of a request head may take: a longer request
   * line gets 414, a longer header line 431.
   *
   * @default {8192}
   */
  maxLineSize?: number;
  /**
   * How long, in milliseconds, a client has from connecting (or, on a
   * kept-alive connection, from the first byte of its next request) to
   * finish sending its request head (TLS handshake included); slower
   * clients are disconnected. It also bounds the wait for each piece of a
   * request body while the handler reads it: past it, reading the body
   * fails and the client is answered `408 Request Timeout`.
   *
   * @default {10000}
   */
  handshakeTimeout?: number;
  /**
   * The largest request body accepted, in bytes. A request whose
   * `Content-Length` is larger is answered `413 Content Too Large` with the
   * reason before the handler runs; a chunked body that grows past it fails
   * `request.body` (then the client gets 413, if the handler throws, and the
   * connection closes). The default matches `maxMessageSize`: a form, a JSON
   * document or an upload that a WebSocket message could carry fits, while
   * one request cannot make the server read gigabytes. Set it to what your
   * largest upload needs; the handler reads bodies as streams, so memory is
   * only spent if it buffers them (`request.text()`, `request.json()`).
   *
   * @default {16777216} (16 MiB)
   */
  maxBodySize?: number;
  /**
   * permessage-deflate (RFC 7692) for upgrades that do not set their own
   * `compression` (see {@linkcode upgrade}): `true` with python-websockets'
   * memory-conscious defaults (windows of 12 bits, memLevel 5), an object
   * of {@linkcode CompressionOptions}, or `false`. The README's
   * "Compression" section gives the memory cost of each setting.
   *
   * @default {true}
   */
  compression?: boolean | CompressionOptions;
  /**
   * How long, in milliseconds, an idle HTTP/1.1 connection is kept open
   * for its next request after a response; then it is closed. 0 turns
   * keep-alive off: every response carries `Connection: close`.
   *
   * @default {5000}
   */
  keepAliveTimeout?: number;
  /**
   * The most TCP connections served at once: WebSockets, requests in
   * progress and clients still sending their head. A connection beyond it
   * is answered `503 Service Unavailable` with `Retry-After: 1` and the
   * reason as plain text, written once as preformatted bytes without
   * parsing the request, and closed. Up to 1,024 refusals at once close
   * gracefully (reading and discarding the request until the client
   * closes, at most 2 s); beyond, the socket closes right after the 503,
   * which a client whose request was still arriving may see followed by a
   * reset. (On Node with TLS, connections count once their TLS handshake
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
   * The most frames one received WebSocket message may arrive in, for
   * upgrades that do not set their own; more fail with 1009. 0: no limit
   * (a fragmented message's memory follows its bytes, not its frames).
   *
   * @default {0}
   */
  maxFragments?: number;
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
   * Give up on a WebSocket peer that stopped reading, for upgrades that do
   * not set their own: when our writes to it made no progress for this many
   * milliseconds, it is sent a 1008 close frame ("Write stalled: the peer
   * is not reading") behind the stuck bytes, and dropped if it has not
   * finished the close handshake `closeTimeout` (5 s) later. Separate from
   * keepalive, which is for peers that send nothing: while writes are
   * stalled a missing pong is not held against the peer. 0 disables it.
   *
   * @default {30000}
   */
  writeStallTimeout?: number;
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

/**
 * A running server, as {@linkcode serve} returns it.
 *
 * @example Wait for the port, answer a request, shut down
 * ```ts
 * import { type Server, serve } from "@wstream/wstream";
 * import assert from "node:assert/strict";
 *
 * const server: Server = serve({ port: 0 }, () => new Response("hello"));
 * const { port } = await server.listening;
 * assert.equal(await (await fetch(`http://127.0.0.1:${port}/`)).text(), "hello");
 * await server.shutdown(); // the same promise as server.finished
 * ```
 */
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
const DEFAULT_WRITE_STALL_TIMEOUT = 30_000;
const DEFAULT_SHUTDOWN_TIMEOUT = 5000;
const DEFAULT_MAX_BODY_SIZE = 16 * 1024 * 1024;
const DEFAULT_KEEP_ALIVE_TIMEOUT = 5000;
/**
 * The most refusals lingering at once (reading and discarding the request
 * until the client closes, so that closing does not reset the 503 away);
 * beyond, a refused connection is still written the 503, then closed at once.
 */
const MAX_LINGERING_REFUSALS = 1024;
const MAX_TIMER = 2 ** 31 - 1;

/**
 * Encodes a complete `503 Service Unavailable` response with a plain-text
 * reason, `Retry-After: 1` and `Connection: close`, written as is to every
 * connection refused beyond `maxConnections`.
 *
 * @param reason The body.
 * @returns The response bytes.
 */
function encodeRefusal(reason: string): Uint8Array {
  const body = new TextEncoder().encode(reason);
  const head = new TextEncoder().encode(
    "HTTP/1.1 503 Service Unavailable\r\n" +
      "content-type: text/plain; charset=utf-8\r\n" +
      `content-length: ${body.length}\r\n` +
      "retry-after: 1\r\nconnection: close\r\n\r\n",
  );
  const bytes = new Uint8Array(head.length + body.length);
  bytes.set(head);
  bytes.set(body, head.length);
  return bytes;
}

/**
 * Writes the preformatted refusal, then closes: gracefully (a lingering
 * close) when `linger`, otherwise at once.
 *
 * @param connection The refused socket.
 * @param refusal The bytes of {@linkcode encodeRefusal}.
 * @param linger Whether to read and discard until the client closes.
 */
async function refuse(
  connection: TcpConnection,
  refusal: Uint8Array,
  linger: boolean,
): Promise<void> {
  const channel = requireChannel(connection);
  try {
    await channel.write(refusal);
  } catch {
    channel.close();
    return;
  }
  if (linger) await closeGracefully(connection);
  else channel.close();
}

/** The close code and reason sent to every WebSocket on shutdown. */
const SHUTDOWN_CLOSE = { closeCode: 1001, reason: "Server shutting down" };

/**
 * Starts a WebSocket-capable HTTP/1.1 server on Deno (`Deno.listen` /
 * `Deno.listenTls`), Bun (`Bun.listen`) or Node (`node:net` / `node:tls`).
 *
 * Each request's head is read (bounded by `maxHeadSize` and
 * `handshakeTimeout`) and `handler` is called with a `Request` whose `body`
 * streams the request body (`Content-Length` or `Transfer-Encoding:
 * chunked`, at most `maxBodySize`; the socket is read only as the handler
 * reads, and `100 Continue` is sent when a client that asked for it is
 * first read from). Then:
 *
 * - if the handler returned the 101 response that {@linkcode upgrade} made
 *   for this request, writes `HTTP/1.1 101 Switching Protocols` with its
 *   headers and hands the socket to the upgrade's WebSocket connection,
 *   which gets the server's `maxMessageSize`, `idleTimeout`, `pingInterval`
 *   and `pongTimeout` unless the upgrade set its own;
 * - otherwise writes the response head, then streams its body as it is
 *   produced (each chunk is written before the next is read, so
 *   server-sent events flush): with the handler's `Content-Length`
 *   (enforced: a body of another length closes the connection), with
 *   `Content-Length` when the whole body is available at once (a string, a
 *   byte array, JSON), else `Transfer-Encoding: chunked` (close-delimited
 *   for HTTP/1.0). No body for HEAD, 204 and 304. A client that goes away
 *   cancels the body stream.
 *
 * HTTP/1.1 connections are kept alive for the next request (pipelined
 * requests are answered in order) unless either side sent
 * `Connection: close`; HTTP/1.0 ones only with `Connection: keep-alive`. An
 * idle connection is closed after `keepAliveTimeout`, and at once on
 * shutdown. Body bytes the handler did not read are read and discarded
 * before the next request.
 *
 * Refusals carry the reason as a plain-text body and close the connection:
 *
 * | status | when |
 * | ------ | ---- |
 * | 400 | malformed head; `Content-Length` with `Transfer-Encoding`; a final coding other than `chunked`; a malformed chunk; `Transfer-Encoding` in HTTP/1.0; an upgrade request with a body |
 * | 408 | a request body stalls longer than `handshakeTimeout` (and the handler throws) |
 * | 413 | `Content-Length` over `maxBodySize` (the handler is not called), or a chunked body growing past it (and the handler throws) |
 * | 414 | a request line over `maxLineSize` |
 * | 431 | a head over `maxHeadSize`, a header line over `maxLineSize`, or more than `maxHeaderCount` header lines |
 * | 500 | the handler throws (see `onError`) |
 * | 501 | an unsupported method, or a transfer coding other than `chunked` |
 * | 503 | beyond `maxConnections` (with `Retry-After`), or an upgrade during shutdown |
 * | 505 | an HTTP version other than 1.1 and 1.0 |
 *
 * With `cert` and `key` the server speaks TLS and request URLs are
 * `https:`.
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
 * @example Read a POSTed body and stream a response on kept-alive connections
 * ```ts
 * import { serve } from "@wstream/wstream";
 * import assert from "node:assert/strict";
 *
 * const server = serve({ port: 0, maxBodySize: 1 << 20 }, async (request) => {
 *   if (request.method !== "POST") return new Response("send a form");
 *   const form = new URLSearchParams(await request.text());
 *   return new Response(
 *     ReadableStream.from([`hello `, `${form.get("name")}`])
 *       .pipeThrough(new TextEncoderStream()),
 *   ); // Sent with Transfer-Encoding: chunked, chunk by chunk.
 * });
 * const { port } = await server.listening;
 * const answer = await fetch(`http://127.0.0.1:${port}/`, {
 *   method: "POST",
 *   body: new URLSearchParams({ name: "Ada" }),
 * });
 * assert.equal(await answer.text(), "hello Ada");
 * await server.shutdown();
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
    maxFragments: checkCount("maxFragments", options.maxFragments ?? 0),
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
    writeStallTimeout: checkTime(
      "writeStallTimeout",
      options.writeStallTimeout ?? DEFAULT_WRITE_STALL_TIMEOUT,
      true,
    ),
    // Checked now (RangeError), applied by upgrade().
    compression: options.compression ?? true,
  };
  resolveServerCompression(defaults.compression);
  const maxBodySize = options.maxBodySize ?? DEFAULT_MAX_BODY_SIZE;
  if (!Number.isSafeInteger(maxBodySize) || maxBodySize < 0) {
    throw new RangeError(
      `Invalid maxBodySize ${maxBodySize}: pass an integer >= 0`,
    );
  }
  const keepAliveTimeout = checkTime(
    "keepAliveTimeout",
    options.keepAliveTimeout ?? DEFAULT_KEEP_ALIVE_TIMEOUT,
    true,
  );
  const headOptions = {
    maxHeadSize: options.maxHeadSize ?? 16 * 1024,
    ...(options.maxHeaderCount === undefined
      ? {}
      : { maxHeaderCount: options.maxHeaderCount }),
    ...(options.maxLineSize === undefined
      ? {}
      : { maxLineSize: options.maxLineSize }),
  };
  new HttpHeadReader(headOptions); // Validates the limits.
  const tls = options.cert !== undefined || options.key !== undefined;

  /** Every counted connection, until it is closed. */
  const connections = new Set<TcpConnection>();
  /** Connections still sending their request head, or idle between requests. */
  const inHead = new Set<TcpConnection>();
  /** Connections being refused with 503, lingering. */
  const refusing = new Set<TcpConnection>();
  /** The refusal beyond maxConnections, encoded once. */
  const refusal = encodeRefusal(
    `Service unavailable: the server is at its limit of ${maxConnections} connections; retry later`,
  );
  /**
   * Open WebSockets by their connection, to close with 1001 on shutdown.
   * Each entry goes when its connection closes (the WebSocket settles then).
   */
  const sockets = new Map<TcpConnection, WebSocketStreamLike>();
  let shuttingDown = false;
  /** Resolved once `connections` and `refusing` are empty, during shutdown. */
  let allClosed: PromiseWithResolvers<void> | null = null;

  const limits: ExchangeLimits = {
    maxBodySize,
    bodyTimeout: handshakeTimeout,
    keepAlive: keepAliveTimeout > 0,
  };
  const context: ExchangeContext = {
    handler,
    onError: options.onError,
    defaults,
    shuttingDown: () => shuttingDown,
    opened: (socket, connection) => {
      sockets.set(connection, socket);
      if (shuttingDown) closeForShutdown(socket);
    },
  };

  /**
   * Untracks a closed connection. One function for all of them: an idle
   * connection costs the server set entries only, no promise or closure.
   */
  const untrack = (channel: SocketChannel): void => {
    connections.delete(channel);
    refusing.delete(channel);
    sockets.delete(channel);
    if (allClosed !== null && connections.size === 0 && refusing.size === 0) {
      allClosed.resolve();
    }
  };

  /** Counts a connection until it is closed; every path of `work` closes it. */
  const track = (connection: TcpConnection, work: Promise<void>): void => {
    work.catch(() => connection.close());
    requireChannel(connection).whenClosed(untrack);
  };

  const onConnection = (connection: TcpConnection): void => {
    if (shuttingDown) {
      connection.close();
      return;
    }
    if (connections.size >= maxConnections) {
      const linger = refusing.size < MAX_LINGERING_REFUSALS;
      if (linger) refusing.add(connection);
      track(connection, refuse(connection, refusal, linger));
      return;
    }
    connections.add(connection);
    track(connection, handleConnection(connection));
  };

  const handleConnection = async (connection: TcpConnection): Promise<void> => {
    const channel = requireChannel(connection);
    let leftover: Uint8Array = new Uint8Array(0);
    for (let first = true;; first = false) {
      inHead.add(connection);
      // The first head has handshakeTimeout from the connection; a later one
      // keepAliveTimeout of idleness, then handshakeTimeout once it starts.
      let timer = setTimeout(
        () => connection.close(),
        first ? handshakeTimeout : keepAliveTimeout,
      );
      const started = (): void => {
        clearTimeout(timer);
        timer = setTimeout(() => connection.close(), handshakeTimeout);
      };
      let head: HttpHead | null = null;
      try {
        head = await readHead(
          channel,
          new HttpHeadReader({ ...headOptions, defaultHost: authority() }),
          leftover,
          first ? null : started,
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
      const outcome = await serveExchange(
        connection,
        request,
        head.version,
        head.rest,
        context,
        limits,
      );
      if (typeof outcome === "string") return; // "upgraded" or "closed".
      leftover = outcome;
    }
  };

  let listener: TcpListener;
  const listenOptions = {
    hostname,
    port,
    ...(options.cert === undefined ? {} : { cert: options.cert }),
    ...(options.key === undefined ? {} : { key: options.key }),
    ...(options.reusePort === true ? { reusePort: true } : {}),
  };
  if (getDeno() !== undefined && !nodeNetOnDeno()) {
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
      const open = [...sockets.values()];
      for (const socket of open) closeForShutdown(socket);
      allClosed = Promise.withResolvers<void>();
      if (connections.size === 0 && refusing.size === 0) allClosed.resolve();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const deadline = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, shutdownTimeout);
      });
      await Promise.race([allClosed.promise, deadline]);
      clearTimeout(timer);
      for (const connection of connections) connection.close();
      for (const connection of refusing) connection.close();
      await allClosed.promise;
      // The WebSockets settle right after their connections closed.
      await Promise.allSettled(open.map((socket) => socket.closed));
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

/**
 * Reads until a complete head, or `null` at EOF (or at EOF between two
 * requests). `initial` holds bytes already received (pipelined requests);
 * `started` is called with the first byte read from the socket.
 */
function readHead(
  channel: SocketChannel,
  reader: HttpHeadReader,
  initial: Uint8Array,
  started: (() => void) | null,
): Promise<HttpHead | null> {
  if (initial.length > 0) {
    const head = reader.push(initial); // Throws HttpHeadError: the caller's.
    if (head !== null) return Promise.resolve(head);
    started?.();
    started = null;
  }
  return new Promise((resolve, reject) => {
    channel.receive({
      data(chunk): void {
        started?.();
        started = null;
        let head: HttpHead | null;
        try {
          head = reader.push(chunk);
        } catch (error) {
          channel.receive(null);
          reject(error);
          return;
        }
        if (head !== null) {
          // Bytes past the head wait in `rest` for the body, the next
          // request or the WebSocket.
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

/** Checks a count limit: an integer >= 0, else a RangeError. */
function checkCount(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`Invalid ${name} ${value}: pass an integer >= 0`);
  }
  return value;
}

/**
 * Whether `WSTREAM_NODE_NET=1` asks `serve()` on Deno to use `node:net`
 * instead of `Deno.listen`: fairer when thousands of busy connections
 * share a core (the 10,000-connection soak passes over it), slower per
 * message. Read only when the environment may be read: without
 * `--allow-env` it is `false`, never an error.
 */
function nodeNetOnDeno(): boolean {
  const permissions = (getDeno() as unknown as {
    permissions?: {
      querySync?(descriptor: { name: "env"; variable: string }): {
        state: string;
      };
    };
  }).permissions;
  try {
    // Asked first, so that a terminal never shows a permission prompt.
    const state = permissions?.querySync?.({
      name: "env",
      variable: "WSTREAM_NODE_NET",
    }).state;
    if (state !== "granted") return false;
    return globalThis.process?.env?.WSTREAM_NODE_NET === "1";
  } catch {
    return false;
  }
}
