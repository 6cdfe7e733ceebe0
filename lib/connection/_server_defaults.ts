/**
 * Private: the connection settings a server hands to `upgrade()`, shared by
 * the servers (`lib/server/`) and the native paths (`lib/native/`).
 *
 * @module
 */

import type { CompressionOptions } from "../extensions/compression_options.ts";

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
  /** The most frames a received message may arrive in; 0: no limit. */
  readonly maxFragments?: number;
  /** Close with 1001 after this many ms without receiving anything; 0: never. */
  readonly idleTimeout?: number;
  /** Send a keepalive ping every this many ms; 0: never. */
  readonly pingInterval?: number;
  /** How long after a ping the peer must have sent something, in ms. */
  readonly pongTimeout?: number;
  /** Give up on a peer whose writes made no progress this many ms; 0: never. */
  readonly writeStallTimeout?: number;
  /** How long to wait for the peer's close frame after ours, in ms. */
  readonly closeTimeout?: number;
  /**
   * permessage-deflate for upgrades that do not set their own
   * `compression` (replaced whole, not merged field by field).
   */
  readonly compression?: boolean | CompressionOptions;
}
