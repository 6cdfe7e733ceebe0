/**
 * The Bun TCP transport: `Bun.listen` / `Bun.connect` sockets as
 * {@linkcode TcpConnection}s (byte stream pairs).
 *
 * Bun pushes received data to a `data` callback; this transport turns the
 * push into a pull-based `ReadableStream` with real backpressure (with the
 * adapter it shares with the Node transport, `_socket_channel.ts`): chunks
 * are queued (a fresh `Uint8Array` each, as Bun hands out) and once the
 * queue holds `highWaterMark` bytes the socket is paused
 * (`socket.pause()`, which stops reading from the kernel so the peer's TCP
 * window closes) until the consumer pulls again (`socket.resume()`). At most
 * one kernel read (Bun reads up to 512 KiB at a time) lands past the mark.
 * Writes that Bun accepts only partly (its `write()` returns fewer bytes than
 * given when the kernel buffer is full) wait for the `drain` callback and
 * retry with the rest. An idle connection pins no read buffer (Bun reads
 * only when data arrives): ~4 KiB per idle connection, see
 * `bench/idle_memory.md`.
 *
 * @module
 */

import { rootCertificates } from "node:tls";
import { getBun } from "./_runtime_types.ts";
import type { BunSocket, BunSocketHandler } from "./_runtime_types.ts";
import {
  checkHighWaterMark,
  setNoDelay,
  SocketChannel,
} from "./_socket_channel.ts";
import {
  boundListener,
  requireRuntime,
  socketClosedError,
  tlsCertificate,
} from "./_stream_socket.ts";
import type {
  NetAddr,
  TcpConnection,
  TcpConnectOptions,
  TcpListener,
  TcpListenOptions,
} from "./tcp_connection.ts";

/**
 * Receive-side buffering of the Bun transport.
 *
 * @example Pause a socket once 16 KiB wait unread
 * ```ts
 * import type { BunReadOptions } from "@wstream/wstream/transports";
 *
 * // Pass as the last argument of listenBun() or connectBun() (Bun only).
 * const readOptions: BunReadOptions = { highWaterMark: 16 * 1024 };
 * console.log(readOptions);
 * ```
 */
export interface BunReadOptions {
  /**
   * Bytes queued in the readable before the socket is paused.
   *
   * @default {65536}
   */
  highWaterMark?: number;
}

/** Per-socket state, kept in Bun's `socket.data`. */
class BunSocketState extends SocketChannel {
  #socket: BunSocket<BunSocketState>;
  #drain: (() => void) | null = null;
  /** A TLS client's handshake, settled by Bun's `handshake` callback. */
  handshake: PromiseWithResolvers<void> | null = null;
  // Bun's `end()` flushes before it closes: no need to wait for it.
  protected override readonly endAfterEof = false;

  constructor(socket: BunSocket<BunSocketState>, highWaterMark: number) {
    super(highWaterMark, true);
    this.#socket = socket;
    setNoDelay(socket);
  }

  /** The local address of the socket. */
  get localAddr(): NetAddr {
    return {
      hostname: this.#socket.localAddress ?? "",
      port: this.#socket.localPort,
    };
  }

  /** The peer's address. */
  get remoteAddr(): NetAddr {
    return {
      hostname: this.#socket.remoteAddress,
      port: this.#socket.remotePort ?? 0,
    };
  }

  /** Bun's `drain` callback: the kernel took bytes, write more. */
  onDrain(): void {
    const drain = this.#drain;
    this.#drain = null;
    drain?.();
  }

  /** Bun's `handshake` callback (TLS). */
  onHandshake(success: boolean, error: Error | null): void {
    const handshake = this.handshake;
    if (handshake === null) return;
    this.handshake = null;
    if (success) {
      handshake.resolve();
    } else {
      handshake.reject(
        error ?? new Error("The TLS handshake failed"),
      );
    }
  }

  protected override finished(error: Error | undefined): void {
    if (this.handshake !== null) {
      this.onHandshake(false, error ?? socketClosedError());
    }
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
    // Bun gives a fresh plain Uint8Array per callback (`binaryType:
    // "uint8array"`); a Buffer (older Bun) is exposed as a plain Uint8Array
    // (Buffer#slice would alias where Uint8Array#slice copies). Reading
    // `.buffer` is not free on Bun: only when needed.
    return chunk.constructor === Uint8Array
      ? chunk
      : new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  }

  protected override async send(chunk: Uint8Array): Promise<void> {
    let offset = 0;
    while (true) {
      const written = this.#socket.write(
        chunk,
        offset,
        chunk.byteLength - offset,
      );
      if (written < 0) {
        this.close();
        throw socketClosedError();
      }
      offset += written;
      if (written > 0) this.madeProgress();
      if (offset >= chunk.byteLength) return;
      await this.whileOpen((resolve) => {
        this.#drain = resolve;
      });
      // Not `writing`: closeWrite() sends FIN after this write, not before.
      if (!this.open) throw socketClosedError();
    }
  }

  override get writesNow(): boolean {
    return true;
  }

  protected override sendNow(chunk: Uint8Array, length: number): number {
    const written = this.#socket.write(chunk, 0, length);
    if (written <= 0) return 0; // Closed (write() reports it) or full.
    this.madeProgress();
    return written;
  }

  protected override endSocket(): void {
    this.#socket.shutdown();
  }

  protected override destroySocket(): void {
    this.#socket.end();
  }
}

