/**
 * The seam for per-message extensions such as permessage-deflate (RFC 7692).
 *
 * @module
 */

/**
 * A negotiated per-message extension (RFC 6455 §9, RFC 7692 §6): it owns
 * some RSV bits and transforms whole messages. The {@linkcode Protocol}
 * allows its RSV bits on a message's first frame, passes every received
 * message that has one of them set through `decodeMessage` (before UTF-8
 * validation of text), and passes every sent message through
 * `encodeMessage`.
 *
 * @example An identity extension that claims RSV2
 * ```ts
 * import { type MessageExtension, Protocol } from "@wstream/wstream/core";
 *
 * const identity: MessageExtension = {
 *   name: "x-identity",
 *   rsv: 0b010,
 *   decodeMessage: (data) => data,
 *   encodeMessage: (data) => ({ data, rsv: 0 }),
 * };
 * new Protocol({ role: "server", extensions: [identity] });
 * ```
 */
export interface MessageExtension {
  /** The extension token as negotiated, such as `"permessage-deflate"`. */
  readonly name: string;
  /** The RSV bits the extension may set: RSV1 = 4, RSV2 = 2, RSV3 = 1. */
  readonly rsv: number;
  /**
   * Decodes a received message whose first frame had some of this
   * extension's RSV bits set.
   *
   * @param data The reassembled message payload.
   * @param rsv The RSV bits of the message's first frame.
   * @param maxSize The largest decoded size allowed; an extension that
   * expands data must stop and throw a `WebSocketProtocolError` with code
   * `"WS_ERR_MESSAGE_TOO_BIG"` past it instead of allocating more.
   * @returns The decoded payload.
   * @throws {WebSocketProtocolError} For undecodable data (the connection
   * is failed with the error's close code).
   */
  decodeMessage(data: Uint8Array, rsv: number, maxSize: number): Uint8Array;
  /**
   * Encodes a message to send.
   *
   * @param data The message payload.
   * @param opcode 1 (text) or 2 (binary).
   * @returns The payload to send and the RSV bits to set on its first frame.
   */
  encodeMessage(
    data: Uint8Array,
    opcode: number,
  ): { data: Uint8Array; rsv: number };
  /**
   * Frees what the extension holds (permessage-deflate: its zlib memory).
   * Drivers call it once the connection is closed (`WebSocketConnection`
   * does, when `closed` settles); the extension is not used afterwards.
   */
  close?(): void;
}
