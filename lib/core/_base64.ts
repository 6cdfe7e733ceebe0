/**
 * Strict standard base64 (RFC 4648 §4, with padding), private to wstream.
 *
 * Uses `Uint8Array.prototype.toBase64` / `Uint8Array.fromBase64` where the
 * runtime has them (Deno, Bun and Node 26 all do) and a small local codec
 * otherwise. Either way {@linkcode decodeBase64} accepts only the canonical
 * encoding: the standard alphabet, `=` padding to a multiple of 4 characters,
 * zero bits after the last byte, and no whitespace. A Sec-WebSocket-Key must
 * decode to exactly 16 bytes, so looser decoding would let malformed keys in.
 *
 * @module
 */

const ALPHABET =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Canonical shape: groups of 4, optional last group padded with `=`. */
const CANONICAL =
  /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Maps a char code to its 6-bit value, or -1 outside the alphabet. */
const DECODE_TABLE: Int8Array = (() => {
  const table = new Int8Array(128).fill(-1);
  for (let i = 0; i < ALPHABET.length; i++) table[ALPHABET.charCodeAt(i)] = i;
  return table;
})();

/** The parts of the TC39 base64 proposal wstream uses, typed structurally. */
interface NativeBase64Static {
  fromBase64?: (
    text: string,
    options: { lastChunkHandling: "strict" },
  ) => Uint8Array;
}
interface NativeBase64Instance {
  toBase64?: () => string;
}

const nativeFromBase64 = (Uint8Array as unknown as NativeBase64Static)
  .fromBase64;
const nativeToBase64 = (Uint8Array.prototype as unknown as NativeBase64Instance)
  .toBase64;

/**
 * Encodes bytes as standard base64 with padding, using the local codec only.
 * Exported for tests; use {@linkcode encodeBase64}.
 *
 * @param bytes The bytes to encode.
 * @returns The base64 text.
 */
export function localEncodeBase64(bytes: Uint8Array): string {
  let out = "";
  const full = bytes.length - (bytes.length % 3);
  for (let i = 0; i < full; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]! +
      ALPHABET[(n >> 6) & 63]! + ALPHABET[n & 63]!;
  }
  const rest = bytes.length - full;
  if (rest === 1) {
    const n = bytes[full]! << 16;
    out += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]! + "==";
  } else if (rest === 2) {
    const n = (bytes[full]! << 16) | (bytes[full + 1]! << 8);
    out += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]! +
      ALPHABET[(n >> 6) & 63]! + "=";
  }
  return out;
}

/**
 * Decodes canonical standard base64 with padding, using the local codec only.
 * Exported for tests; use {@linkcode decodeBase64}.
 *
 * @param text The base64 text.
 * @returns The bytes, or `null` when `text` is not canonical base64.
 */
export function localDecodeBase64(text: string): Uint8Array | null {
  if (!CANONICAL.test(text)) return null;
  const padding = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
  const out = new Uint8Array((text.length / 4) * 3 - padding);
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    const a = DECODE_TABLE[text.charCodeAt(i)]!;
    const b = DECODE_TABLE[text.charCodeAt(i + 1)]!;
    // `=` maps to -1; the regex has already put padding only at the end.
    const c = Math.max(DECODE_TABLE[text.charCodeAt(i + 2)]!, 0);
    const d = Math.max(DECODE_TABLE[text.charCodeAt(i + 3)]!, 0);
    const n = (a << 18) | (b << 12) | (c << 6) | d;
    if (o < out.length) out[o++] = n >> 16;
    if (o < out.length) out[o++] = (n >> 8) & 255;
    else if ((n & 0xffff) !== 0) return null; // non-zero bits after the end
    if (o < out.length) out[o++] = n & 255;
    else if ((n & 0xff) !== 0) return null;
  }
  return out;
}

/**
 * Encodes bytes as standard base64 with padding.
 *
 * @param bytes The bytes to encode.
 * @returns The base64 text.
 */
export function encodeBase64(bytes: Uint8Array): string {
  return nativeToBase64 ? nativeToBase64.call(bytes) : localEncodeBase64(bytes);
}

/**
 * Decodes canonical standard base64 with padding (RFC 4648 §4): no
 * whitespace, no URL-safe alphabet, no missing or extra padding, no non-zero
 * bits after the last byte.
 *
 * @param text The base64 text.
 * @returns The bytes, or `null` when `text` is not canonical base64.
 */
export function decodeBase64(text: string): Uint8Array | null {
  if (!nativeFromBase64) return localDecodeBase64(text);
  // The native decoder skips ASCII whitespace, so check the shape first;
  // `lastChunkHandling: "strict"` then rejects non-zero trailing bits.
  if (!CANONICAL.test(text)) return null;
  try {
    return nativeFromBase64(text, { lastChunkHandling: "strict" });
  } catch {
    return null;
  }
}
