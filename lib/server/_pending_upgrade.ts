/**
 * Private: the registry through which wstream's servers (`serve()`,
 * `attachToNodeServer()`) hand a request's socket to `upgrade()`.
 *
 * @module
 */

import type { ServerConnectionDefaults } from "../connection/_server_defaults.ts";
import type { WebSocketStreamLike } from "../connection/websocket_stream_like.ts";
import type { NetAddr, TcpConnection } from "../transports/tcp_connection.ts";

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
  /** The client's address, `null` where the transport does not know it. */
  readonly remoteAddr: NetAddr | null;
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
