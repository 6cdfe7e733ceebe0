import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  encodeCloseBody,
  isValidCloseCode,
} from "../../lib/core/close_code.ts";

describe("close codes", () => {
  test("isValidCloseCode accepts exactly 1000-1003, 1007-1014 and 3000-4999", () => {
    const valid: number[] = [];
    for (let code = 0; code <= 70000; code++) {
      if (isValidCloseCode(code)) valid.push(code);
    }
    const expected = [
      1000,
      1001,
      1002,
      1003,
      ...Array.from({ length: 8 }, (_, i) => 1007 + i),
      ...Array.from({ length: 2000 }, (_, i) => 3000 + i),
    ];
    assert.deepEqual(valid, expected);
  });

  test("encodeCloseBody writes the code big-endian followed by the UTF-8 reason", () => {
    assert.deepEqual(
      [...encodeCloseBody(4001, "é")],
      [0x0f, 0xa1, 0xc3, 0xa9],
    );
    assert.equal(encodeCloseBody().length, 0);
    assert.equal(encodeCloseBody(1000, "x".repeat(123)).length, 125);
  });

  for (
    const [name, code, reason] of [
      ["reserved code 1005", 1005, ""],
      ["reserved code 1006", 1006, ""],
      ["unassigned code 2000", 2000, ""],
      ["out-of-range code 5000", 5000, ""],
      ["fractional code 1000.5", 1000.5, ""],
      ["a reason without a code", undefined, "why"],
      ["a 124-byte reason", 1000, "x".repeat(124)],
      ["a 62 x 2-byte reason (124 bytes)", 1000, "é".repeat(62)],
    ] as const
  ) {
    test(`encodeCloseBody refuses ${name} with RangeError`, () => {
      assert.throws(() => encodeCloseBody(code, reason), RangeError);
    });
  }
});
