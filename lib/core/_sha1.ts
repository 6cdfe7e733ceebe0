/**
 * SHA-1 (FIPS 180-4), synchronous, for the opening handshake's
 * `Sec-WebSocket-Accept` only (RFC 6455 §4.2.2): hashing a 60-byte key
 * this way takes microseconds and no await, so that an upgrade can be
 * answered in the turn its request arrived (`Bun.serve` answers 400 to a
 * request whose first frames came with it when the upgrade waits for the
 * next turn, as `crypto.subtle.digest` makes it). Not for anything that
 * needs a secure hash. Private to the core; never re-exported.
 *
 * @module
 */

/**
 * Hashes bytes with SHA-1.
 *
 * @param data The bytes.
 * @returns The 20-byte digest.
 */
export function sha1(data: Uint8Array): Uint8Array {
  const length = data.length;
  // Message, 0x80, zero padding, 64-bit big-endian bit length: 16 words a block.
  const blockCount = ((length + 8) >>> 6) + 1;
  const words = new Uint32Array(blockCount * 16);
  for (let i = 0; i < length; i++) {
    const index = i >>> 2;
    words[index] = words[index]! | (data[i]! << (24 - (i & 3) * 8));
  }
  const end = length >>> 2;
  words[end] = words[end]! | (0x80 << (24 - (length & 3) * 8));
  words[blockCount * 16 - 2] = Math.floor(length / 0x20000000);
  words[blockCount * 16 - 1] = (length * 8) >>> 0;

  let h0 = 0x67452301;
  let h1 = 0xefcdab89;
  let h2 = 0x98badcfe;
  let h3 = 0x10325476;
  let h4 = 0xc3d2e1f0;
  const w = new Uint32Array(80);
  for (let block = 0; block < blockCount; block++) {
    for (let t = 0; t < 16; t++) w[t] = words[block * 16 + t]!;
    for (let t = 16; t < 80; t++) {
      const x = w[t - 3]! ^ w[t - 8]! ^ w[t - 14]! ^ w[t - 16]!;
      w[t] = (x << 1) | (x >>> 31);
    }
    let a = h0;
    let b = h1;
    let c = h2;
    let d = h3;
    let e = h4;
    for (let t = 0; t < 80; t++) {
      let f: number;
      let k: number;
      if (t < 20) {
        f = (b & c) | (~b & d);
        k = 0x5a827999;
      } else if (t < 40) {
        f = b ^ c ^ d;
        k = 0x6ed9eba1;
      } else if (t < 60) {
        f = (b & c) | (b & d) | (c & d);
        k = 0x8f1bbcdc;
      } else {
        f = b ^ c ^ d;
        k = 0xca62c1d6;
      }
      const next = (((a << 5) | (a >>> 27)) + f + e + k + w[t]!) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = next;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
  }

  const digest = new Uint8Array(20);
  const view = new DataView(digest.buffer);
  view.setUint32(0, h0);
  view.setUint32(4, h1);
  view.setUint32(8, h2);
  view.setUint32(12, h3);
  view.setUint32(16, h4);
  return digest;
}
