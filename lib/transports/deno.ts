/**
 * The Deno TCP transport: `Deno.listen` / `Deno.connect` sockets as
 * {@linkcode TcpConnection}s (byte stream pairs).
 *
 * Idle memory is the cost that matters for a WebSocket server holding
 * thousands of quiet connections, and a waiting read pins its buffer until
 * data arrives (`conn.readable` pins 64 KiB per connection). So sockets are
 * read with `conn.read()` into a buffer that starts small (`minReadSize`,
 * 1 KiB), grows fourfold while reads fill it (up to 64 KiB, for
 * throughput) and falls back to the small size as soon as a read comes back
 * short, the sign that the kernel buffer was drained and the next read will
 * wait. Measured: ~24 KiB per idle connection for this transport, of which
 * ~19 KiB is Deno's own cost of a socket with a pending read; bulk
 * throughput is the same as with a fixed 64 KiB buffer. See
 * `bench/idle_memory.md`.
 *
 * @module
 */

import { getDeno } from "./_runtime_types.ts";
import type { DenoConn } from "./_runtime_types.ts";
import { setNoDelay, SocketChannel } from "./_socket_channel.ts";
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

export type { DenoConn, DenoNetAddr } from "./_runtime_types.ts";

/**
 * Read buffer sizing of {@linkcode denoConnection}.
 *
 * @example Smaller idle buffers, larger reads under load
 * ```ts
 * import { type DenoReadOptions, listenDeno } from "@wstream/wstream/transports";
 *
 * const readOptions: DenoReadOptions = { minReadSize: 512, maxReadSize: 256 * 1024 };
 * const listener = listenDeno({ port: 0 }, (connection) => connection.close(), readOptions);
 * listener.close();
 * await listener.closed;
 * ```
 */
export interface DenoReadOptions {
  /**
   * The size of the buffer a waiting read holds: the per-connection idle
   * cost. Power of two advised.
   *
   * @default {1024}
   */
  minReadSize?: number;
  /**
   * The largest read buffer, reached while reads keep filling the buffer.
   *
   * @default {65536}
   */
  maxReadSize?: number;
}

const DEFAULT_MIN_READ = 1024;
const DEFAULT_MAX_READ = 64 * 1024;

/**
 * Wraps a Deno TCP connection as a {@linkcode TcpConnection}.
 *
 * @param conn A connection from `Deno.listen(...).accept()` or
 * `Deno.connect()`. The returned object owns it from now on.
 * @param options Read buffer sizing.
 * @returns The connection as a pair of byte streams.
 * @throws {RangeError} If the read sizes are not positive integers with
 * `minReadSize <= maxReadSize`.
 *
 * @example Wrap a connection accepted by Deno.listen
 * ```ts
 * import { denoConnection } from "@wstream/wstream/transports";
 * import assert from "node:assert/strict";
 *
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
 * const connection = denoConnection(await listener.accept(), { minReadSize: 512 });
 * await client.write(new TextEncoder().encode("hi"));
 * client.close();
 * let text = "";
 * for await (const chunk of connection.readable) text += new TextDecoder().decode(chunk);
 * assert.equal(text, "hi");
 * connection.close();
 * listener.close();
 * ```
 */
export function denoConnection(
  conn: DenoConn,
  options: DenoReadOptions = {},
): TcpConnection {
  const [min, max] = checkReadSizes(options);
  setNoDelay(conn); // Not a TCP socket, or closed: the first read will tell.
  return new DenoSocket(conn, min, max);
}

/**
 * A Deno connection as a {@linkcode SocketChannel}: a `conn.read()` loop
 * runs while a receiver wants bytes.
 */
class DenoSocket extends SocketChannel {
  readonly #conn: DenoConn;
  readonly #min: number;
  readonly #max: number;
  #looping = false;
  /** A read buffer whose bytes were copied out: the next read reuses it. */
  #spare: Uint8Array | null = null;
  // The buffer size of the next read, and the size to jump back to when a
  // small read fills up again (the size in use before the last fallback).
  #size: number;
  #resume: number;
  readonly localAddr: NetAddr;
  readonly remoteAddr: NetAddr;
  protected override readonly endAfterEof = false;

  constructor(conn: DenoConn, min: number, max: number) {
    // Read only while a read waits: Deno's reads pin their buffer.
    super(0, false);
    this.#conn = conn;
    this.#min = min;
    this.#max = max;
    this.#size = min;
    this.#resume = Math.min(min * 4, max);
    this.localAddr = toNetAddr(conn.localAddr);
    this.remoteAddr = toNetAddr(conn.remoteAddr);
  }

