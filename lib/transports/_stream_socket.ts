/**
 * Private pieces shared by the TCP transports and by `serve()`/`upgrade()`:
 * the lingering-close limits and the registry through which `serve()` hands
 * a request's socket to `upgrade()`.
 *
 * @module
 */

import type { TcpConnection } from "./tcp.ts";

/** The longest a lingering close waits for the peer to close, in ms. */
export const LINGER_TIME = 2000;
/** The most bytes a lingering close reads and discards. */
export const LINGER_BYTES = 1024 * 1024;

/** Builds an error for a write or read attempted after the socket closed. */
export function socketClosedError(): Error {
  return new Error("The TCP socket is closed");
}

/**
 * The socket behind a `Request` that wstream's `serve()` handed to a
 * handler, waiting for `upgrade()` to claim it. Private to `serve.ts` and
 * `upgrade.ts`.
 */
export interface PendingUpgrade {
  /** Bytes received after the request head (the first frames, if any). */
  readonly head: Uint8Array;
  /** Resolved by `serve()` once the 101 head is written; rejected if not. */
  readonly transport: Promise<TcpConnection>;
  /** The 101 response `upgrade()` produced, `null` until it is called. */
  response: Response | null;
  /** Set by `serve()` once the handler returned: too late to upgrade. */
  settled: boolean;
}

/** Requests of wstream's `serve()` whose socket may still be upgraded. */
export const pendingUpgrades: WeakMap<Request, PendingUpgrade> = new WeakMap();
