/**
 * Minimal local declarations of the Deno and Bun APIs wstream's transports
 * use, so that the library type-checks under `deno check`, `bun` and Node's
 * type stripping without `@types` packages. Reach the runtimes through
 * {@linkcode getDeno} and {@linkcode getBun}: never through the bare globals,
 * whose declarations differ by toolchain.
 *
 * @module
 */

/** A TCP address as Deno reports it (`Deno.NetAddr`). */
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
  /** Turns Nagle's algorithm off (`true`) or on. */
  setNoDelay(noDelay?: boolean): void;
}

/** The part of `Deno.Listener` wstream uses. */
export interface DenoListener {
  readonly addr: DenoNetAddr;
  accept(): Promise<DenoConn>;
  close(): void;
}

/** The part of the `Deno` namespace wstream uses. */
export interface DenoNamespace {
  listen(options: { hostname: string; port: number }): DenoListener;
  connect(options: { hostname: string; port: number }): Promise<DenoConn>;
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
  open?(socket: BunSocket<Data>): void;
  data?(socket: BunSocket<Data>, chunk: Uint8Array): void;
  drain?(socket: BunSocket<Data>): void;
  end?(socket: BunSocket<Data>): void;
  close?(socket: BunSocket<Data>, error?: Error): void;
  error?(socket: BunSocket<Data>, error: Error): void;
  connectError?(socket: BunSocket<Data>, error: Error): void;
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
    hostname: string;
    port: number;
    socket: BunSocketHandler<Data>;
  }): BunTcpListener;
  connect<Data>(options: {
    hostname: string;
    port: number;
    socket: BunSocketHandler<Data>;
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
