/**
 * The WebSocket frame (RFC 6455 §5.2) as wstream's codec sees it.
 *
 * @module
 */

/** Opcodes defined by RFC 6455 §5.2 (§11.8). */
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

/** Which end of the connection we are: it decides the masking rules (RFC 6455 §5.1). */
export type Role = "server" | "client";

/** RSV1: the bit permessage-deflate (RFC 7692) uses to mark a compressed message. */
export const RSV1 = 0b100;
/** RSV2. */
export const RSV2 = 0b010;
/** RSV3. */
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
  /** The unmasked payload. */
  payload: Uint8Array;
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
