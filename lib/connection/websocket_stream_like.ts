/**
 * The shape every wstream socket has, whichever engine is behind it
 * (wstream's codec or a runtime's native WebSocket): the WHATWG
 * `WebSocketStream` interface and the values it hands out.
 *
 * @module
 */

import type { NetAddr } from "../transports/tcp_connection.ts";

export type { NetAddr };

/**
 * A received message: text as a `string`, binary as bytes of its own buffer.
 *
 * @example Handle text and binary messages
 * ```ts
 * import type { WebSocketMessage } from "@wstream/wstream";
 * import assert from "node:assert/strict";
 *
 * const describe = (message: WebSocketMessage): string =>
 *   typeof message === "string" ? `text: ${message}` : `${message.byteLength} bytes`;
 * assert.equal(describe("hi"), "text: hi");
 * assert.equal(describe(new Uint8Array(3)), "3 bytes");
 * ```
 */
export type WebSocketMessage = string | Uint8Array<ArrayBuffer>;

/**
 * The WHATWG `WebSocketStream` shape every wstream socket has, whichever
 * path it took: wstream's own codec ({@linkcode WebSocketConnection}) or a
 * runtime's native WebSocket underneath `Deno.serve` / `Bun.serve`.
 *
 * @example Echo on any socket
 * ```ts
 * import type { WebSocketStreamLike } from "@wstream/wstream";
 *
 * async function echo(socket: WebSocketStreamLike): Promise<void> {
 *   const { readable, writable } = await socket.opened;
 *   const writer = writable.getWriter();
 *   for await (const message of readable) await writer.write(message);
 * }
 * ```
 */
export interface WebSocketStreamLike {
  /** The URL of the connection. */
  readonly url: string;
  /** Resolves once the connection is usable. */
  readonly opened: Promise<WebSocketOpenInfo>;
  /** Resolves once the connection is closed, with the code and reason. */
  readonly closed: Promise<WebSocketCloseInfo>;
  /**
   * Starts the closing handshake after what was already written.
   *
   * @param closeInfo The close code and reason.
   */
  close(closeInfo?: { closeCode?: number; reason?: string }): void;

  // wstream extras, the same on every placement (see README, "Socket facts
  // and controls"); not part of the WHATWG interface.

  /**
   * The peer's address: the client's on a server, the server's on a
   * client; `null` when unknown. Under `Deno.serve`, Deno gives the
   * address only to the handler: pass `info.remoteAddr` as `upgrade()`'s
   * `remoteAddr` option, else it is `null`. It is the TCP peer, so behind a
   * proxy it is the proxy's address.
   */
  readonly remoteAddr: NetAddr | null;
  /**
   * Whether the connection runs over TLS: the URL is `wss:` (on a server,
   * the request URL was `https:`). Behind a TLS-terminating proxy a server
   * sees `false`.
   */
  readonly secure: boolean;
  /**
   * Bytes written and not yet taken by the operating system: on wstream's
   * codec, the frames (headers included) encoded from what was written to
   * `writable`, plus pings, pongs and the close frame, that the kernel has
   * not accepted yet; under `Deno.serve` Deno's `bufferedAmount`, under
   * `Bun.serve` Bun's `getBufferedAmount()`. Messages still queued in
   * `writable` (at most 16, see the writer's `desiredSize`) are not
   * counted. It grows while the peer does not read and falls back to 0 as
   * it does; it is 0 before `opened` and once the transport is closed.
   */
  readonly bufferedAmount: number;
  /**
   * Sends a ping and resolves with the round-trip time, in milliseconds,
   * once the matching pong arrived. A pong acknowledges the ping with the
   * same payload and every ping sent before it (python-websockets
   * semantics).
   *
   * Under `Deno.serve` it always rejects with a `TypeError`: Deno's
   * server-side WebSocket can neither send a ping nor report a pong.
   *
   * @param data The payload, at most 125 bytes (a string is sent as
   * UTF-8); without it, 8 unique bytes.
   * @returns The round-trip time in milliseconds (≥ 0).
   * Rejects with a `RangeError` for data over 125 bytes, when
   * {@linkcode MAX_OUTSTANDING_PINGS} (64) pings already wait, or when a
   * waiting ping has the same data; with a `TypeError` when the socket is
   * not open (before `opened`, or once closing); with a
   * {@linkcode WebSocketError} carrying the close code and reason when the
   * connection closes before the pong arrived.
   */
  ping(data?: string | BufferSource): Promise<number>;
  /**
   * Called with the payload of every pong received (answers to `ping()`,
   * to keepalive pings, and unsolicited pongs), before `ping()`'s promise
   * settles; `null` for none. What it throws is reported
   * (`reportError`), not propagated. Never called under `Deno.serve`,
   * whose WebSocket hides pongs.
   *
   * @default {null}
   */
  onpong: ((data: Uint8Array) => void) | null;
}

