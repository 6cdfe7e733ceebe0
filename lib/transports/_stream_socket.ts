/**
 * Private pieces shared by the TCP transports: the lingering-close limits
 * and the listener and option checks.
 *
 * @module
 */

import type { NetAddr, TcpListener } from "./tcp_connection.ts";

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
