/**
 * Byte-level mutations shared by the fuzz targets: bit flips, interesting
 * bytes, dictionary tokens, runs of one byte, deleted, duplicated and
 * spliced ranges, truncation. Each returns a new array; the input is never
 * modified.
 *
 * @module
 */

import type { Random } from "./_random.ts";

/** Bytes that sit on boundaries of the grammars and of the integer types. */
const INTERESTING = [
  0x00,
  0x01,
  0x09,
  0x0a,
  0x0d,
  0x20,
  0x7e,
  0x7f,
  0x80,
  0x81,
  0xbf,
  0xc0,
  0xf4,
  0xf5,
  0xfe,
  0xff,
];

/** Concatenates byte arrays. */
export function concat(parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Encodes text as Latin-1: one byte per code unit (its low 8 bits). */
export function latin1(text: string): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

/** Lowercase hex of `bytes`. */
export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (const byte of bytes) out += byte.toString(16).padStart(2, "0");
  return out;
}

/** Bytes from hex (whitespace ignored). */
export function fromHex(hex: string): Uint8Array<ArrayBuffer> {
  const clean = hex.replace(/\s+/g, "");
  const out = new Uint8Array(clean.length >> 1);
  for (let i = 0; i < out.length; i++) {
    out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  }
  return out;
}

/** A run length: mostly short, sometimes up to `max`. */
export function runLength(random: Random, max: number): number {
  switch (random.int(4)) {
    case 0:
      return 1 + random.int(16);
    case 1:
      return 1 + random.small(max);
    case 2:
      return 1 + random.int(max);
    default:
      return 1 + random.int(256);
  }
}

/** What {@linkcode mutate} may use beyond random bytes. */
export interface MutationOptions {
  /** Tokens of the grammar (CRLF, separators, keywords, numbers). */
  dictionary: readonly Uint8Array[];
  /** Bytes worth repeating in runs (whitespace, a token character). */
  runBytes: readonly number[];
  /** The longest run inserted. */
  maxRun: number;
  /** The longest input produced (longer results are truncated). */
  maxLength: number;
  /** Another input to splice with, made on demand. */
  other?: () => Uint8Array;
}

/**
 * Applies one random mutation.
 *
 * @param random The random source.
 * @param input The input (not modified).
 * @param options The dictionary and limits.
 * @returns The mutated copy.
 */
export function mutateOnce(
  random: Random,
  input: Uint8Array,
  options: MutationOptions,
): Uint8Array {
  const length = input.length;
  const at = random.int(length + 1);
  switch (random.int(11)) {
    case 0: { // flip a bit
      if (length === 0) return input.slice();
      const out = input.slice();
      const i = random.int(length);
      out[i] = out[i]! ^ (1 << random.int(8));
      return out;
    }
    case 1: { // set an interesting or random byte
      if (length === 0) return Uint8Array.of(random.pick(INTERESTING));
      const out = input.slice();
      out[random.int(length)] = random.chance(0.5)
        ? random.pick(INTERESTING)
        : random.int(256);
      return out;
    }
    case 2: // insert a dictionary token
    case 3:
      return concat([
        input.subarray(0, at),
        random.pick(options.dictionary),
        input.subarray(at),
      ]);
    case 4: { // replace a range with a dictionary token
      const end = Math.min(length, at + random.small(16));
      return concat([
        input.subarray(0, at),
        random.pick(options.dictionary),
        input.subarray(end),
      ]);
    }
    case 5: { // insert a run of one byte
      const byte = random.chance(0.8)
        ? random.pick(options.runBytes)
        : random.int(256);
      const run = new Uint8Array(runLength(random, options.maxRun)).fill(byte);
      return concat([input.subarray(0, at), run, input.subarray(at)]);
    }
    case 6: { // delete a range
      const end = Math.min(length, at + 1 + random.small(length + 1));
      return concat([input.subarray(0, at), input.subarray(end)]);
    }
    case 7: { // duplicate a range
      if (length === 0) return input.slice();
      const start = random.int(length);
      const end = Math.min(length, start + 1 + random.small(length));
      const times = random.chance(0.9) ? 1 : 1 + random.small(64);
      const parts = [input.subarray(0, at)];
      for (let i = 0; i < times; i++) parts.push(input.subarray(start, end));
      parts.push(input.subarray(at));
      return concat(parts);
    }
    case 8: // truncate
      return input.slice(0, at);
    case 9: { // splice with another input
      if (options.other === undefined) return input.slice(0, at);
      const other = options.other();
      return concat([
        input.subarray(0, at),
        other.subarray(random.int(other.length + 1)),
      ]);
    }
    default: { // insert random bytes
      return concat([
        input.subarray(0, at),
        random.bytes(1 + random.small(32)),
        input.subarray(at),
      ]);
    }
  }
}

/**
 * Applies 0 to a few mutations (most inputs get one or two), capped at
 * `options.maxLength` bytes.
 *
 * @param random The random source.
 * @param input The input (not modified).
 * @param options The dictionary and limits.
 * @returns The mutated copy.
 */
export function mutate(
  random: Random,
  input: Uint8Array,
  options: MutationOptions,
): Uint8Array {
  const count = random.pick([0, 1, 1, 1, 2, 2, 3, 4, 8]);
  let out = input;
  for (let i = 0; i < count; i++) {
    out = mutateOnce(random, out, options);
    if (out.length > options.maxLength) out = out.slice(0, options.maxLength);
  }
  return out === input ? input.slice() : out;
}

/**
 * Random chunk sizes for `length` bytes: whole, 1-byte, a few random cuts,
 * or many small pieces.
 *
 * @param random The random source.
 * @param length The input length.
 * @returns Chunk lengths summing to `length` (none when it is 0).
 */
export function chunkSizes(random: Random, length: number): number[] {
  if (length === 0) return [];
  const mode = random.int(8);
  if (mode === 0) return [length];
  if (mode === 1 && length <= 1024) return new Array(length).fill(1);
  const sizes: number[] = [];
  if (mode <= 4) {
    // a few cuts anywhere
    const cuts = [0, length];
    const count = 1 + random.small(8);
    for (let i = 0; i < count; i++) cuts.push(random.int(length + 1));
    cuts.sort((a, b) => a - b);
    for (let i = 1; i < cuts.length; i++) {
      const size = cuts[i]! - cuts[i - 1]!;
      if (size > 0) sizes.push(size);
    }
    return sizes;
  }
  // many small pieces
  const max = random.pick([2, 3, 7, 16, 100]);
  for (let left = length; left > 0;) {
    const size = Math.min(left, 1 + random.int(max));
    sizes.push(size);
    left -= size;
  }
  return sizes;
}
