/**
 * A synchronous, sans-I/O WebSocket frame parser (RFC 6455 §5.2).
 *
 * @module
 */

import { WebSocketProtocolError } from "./errors.ts";
import { type Frame, type Role, RSV1, RSV2, RSV3 } from "./frame.ts";
import { applyMask } from "./mask.ts";

/** The empty chunk a parser starts with (shared: never written). */
const NO_BYTES = new Uint8Array(0);
/**
 * The default limit on one frame's payload: 64 MiB.
 *
 * @example Derive a tighter limit from the default
 * ```ts
 * import { DEFAULT_MAX_PAYLOAD, FrameParser } from "@wstream/wstream/core";
 * import assert from "node:assert/strict";
 *
 * assert.equal(DEFAULT_MAX_PAYLOAD, 64 * 1024 * 1024);
 * const parser = new FrameParser({ role: "server", maxPayload: DEFAULT_MAX_PAYLOAD / 64 });
 * assert.equal(parser.atFrameBoundary, true);
 * ```
 */
export const DEFAULT_MAX_PAYLOAD: number = 64 * 1024 * 1024;

/**
 * Options of {@linkcode FrameParser}.
 *
 * @example Refuse frames over 125 bytes as soon as the header announces one
 * ```ts
 * import { FrameParser, type FrameParserOptions } from "@wstream/wstream/core";
 * import assert from "node:assert/strict";
 *
 * const options: FrameParserOptions = { role: "client", maxPayload: 125 };
 * const parser = new FrameParser(options);
 * parser.push(new Uint8Array([0x82, 0x7e, 0x01, 0x00])); // binary, 256 bytes announced
 * assert.throws(() => parser.next(), { closeCode: 1009 });
 * ```
 */
export interface FrameParserOptions {
  /**
   * Our side of the connection. A `"server"` requires every frame to be
   * masked, a `"client"` requires every frame to be unmasked (RFC 6455 §5.1).
   */
  role: Role;
  /**
   * The largest payload one frame may announce; a larger announcement fails
   * with 1009 before any of its payload is buffered.
   * @default {DEFAULT_MAX_PAYLOAD} (64 MiB)
   */
  maxPayload?: number;
  /**
   * The RSV bits negotiated extensions may set on data frames (RSV1 = 4,
   * RSV2 = 2, RSV3 = 1). Any other set bit fails with 1002.
   * @default {0}
   */
  allowedRsv?: number;
  /**
   * Turns a range of bytes that are all below 0x80 into a string, faster
   * than a view and a `TextDecoder` where the runtime offers a way (Node's
   * `Buffer.prototype.latin1Slice`, also in Deno and Bun). With it, a short
   * unfragmented text frame that arrived whole and is ASCII comes out of
   * {@linkcode FrameParser.next} already decoded, in {@linkcode Frame.text},
   * with no view of its payload. Without it, every frame carries its payload.
   */
  decodeAscii?: AsciiDecoder;
}

/**
 * Decodes `bytes[start..end)`, every one of them below 0x80, as a string: the
 * `decodeAscii` option of {@linkcode FrameParserOptions}.
 *
 * @example With a TextDecoder (the parser's option wants something faster)
 * ```ts
 * import type { AsciiDecoder } from "@wstream/wstream/core";
 * import assert from "node:assert/strict";
 *
 * const decoder = new TextDecoder();
 * const decodeAscii: AsciiDecoder = (bytes, start, end) =>
 *   decoder.decode(bytes.subarray(start, end));
 * assert.equal(decodeAscii(new Uint8Array([0x48, 0x69, 0x21]), 0, 2), "Hi");
 * ```
 */
export type AsciiDecoder = (
  bytes: Uint8Array,
  start: number,
  end: number,
) => string;

/** The longest text frame {@linkcode FrameParserOptions.decodeAscii} decodes. */
const SHORT_TEXT_MAX = 256;
const EMPTY_PAYLOAD = new Uint8Array(0);

const MAX_HEADER = 14;
const FIRST_GROWTH = 4096;
/**
 * A payload buffer grows to at most this many times the bytes that have
 * arrived (and never past the announced length): few reallocations for a
 * large frame (a 1 MiB payload in 64 KiB reads is copied into buffers of
 * 512 KiB then 1 MiB, not 4 KiB, 8 KiB, ...), while a peer that announces a
 * large frame and sends little of it makes us hold at most 8 times what it
 * sent.
 */
