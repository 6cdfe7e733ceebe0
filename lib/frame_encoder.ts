/**
 * A synchronous, sans-I/O WebSocket frame encoder (RFC 6455 §5.2).
 *
 * @module
 */

import type { Frame, Role } from "./frame.ts";
import { applyMask } from "./mask.ts";

/** Options of {@linkcode FrameEncoder}. */
export interface FrameEncoderOptions {
  /**
   * Our side of the connection: a `"client"` masks every frame with a fresh
   * random key, a `"server"` never masks (RFC 6455 §5.1).
   */
  role: Role;
}

const KEY_POOL_SIZE = 4096;

/**
 * Encodes frames to wire bytes: header and (masked, for clients) payload in
 * one buffer, ready for one socket write.
 *
 * Masking keys come from `crypto.getRandomValues`, drawn 4 KiB at a time.
 *
 * @example Encode the RFC 6455 §5.7 unmasked "Hello"
 * ```ts
 * import { FrameEncoder } from "@wstream/wstream";
 * import assert from "node:assert/strict";
 *
 * const encoder = new FrameEncoder({ role: "server" });
 * const bytes = encoder.encode({
 *   fin: true,
 *   rsv: 0,
 *   opcode: 0x1,
 *   payload: new TextEncoder().encode("Hello"),
 * });
 * assert.deepEqual([...bytes], [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
 * ```
 */
export class FrameEncoder {
  readonly #mask: boolean;
  #keys = new Uint8Array(0);
  #keyOffset = 0;

  /**
   * Creates an encoder.
   *
   * @param options The role, which decides masking.
   */
  constructor(options: FrameEncoderOptions) {
    this.#mask = options.role === "client";
  }

  /**
   * Encodes one frame.
   *
   * @param frame The frame; its payload is copied, never modified.
   * @returns The frame's wire bytes.
   * @throws {RangeError} If the opcode or RSV bits are out of range, or a
   * control frame is fragmented or longer than 125 bytes.
   */
  encode(frame: Frame): Uint8Array {
    const { fin, rsv, opcode, payload } = frame;
    const length = payload.length;
    if (
      !Number.isInteger(opcode) || opcode < 0 || opcode > 0xf ||
      !Number.isInteger(rsv) || rsv < 0 || rsv > 7
    ) {
      throw new RangeError(
        `Cannot encode a frame with opcode ${opcode} and RSV bits ${rsv}: opcode must be 0-15 and RSV 0-7`,
      );
    }
    if ((opcode & 0x8) !== 0 && (length > 125 || !fin)) {
      throw new RangeError(
        `Cannot encode control frame (opcode ${opcode}) with ${length} bytes and FIN ${fin}: control frames carry at most 125 bytes and are never fragmented`,
      );
    }
    const extended = length < 126 ? 0 : length < 0x10000 ? 2 : 8;
    const headerLength = 2 + extended + (this.#mask ? 4 : 0);
    const bytes = new Uint8Array(headerLength + length);
    bytes[0] = (fin ? 0x80 : 0) | (rsv << 4) | opcode;
    const maskBit = this.#mask ? 0x80 : 0;
    if (extended === 0) {
      bytes[1] = maskBit | length;
    } else if (extended === 2) {
      bytes[1] = maskBit | 126;
      bytes[2] = length >>> 8;
      bytes[3] = length & 0xff;
    } else {
      bytes[1] = maskBit | 127;
      const high = Math.floor(length / 0x1_0000_0000);
      bytes[2] = high >>> 24;
      bytes[3] = (high >>> 16) & 0xff;
      bytes[4] = (high >>> 8) & 0xff;
      bytes[5] = high & 0xff;
      bytes[6] = length >>> 24;
      bytes[7] = (length >>> 16) & 0xff;
      bytes[8] = (length >>> 8) & 0xff;
      bytes[9] = length & 0xff;
    }
    bytes.set(payload, headerLength);
    if (this.#mask) {
      const key = this.#nextKey();
      bytes.set(key, headerLength - 4);
      applyMask(bytes.subarray(headerLength), key);
    }
    return bytes;
  }

  /** Returns 4 fresh random bytes. */
  #nextKey(): Uint8Array {
    if (this.#keyOffset + 4 > this.#keys.length) {
      this.#keys = crypto.getRandomValues(new Uint8Array(KEY_POOL_SIZE));
      this.#keyOffset = 0;
    }
    const key = this.#keys.subarray(this.#keyOffset, this.#keyOffset + 4);
    this.#keyOffset += 4;
    return key;
  }
}
