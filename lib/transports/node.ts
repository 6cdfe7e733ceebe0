/**
 * The Node TCP transport: `node:net` / `node:tls` sockets as
 * {@linkcode TcpConnection}s (byte stream pairs). It is `serve()`'s
 * transport on Node, and it wraps the sockets of the `node:http` `upgrade`
 * event on every runtime (Node, Deno and Bun all have `node:http`).
 *
 * Node pushes received data as `data` events; this transport turns the push
 * into a pull-based `ReadableStream` with real backpressure, with the
 * adapter it shares with the Bun transport (`_socket_channel.ts`): chunks are
 * queued (each a fresh buffer of its own, as Node hands them out) and once
 * the queue holds `highWaterMark` bytes the socket is paused
 * (`socket.pause()`; Node then stops reading the kernel once its own buffer
 * is full, so the peer's TCP window closes) until the consumer pulls again
 * (`socket.resume()`). A write resolves in the callback of
 * `socket.write()`, which Node runs once the bytes were handed to the
 * kernel, so awaiting writes is backpressure.
 *
 * @module
 */

import * as net from "node:net";
import * as tls from "node:tls";
import type { NodeSocketLike } from "./_runtime_types.ts";
import {
  checkHighWaterMark,
  setNoDelay,
  SocketChannel,
} from "./_socket_channel.ts";
import { socketClosedError, tlsCertificate } from "./_stream_socket.ts";
import type {
  NetAddr,
  TcpConnection,
  TcpConnectOptions,
  TcpListener,
  TcpListenOptions,
} from "./tcp_connection.ts";

export type { NodeSocketLike } from "./_runtime_types.ts";

/** The largest piece of a write handed to `node:net` at once, where its queue is not visible (see `send`). */
const PROGRESS_PIECE = 256 * 1024;

/**
 * Receive-side buffering of the Node transport.
 *
 * @example Pause a socket once 16 KiB wait unread
 * ```ts
 * import { listenNode, type NodeReadOptions } from "@wstream/wstream/transports";
 *
 * const readOptions: NodeReadOptions = { highWaterMark: 16 * 1024 };
 * const listener = listenNode({ port: 0 }, (connection) => connection.close(), readOptions);
 * await listener.listening;
 * listener.close();
 * await listener.closed;
 * ```
 */
export interface NodeReadOptions {
  /**
   * Bytes queued in the readable before the socket is paused.
   *
   * @default {65536}
   */
  highWaterMark?: number;
}

/**
 * Options of {@linkcode listenNode}.
 *
 * @example Give TLS clients 5 s to finish their handshake
 * ```ts
 * import { listenNode, type NodeListenOptions } from "@wstream/wstream/transports";
 *
 * // With `cert` and `key` (PEM) the listener speaks TLS; without, plain TCP.
 * const options: NodeListenOptions = { port: 0, tlsHandshakeTimeout: 5_000 };
 * const listener = listenNode(options, (connection) => connection.close());
 * console.log(`listening on ${(await listener.listening).port}`);
 * listener.close();
 * await listener.closed;
 * ```
 */
export interface NodeListenOptions extends TcpListenOptions {
  /**
   * With TLS, how long in milliseconds a client has to complete the TLS
   * handshake; connections are handed over only after it (`node:tls`
   * emits `secureConnection` then).
   *
   * @default {10000}
   */
  tlsHandshakeTimeout?: number;
}

const DEFAULT_TLS_HANDSHAKE_TIMEOUT = 10_000;

/** The state behind one wrapped socket. */
/** Where a `node:net` socket keeps its {@linkcode NodeSocketState}. */
const STATE = Symbol("wstream.nodeSocketState");

interface SocketWithState {
  [STATE]: NodeSocketState;
}

function onSocketData(this: SocketWithState, chunk: Uint8Array): void {
  this[STATE].onData(chunk);
}

function onSocketEnd(this: SocketWithState): void {
  this[STATE].onEnd();
}

function onSocketError(this: SocketWithState, error: Error): void {
  this[STATE].onError(error);
}

function onSocketClose(this: SocketWithState): void {
  this[STATE].onClose();
}