/**
 * The most pings `ping()` lets wait for their pong on one socket; one more
 * rejects with a `RangeError`.
 *
 * @example Check before pinging again
 * ```ts
 * import { MAX_OUTSTANDING_PINGS } from "@wstream/wstream";
 * import assert from "node:assert/strict";
 *
 * let waiting = 0; // pings sent whose pong has not arrived yet
 * const canPing = (): boolean => waiting < MAX_OUTSTANDING_PINGS; // else ping() rejects with a RangeError
 * waiting = 64;
 * assert.equal(canPing(), false);
 * ```
 */
export const MAX_OUTSTANDING_PINGS = 64;

/**
 * What {@linkcode WebSocketConnection.opened} resolves with.
 *
 * @example Read the messages and the negotiated subprotocol
 * ```ts
 * import { WebSocketConnection, type WebSocketOpenInfo } from "@wstream/wstream";
 * import assert from "node:assert/strict";
 *
 * const frames = new Uint8Array([0x81, 0x02, 0x68, 0x69, 0x88, 0x00]); // "hi", then a close
 * const transport = { readable: ReadableStream.from([frames]), writable: new WritableStream<Uint8Array>() };
 * const socket = new WebSocketConnection(transport, { role: "client", protocol: "chat" });
 * const info: WebSocketOpenInfo = await socket.opened;
 * assert.equal(info.protocol, "chat");
 * assert.deepEqual(await Array.fromAsync(info.readable), ["hi"]);
 * ```
 */
export interface WebSocketOpenInfo {
  /**
   * Received messages: a `string` per text message, a `Uint8Array` per
   * binary one.
   *
   * Cancelling it closes the connection (WHATWG `WebSocketStream`):
   * `readable.cancel(new WebSocketError(msg, { closeCode, reason }))` sends
   * that code and reason at once. Any other cancel, such as `break` out of
   * `for await (const m of readable)`, closes without a code (the peer sees
   * 1005), but only at the next macrotask: a `socket.close({ closeCode,
   * reason })` called in the same turn (right after the loop, or after
   * awaiting only promises that settle in microtasks) sends its code and
   * reason instead.
   */
  readable: ReadableStream<WebSocketMessage>;
  /**
   * Messages to send: a `string` is sent as text; an `ArrayBuffer` or any
   * `ArrayBufferView` (a `Uint8Array` from `readable` included) as binary;
   * any other value is converted as the WHATWG `WebSocketStream` does
   * (IDL ToString: `${value}`, lone surrogates replaced by U+FFFD) and sent as text,
   * so `write(42)` sends `"42"`. If that conversion throws (a `Symbol`, an
   * object whose `toString` throws), the write rejects with that error,
   * `writable` errors, and the connection is closed with 1011
   * (`"Unsendable value written"`) after the messages written before it.
   *
   * Closing it closes the connection; `abort(new WebSocketError(msg,
   * { closeCode, reason }))` closes with that code and reason.
   */
  writable: WritableStream<string | BufferSource | ArrayBufferView>;
  /** The negotiated subprotocol, or `""`. */
  protocol: string;
  /** The negotiated extensions (`Sec-WebSocket-Extensions` answer), or `""`. */
  extensions: string;
}

/**
 * A close code and reason.
 *
 * @example Tell a clean close from a lost connection
 * ```ts
 * import type { WebSocketCloseInfo } from "@wstream/wstream";
 * import assert from "node:assert/strict";
 *
 * const describe = ({ closeCode, reason }: WebSocketCloseInfo): string =>
 *   closeCode === 1006 ? "connection lost" : `closed with ${closeCode} ${reason}`.trim();
 * assert.equal(describe({ closeCode: 1000, reason: "bye" }), "closed with 1000 bye");
 * assert.equal(describe({ closeCode: 1006, reason: "" }), "connection lost");
 * ```
 */
export interface WebSocketCloseInfo {
  /** The close code. */
  closeCode: number;
  /** The close reason, `""` when none. */
  reason: string;
}
