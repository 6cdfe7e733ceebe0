/**
 * The private seam between a broadcast registry (`lib/pubsub/hub.ts`) and
 * the sockets wstream creates: a {@linkcode BroadcastPort} lets the hub hand
 * a socket a message, or frame bytes encoded once for many sockets, in
 * order with the socket's other writes, without going through (and
 * locking) its `writable`.
 *
 * Each socket class registers a lookup once, in a static block; a socket
 * that exists was built by a loaded class, so its lookup is registered.
 * Private to wstream; never re-exported.
 *
 * @module
 */

import type { Role } from "../core/frame.ts";
import type { MessageExtension } from "../core/extension.ts";

/**
 * A runtime's own publish/subscribe for one socket (Bun's `ws.subscribe`,
 * `server.publish`): messages published there never pass through
 * JavaScript per socket.
 */
export interface NativeTopics {
  /** The sockets sharing this key share topics (Bun: the server). */
  readonly group: object;
  /** Subscribes this socket to the runtime topic `topic`. */
  subscribe(topic: string): void;
  /** Unsubscribes this socket from the runtime topic `topic`. */
  unsubscribe(topic: string): void;
  /** Publishes to every subscriber of `topic` in the group. */
  publish(topic: string, data: string | Uint8Array): void;
  /** Publishes to every subscriber of `topic` in the group but this socket. */
  publishExcept(topic: string, data: string | Uint8Array): void;
}

/** What a broadcast needs from one socket. */
export interface BroadcastPort {
  /**
   * `"server"` when frames encoded once by an unmasked `FrameEncoder` (with
   * {@linkcode BroadcastPort.extensions}' output) can be handed to
   * {@linkcode BroadcastPort.sendFrame}; `null` for a socket whose runtime
   * frames messages itself (only `sendMessage`).
   */
  readonly role: Role | null;
  /** The negotiated message extensions (permessage-deflate), in order. */
  readonly extensions: readonly MessageExtension[];
  /** Whether the socket takes messages now (open, not closing). */
  readonly writable: boolean;
  /** The socket's `bufferedAmount`, hub-queued frames included. */
  readonly bufferedAmount: number;
  /**
   * Queues whole frames already encoded for this socket (server role,
   * extensions applied) after everything written before; the bytes are
   * shared with other sockets and never modified.
   *
   * @returns `false` if the socket no longer takes messages.
   */
  sendFrame(frame: Uint8Array): boolean;
  /**
   * Queues a message that the socket encodes itself (masks, compresses
   * with its own context), after everything written before.
   *
   * @returns `false` if the socket no longer takes messages.
   */
  sendMessage(message: string | Uint8Array): boolean;
  /** The runtime's topics for this socket, `null` where it has none (yet). */
  readonly topics: NativeTopics | null;
  /**
   * Starts the closing handshake (a slow subscriber's), whichever API the
   * socket has (streams or hooks).
   * @throws {RangeError} If the code cannot be sent.
   */
  close(code: number, reason: string): void;
}

type Lookup = (socket: object) => BroadcastPort | null;

const lookups: Lookup[] = [];

/**
 * Registers how to find the port of a socket class's instances.
 *
 * @param lookup Returns the port of a socket of its class, else `null`.
 */
export function registerBroadcastLookup(lookup: Lookup): void {
  lookups.push(lookup);
}

/**
 * The broadcast port of a socket wstream created, `null` for any other
 * object.
 *
 * @param socket The socket.
 * @returns Its port, or `null`.
 */
export function broadcastPortOf(socket: object): BroadcastPort | null {
  for (const lookup of lookups) {
    const port = lookup(socket);
    if (port !== null) return port;
  }
  return null;
}
