/**
 * The shape every wstream socket has, whichever engine is behind it
 * (wstream's codec or a runtime's native WebSocket): the WHATWG
 * `WebSocketStream` interface and the values it hands out.
 *
 * @module
 */

/** A received message: text as a `string`, binary as bytes of its own buffer. */
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
}

/** What {@linkcode WebSocketConnection.opened} resolves with. */
export interface WebSocketOpenInfo {
  /** Received messages: a `string` per text message, a `Uint8Array` per binary one. */
  readable: ReadableStream<WebSocketMessage>;
  /**
   * Messages to send: a `string` is sent as text; an `ArrayBuffer` or any
   * `ArrayBufferView` (a `Uint8Array` from `readable` included) as binary.
   */
  writable: WritableStream<string | BufferSource | ArrayBufferView>;
  /** The negotiated subprotocol, or `""`. */
  protocol: string;
  /** The negotiated extensions (`Sec-WebSocket-Extensions` answer), or `""`. */
  extensions: string;
}

/** A close code and reason. */
export interface WebSocketCloseInfo {
  /** The close code. */
  closeCode: number;
  /** The close reason, `""` when none. */
  reason: string;
}