class NodeSocketState extends SocketChannel {
  #socket: NodeSocketLike;
  /** Bytes handed to `socket.write`, for {@linkcode NodeSocketState.progress}. */
  #handedOut = 0;
  // Node's `destroy()` drops what is not written yet; `end()` flushes.
  protected override readonly endAfterEof = true;

  constructor(socket: NodeSocketLike, highWaterMark: number) {
    super(highWaterMark, true);
    this.#socket = socket;
    setNoDelay(socket);
    // Shared listeners find this state on the socket: no closures kept per
    // connection.
    (socket as unknown as SocketWithState)[STATE] = this;
    socket.on("data", onSocketData);
    socket.on("end", onSocketEnd);
    socket.on("error", onSocketError);
    socket.on("close", onSocketClose);
    if (socket.destroyed) this.close();
  }

  // Addresses are read when asked for: each is a system call.
  /** The local address of the socket. */
  get localAddr(): NetAddr {
    return {
      hostname: this.#socket.localAddress ?? "",
      port: this.#socket.localPort ?? 0,
    };
  }

  /** The peer's address. */
  get remoteAddr(): NetAddr {
    return {
      hostname: this.#socket.remoteAddress ?? "",
      port: this.#socket.remotePort ?? 0,
    };
  }

  protected override get pausesWhenUnclaimed(): boolean {
    return true;
  }

  protected override pauseSocket(): void {
    this.#socket.pause();
  }

  protected override resumeSocket(): void {
    this.#socket.resume();
  }

  protected override ownChunk(chunk: Uint8Array): Uint8Array {
    // Node hands out a fresh buffer per read; a view into a larger buffer
    // may be a pool shared with other sockets, so copy that.
    return chunk.byteOffset === 0 &&
        chunk.buffer.byteLength === chunk.byteLength
      ? new Uint8Array(chunk.buffer, 0, chunk.byteLength)
      : new Uint8Array(chunk); // A plain copy: Buffer#slice would be a view.
  }

