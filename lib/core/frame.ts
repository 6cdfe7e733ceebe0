/**
 * The WebSocket frame (RFC 6455 §5.2) as wstream's codec sees it.
 *
 * @module
 */

/**
 * Opcodes defined by RFC 6455 §5.2 (§11.8).
 *
 * @example Build and encode a ping frame
 * ```ts
 * import { FrameEncoder, Opcode } from "@wstream/wstream/core";
 * import assert from "node:assert/strict";
 *
 * const ping = { fin: true, rsv: 0, opcode: Opcode.Ping, payload: new Uint8Array(0) };
 * const bytes = new FrameEncoder({ role: "server" }).encode(ping);
 * assert.deepEqual([...bytes], [0x89, 0x00]);
 * ```
 */
export const Opcode = {
  /** 0x0: continues a fragmented message. */
  Continuation: 0x0,
  /** 0x1: a text message (UTF-8). */
  Text: 0x1,
  /** 0x2: a binary message. */
  Binary: 0x2,
  /** 0x8: the close control frame. */
  Close: 0x8,
  /** 0x9: the ping control frame. */
  Ping: 0x9,
  /** 0xA: the pong control frame. */
  Pong: 0xa,
} as const;

/**
 * Which end of the connection we are: it decides the masking rules (RFC 6455 §5.1).
 *
 * @example A client masks what it sends
 * ```ts
 * import { FrameEncoder, type Role } from "@wstream/wstream/core";
 * import assert from "node:assert/strict";
 *
 * const role: Role = "client";
 * const bytes = new FrameEncoder({ role }).encode({ fin: true, rsv: 0, opcode: 0x9, payload: new Uint8Array(0) });
 * assert.equal(bytes[1]! & 0x80, 0x80); // the MASK bit
 * assert.equal(bytes.length, 6); // 2 header bytes and a 4-byte masking key
 * ```
 */
export type Role = "server" | "client";

/**
 * RSV1: the bit permessage-deflate (RFC 7692) uses to mark a compressed message.
 *
 * @example Parse a compressed (RSV1) text frame once permessage-deflate allows it
 * ```ts
 * import { FrameParser, RSV1 } from "@wstream/wstream/core";
 * import assert from "node:assert/strict";
 *
 * const parser = new FrameParser({ role: "client", allowedRsv: RSV1 });
 * parser.push(new Uint8Array([0xc1, 0x00])); // FIN + RSV1 + text, empty
 * assert.equal(parser.next()?.rsv, RSV1);
 * ```
 */
export const RSV1 = 0b100;
/**
 * RSV2: a reserved bit no standard extension uses; set only by an
 * extension that was negotiated to use it (RFC 6455 §5.2).
 *
 * @example Allow RSV2 for an extension that uses it
 * ```ts
 * import { FrameParser, RSV2 } from "@wstream/wstream/core";
 * import assert from "node:assert/strict";
 *
 * const parser = new FrameParser({ role: "client", allowedRsv: RSV2 });
 * parser.push(new Uint8Array([0xa1, 0x00])); // FIN + RSV2 + text, empty
 * assert.equal(parser.next()?.rsv, RSV2);
 * ```
 */
export const RSV2 = 0b010;
/**
 * RSV3: a reserved bit no standard extension uses; set only by an
 * extension that was negotiated to use it (RFC 6455 §5.2).
 *
 * @example A reserved bit no extension negotiated fails with 1002
 * ```ts
 * import { FrameParser, RSV3, WebSocketProtocolError } from "@wstream/wstream/core";
 * import assert from "node:assert/strict";
 *
 * const parser = new FrameParser({ role: "client" });
 * parser.push(new Uint8Array([0x80 | (RSV3 << 4) | 0x1, 0x00])); // FIN + RSV3 + text
 * assert.throws(() => parser.next(), (error: unknown) =>
 *   error instanceof WebSocketProtocolError && error.code === "WS_ERR_UNEXPECTED_RSV");
 * ```
 */
export const RSV3 = 0b001;

/**
 * One WebSocket frame, unmasked.
 *
 * @example A final text frame
 * ```ts
 * import type { Frame } from "@wstream/wstream/core";
 *
 * const frame: Frame = {
 *   fin: true,
 *   rsv: 0,
 *   opcode: 0x1,
 *   payload: new TextEncoder().encode("Hello"),
 * };
 * ```
 */
export interface Frame {
  /** `true` on the last frame of a message (and on every control frame). */
  fin: boolean;
  /** The three reserved bits as a number: RSV1 = 4, RSV2 = 2, RSV3 = 1. */
  rsv: number;
  /** The opcode, 0 to 15. */
  opcode: number;
  /** The unmasked payload (empty when {@linkcode Frame.text} is set). */
  payload: Uint8Array;
  /**
   * A short text frame decoded by the parser (its `decodeAscii` option):
   * the payload as a string, all ASCII; `payload` is then empty.
   */
  text?: string;
}

/**
 * Tells whether an opcode is a control opcode (close, ping, pong, or a
 * reserved control opcode 0xB-0xF).
 *
 * @param opcode The opcode, 0 to 15.
 * @returns `true` for opcodes 8 to 15.
 *
 * @example
 * ```ts
 * import { isControlOpcode } from "@wstream/wstream/core";
 * import assert from "node:assert/strict";
 *
 * assert.equal(isControlOpcode(0x9), true);
 * assert.equal(isControlOpcode(0x1), false);
 * ```
 */
export function isControlOpcode(opcode: number): boolean {
  return (opcode & 0x8) !== 0;
}