const GROWTH_FACTOR = 8;

/**
 * Parses WebSocket frames from byte chunks of any size, synchronously.
 *
 * Feed bytes with {@linkcode FrameParser.push}, then call
 * {@linkcode FrameParser.next} until it returns `null`. Every header rule of
 * RFC 6455 §5 is checked as soon as the bytes that break it arrive, so a
 * header that announces 2^40 bytes fails before anything is allocated for
 * it. A frame that arrives whole inside one chunk is returned as a view into
 * that chunk, unmasked in place: the parser takes ownership of the chunks it
 * is given and may modify them. Only frames that straddle chunks are copied.
 *
 * @example Parse the RFC 6455 §5.7 masked "Hello", one byte at a time
 * ```ts
 * import { FrameParser } from "@wstream/wstream/core";
 * import assert from "node:assert/strict";
 *
 * const parser = new FrameParser({ role: "server" });
 * const wire = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
 * const frames = [];
 * for (const byte of wire) {
 *   parser.push(new Uint8Array([byte]));
 *   for (let frame; (frame = parser.next()) !== null;) frames.push(frame);
 * }
 * assert.equal(frames.length, 1);
 * assert.equal(new TextDecoder().decode(frames[0]!.payload), "Hello");
 * ```
 */
export class FrameParser {
  readonly #expectMask: boolean;
  readonly #maxPayload: number;
  readonly #allowedRsv: number;
  readonly #decodeAscii: AsciiDecoder | null;

  // Input: the chunk being consumed, and any pushed after it.
  #chunk: Uint8Array = NO_BYTES;
  #offset = 0;
  readonly #queue: Uint8Array[] = [];

  // Header being collected across chunks.
  // Allocated when first needed: an idle connection holds no buffers.
  #header: Uint8Array | null = null;
  #headerFilled = 0;

  // The frame whose header is parsed and whose payload is being collected.
  #inPayload = false;
  #fin = false;
  #rsv = 0;
  #opcode = 0;
  #mask: Uint8Array = NO_BYTES;
  #masked = false;
  #payloadLength = 0;
  #payload: Uint8Array | null = null;
  #payloadFilled = 0;

  /**
   * Creates a parser.
   *
   * @param options The role and limits.
   * @throws {RangeError} If `maxPayload` is negative or not an integer.
   */
  constructor(options: FrameParserOptions) {
    this.#expectMask = options.role === "server";
    this.#maxPayload = options.maxPayload ?? DEFAULT_MAX_PAYLOAD;
    this.#allowedRsv = options.allowedRsv ?? 0;
    this.#decodeAscii = options.decodeAscii ?? null;
    if (!Number.isSafeInteger(this.#maxPayload) || this.#maxPayload < 0) {
      throw new RangeError(
        `Cannot create a FrameParser with maxPayload ${options.maxPayload}: use a non-negative integer`,
      );
    }
  }

  /**
   * Adds received bytes. The parser takes ownership of `chunk` and may
   * unmask it in place. Call {@linkcode FrameParser.next} afterwards until it
   * returns `null`.
   *
   * @param chunk The next bytes from the peer, of any length.
   */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    if (this.#offset >= this.#chunk.length && this.#queue.length === 0) {
      this.#chunk = chunk;
      this.#offset = 0;
    } else {
      this.#queue.push(chunk);
    }
  }

