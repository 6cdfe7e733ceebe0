import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { applyMask } from "../../lib/core/mask.ts";
import { createRandom, hex, RFC_MASK_KEY, toHex } from "../_test_utils.ts";

/** Reference: byte-wise XOR starting at key offset `phase`. */
function referenceMask(
  data: Uint8Array,
  key: Uint8Array,
  phase: number,
): Uint8Array {
  return data.map((byte, i) => byte ^ key[(phase + i) & 3]!);
}

describe("applyMask", () => {
  test("applyMask unmasks the RFC 6455 §5.7 masked Hello", () => {
    const payload = hex("7f 9f 4d 51 58");
    applyMask(payload, RFC_MASK_KEY);
    assert.equal(new TextDecoder().decode(payload), "Hello");
  });

  test("applyMask masks Hello into the RFC 6455 §5.7 wire bytes", () => {
    const payload = new TextEncoder().encode("Hello");
    applyMask(payload, RFC_MASK_KEY);
    assert.equal(toHex(payload), "7f 9f 4d 51 58");
  });

  test("applyMask with phase continues the key where a previous piece stopped", () => {
    const payload = hex("7f 9f 4d 51 58");
    applyMask(payload.subarray(0, 3), RFC_MASK_KEY, 0);
    applyMask(payload.subarray(3), RFC_MASK_KEY, 3);
    assert.equal(new TextDecoder().decode(payload), "Hello");
  });

  test("applyMask equals the byte-wise reference for lengths 0..300 (byte and word paths), byte offsets 0..7, phases 0..3", () => {
    const random = createRandom(0x6d61736b);
    const key = hex("a1 b2 c3 d4");
    const size = 8 + 300 + 8;
    for (let length = 0; length <= 300; length++) {
      for (let byteOffset = 0; byteOffset < 8; byteOffset++) {
        for (let phase = 0; phase < 4; phase++) {
          const buffer = random.bytes(size);
          const original = buffer.slice();
          const data = buffer.subarray(byteOffset, byteOffset + length);
          const expected = referenceMask(data, key, phase);
          applyMask(data, key, phase);
          const where =
            `length ${length}, byteOffset ${byteOffset}, phase ${phase}`;
          assert.deepEqual(data, expected, where);
          assert.deepEqual(
            buffer.subarray(0, byteOffset),
            original.subarray(0, byteOffset),
            `bytes before the subarray changed at ${where}`,
          );
          assert.deepEqual(
            buffer.subarray(byteOffset + length),
            original.subarray(byteOffset + length),
            `bytes after the subarray changed at ${where}`,
          );
        }
      }
    }
  });

  test("applyMask equals the reference on 1 MiB random buffers at every alignment and phase", () => {
    const random = createRandom(42);
    const length = 1024 * 1024;
    const buffer = random.bytes(length + 16);
    for (let byteOffset = 0; byteOffset < 4; byteOffset++) {
      const phase = (byteOffset * 3 + 1) & 3;
      const key = random.bytes(4);
      const original = buffer.slice();
      // An odd length so that the tail loop runs too.
      const data = buffer.subarray(
        byteOffset,
        byteOffset + length - byteOffset - 1,
      );
      const expected = referenceMask(data, key, phase);
      applyMask(data, key, phase);
      assert.ok(
        data.every((byte, i) => byte === expected[i]),
        `mismatch at byteOffset ${byteOffset}, phase ${phase}`,
      );
      assert.deepEqual(
        buffer.subarray(0, byteOffset),
        original.subarray(0, byteOffset),
      );
      assert.deepEqual(
        buffer.subarray(byteOffset + data.length),
        original.subarray(byteOffset + data.length),
      );
    }
  });

  test("applyMask applied twice restores the input", () => {
    const random = createRandom(7);
    for (const length of [0, 1, 3, 4, 5, 31, 32, 33, 100, 4099, 1 << 16]) {
      for (let phase = 0; phase < 4; phase++) {
        const buffer = random.bytes(length + 3);
        const data = buffer.subarray(3);
        const original = data.slice();
        const key = random.bytes(4);
        applyMask(data, key, phase);
        applyMask(data, key, phase);
        assert.deepEqual(data, original, `length ${length}, phase ${phase}`);
      }
    }
  });

  test("applyMask accepts a key that is a subarray of a larger buffer", () => {
    const random = createRandom(9);
    const keyBuffer = hex("ff ff ff 01 02 03 04 ff");
    const key = keyBuffer.subarray(3, 7);
    for (const length of [5, 64, 1000]) {
      const data = random.bytes(length);
      const expected = referenceMask(data, hex("01 02 03 04"), 1);
      applyMask(data, key, 1);
      assert.deepEqual(data, expected, `length ${length}`);
    }
    assert.equal(toHex(keyBuffer), "ff ff ff 01 02 03 04 ff");
  });

  test("applyMask with an all-zero key leaves the data unchanged", () => {
    const data = createRandom(3).bytes(300);
    const original = data.slice();
    applyMask(data, new Uint8Array(4), 2);
    assert.deepEqual(data, original);
  });
});
