/**
 * Shared test helpers: hex fixtures, a seeded PRNG, chunkings, and a
 * reference frame encoder that does not use the library's encoder or mask.
 *
 * Private to the tests; never re-exported.
 *
 * @module
 */

/**
 * Parses hex into bytes, ignoring whitespace: `hex("81 05 48 65")`.
 *
 * @param text Pairs of hex digits, optionally separated by whitespace.
 * @returns The bytes.
 * @throws {SyntaxError} If `text` has an odd digit count or a non-hex character.
 */
export function hex(text: string): Uint8Array {
  const digits = text.replace(/\s+/g, "");
  if (digits.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(digits)) {
    throw new SyntaxError(
      `Cannot parse hex "${text}": use pairs of hex digits`,
    );
  }
  const bytes = new Uint8Array(digits.length / 2);
  for (let i = 0; i < bytes.length; i++) {
    bytes[i] = parseInt(digits.slice(2 * i, 2 * i + 2), 16);
  }
  return bytes;
}

/**
 * Formats bytes as lowercase hex pairs separated by spaces (the inverse of
 * {@linkcode hex}), for readable assertion messages.
 *
 * @param bytes The bytes.
 * @returns For example `"81 05 48 65 6c 6c 6f"`.
 */
export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join(
    " ",
  );
}

/**
 * Concatenates byte arrays into one new buffer.
 *
 * @param parts The arrays, in order.
 * @returns A new buffer holding all their bytes.
 */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const result = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    result.set(part, offset);
    offset += part.length;
  }
  return result;
}

/** A deterministic pseudo-random source; see {@linkcode createRandom}. */
export interface Random {
  /** A float in [0, 1). */
  float(): number;
  /** An integer in [0, max). */
  int(max: number): number;
  /** `n` random bytes. */
  bytes(n: number): Uint8Array<ArrayBuffer>;
  /** A random element of a non-empty array. */
  pick<T>(items: readonly T[]): T;
}

/**
 * Creates a seeded PRNG (mulberry32), so that a failing randomized test
 * replays exactly: put the seed in the test name.
 *
 * @param seed Any 32-bit integer.
 * @returns The random source.
 */
export function createRandom(seed: number): Random {
  let state = seed >>> 0;
  const float = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (max: number): number => Math.floor(float() * max);
  return {
    float,
    int,
    bytes(n) {
      const bytes = new Uint8Array(n);
      for (let i = 0; i < n; i++) bytes[i] = int(256);
      return bytes;
    },
    pick(items) {
      if (items.length === 0) {
        throw new RangeError("Cannot pick from an empty array");
      }
      return items[int(items.length)]!;
    },
  };
}

/**
 * Splits `bytes` at random boundaries into copies of 1 to `maxChunk` bytes.
 *
 * @param bytes The bytes to split.
 * @param random The random source.
 * @param maxChunk The largest chunk size.
 * @returns Fresh chunks (copies) whose concatenation equals `bytes`.
 */
export function randomChunks(
  bytes: Uint8Array,
  random: Random,
  maxChunk = 16,
): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let offset = 0; offset < bytes.length;) {
    const size = 1 + random.int(maxChunk);
    chunks.push(bytes.slice(offset, offset + size));
    offset += size;
  }
  return chunks;
}

/**
 * Yields the ways each wire rule is fed to a parser: `"whole"`, `"1-byte"`
 * and a seeded `"random"` split. Every chunk is a fresh copy, because
 * parsers take ownership of their input and unmask it in place.
 *
 * @param bytes The bytes to feed.
 * @param seed The seed of the random split.
 * @returns Pairs of a name for the test title and the chunks.
 */
export function* chunkings(
  bytes: Uint8Array,
  seed = 1,
): Generator<[string, Uint8Array[]]> {
  yield ["whole", [bytes.slice()]];
  yield ["1-byte", Array.from(bytes, (byte) => Uint8Array.of(byte))];
  yield [`random (seed ${seed})`, randomChunks(bytes, createRandom(seed))];
}

/** The masking key of the RFC 6455 §5.7 examples: `37 fa 21 3d`. */
export const RFC_MASK_KEY: Uint8Array = hex("37 fa 21 3d");

/** The frame to build with {@linkcode encodeClientFrame}. */
export interface TestFrame {
  /** FIN bit. @default {true} */
  fin?: boolean;
  /** RSV bits, 0 to 7. @default {0} */
  rsv?: number;
  /** Opcode, 0 to 15 (not checked: reserved opcodes are allowed). */
  opcode: number;
  /** Payload; a string is encoded as UTF-8. */
  payload: Uint8Array | string;
  /** Masking key, or `null` for an unmasked frame. @default {RFC_MASK_KEY} */
  mask?: Uint8Array | null;
}

/**
 * Builds a frame's wire bytes independently of the library (reference
 * header encoding, byte-wise masking). Nothing is validated, so it also
 * builds frames a parser must reject (reserved opcodes, RSV bits, long or
 * fragmented control frames).
 *
 * @param frame The frame; masked with `RFC_MASK_KEY` unless `mask` is given.
 * @returns A new buffer with the frame as a client would send it.
 */
export function encodeClientFrame(frame: TestFrame): Uint8Array {
  const { fin = true, rsv = 0, opcode, mask = RFC_MASK_KEY } = frame;
  const payload = typeof frame.payload === "string"
    ? new TextEncoder().encode(frame.payload)
    : frame.payload;
  const length = payload.length;
  const maskBit = mask === null ? 0 : 0x80;
  const first = (fin ? 0x80 : 0) | (rsv << 4) | opcode;
  const header: number[] = [];
  if (length < 126) {
    header.push(first, maskBit | length);
  } else if (length < 0x10000) {
    header.push(first, maskBit | 126, length >>> 8, length & 0xff);
  } else {
    header.push(first, maskBit | 127);
    for (let shift = 56; shift >= 0; shift -= 8) {
      header.push(Math.floor(length / 2 ** shift) & 0xff);
    }
  }
  if (mask !== null) header.push(...mask.subarray(0, 4));
  const bytes = new Uint8Array(header.length + length);
  bytes.set(header);
  for (let i = 0; i < length; i++) {
    bytes[header.length + i] = payload[i]! ^ (mask === null ? 0 : mask[i & 3]!);
  }
  return bytes;
}

/**
 * Builds an unmasked frame, as a server sends it, for a client-role parser.
 *
 * @param frame The frame; any `mask` is ignored.
 * @returns A new buffer with the frame's wire bytes.
 */
export function encodeServerFrame(frame: TestFrame): Uint8Array {
  return encodeClientFrame({ ...frame, mask: null });
}