  /**
   * Returns the next complete frame from the bytes pushed so far.
   *
   * @returns The next frame, or `null` when more bytes are needed.
   * @throws {WebSocketProtocolError} When the bytes break RFC 6455 §5 or the
   * configured limit; its `closeCode` is the code to fail the connection with
   * (1002 or 1009). The parser must not be used after it throws.
   */
  next(): Frame | null {
    while (true) {
      if (this.#offset >= this.#chunk.length) {
        const following = this.#queue.shift();
        if (following === undefined) return null;
        this.#chunk = following;
        this.#offset = 0;
      }
      if (!this.#inPayload && !this.#readHeader()) continue;
      const frame = this.#readPayload();
      if (frame !== null) return frame;
    }
  }

  /**
   * The unmasked payload bytes received so far of a frame that has not
   * completed yet, so that a text message can be validated before its frame
   * ends (RFC 6455 §8.1 fail-fast). `null` between frames.
   *
   * @returns The opcode and RSV bits of the incomplete frame and its bytes so
   * far, or `null`.
   */
  partialFrame(): { opcode: number; rsv: number; received: Uint8Array } | null {
    if (!this.#inPayload) return null;
    const received = this.#payload === null
      ? new Uint8Array(0)
      : this.#payload.subarray(0, this.#payloadFilled);
    return { opcode: this.#opcode, rsv: this.#rsv, received };
  }

  /**
   * Where a transport that reads into a buffer of its choice (Deno's
   * `conn.read()`) may put the next bytes of a large frame in progress, so
   * that they land in the payload buffer with no copy: a view into that
   * buffer, or `null` unless the parser is inside a payload, has used every
   * byte pushed, has received at least `minimum` payload bytes already, and
   * still misses at least `minimum`. Push the filled part of the view (a
   * prefix of it) next: the parser recognizes it and only unmasks it. The
   * buffer grows as the other way does, bounded by what has arrived.
   *
   * @param minimum The smallest read worth it, in bytes.
   * @returns The view to read into, or `null`.
   *
   * @example Read the rest of a 100 KB frame straight into its payload
   * ```ts
   * import { FrameParser } from "@wstream/wstream/core";
   * import assert from "node:assert/strict";
   *
   * const parser = new FrameParser({ role: "client" });
   * parser.push(new Uint8Array([0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0x86, 0xa0]));
   * parser.push(new Uint8Array(50_000).fill(1));
   * assert.equal(parser.next(), null);
   * const target = parser.payloadTarget(16_384)!;
   * assert.equal(target.length, 50_000);
   * target.fill(2); // What a read into it would do.
   * parser.push(target);
   * const frame = parser.next()!;
   * assert.equal(frame.payload.length, 100_000);
   * assert.deepEqual([frame.payload[0], frame.payload[99_999]], [1, 2]);
   * ```
   */
  payloadTarget(minimum: number): Uint8Array | null {
    if (
      !this.#inPayload || this.#offset < this.#chunk.length ||
      this.#queue.length > 0
    ) {
      return null;
    }
    const filled = this.#payloadFilled;
    const length = this.#payloadLength;
    if (filled < minimum || length - filled < minimum) return null;
    let buffer = this.#payload!;
    if (buffer.length - filled < minimum) {
      const grown = new Uint8Array(
        Math.min(length, Math.max(filled * GROWTH_FACTOR, filled + minimum)),
      );
      grown.set(buffer.subarray(0, filled));
      buffer = grown;
      this.#payload = buffer;
    }
    return buffer.subarray(filled);
  }

  /**
   * `true` when every byte pushed so far belongs to a returned frame: no
   * header or payload bytes are waiting. A stream that ends while this is
   * `false` ended in the middle of a frame.
   */
  get atFrameBoundary(): boolean {
    return !this.#inPayload && this.#headerFilled === 0 &&
      this.#offset >= this.#chunk.length && this.#queue.length === 0;
  }

  /** Parses a header from the input; returns `false` when it needs more bytes. */
  #readHeader(): boolean {
    const chunk = this.#chunk;
    let offset = this.#offset;
    let source: Uint8Array;
    let start: number;
    if (this.#headerFilled === 0 && chunk.length - offset >= 2) {
      // Fast path: read straight from the chunk when the whole header is there.
      const size = headerSize(chunk[offset + 1]!);
      if (chunk.length - offset >= size) {
        source = chunk;
        start = offset;
        offset += size;
      } else {
        return this.#collectHeader();
      }
    } else {
      return this.#collectHeader();
    }
    this.#offset = offset;
    this.#parseHeader(source, start);
    return true;
  }

  /** Copies header bytes across chunks; parses once the header is whole. */
  #collectHeader(): boolean {
    const header = this.#header ??= new Uint8Array(MAX_HEADER);
    while (this.#offset < this.#chunk.length) {
      header[this.#headerFilled++] = this.#chunk[this.#offset++]!;
      if (this.#headerFilled === 2) {
        this.#checkFirstBytes(header[0]!, header[1]!);
      }
      if (
        this.#headerFilled >= 2 && this.#headerFilled === headerSize(header[1]!)
      ) {
        this.#headerFilled = 0;
        this.#parseHeader(header, 0);
        return true;
      }
    }
    return false;
  }

  /** Checks the rules decided by the first two header bytes. */
  #checkFirstBytes(b0: number, b1: number): void {
    const rsv = (b0 >> 4) & 0x7;
    const opcode = b0 & 0x0f;
    const control = (opcode & 0x8) !== 0;
    if (
      (opcode > 0x2 && opcode < 0x8) || opcode > 0xa
    ) {
      throw new WebSocketProtocolError(
        "WS_ERR_RESERVED_OPCODE",
        `Received a frame with reserved opcode ${opcode}`,
      );
    }
    if (rsv !== 0 && (control || (rsv & ~this.#allowedRsv) !== 0)) {
      throw new WebSocketProtocolError(
        "WS_ERR_UNEXPECTED_RSV",
        `Received a frame with reserved bits ${
          rsvNames(rsv)
        } set that no negotiated extension defines`,
      );
    }
    if (control) {
      if ((b0 & 0x80) === 0) {
        throw new WebSocketProtocolError(
          "WS_ERR_FRAGMENTED_CONTROL_FRAME",
          `Received a control frame (opcode ${opcode}) with FIN = 0: control frames must not be fragmented`,
        );
      }
      if ((b1 & 0x7f) > 125) {
        throw new WebSocketProtocolError(
          "WS_ERR_CONTROL_FRAME_TOO_LONG",
          `Received a control frame (opcode ${opcode}) with a payload length over 125 bytes`,
        );
      }
    }
    const masked = (b1 & 0x80) !== 0;
    if (masked !== this.#expectMask) {
      throw this.#expectMask
        ? new WebSocketProtocolError(
          "WS_ERR_EXPECTED_MASK",
          "Received an unmasked frame from a client: clients must mask every frame",
        )
        : new WebSocketProtocolError(
          "WS_ERR_UNEXPECTED_MASK",
          "Received a masked frame from a server: servers must not mask frames",
        );
    }
  }

  /** Parses a whole header from `bytes` at `start`. */
  #parseHeader(bytes: Uint8Array, start: number): void {
    const b0 = bytes[start]!;
    const b1 = bytes[start + 1]!;
    if (bytes !== this.#header) this.#checkFirstBytes(b0, b1);
    let length = b1 & 0x7f;
    let position = start + 2;
    if (length === 126) {
      length = (bytes[position]! << 8) | bytes[position + 1]!;
      position += 2;
    } else if (length === 127) {
      const high = ((bytes[position]! << 24) | (bytes[position + 1]! << 16) |
        (bytes[position + 2]! << 8) | bytes[position + 3]!) >>> 0;
      const low = ((bytes[position + 4]! << 24) |
        (bytes[position + 5]! << 16) | (bytes[position + 6]! << 8) |
        bytes[position + 7]!) >>> 0;
      position += 8;
      if (high >= 0x80000000) {
        throw new WebSocketProtocolError(
          "WS_ERR_INVALID_LENGTH",
          "Received a 64-bit payload length with the most significant bit set",
        );
      }
      length = high * 0x1_0000_0000 + low;
    }
    if (length > this.#maxPayload) {
      throw new WebSocketProtocolError(
        "WS_ERR_FRAME_TOO_BIG",
        `Received a frame announcing ${length} bytes, over the limit of ${this.#maxPayload}`,
      );
    }
    this.#fin = (b0 & 0x80) !== 0;
    this.#rsv = (b0 >> 4) & 0x7;
    this.#opcode = b0 & 0x0f;
    this.#masked = (b1 & 0x80) !== 0;
    if (this.#masked) {
      let mask = this.#mask;
      if (mask.length === 0) mask = this.#mask = new Uint8Array(4);
      mask[0] = bytes[position]!;
      mask[1] = bytes[position + 1]!;
      mask[2] = bytes[position + 2]!;
      mask[3] = bytes[position + 3]!;
    }
    this.#payloadLength = length;
    this.#payload = null;
    this.#payloadFilled = 0;
    this.#inPayload = true;
  }

  /** Collects payload bytes; returns the frame once whole. */
  #readPayload(): Frame | null {
    const chunk = this.#chunk;
    const available = chunk.length - this.#offset;
    const missing = this.#payloadLength - this.#payloadFilled;
    let payload: Uint8Array;
    if (this.#payload === null && available >= missing) {
      // The whole payload is inside this chunk: a view, unmasked in place.
      const start = this.#offset;
      this.#offset = start + missing;
      if (
        missing <= SHORT_TEXT_MAX && this.#opcode === 1 && this.#fin &&
        this.#rsv === 0 && this.#decodeAscii !== null
      ) {
        const text = this.#shortText(chunk, start, start + missing);
        if (text !== null) {
          this.#inPayload = false;
          return { fin: true, rsv: 0, opcode: 1, payload: EMPTY_PAYLOAD, text };
        }
        payload = chunk.subarray(start, start + missing); // Unmasked already.
      } else {
        payload = chunk.subarray(start, start + missing);
        if (this.#masked) applyMask(payload, this.#mask);
      }
    } else {
      const take = Math.min(available, missing);
      if (take === 0) return null;
      const needed = this.#payloadFilled + take;
      let buffer = this.#payload;
      if (buffer === null || buffer.length < needed) {
        // Grow with what has arrived (bounded by a factor of it), never
        // with what was announced.
        const grown = new Uint8Array(
          Math.min(
            this.#payloadLength,
            Math.max(FIRST_GROWTH, needed * GROWTH_FACTOR),
          ),
        );
        if (buffer !== null) grown.set(buffer.subarray(0, this.#payloadFilled));
        buffer = grown;
        this.#payload = buffer;
      }
      const piece = buffer.subarray(this.#payloadFilled, needed);
      // A chunk read straight into the payload (payloadTarget) is in place.
      if (
        chunk.byteOffset + this.#offset !==
          buffer.byteOffset + this.#payloadFilled ||
        chunk.buffer !== buffer.buffer
      ) {
        piece.set(chunk.subarray(this.#offset, this.#offset + take));
      }
      if (this.#masked) applyMask(piece, this.#mask, this.#payloadFilled & 3);
      this.#offset += take;
      this.#payloadFilled = needed;
      if (needed < this.#payloadLength) return null;
      payload = buffer.subarray(0, needed);
    }
    this.#inPayload = false;
    this.#payload = null;
    return { fin: this.#fin, rsv: this.#rsv, opcode: this.#opcode, payload };
  }

  /**
   * Unmasks `chunk[start..end)` in place and, when every byte is ASCII,
   * decodes it with the `decodeAscii` option; `null` otherwise (the bytes
   * stay unmasked).
   */
  #shortText(chunk: Uint8Array, start: number, end: number): string | null {
    let bits = 0;
    if (this.#masked) {
      const mask = this.#mask;
      const k0 = mask[0]!, k1 = mask[1]!, k2 = mask[2]!, k3 = mask[3]!;
      let i = start;
      for (; i + 3 < end; i += 4) {
        const b0 = chunk[i]! ^ k0, b1 = chunk[i + 1]! ^ k1;
        const b2 = chunk[i + 2]! ^ k2, b3 = chunk[i + 3]! ^ k3;
        chunk[i] = b0;
        chunk[i + 1] = b1;
        chunk[i + 2] = b2;
        chunk[i + 3] = b3;
        bits |= b0 | b1 | b2 | b3;
      }
      if (i < end) bits |= chunk[i] = chunk[i]! ^ k0;
      if (i + 1 < end) bits |= chunk[i + 1] = chunk[i + 1]! ^ k1;
      if (i + 2 < end) bits |= chunk[i + 2] = chunk[i + 2]! ^ k2;
    } else {
      for (let i = start; i < end; i++) bits |= chunk[i]!;
    }
    return bits < 0x80 ? this.#decodeAscii!(chunk, start, end) : null;
  }
}

/** The header size implied by the second header byte. */
function headerSize(b1: number): number {
  const length = b1 & 0x7f;
  const extended = length === 126 ? 2 : length === 127 ? 8 : 0;
  return 2 + extended + ((b1 & 0x80) !== 0 ? 4 : 0);
}

function rsvNames(rsv: number): string {
  const names: string[] = [];
  if (rsv & RSV1) names.push("RSV1");
  if (rsv & RSV2) names.push("RSV2");
  if (rsv & RSV3) names.push("RSV3");
  return names.join(", ");
}
