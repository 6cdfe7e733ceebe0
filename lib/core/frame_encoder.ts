/**
 * A synchronous, sans-I/O WebSocket frame encoder (RFC 6455 §5.2).
 *
 * @module
 */

import type { Frame, Role } from "./frame.ts";
import { applyMask } from "./mask.ts";

/**
 * Options of {@linkcode FrameEncoder}.
 *
 * @example Encode as a server: frames go out unmasked
 * ```ts
 * import { FrameEncoder, type FrameEncoderOptions } from "@wstream/wstream/core";
 * import assert from "node:assert/strict";
 *
 * const options: FrameEncoderOptions = { role: "server" };
 * const bytes = new FrameEncoder(options).encode({ fin: true, rsv: 0, opcode: 0xa, payload: new Uint8Array(0) });
 * assert.deepEqual([...bytes], [0x8a, 0x00]); // a pong
 * ```
 */
export interface FrameEncoderOptions {
  /**
   * Our side of the connection: a `"client"` masks every frame with a fresh
   * random key, a `"server"` never masks (RFC 6455 §5.1).
   */
  role: Role;
}

const KEY_POOL_SIZE = 4096;
/** An encoder's key pool until its first masked frame (shared, empty). */
const NO_KEYS = new Uint8Array(0);

/**
 * Encodes frames to wire bytes: header and (masked, for clients) payload in
 * one buffer, ready for one socket write.
 *
 * Masking keys come from `crypto.getRandomValues`, drawn 4 KiB at a time.
 *
 * @example Encode the RFC 6455 §5.7 unmasked "Hello"
 * ```ts
 * import { FrameEncoder } from "@wstream/wstream/core";
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
  #keys = NO_KEYS;
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
    const bytes = new Uint8Array(this.encodedLength(frame.payload.length));
    this.encodeInto(frame, bytes, 0);
    return bytes;
  }

  /**
   * The number of wire bytes of a frame: header (with the masking key, for
   * a client) and payload.
   *
   * @param payloadLength The payload's length in bytes.
   * @returns The frame's length in bytes.
   *
   * @example A client frame carries a 4-byte masking key
   * ```ts
   * import { FrameEncoder } from "@wstream/wstream/core";
   * import assert from "node:assert/strict";
   *
   * assert.equal(new FrameEncoder({ role: "server" }).encodedLength(5), 7);
   * assert.equal(new FrameEncoder({ role: "client" }).encodedLength(5), 11);
   * assert.equal(new FrameEncoder({ role: "server" }).encodedLength(126), 130);
   * ```
   */
  encodedLength(payloadLength: number): number {
    return this.headerLength(payloadLength) + payloadLength;
  }

  /**
   * The length of a frame's header: 2 bytes, plus 2 or 8 for a payload of
   * 126 bytes or more, plus the 4-byte masking key for a client.
   *
   * @param payloadLength The payload's length in bytes.
   * @returns The header's length in bytes.
   */
  headerLength(payloadLength: number): number {
    return (payloadLength < 126 ? 2 : payloadLength < 0x10000 ? 4 : 10) +
      (this.#mask ? 4 : 0);
  }

  /**
   * Encodes one frame into `target` at `offset`, so that many frames can
   * share one buffer (one socket write). The payload may already sit where
   * it belongs (at `offset + headerLength(length)` in `target`): it is then
   * masked in place rather than copied.
   *
   * @param frame The frame.
   * @param target The buffer; it needs `encodedLength(payload.length)`
   * bytes from `offset`.
   * @param offset Where the frame starts.
   * @returns The offset right after the frame.
   * @throws {RangeError} If the opcode or RSV bits are out of range, a
   * control frame is fragmented or longer than 125 bytes, or `target` is
   * too short.
   *
   * @example Two frames in one buffer
   * ```ts
   * import { FrameEncoder } from "@wstream/wstream/core";
   * import assert from "node:assert/strict";
   *
   * const encoder = new FrameEncoder({ role: "server" });
   * const hi = { fin: true, rsv: 0, opcode: 0x1, payload: new TextEncoder().encode("hi") };
   * const buffer = new Uint8Array(2 * encoder.encodedLength(2));
   * const end = encoder.encodeInto(hi, buffer, encoder.encodeInto(hi, buffer, 0));
   * assert.equal(end, 8);
   * assert.deepEqual([...buffer], [0x81, 2, 0x68, 0x69, 0x81, 2, 0x68, 0x69]);
   * ```
   */
  encodeInto(frame: Frame, target: Uint8Array, offset: number): number {
    const { payload } = frame;
    const length = payload.length;
    const start = offset + this.headerLength(length);
    if (start + length > target.length) throw tooShort(length, target, offset);
    // Skip the copy when the payload already sits in place (offsets are
    // compared first: reading `.buffer` is not free on every engine).
    if (
      length > 0 &&
      (payload.byteOffset !== target.byteOffset + start ||
        payload.buffer !== target.buffer)
    ) {
      checkFrame(frame.fin, frame.rsv, frame.opcode, length);
      target.set(payload, start);
    }
    return this.encodeHeaderInto(
      frame.fin,
      frame.rsv,
      frame.opcode,
      length,
      target,
      offset,
    );
  }

  /**
   * Encodes the header alone of an unmasked frame (a server's), for a
   * payload the caller writes itself right after it: a large message can
   * then leave as header plus payload, with no copy into a frame buffer.
   *
   * @param fin Whether this is the last frame of its message.
   * @param rsv The RSV bits, 0-7.
   * @param opcode The opcode, 0-15.
   * @param length The payload's length.
   * @returns The 2, 4 or 10 header bytes.
   * @throws {TypeError} If this encoder masks (a client's): a masked
   * payload must be copied anyway, with {@linkcode FrameEncoder.encodeInto}.
   * @throws {RangeError} Like {@linkcode FrameEncoder.encodeInto}.
   *
   * @example The header of a 70,000-byte binary frame
   * ```ts
   * import { FrameEncoder } from "@wstream/wstream/core";
   * import assert from "node:assert/strict";
   *
   * const encoder = new FrameEncoder({ role: "server" });
   * const header = encoder.encodeHeader(true, 0, 0x2, 70_000);
   * assert.deepEqual([...header], [0x82, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]);
   * ```
   */
  encodeHeader(
    fin: boolean,
    rsv: number,
    opcode: number,
    length: number,
  ): Uint8Array {
    if (this.#mask) {
      throw new TypeError(
        "Cannot encode a header alone for a client: its payload is masked",
      );
    }
    checkFrame(fin, rsv, opcode, length);
    const header = new Uint8Array(this.headerLength(length));
    writeHeaderBytes(header, 0, fin, rsv, opcode, length, 0);
    return header;
  }

  /**
   * Encodes the header of a frame whose `length` payload bytes were already
   * written where they belong, at `offset + headerLength(length)` in
   * `target`, and masks them there for a client: a payload produced
   * straight into the output buffer needs no view and no copy.
   *
   * @param fin Whether this is the last frame of its message.
   * @param rsv The RSV bits, 0-7.
   * @param opcode The opcode, 0-15.
   * @param length The payload's length.
   * @param target The buffer holding the payload.
   * @param offset Where the frame (its header) starts.
   * @returns The offset right after the frame.
   * @throws {RangeError} Like {@linkcode FrameEncoder.encodeInto}.
   *
   * @example Write a text payload in place, then its header
   * ```ts
   * import { FrameEncoder } from "@wstream/wstream/core";
   * import assert from "node:assert/strict";
   *
   * const encoder = new FrameEncoder({ role: "server" });
   * const buffer = new Uint8Array(encoder.encodedLength(2));
   * buffer.set([0x68, 0x69], encoder.headerLength(2));
   * assert.equal(encoder.encodeHeaderInto(true, 0, 0x1, 2, buffer, 0), 4);
   * assert.deepEqual([...buffer], [0x81, 2, 0x68, 0x69]);
   * ```
   */
  encodeHeaderInto(
    fin: boolean,
    rsv: number,
    opcode: number,
    length: number,
    target: Uint8Array,
    offset: number,
  ): number {
    checkFrame(fin, rsv, opcode, length);
    const headerLength = this.headerLength(length);
    const end = offset + headerLength + length;
    if (end > target.length) throw tooShort(length, target, offset);
    writeHeaderBytes(
      target,
      offset,
      fin,
      rsv,
      opcode,
      length,
      this.#mask ? 0x80 : 0,
    );
    if (this.#mask) {
      const start = offset + headerLength;
      const keys = this.#keyPool();
      const at = this.#keyOffset;
      this.#keyOffset = at + 4;
      const k0 = keys[at]!;
      const k1 = keys[at + 1]!;
      const k2 = keys[at + 2]!;
      const k3 = keys[at + 3]!;
      target[start - 4] = k0;
      target[start - 3] = k1;
      target[start - 2] = k2;
      target[start - 1] = k3;
      if (length >= 256) {
        applyMask(target.subarray(start, end), keys.subarray(at, at + 4));
      } else {
        // Short payloads: by index, with no views (a view costs more than
        // the loop on some engines).
        let i = start;
        for (; i + 3 < end; i += 4) {
          target[i] = target[i]! ^ k0;
          target[i + 1] = target[i + 1]! ^ k1;
          target[i + 2] = target[i + 2]! ^ k2;
          target[i + 3] = target[i + 3]! ^ k3;
        }
        if (i < end) target[i] = target[i]! ^ k0;
        if (i + 1 < end) target[i + 1] = target[i + 1]! ^ k1;
        if (i + 2 < end) target[i + 2] = target[i + 2]! ^ k2;
      }
    }
    return end;
  }

  /** The key pool, refilled when fewer than 4 fresh bytes are left. */
  #keyPool(): Uint8Array {
    if (this.#keyOffset + 4 > this.#keys.length) {
      this.#keys = crypto.getRandomValues(new Uint8Array(KEY_POOL_SIZE));
      this.#keyOffset = 0;
    }
    return this.#keys;
  }
}

