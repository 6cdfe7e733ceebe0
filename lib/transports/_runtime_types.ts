/**
 * Minimal local declarations of the Deno and Bun APIs wstream's transports
 * use, so that the library type-checks under `deno check`, `bun` and Node's
 * type stripping without `@types` packages. Reach the runtimes through
 * {@linkcode getDeno} and {@linkcode getBun}: never through the bare globals,
 * whose declarations differ by toolchain.
 *
 * @module
 */

/**
 * A TCP address as Deno reports it (`Deno.NetAddr`).
 *
 * @example A Deno listener's address fits
 * ```ts
 * import type { DenoNetAddr } from "@wstream/wstream/transports";
 * import assert from "node:assert/strict";
 *
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const addr: DenoNetAddr = listener.addr;
 * assert.equal(addr.transport, "tcp");
 * listener.close();
 * ```
 */
export interface DenoNetAddr {
  /** `"tcp"` for TCP sockets. */
  transport: string;
  /** The IP address. */
  hostname: string;
  /** The port. */
  port: number;
}

/**
 * The part of `Deno.Conn` wstream uses; any `Deno.Conn` of a TCP socket
 * fits.
 *
 * @example Any Deno TCP connection fits
 * ```ts
 * import { type DenoConn, denoConnection } from "@wstream/wstream/transports";
 * import assert from "node:assert/strict";
 *
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const client: DenoConn = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
 * const connection = denoConnection(await listener.accept());
 * assert.equal(connection.remoteAddr.port, client.localAddr.port);
 * client.close();
 * connection.close();
 * listener.close();
 * ```
 */
export interface DenoConn {
  /** The local address. */
  readonly localAddr: DenoNetAddr;
  /** The peer's address. */
  readonly remoteAddr: DenoNetAddr;
  /** Resolves to the number of bytes read, or `null` at EOF. */
  read(buffer: Uint8Array): Promise<number | null>;
  /** Resolves to the number of bytes written, possibly fewer than given. */
  write(data: Uint8Array): Promise<number>;
  /** Closes the socket; throws `BadResource` when already closed. */
  close(): void;
  /** Shuts down the write half (sends FIN); reading goes on. */
  closeWrite(): Promise<void>;
  /** Turns Nagle's algorithm off (`true`) or on; TCP sockets only. */
  setNoDelay?(noDelay?: boolean): void;
  /** Completes the TLS handshake; TLS sockets only. */
  handshake?(): Promise<unknown>;
}

/** The part of `Deno.Listener` wstream uses. */
export interface DenoListener {
  readonly addr: DenoNetAddr;
  accept(): Promise<DenoConn>;
  close(): void;
}

/** The part of the `Deno` namespace wstream uses. */
export interface DenoNamespace {
  listen(
    options: { hostname: string; port: number; reusePort?: boolean },
  ): DenoListener;
  listenTls(options: {
    hostname: string;
    port: number;
    reusePort?: boolean;
    cert: string;
    key: string;
  }): DenoListener;
  connect(options: { hostname: string; port: number }): Promise<DenoConn>;
  connectTls(options: {
    hostname: string;
    port: number;
    caCerts?: string[];
  }): Promise<DenoConn>;
  startTls(
    conn: DenoConn,
    options: { hostname: string; caCerts?: string[] },
  ): Promise<DenoConn>;
  env: { get(key: string): string | undefined };
  execPath(): string;
}

/** The part of a Bun TCP socket (`Bun.Socket`) wstream uses. */
export interface BunSocket<Data> {
  data: Data;
  readonly remoteAddress: string;
  readonly localAddress?: string;
  readonly remotePort?: number;
  readonly localPort: number;
  /** Returns the bytes accepted by the kernel (0 when its buffer is full, negative when closed). */
  write(data: Uint8Array, byteOffset?: number, byteLength?: number): number;
  /** Flushes, sends FIN and closes the socket. */
  end(): void;
  /** Shuts down the write half (sends FIN); reading goes on. */
  shutdown(halfClose?: boolean): void;
  /** Stops reading from the kernel until {@linkcode BunSocket.resume}. */
  pause(): void;
  resume(): void;
  setNoDelay(noDelay?: boolean): boolean;
}

