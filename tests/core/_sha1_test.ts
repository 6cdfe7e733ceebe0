import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { sha1 } from "../../lib/core/_sha1.ts";
import { hex, toHex } from "../_test_utils.ts";

/** FIPS 180-4 / RFC 3174 test vectors. */
const VECTORS: [string, string][] = [
  ["", "da39a3ee5e6b4b0d3255bfef95601890afd80709"],
  ["abc", "a9993e364706816aba3e25717850c26c9cd0d89d"],
  [
    "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
    "84983e441c3bd26ebaae4aa1f95129e5e54670f1",
  ],
  // The RFC 6455 §1.3 handshake: key + GUID.
  [
    "dGhlIHNhbXBsZSBub25jZQ==258EAFA5-E914-47DA-95CA-C5AB0DC85B11",
    "b37a4f2cc0624f1690f64606cf385945b2bec4ea",
  ],
];

describe("sha1", () => {
  for (const [input, digest] of VECTORS) {
    test(`hashes ${JSON.stringify(input.slice(0, 20))} (${input.length} bytes) as the standard vector`, () => {
      assert.equal(
        toHex(sha1(new TextEncoder().encode(input))),
        toHex(hex(digest)),
      );
    });
  }

  test("matches crypto.subtle for every length from 0 to 200 bytes (padding across block ends)", async () => {
    for (let length = 0; length <= 200; length++) {
      const data = Uint8Array.from(
        { length },
        (_, i) => (i * 131 + length * 7) & 0xff,
      );
      const expected = new Uint8Array(
        await crypto.subtle.digest("SHA-1", data),
      );
      assert.deepEqual(sha1(data), expected, `length ${length}`);
    }
  });

  test("hashes a million 'a' as the FIPS 180-4 vector", () => {
    const data = new Uint8Array(1_000_000).fill(0x61);
    assert.equal(
      toHex(sha1(data)),
      toHex(hex("34aa973cd4c4daa4f61eeb2bdbad27316534016f")),
    );
  });
});