/** Throws for frames that cannot be encoded. */
function checkFrame(
  fin: boolean,
  rsv: number,
  opcode: number,
  length: number,
): void {
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
}

function tooShort(
  length: number,
  target: Uint8Array,
  offset: number,
): RangeError {
  return new RangeError(
    `Cannot encode a ${length}-byte frame at offset ${offset} of a ${target.length}-byte buffer: it is too short`,
  );
}

/** Writes a header's first 2, 4 or 10 bytes (all but the masking key). */
function writeHeaderBytes(
  target: Uint8Array,
  offset: number,
  fin: boolean,
  rsv: number,
  opcode: number,
  length: number,
  maskBit: number,
): void {
  target[offset] = (fin ? 0x80 : 0) | (rsv << 4) | opcode;
  if (length < 126) {
    target[offset + 1] = maskBit | length;
  } else if (length < 0x10000) {
    target[offset + 1] = maskBit | 126;
    target[offset + 2] = length >>> 8;
    target[offset + 3] = length & 0xff;
  } else {
    target[offset + 1] = maskBit | 127;
    const high = Math.floor(length / 0x1_0000_0000);
    target[offset + 2] = high >>> 24;
    target[offset + 3] = (high >>> 16) & 0xff;
    target[offset + 4] = (high >>> 8) & 0xff;
    target[offset + 5] = high & 0xff;
    target[offset + 6] = length >>> 24;
    target[offset + 7] = (length >>> 16) & 0xff;
    target[offset + 8] = (length >>> 8) & 0xff;
    target[offset + 9] = length & 0xff;
  }
}
