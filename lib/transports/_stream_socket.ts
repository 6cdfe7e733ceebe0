/**
 * Private pieces shared by the TCP transports and by `serve()`/`upgrade()`:
 * the lingering-close limits, the listener and option checks the transports
 * share, and the registry through which `serve()` hands a request's socket
 * to `upgrade()`.
 *
 * @module
 */

import type { WebSocketStreamLike } from "../websocket_connection.ts";
import type { NetAddr, TcpConnection, TcpListener } from "./tcp.ts";

/** The longest a lingering close waits for the peer to close, in ms. */
export const LINGER_TIME = 2000;
/** The most bytes a lingering close reads and discards. */
export const LINGER_BYTES = 1024 * 1024;

/**
 * Checks the `cert` / `key` pair of listen options.
 *
 * @returns Both PEM strings, or `null` for plain TCP.
 * @throws {TypeError} If only one is given, or one is not a string.
 */
export function tlsCertificate(
  options: { cert?: string; key?: string },
): { cert: string; key: string } | null {
  const { cert, key } = options;
  if (cert === undefined && key === undefined) return null;
  if (typeof cert !== "string" || typeof key !== "string") {
    throw new TypeError(
      "Cannot listen with TLS: pass both cert and key as PEM strings",
    );
  }
  return { cert, key };
}

/**
 * Returns the namespace of the runtime a transport function needs.
 *
 * @param runtime `getDeno()` or `getBun()`.
 * @param caller The function, for the error: `"listenBun()"`.
 * @param name The runtime, for the error: `"Bun"`.
 * @throws {TypeError} If `runtime` is `undefined`: not running on it.
 */
export function requireRuntime<Runtime>(
  runtime: Runtime | undefined,
  caller: string,
  name: string,
): Runtime {
  if (runtime === undefined) {
    throw new TypeError(`${caller} needs the ${name} runtime`);
  }
  return runtime;
}

/**
 * A {@linkcode TcpListener} for a socket bound at once (Deno's and Bun's
 * listeners are; Node's binds asynchronously).
 *
 * @param addr The bound address.
 * @param closed The listener's `closed`.
 * @param stop Stops accepting; `close()` calls it once.
 */
export function boundListener(
  addr: NetAddr,
  closed: Promise<void>,
  stop: () => void,
): TcpListener {
  let stopped = false;
  return {
    addr,
    listening: Promise.resolve({ ...addr }),
    closed,
    close(): void {
      if (stopped) return;
      stopped = true;
      stop();
    },
  };
}

/** Builds an error for a write or read attempted after the socket closed. */
export function socketClosedError(): Error {
  return new Error("The TCP socket is closed");
}

/**
 * The connection settings a server (`serve()` or `attachToNodeServer()`)
 * gives every WebSocket it upgrades. `upgrade()` uses them for each option
 * its own `options` leave `undefined`. All in the units and with the
 * meaning of `WebSocketConnectionOptions`; an absent field means the
 * connection's own default.
 */
export interface ServerConnectionDefaults {
  /** The largest message accepted, in bytes. */
  readonly maxMessageSize?: number;
  /** Close with 1001 after this many ms without receiving anything; 0: never. */
  readonly idleTimeout?: number;
  /** Send a keepalive ping every this many ms; 0: never. */
  readonly pingInterval?: number;
  /** How long after a ping the peer must have sent something, in ms. */
  readonly pongTimeout?: number;
  /** How long to wait for the peer's close frame after ours, in ms. */
  readonly closeTimeout?: number;
}

/**
 * The socket behind a `Request` that wstream's `serve()` (or
 * `attachToNodeServer()`) handed to a handler, waiting for `upgrade()` to
 * claim it. Private to the servers and `upgrade.ts`.
 *
 * The protocol between them: `upgrade()` validates the request, builds the
 * WebSocket with `defaults` (overridden by its own options) over
 * `transport`, and sets `response` and `socket`. Once the handler returned,
 * the server sets `settled`; if it returned `response`, it writes the 101
 * head and resolves `transport`, else it rejects `transport`. The server
 * keeps `socket` to close it with 1001 on shutdown.
 */
export interface PendingUpgrade {
  /** Bytes received after the request head (the first frames, if any). */
  readonly head: Uint8Array;
  /** Resolved by the server once the 101 head is written; rejected if not. */
  readonly transport: Promise<TcpConnection>;
  /** The server's connection settings, below `upgrade()`'s own options. */
  readonly defaults: ServerConnectionDefaults;
  /** The 101 response `upgrade()` produced, `null` until it is called. */
  response: Response | null;
  /** The WebSocket `upgrade()` created, `null` until it is called. */
  socket: WebSocketStreamLike | null;
  /** Set by the server once the handler returned: too late to upgrade. */
  settled: boolean;
}

/** Requests of wstream's `serve()` whose socket may still be upgraded. */
export const pendingUpgrades: WeakMap<Request, PendingUpgrade> = new WeakMap();
