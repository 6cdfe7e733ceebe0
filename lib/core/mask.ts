/**
 * Payload masking (RFC 6455 §5.3): XOR with a 4-byte key, word at a time.
 *
 * @module
 */

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Below this many bytes a byte loop beats setting up a word view (measured
 * with 32 B to 1 KiB payloads: the word view costs ~150 ns on Deno and
 * ~250 ns on Bun, so the byte loop wins up to 128-256 bytes).
 */
const WORD_LOOP_THRESHOLD = 256;

/**
 * XORs `data` in place with the 4-byte masking key, starting at key offset
 * `phase` (the number of payload bytes already masked before `data`, modulo
 * 4). Masking and unmasking are the same operation.
 *
 * The aligned middle is processed as 32-bit words; the unaligned head and
 * tail byte by byte.
 *
 * @param data The bytes to (un)mask, modified in place.
 * @param key The 4-byte masking key.
 * @param phase Offset into the key of `data[0]`, 0 to 3.
 * @returns Nothing; `data` is modified.
 *
 * @example Unmask the RFC 6455 §5.7 masked "Hello"
 * ```ts
 * import { applyMask } from "@wstream/wstream/core";
 * import assert from "node:assert/strict";
 *
 * const payload = new Uint8Array([0x7f, 0x9f, 0x4d, 0x51, 0x58]);
 * applyMask(payload, new Uint8Array([0x37, 0xfa, 0x21, 0x3d]));
 * assert.equal(new TextDecoder().decode(payload), "Hello");
 * ```
 */
export function applyMask(data: Uint8Array, key: Uint8Array, phase = 0): void {
  const length = data.length;
  const k0 = key[phase & 3]!;
  const k1 = key[(phase + 1) & 3]!;
  const k2 = key[(phase + 2) & 3]!;
  const k3 = key[(phase + 3) & 3]!;
  if (length < WORD_LOOP_THRESHOLD || !LITTLE_ENDIAN) {
    let i = 0;
    for (; i + 3 < length; i += 4) {
      data[i] = data[i]! ^ k0;
      data[i + 1] = data[i + 1]! ^ k1;
      data[i + 2] = data[i + 2]! ^ k2;
      data[i + 3] = data[i + 3]! ^ k3;
    }
    if (i < length) data[i] = data[i]! ^ k0;
    if (i + 1 < length) data[i + 1] = data[i + 1]! ^ k1;
    if (i + 2 < length) data[i + 2] = data[i + 2]! ^ k2;
    return;
  }
  // Byte loop up to the first 4-byte aligned address.
  const head = (4 - (data.byteOffset & 3)) & 3;
  const keys = [k0, k1, k2, k3];
  for (let i = 0; i < head; i++) data[i] = data[i]! ^ keys[i]!;
  // Words: the key rotated by the head length, read as a little-endian word.
  const r0 = keys[head & 3]!;
  const r1 = keys[(head + 1) & 3]!;
  const r2 = keys[(head + 2) & 3]!;
  const r3 = keys[(head + 3) & 3]!;
  // Signed words: every value stays a small integer (a Uint32Array's
  // elements past 2^31 are doubles), 25% faster on Bun.
  const word = r0 | (r1 << 8) | (r2 << 16) | (r3 << 24);
  const wordCount = (length - head) >>> 2;
  const words = new Int32Array(data.buffer, data.byteOffset + head, wordCount);
  for (let i = 0; i < wordCount; i++) words[i] = words[i]! ^ word;
  // Tail: the key offset continues where the words stopped (a multiple of 4).
  for (let i = head + wordCount * 4; i < length; i++) {
    data[i] = data[i]! ^ keys[i & 3]!;
  }
}