  protected override pauseSocket(): void {
    // The loop stops after the read in progress (see `wantsData`).
  }

  protected override resumeSocket(): void {
    if (!this.#looping) this.#readLoop();
  }

  protected override ownChunk(chunk: Uint8Array): Uint8Array {
    return chunk; // A fresh buffer per read.
  }

  protected override async send(chunk: Uint8Array): Promise<void> {
    let offset = 0;
    try {
      while (offset < chunk.length) {
        offset += await this.#conn.write(chunk.subarray(offset));
        this.madeProgress();
      }
    } catch (error) {
      if (!this.writing) throw socketClosedError();
      this.close();
      throw error;
    }
  }

  protected override endSocket(): Promise<void> {
    return this.#conn.closeWrite();
  }

  protected override destroySocket(): void {
    this.#conn.close();
  }

  async #readLoop(): Promise<void> {
    this.#looping = true;
    const min = this.#min;
    const max = this.#max;
    try {
      while (this.wantsData) {
        // A large frame in progress is read straight into its payload.
        const target = this.readTarget();
        const spare = this.#spare;
        this.#spare = null;
        const buffer = target ??
          (spare !== null && spare.length === this.#size
            ? spare
            : new Uint8Array(this.#size));
        let n: number | null;
        try {
          n = await this.#conn.read(buffer);
        } catch (error) {
          // Closed by us: a local end; else a socket error.
          if (!this.isClosed) this.onError(error as Error);
          this.close();
          return;
        }
        if (n === null) {
          this.onEnd();
          return;
        }
        if (target !== null) {
          this.onData(n === buffer.length ? buffer : buffer.subarray(0, n));
          continue;
        }
        if (n === buffer.length) {
          this.#size = this.#size === min
            ? Math.max(this.#resume, Math.min(min * 4, max))
            : Math.min(this.#size * 4, max);
          this.onData(buffer);
          continue;
        }
        // A short read: the kernel had no more, so the next read probably
        // waits; it gets the small buffer.
        this.#resume = buffer.length > min
          ? buffer.length
          : Math.min(Math.max(min * 4, this.#resume >> 1), max);
        this.#size = min;
        // Hand out a fresh chunk; copy when most of the buffer would be
        // wasted, and then read into the same buffer next time.
        if (n * 2 >= buffer.length) {
          this.onData(buffer.subarray(0, n));
        } else {
          this.#spare = buffer;
          this.onData(buffer.slice(0, n));
        }
      }
    } finally {
      this.#looping = false;
    }
  }
}

/**
 * Listens for TCP connections with `Deno.listen` (TLS with
 * `Deno.listenTls` when `cert` and `key` are given) and hands each one, as
 * a {@linkcode TcpConnection}, to `onConnection`. A TLS connection is
 * handed over at once; its handshake runs on the first read or write.
 *
 * @param options Where to listen, and the TLS certificate.
 * @param onConnection Called once per accepted connection; it owns the
 * connection and must close it.
 * @param readOptions Read buffer sizing for the accepted connections.
 * @returns The listener; its `addr.port` is the actual port.
 * @throws {TypeError} If not running on Deno, if `reusePort` is asked without
 * `--unstable-net`, or if only one of `cert` and
 * `key` is given.
 * @throws {RangeError} If the read sizes are invalid.
 * @throws {Error} The error of `Deno.listen`, such as `AddrInUse`, or of
 * `Deno.listenTls`, such as an invalid certificate.
 *
 * @example Accept connections on an ephemeral port
 * ```ts
 * import { listenDeno } from "@wstream/wstream/transports";
 *
 * const listener = listenDeno({ port: 0 }, (connection) => connection.close());
 * console.log(`listening on ${listener.addr.port}`);
 * listener.close();
 * await listener.closed;
 * ```
 */
export function listenDeno(
  options: TcpListenOptions,
  onConnection: (connection: TcpConnection) => void,
  readOptions: DenoReadOptions = {},
): TcpListener {
  const deno = requireRuntime(getDeno(), "listenDeno()", "Deno");
  checkReadSizes(readOptions);
  const tls = tlsCertificate(options);
  // Deno exits the process when an unstable option is used without its
  // flag; `listenDatagram` exists only with --unstable-net.
  if (
    options.reusePort === true &&
    typeof (deno as { listenDatagram?: unknown }).listenDatagram !== "function"
  ) {
    throw new TypeError(
      "reusePort on Deno needs the --unstable-net flag: run `deno run --unstable-net ...`",
    );
  }
  const address = {
    hostname: options.hostname ?? "127.0.0.1",
    port: options.port ?? 0,
    ...(options.reusePort === true ? { reusePort: true } : {}),
  };
  const listener = tls === null
    ? deno.listen(address)
    : deno.listenTls({ ...address, ...tls });
  let closed = false;
  const accepting = (async (): Promise<void> => {
    while (!closed) {
      let conn: DenoConn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (closed) return;
        if (isTransientAcceptError(error)) {
          // Out of file descriptors and the like: back off, keep listening.
          await new Promise((resolve) => setTimeout(resolve, 50));
          continue;
        }
        closed = true;
        closeQuietly(listener);
        throw error;
      }
      onConnection(denoConnection(conn, readOptions));
    }
  })();
  return boundListener(toNetAddr(listener.addr), accepting, () => {
    closed = true;
    closeQuietly(listener);
  });
}

/**
 * Opens a TCP connection with `Deno.connect`, or with `tls` a TLS one with
 * `Deno.connectTls` (`Deno.connect` + `Deno.startTls` when a `serverName`
 * other than `hostname` is asked). A TLS connection resolves once the
 * handshake completed and the server's certificate verified.
 *
 * @param options Where to connect, and the TLS settings.
 * @param readOptions Read buffer sizing.
 * @returns The connection as a pair of byte streams.
 * @throws {TypeError} If not running on Deno.
 * @throws {RangeError} If the read sizes are invalid.
 * @throws {Error} The error of `Deno.connect`, such as `ConnectionRefused`,
 * or of the TLS handshake, such as an unknown issuer.
 *
 * @example Connect to a local listener and send bytes
 * ```ts
 * import { connectDeno, listenDeno } from "@wstream/wstream/transports";
 * import assert from "node:assert/strict";
 *
 * const received = Promise.withResolvers<Uint8Array>();
 * const listener = listenDeno({ port: 0 }, async (connection) => {
 *   const { value } = await connection.readable.getReader().read();
 *   received.resolve(value ?? new Uint8Array());
 *   connection.close();
 * });
 * const client = await connectDeno({ port: listener.addr.port });
 * await client.writable.getWriter().write(new Uint8Array([1, 2, 3]));
 * assert.deepEqual(await received.promise, new Uint8Array([1, 2, 3]));
 * client.close();
 * listener.close();
 * await listener.closed;
 * ```
 */
export async function connectDeno(
  options: TcpConnectOptions,
  readOptions: DenoReadOptions = {},
): Promise<TcpConnection> {
  const deno = requireRuntime(getDeno(), "connectDeno()", "Deno");
  checkReadSizes(readOptions);
  const hostname = options.hostname ?? "127.0.0.1";
  const tls = options.tls;
  if (tls === undefined) {
    return denoConnection(
      await deno.connect({ hostname, port: options.port }),
      readOptions,
    );
  }
  const caCerts = tls.caCerts === undefined ? {} : { caCerts: tls.caCerts };
  let conn: DenoConn;
  if (tls.serverName === undefined || tls.serverName === hostname) {
    conn = await deno.connectTls({ hostname, port: options.port, ...caCerts });
  } else {
    const tcp = await deno.connect({ hostname, port: options.port });
    try {
      conn = await deno.startTls(tcp, {
        hostname: tls.serverName,
        ...caCerts,
      });
    } catch (error) {
      closeQuietly(tcp);
      throw error;
    }
  }
  try {
    await conn.handshake?.();
  } catch (error) {
    closeQuietly(conn);
    throw error;
  }
  return denoConnection(conn, readOptions);
}

function closeQuietly(resource: { close(): void }): void {
  try {
    resource.close();
  } catch {
    // Already closed.
  }
}

function checkReadSizes(options: DenoReadOptions): [number, number] {
  const min = options.minReadSize ?? DEFAULT_MIN_READ;
  const max = options.maxReadSize ?? DEFAULT_MAX_READ;
  if (
    !Number.isSafeInteger(min) || !Number.isSafeInteger(max) || min < 1 ||
    max < min
  ) {
    throw new RangeError(
      `Invalid read sizes ${min}..${max}: pass positive integers with minReadSize <= maxReadSize`,
    );
  }
  return [min, max];
}

function toNetAddr(addr: { hostname?: string; port?: number }): NetAddr {
  return { hostname: addr.hostname ?? "", port: addr.port ?? 0 };
}

function isTransientAcceptError(error: unknown): boolean {
  const message = error instanceof Error ? error.message : "";
  return /EMFILE|ENFILE|Too many open files|ECONNABORTED/i.test(message);
}