function socketHandler(
  options: BunReadOptions,
  onOpen: (state: BunSocketState) => void,
): BunSocketHandler<BunSocketState> {
  return {
    binaryType: "uint8array",
    open(socket): void {
      const state = new BunSocketState(socket, checkHighWaterMark(options));
      socket.data = state;
      onOpen(state);
    },
    data(socket, chunk): void {
      socket.data.onData(chunk);
    },
    drain(socket): void {
      socket.data?.onDrain();
    },
    end(socket): void {
      socket.data?.onEnd();
    },
    close(socket, error): void {
      socket.data?.onClose(error);
    },
    error(socket, error): void {
      socket.data?.onError(error);
    },
    handshake(socket, success, authorizationError): void {
      socket.data?.onHandshake(success, authorizationError);
    },
  };
}

/**
 * Listens for TCP connections with `Bun.listen` (TLS when `cert` and `key`
 * are given) and hands each one, as a {@linkcode TcpConnection}, to
 * `onConnection`. A TLS connection is handed over at once; its handshake
 * runs before the first bytes reach `readable`.
 *
 * @param options Where to listen, and the TLS certificate.
 * @param onConnection Called once per accepted connection; it owns the
 * connection and must close it.
 * @param readOptions Receive-side buffering of the accepted connections.
 * @returns The listener; its `addr.port` is the actual port.
 * @throws {TypeError} If not running on Bun, or if only one of `cert` and
 * `key` is given.
 * @throws {RangeError} If `highWaterMark` is not a positive integer.
 * @throws {Error} The error of `Bun.listen`, such as `EADDRINUSE` or an
 * invalid certificate.
 *
 * @example Accept connections on an ephemeral port
 * ```ts ignore
 * import { listenBun } from "@wstream/wstream/transports";
 *
 * const listener = listenBun({ port: 0 }, (connection) => connection.close());
 * console.log(`listening on ${listener.addr.port}`);
 * listener.close();
 * await listener.closed;
 * ```
 */
export function listenBun(
  options: TcpListenOptions,
  onConnection: (connection: TcpConnection) => void,
  readOptions: BunReadOptions = {},
): TcpListener {
  const bun = requireRuntime(getBun(), "listenBun()", "Bun");
  checkHighWaterMark(readOptions);
  const tls = tlsCertificate(options);
  const server = bun.listen<BunSocketState>({
    // Else Bun closes the socket soon after the peer's FIN, losing answers
    // to a client that half-closed after its request.
    allowHalfOpen: true,
    hostname: options.hostname ?? "127.0.0.1",
    port: options.port ?? 0,
    ...(options.reusePort === true ? { reusePort: true } : {}),
    socket: socketHandler(readOptions, (state) => {
      onConnection(state.connection);
    }),
    ...(tls === null ? {} : { tls }),
  });
  const closed = Promise.withResolvers<void>();
  const addr = { hostname: server.hostname, port: server.port };
  return boundListener(addr, closed.promise, () => {
    server.stop(false);
    closed.resolve();
  });
}

/**
 * Opens a TCP connection with `Bun.connect`, or with `tls` a TLS one
 * (`Bun.connect({ tls: { ca, serverName, rejectUnauthorized: true } })`)
 * that resolves once the handshake completed and the server's certificate
 * verified. `caCerts` are trusted in addition to the default roots
 * (`tls.rootCertificates`), as on Deno.
 *
 * @param options Where to connect, and the TLS settings.
 * @param readOptions Receive-side buffering.
 * @returns The connection as a pair of byte streams.
 * @throws {TypeError} If not running on Bun.
 * @throws {RangeError} If `highWaterMark` is not a positive integer.
 * @throws {Error} The connection error, such as `ECONNREFUSED`, or the
 * TLS handshake's, such as a self-signed certificate not in `caCerts`.
 *
 * @example Connect to a local listener and send bytes
 * ```ts ignore
 * import { connectBun, listenBun } from "@wstream/wstream/transports";
 * import assert from "node:assert/strict";
 *
 * const received = Promise.withResolvers<Uint8Array>();
 * const listener = listenBun({ port: 0 }, async (connection) => {
 *   const { value } = await connection.readable.getReader().read();
 *   received.resolve(value ?? new Uint8Array());
 *   connection.close();
 * });
 * const client = await connectBun({ port: listener.addr.port });
 * await client.writable.getWriter().write(new Uint8Array([1, 2, 3]));
 * assert.deepEqual(await received.promise, new Uint8Array([1, 2, 3]));
 * client.close();
 * listener.close();
 * ```
 */
export async function connectBun(
  options: TcpConnectOptions,
  readOptions: BunReadOptions = {},
): Promise<TcpConnection> {
  const bun = requireRuntime(getBun(), "connectBun()", "Bun");
  checkHighWaterMark(readOptions);
  const hostname = options.hostname ?? "127.0.0.1";
  const tls = options.tls;
  let state: BunSocketState | undefined;
  const socket = await bun.connect<BunSocketState>({
    allowHalfOpen: true,
    hostname,
    port: options.port,
    socket: socketHandler(readOptions, (opened) => {
      state = opened;
      if (tls !== undefined) opened.handshake = Promise.withResolvers<void>();
    }),
    ...(tls === undefined ? {} : {
      tls: {
        // Without it, Bun neither verifies nor reports the handshake.
        rejectUnauthorized: true,
        ...(tls.serverName === undefined ? {} : { serverName: tls.serverName }),
        // `ca` replaces Bun's default roots: keep them, as Deno does.
        ...(tls.caCerts === undefined
          ? {}
          : { ca: [...rootCertificates, ...tls.caCerts] }),
      },
    }),
  });
  // `open` runs before `Bun.connect` resolves.
  const opened = state ?? socket.data;
  const handshake = opened.handshake;
  if (handshake !== null) {
    try {
      await handshake.promise;
    } catch (error) {
      opened.close();
      throw error;
    }
  }
  return opened.connection;
}
