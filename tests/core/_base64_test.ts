import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  decodeBase64,
  encodeBase64,
  localDecodeBase64,
  localEncodeBase64,
} from "../../lib/core/_base64.ts";

/** Reference encoder: btoa over a binary string. */
function referenceEncode(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** Reference decoder: atob to a binary string. */
function referenceDecode(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (char) => char.charCodeAt(0));
}

const codecs = [
  {
    name: "encodeBase64/decodeBase64",
    encode: encodeBase64,
    decode: decodeBase64,
  },
  {
    name: "localEncodeBase64/localDecodeBase64",
    encode: localEncodeBase64,
    decode: localDecodeBase64,
  },
] as const;

const MALFORMED: readonly [string, string][] = [
  ["a character outside the alphabet", "AAA*"],
  ["the URL-safe alphabet", "-_8="],
  ["missing padding", "AA"],
  ["missing single padding", "AAA"],
  ["too much padding", "AA==="],
  ["padding in the middle", "AA==AAAA"],
  ["padding as the third of a '=' pair only", "A==="],
  ["a lone character", "A"],
  ["five characters", "AAAAA"],
  ["a leading space", " AAAA"],
  ["a trailing space", "AAAA "],
  ["an inner space", "AA AA"],
  ["a newline", "AAAA\nAAAA"],
  ["a tab", "AA\tAA"],
  ["non-zero bits after the last byte (==)", "AB=="],
  ["non-zero bits after the last byte (=)", "AAB="],
  ["a non-ASCII character", "AAA\u00e9"],
  ["only padding", "===="],
];

for (const codec of codecs) {
  describe(codec.name, () => {
    test(`${codec.name} matches btoa/atob for random lengths 0..100`, () => {
      for (let length = 0; length <= 100; length++) {
        const bytes = crypto.getRandomValues(new Uint8Array(length));
        const text = codec.encode(bytes);
        assert.equal(text, referenceEncode(bytes), `length ${length}`);
        assert.deepEqual(codec.decode(text), bytes, `length ${length}`);
        assert.deepEqual(referenceDecode(text), bytes, `length ${length}`);
      }
    });

    test(`${codec.name} encodes the RFC 4648 §10 test vectors`, () => {
      const vectors: [string, string][] = [
        ["", ""],
        ["f", "Zg=="],
        ["fo", "Zm8="],
        ["foo", "Zm9v"],
        ["foob", "Zm9vYg=="],
        ["fooba", "Zm9vYmE="],
        ["foobar", "Zm9vYmFy"],
      ];
      for (const [plain, encoded] of vectors) {
        const bytes = new TextEncoder().encode(plain);
        assert.equal(codec.encode(bytes), encoded);
        assert.deepEqual(codec.decode(encoded), bytes);
      }
    });

    test(`${codec.name} round-trips every byte value`, () => {
      const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
      assert.deepEqual(codec.decode(codec.encode(bytes)), bytes);
    });

    for (const [what, input] of MALFORMED) {
      test(`${codec.name} rejects ${what} with null`, () => {
        assert.equal(codec.decode(input), null);
      });
    }

    test(`${codec.name} decodes a WebSocket key to 16 bytes`, () => {
      assert.equal(codec.decode("dGhlIHNhbXBsZSBub25jZQ==")?.length, 16);
    });
  });
}