  protected override send(chunk: Uint8Array): Promise<void> {
    if (this.#socket.destroyed) return Promise.reject(socketClosedError());
    this.#handedOut += chunk.length;
    // Where libuv's queue is not visible (Deno's and Bun's `node:net`), a
    // large chunk goes piece by piece (views, no copies), each one progress:
    // Node calls a write back only once all of it is out.
    const piece = this.#writeQueueSize() === undefined
      ? PROGRESS_PIECE
      : chunk.length;
    return this.whileOpen((resolve, reject) => {
      let at = 0;
      const wrote = (error?: Error | null): void => {
        if (error !== undefined && error !== null) {
          reject(error);
          this.close();
          return;
        }
        this.madeProgress();
        if (at >= chunk.length) {
          resolve();
          return;
        }
        const next = chunk.subarray(at, at + piece);
        at += next.length;
        this.#socket.write(next, wrote);
      };
      const first = chunk.length <= piece ? chunk : chunk.subarray(0, piece);
      at = first.length;
      this.#socket.write(first, wrote);
    });
  }

  /** The bytes libuv still holds for the kernel, where Node shows them. */
  #writeQueueSize(): number | undefined {
    const pending = (this.#socket as { _handle?: { writeQueueSize?: unknown } })
      ._handle?.writeQueueSize;
    return typeof pending === "number" ? pending : undefined;
  }

  /**
   * Grows as the kernel takes bytes, partial writes included: on Node from
   * the bytes libuv still holds (`writeQueueSize`, which Node's own TLS and
   * HTTP/2 read), elsewhere per piece written (see `send`).
   */
  override get progress(): number {
    const pending = this.#writeQueueSize();
    return super.progress +
      (pending === undefined ? 0 : this.#handedOut - pending);
  }

  protected override endSocket(): void {
    this.#socket.end();
  }

  protected override destroySocket(): void {
    this.#socket.destroy();
  }
}

/**
 * Wraps a connected `node:net` socket (or `node:tls` socket) as a
 * {@linkcode TcpConnection}.
 *
 * For the lingering close to work, the socket must allow half-open
 * connections (`allowHalfOpen: true`, as `node:http` servers and
 * {@linkcode listenNode} / {@linkcode connectNode} sockets do); otherwise
 * Node ends our side as soon as the peer sends FIN.
 *
 * @param socket A connected socket. The returned object owns it from now
 * on: nothing else may read it, write it or listen to its `data` event.
 * @param options Receive-side buffering.
 * @returns The connection as a pair of byte streams.
 * @throws {RangeError} If `highWaterMark` is not a positive integer.
 *
 * @example Wrap a socket accepted by node:net
 * ```ts
 * import { connectNode, nodeConnection } from "@wstream/wstream/transports";
 * import * as net from "node:net";
 * import assert from "node:assert/strict";
 *
 * const received = Promise.withResolvers<Uint8Array | undefined>();
 * const server = net.createServer({ allowHalfOpen: true }, (socket) => {
 *   const connection = nodeConnection(socket);
 *   connection.readable.getReader().read().then(({ value }) => {
 *     received.resolve(value);
 *     connection.close();
 *   });
 * });
 * await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
 * const { port } = server.address() as net.AddressInfo;
 * const client = await connectNode({ port });
 * await client.writable.getWriter().write(new Uint8Array([7]));
 * assert.deepEqual(await received.promise, new Uint8Array([7]));
 * client.close();
 * server.close();
 * ```
 */
export function nodeConnection(
  socket: NodeSocketLike,
  options: NodeReadOptions = {},
): TcpConnection {
  return new NodeSocketState(socket, checkHighWaterMark(options)).connection;
}

/**
 * Listens for TCP connections with `node:net` (TLS with `node:tls` when
 * `cert` and `key` are given) and hands each one, as a
 * {@linkcode TcpConnection}, to `onConnection`. A TLS connection is handed
 * over once its handshake completed, which must take less than
 * `tlsHandshakeTimeout`.
 *
 * Node binds the port asynchronously: `addr` holds the requested address
 * until `listening` resolves with the actual one (port 0 is then replaced by
 * the chosen port). A listen error (such as `EADDRINUSE`) rejects
 * `listening` and `closed`.
 *
 * @param options Where to listen, and the TLS certificate.
 * @param onConnection Called once per accepted connection; it owns the
 * connection and must close it.
 * @param readOptions Receive-side buffering of the accepted connections.
 * @returns The listener.
 * @throws {TypeError} If only one of `cert` and `key` is given.
 * @throws {RangeError} If `highWaterMark` is not a positive integer.
 * @throws {Error} The error of `tls.createServer`, such as an invalid key.
 *
 * @example Accept connections on an ephemeral port
 * ```ts
 * import { listenNode } from "@wstream/wstream/transports";
 *
 * const listener = listenNode({ port: 0 }, (connection) => connection.close());
 * const addr = await listener.listening;
 * console.log(`listening on ${addr.port}`);
 * listener.close();
 * await listener.closed;
 * ```
 */
export function listenNode(
  options: NodeListenOptions,
  onConnection: (connection: TcpConnection) => void,
  readOptions: NodeReadOptions = {},
): TcpListener {
  const certificate = tlsCertificate(options);
  checkHighWaterMark(readOptions);
  const hostname = options.hostname ?? "127.0.0.1";
  const port = options.port ?? 0;
  const accept = (socket: net.Socket): void => {
    onConnection(nodeConnection(socket, readOptions));
  };
  const server: net.Server = certificate === null
    ? net.createServer({ allowHalfOpen: true, noDelay: true }, accept)
    : tls.createServer({
      ...certificate,
      allowHalfOpen: true,
      handshakeTimeout: options.tlsHandshakeTimeout ??
        DEFAULT_TLS_HANDSHAKE_TIMEOUT,
    }, accept);
  // A failed TLS handshake is the client's problem: no crash, no noise.
  server.on("tlsClientError", () => {});
  let addr: NetAddr = { hostname, port };
  let bound = false;
  let stopped = false;
  const listening = Promise.withResolvers<NetAddr>();
  const closed = Promise.withResolvers<void>();
  listening.promise.catch(() => {});
  closed.promise.catch(() => {});
  server.on("error", (error: Error & { code?: string }) => {
    if (bound && /^(EMFILE|ENFILE|ECONNABORTED)$/.test(error.code ?? "")) {
      return; // Out of descriptors and the like: Node keeps listening.
    }
    stopped = true;
    server.close();
    listening.reject(error);
    closed.reject(error);
  });
  server.listen({
    host: hostname,
    port,
    ...(options.reusePort === true ? { reusePort: true } : {}),
  }, () => {
    if (stopped) {
      server.close(); // Closed while Node was still resolving the address.
      return;
    }
    const address = server.address();
    if (address !== null && typeof address === "object") {
      addr = { hostname: address.address, port: address.port };
    }
    bound = true;
    listening.resolve({ ...addr });
  });
  return {
    get addr(): NetAddr {
      return addr;
    },
    listening: listening.promise,
    closed: closed.promise,
    close(): void {
      if (stopped) return;
      stopped = true;
      server.close();
      listening.reject(new Error("The listener was closed before listening"));
      closed.resolve();
    },
  };
}

/**
 * Opens a TCP connection with `net.connect`, or with `tls` a TLS one with
 * `tls.connect`, which resolves once the handshake completed and the
 * server's certificate verified. `caCerts` are trusted in addition to
 * Node's default roots (`tls.rootCertificates`), as on Deno.
 *
 * @param options Where to connect, and the TLS settings.
 * @param readOptions Receive-side buffering.
 * @returns The connection as a pair of byte streams.
 * @throws {RangeError} If `highWaterMark` is not a positive integer.
 * @throws {Error} The connection error, such as `ECONNREFUSED`, or the
 * TLS handshake's, such as `DEPTH_ZERO_SELF_SIGNED_CERT`.
 *
 * @example Connect to a local listener and send bytes
 * ```ts
 * import { connectNode, listenNode } from "@wstream/wstream/transports";
 * import assert from "node:assert/strict";
 *
 * const received = Promise.withResolvers<Uint8Array>();
 * const listener = listenNode({ port: 0 }, async (connection) => {
 *   const { value } = await connection.readable.getReader().read();
 *   received.resolve(value ?? new Uint8Array());
 *   connection.close();
 * });
 * const { port } = await listener.listening;
 * const client = await connectNode({ port });
 * await client.writable.getWriter().write(new Uint8Array([1, 2, 3]));
 * assert.deepEqual(await received.promise, new Uint8Array([1, 2, 3]));
 * client.close();
 * listener.close();
 * ```
 */
export function connectNode(
  options: TcpConnectOptions,
  readOptions: NodeReadOptions = {},
): Promise<TcpConnection> {
  try {
    checkHighWaterMark(readOptions);
  } catch (error) {
    return Promise.reject(error);
  }
  const host = options.hostname ?? "127.0.0.1";
  const secure = options.tls;
  return new Promise<TcpConnection>((resolve, reject) => {
    let socket: net.Socket;
    if (secure === undefined) {
      socket = net.connect({
        host,
        port: options.port,
        allowHalfOpen: true,
        noDelay: true,
      });
    } else {
      // `allowHalfOpen` is honoured by tls.connect, though not in its types.
      const tlsOptions: tls.ConnectionOptions & { allowHalfOpen: boolean } = {
        host,
        port: options.port,
        allowHalfOpen: true,
        rejectUnauthorized: true,
      };
      if (secure.serverName !== undefined) {
        tlsOptions.servername = secure.serverName;
      }
      if (secure.caCerts !== undefined) {
        tlsOptions.ca = [...tls.rootCertificates, ...secure.caCerts];
      }
      socket = tls.connect(tlsOptions);
    }
    const onError = (error: Error): void => {
      socket.destroy();
      reject(error);
    };
    socket.once("error", onError);
    socket.once(secure === undefined ? "connect" : "secureConnect", () => {
      socket.removeListener("error", onError);
      resolve(nodeConnection(socket, readOptions));
    });
  });
}
