import { test } from "node:test";
import assert from "node:assert/strict";
import { ByteAccumulator } from "../../lib/core/_byte_accumulator.ts";
import { concat, createRandom } from "../_test_utils.ts";

test("ByteAccumulator joins any mix of small and large pieces, in order, into one exact buffer", () => {
  const random = createRandom(0xacc);
  const accumulator = new ByteAccumulator();
  for (let round = 0; round < 40; round++) {
    const pieces = Array.from(
      { length: 1 + random.int(30) },
      () =>
        random.bytes(
          random.pick([0, 1, 7, 100, 4000, 16_383, 16_384, 20_000, 70_000]),
        ),
    );
    for (const piece of pieces) accumulator.push(piece);
    const expected = concat(pieces);
    assert.equal(accumulator.length, expected.length);
    const joined = accumulator.take();
    assert.deepEqual(joined, expected, `round ${round}`);
    assert.equal(joined.buffer.byteLength >= joined.length, true);
    assert.equal(accumulator.length, 0);
  }
});

test("ByteAccumulator returns a single piece without copying it, and an empty buffer when empty", () => {
  const accumulator = new ByteAccumulator();
  assert.equal(accumulator.take().length, 0);
  const piece = new Uint8Array([1, 2, 3]);
  accumulator.push(piece);
  accumulator.push(new Uint8Array(0));
  assert.equal(accumulator.take(), piece);
});

test("ByteAccumulator copies small pieces instead of keeping the chunks they came in", () => {
  const accumulator = new ByteAccumulator();
  const chunk = new Uint8Array(65_536).fill(9);
  accumulator.push(new Uint8Array([1]));
  for (let i = 0; i < 100; i++) accumulator.push(chunk.subarray(i, i + 1));
  const joined = accumulator.take();
  assert.equal(joined.length, 101);
  assert.notEqual(joined.buffer, chunk.buffer);
  assert.deepEqual([...joined.subarray(0, 3)], [1, 9, 9]);
});