/** Socket callbacks of `Bun.listen` and `Bun.connect`. */
export interface BunSocketHandler<Data> {
  /** How `data` hands received bytes: `"uint8array"`, a plain `Uint8Array`. */
  binaryType?: "buffer" | "arraybuffer" | "uint8array";
  open?(socket: BunSocket<Data>): void;
  data?(socket: BunSocket<Data>, chunk: Uint8Array): void;
  drain?(socket: BunSocket<Data>): void;
  end?(socket: BunSocket<Data>): void;
  close?(socket: BunSocket<Data>, error?: Error): void;
  error?(socket: BunSocket<Data>, error: Error): void;
  connectError?(socket: BunSocket<Data>, error: Error): void;
  handshake?(
    socket: BunSocket<Data>,
    success: boolean,
    authorizationError: Error | null,
  ): void;
}

/** TLS settings of `Bun.listen` and `Bun.connect`. */
export interface BunTlsOptions {
  cert?: string;
  key?: string;
  ca?: string[];
  serverName?: string;
  rejectUnauthorized?: boolean;
}

/** The part of `Bun.TCPSocketListener` wstream uses. */
export interface BunTcpListener {
  readonly hostname: string;
  readonly port: number;
  stop(closeActiveConnections?: boolean): void;
}

/** The part of the `Bun` namespace wstream uses. */
export interface BunNamespace {
  listen<Data>(options: {
    allowHalfOpen?: boolean;
    hostname: string;
    port: number;
    reusePort?: boolean;
    socket: BunSocketHandler<Data>;
    tls?: BunTlsOptions;
  }): BunTcpListener;
  connect<Data>(options: {
    allowHalfOpen?: boolean;
    hostname: string;
    port: number;
    socket: BunSocketHandler<Data>;
    tls?: BunTlsOptions;
  }): Promise<BunSocket<Data>>;
}

/** Returns the `Deno` namespace when running on Deno, else `undefined`. */
export function getDeno(): DenoNamespace | undefined {
  return (globalThis as { Deno?: DenoNamespace }).Deno;
}

/** Returns the `Bun` namespace when running on Bun, else `undefined`. */
export function getBun(): BunNamespace | undefined {
  return (globalThis as { Bun?: BunNamespace }).Bun;
}

/**
 * The part of a `node:net` `Socket` (or `node:tls` `TLSSocket`) wstream
 * uses; sockets of `net.createServer`, `net.connect`, `tls.connect` and
 * those of the `node:http` `upgrade` event fit, on Node, Deno and Bun.
 *
 * @example A node:net socket fits
 * ```ts
 * import { type NodeSocketLike, nodeConnection } from "@wstream/wstream/transports";
 * import * as net from "node:net";
 * import assert from "node:assert/strict";
 *
 * const server = net.createServer({ allowHalfOpen: true }, (socket) => {
 *   const fits: NodeSocketLike = socket; // so does a node:tls TLSSocket
 *   nodeConnection(fits).close();
 * });
 * assert.equal(server.listening, false); // call server.listen(port) to serve
 * ```
 */
export interface NodeSocketLike {
  /** The peer's IP address. */
  readonly remoteAddress?: string | undefined;
  /** The peer's port. */
  readonly remotePort?: number | undefined;
  /** The local IP address. */
  readonly localAddress?: string | undefined;
  /** The local port. */
  readonly localPort?: number | undefined;
  /** Whether the socket is closed. */
  readonly destroyed: boolean;
  /** Queues bytes; `callback` runs once they reached the kernel, or failed. */
  write(
    data: Uint8Array,
    callback: (error?: Error | null) => void,
  ): boolean;
  /** Sends FIN after the queued writes (a half close with `allowHalfOpen`). */
  end(): unknown;
  /** Closes the socket now. */
  destroy(error?: Error): unknown;
  /** Stops emitting `data` (and, once Node's buffer is full, reading). */
  pause(): unknown;
  /** Emits `data` again. */
  resume(): unknown;
  /** Turns Nagle's algorithm off (`true`) or on. */
  setNoDelay?(noDelay?: boolean): unknown;
  /** Listens to received bytes. */
  on(event: "data", listener: (chunk: Uint8Array) => void): unknown;
  /** Listens to the peer's FIN (`end`) or the socket closing (`close`). */
  on(event: "end" | "close", listener: () => void): unknown;
  /** Listens to socket errors. */
  on(event: "error", listener: (error: Error) => void): unknown;
}
