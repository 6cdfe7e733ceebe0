import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { isValidUtf8, Utf8Validator } from "../../lib/core/utf8.ts";
import { createRandom, hex, type Random } from "../_test_utils.ts";

interface Sample {
  name: string;
  bytes: string;
  /**
   * `"valid"`: complete, valid UTF-8. `"incomplete"`: valid so far but ends
   * inside a sequence. A number: invalid, and that is the index of the first
   * byte that no valid text can continue with.
   */
  expect: "valid" | "incomplete" | number;
}

const SAMPLES: readonly Sample[] = [
  { name: "the empty string", bytes: "", expect: "valid" },
  { name: "ASCII", bytes: "48 65 6c 6c 6f", expect: "valid" },
  { name: "U+0000 and U+007F", bytes: "00 7f", expect: "valid" },
  { name: "κόσμε", bytes: "ce ba e1 bd b9 cf 83 ce bc ce b5", expect: "valid" },
  { name: "2-byte min U+0080", bytes: "c2 80", expect: "valid" },
  { name: "2-byte max U+07FF", bytes: "df bf", expect: "valid" },
  { name: "3-byte min U+0800", bytes: "e0 a0 80", expect: "valid" },
  { name: "U+D7FF before the surrogates", bytes: "ed 9f bf", expect: "valid" },
  { name: "U+E000 after the surrogates", bytes: "ee 80 80", expect: "valid" },
  { name: "BOM U+FEFF", bytes: "ef bb bf", expect: "valid" },
  { name: "U+FFFE", bytes: "ef bf be", expect: "valid" },
  { name: "U+FFFF", bytes: "ef bf bf", expect: "valid" },
  { name: "4-byte min U+10000", bytes: "f0 90 80 80", expect: "valid" },
  { name: "U+1F600", bytes: "f0 9f 98 80", expect: "valid" },
  { name: "4-byte max U+10FFFF", bytes: "f4 8f bf bf", expect: "valid" },
  { name: "overlong NUL C0 80", bytes: "c0 80", expect: 0 },
  { name: "overlong C1 BF", bytes: "c1 bf", expect: 0 },
  { name: "overlong 3-byte E0 80 80", bytes: "e0 80 80", expect: 1 },
  { name: "overlong 3-byte max E0 9F BF", bytes: "e0 9f bf", expect: 1 },
  { name: "overlong 4-byte F0 80 80 80", bytes: "f0 80 80 80", expect: 1 },
  { name: "overlong 4-byte max F0 8F BF BF", bytes: "f0 8f bf bf", expect: 1 },
  { name: "high surrogate ED A0 80", bytes: "ed a0 80", expect: 1 },
  { name: "low surrogate ED BF BF", bytes: "ed bf bf", expect: 1 },
  {
    name: "surrogate pair ED A0 BD ED B2 A9",
    bytes: "ed a0 bd ed b2 a9",
    expect: 1,
  },
  { name: "U+110000 F4 90 80 80", bytes: "f4 90 80 80", expect: 1 },
  { name: "F5 lead byte", bytes: "f5 80 80 80", expect: 0 },
  { name: "F7 lead byte", bytes: "f7 bf bf bf", expect: 0 },
  { name: "5-byte F8 88 80 80 80", bytes: "f8 88 80 80 80", expect: 0 },
  { name: "6-byte FC 84 80 80 80 80", bytes: "fc 84 80 80 80 80", expect: 0 },
  { name: "FE", bytes: "fe", expect: 0 },
  { name: "FF", bytes: "ff", expect: 0 },
  { name: "a stray continuation 80", bytes: "80", expect: 0 },
  { name: "a stray continuation BF after ASCII", bytes: "41 42 bf", expect: 2 },
  {
    name: "a continuation after a complete character",
    bytes: "ce ba 80",
    expect: 2,
  },
  { name: "ASCII inside a 2-byte sequence", bytes: "c3 28", expect: 1 },
  { name: "ASCII inside a 3-byte sequence", bytes: "e2 82 41", expect: 2 },
  { name: "ASCII inside a 4-byte sequence", bytes: "f0 9f 98 41", expect: 3 },
  { name: "a lead byte inside a sequence", bytes: "e2 c3 a9", expect: 1 },
  {
    name: "an error after valid multi-byte text",
    bytes: "ce ba e1 bd b9 cf 83 ce bc ce b5 ed a0 80 65 64 69 74 65 64",
    expect: 12,
  },
  { name: "truncated 2-byte C3", bytes: "c3", expect: "incomplete" },
  { name: "truncated 3-byte E2 82", bytes: "e2 82", expect: "incomplete" },
  { name: "truncated 3-byte E0 A0", bytes: "e0 a0", expect: "incomplete" },
  { name: "truncated 3-byte ED 9F", bytes: "ed 9f", expect: "incomplete" },
  {
    name: "truncated 4-byte F0 9F 98",
    bytes: "f0 9f 98",
    expect: "incomplete",
  },
  {
    name: "truncated 4-byte max F4 8F BF",
    bytes: "f4 8f bf",
    expect: "incomplete",
  },
  { name: "truncated after text", bytes: "48 69 f0", expect: "incomplete" },
];

function describeExpect(expect: Sample["expect"]): string {
  return typeof expect === "number" ? `invalid at byte ${expect}` : expect;
}

describe("Utf8Validator", () => {
  for (const { name, bytes, expect } of SAMPLES) {
    test(`Utf8Validator reports ${name} as ${describeExpect(expect)} when pushed whole`, () => {
      const validator = new Utf8Validator();
      const ok = validator.push(hex(bytes));
      assert.equal(ok, typeof expect !== "number");
      assert.equal(validator.complete, expect === "valid");
    });

    test(`Utf8Validator reports ${name} as ${describeExpect(expect)} byte by byte`, () => {
      const validator = new Utf8Validator();
      const input = hex(bytes);
      const failAt = typeof expect === "number" ? expect : input.length;
      for (let i = 0; i < input.length; i++) {
        const ok = validator.push(input.subarray(i, i + 1));
        // Fail fast: true up to the first impossible byte, false from it on.
        assert.equal(ok, i < failAt, `push of byte ${i}`);
      }
      assert.equal(validator.complete, expect === "valid");
    });
  }

  test("Utf8Validator stays failed until reset", () => {
    const validator = new Utf8Validator();
    assert.equal(validator.push(hex("c0 80")), false);
    assert.equal(validator.push(hex("41")), false);
    assert.equal(validator.push(new Uint8Array(0)), false);
    assert.equal(validator.complete, false);
    validator.reset();
    assert.equal(validator.complete, true);
    assert.equal(validator.push(hex("41 ce ba")), true);
    assert.equal(validator.complete, true);
  });

  test("Utf8Validator reset forgets an open sequence", () => {
    const validator = new Utf8Validator();
    assert.equal(validator.push(hex("e2 82")), true);
    assert.equal(validator.complete, false);
    validator.reset();
    assert.equal(validator.complete, true);
    assert.equal(validator.push(hex("41")), true);
    assert.equal(validator.complete, true);
  });

  test("Utf8Validator accepts an empty push inside a sequence", () => {
    const validator = new Utf8Validator();
    assert.equal(validator.push(hex("f0 9f")), true);
    assert.equal(validator.push(new Uint8Array(0)), true);
    assert.equal(validator.complete, false);
    assert.equal(validator.push(hex("98 80")), true);
    assert.equal(validator.complete, true);
  });

  test("Utf8Validator accepts a long ASCII run followed by an astral character", () => {
    const validator = new Utf8Validator();
    const text = "a".repeat(10_000) + "\u{10FFFF}";
    assert.equal(validator.push(new TextEncoder().encode(text)), true);
    assert.equal(validator.complete, true);
  });
});

describe("isValidUtf8", () => {
  for (const { name, bytes, expect } of SAMPLES) {
    test(`isValidUtf8 returns ${expect === "valid"} for ${name}`, () => {
      assert.equal(isValidUtf8(hex(bytes)), expect === "valid");
    });
  }
});

/** Bytes biased toward the interesting corners of UTF-8. */
const INTERESTING_BYTES = [
  0x00,
  0x41,
  0x7f,
  0x80,
  0x8f,
  0x90,
  0x9f,
  0xa0,
  0xbf,
  0xc0,
  0xc1,
  0xc2,
  0xdf,
  0xe0,
  0xe1,
  0xec,
  0xed,
  0xee,
  0xef,
  0xf0,
  0xf1,
  0xf3,
  0xf4,
  0xf5,
  0xf8,
  0xfe,
  0xff,
] as const;

/** A random code point that is not a surrogate, biased toward boundaries. */
function randomCodePoint(random: Random): number {
  switch (random.int(5)) {
    case 0:
      return random.int(0x80);
    case 1:
      return 0x80 + random.int(0x800 - 0x80);
    case 2: {
      const codePoint = 0x800 + random.int(0x10000 - 0x800);
      return codePoint >= 0xd800 && codePoint <= 0xdfff ? 0xfffd : codePoint;
    }
    case 3:
      return 0x10000 + random.int(0x110000 - 0x10000);
    default:
      return random.pick([
        0x7f,
        0x80,
        0x7ff,
        0x800,
        0xd7ff,
        0xe000,
        0xfeff,
        0xffff,
        0x10000,
        0x10ffff,
      ]);
  }
}

/** A short byte string: mostly valid characters, with mutations. */
function randomUtf8ish(random: Random): Uint8Array {
  const encoder = new TextEncoder();
  const bytes: number[] = [];
  const tokens = random.int(8);
  for (let t = 0; t < tokens; t++) {
    const kind = random.int(10);
    if (kind < 6) {
      bytes.push(
        ...encoder.encode(String.fromCodePoint(randomCodePoint(random))),
      );
    } else if (kind < 8) {
      bytes.push(random.pick(INTERESTING_BYTES));
    } else if (kind < 9) {
      bytes.push(random.int(256));
    } else if (bytes.length > 0) {
      bytes.pop(); // truncate a sequence
    }
  }
  // Sometimes flip one byte of otherwise valid text.
  if (bytes.length > 0 && random.int(4) === 0) {
    bytes[random.int(bytes.length)] = random.pick(INTERESTING_BYTES);
  }
  return Uint8Array.from(bytes);
}

function referenceIsValid(bytes: Uint8Array): boolean {
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

describe("Utf8Validator and isValidUtf8 against TextDecoder", () => {
  test("Utf8Validator and isValidUtf8 agree with a fatal TextDecoder on 5,000 random byte strings (seed 0x75746638)", () => {
    const random = createRandom(0x75746638);
    let valid = 0;
    for (let n = 0; n < 5_000; n++) {
      const bytes = randomUtf8ish(random);
      const expected = referenceIsValid(bytes);
      if (expected) valid++;
      const label = `[${Array.from(bytes, (byte) => byte.toString(16))}]`;

      assert.equal(isValidUtf8(bytes), expected, `isValidUtf8 ${label}`);

      const whole = new Utf8Validator();
      assert.equal(
        whole.push(bytes) && whole.complete,
        expected,
        `whole ${label}`,
      );

      const split = random.int(bytes.length + 1);
      const twoPieces = new Utf8Validator();
      const okFirst = twoPieces.push(bytes.subarray(0, split));
      const ok = okFirst && twoPieces.push(bytes.subarray(split));
      assert.equal(
        ok && twoPieces.complete,
        expected,
        `split at ${split} ${label}`,
      );
    }
    // The generator must exercise both outcomes.
    assert.ok(valid > 1_000 && valid < 4_000, `${valid} of 5000 valid`);
  });

  test("Utf8Validator fails at the same byte as a streaming fatal TextDecoder on 5,000 random byte strings (seed 0x66617374)", () => {
    // The WHATWG UTF-8 decoder also rejects at the first byte that cannot
    // continue a valid sequence, so the two must fail at the same index.
    const random = createRandom(0x66617374);
    for (let n = 0; n < 5_000; n++) {
      const bytes = randomUtf8ish(random);
      const label = `[${Array.from(bytes, (byte) => byte.toString(16))}]`;
      const decoder = new TextDecoder("utf-8", { fatal: true });
      const validator = new Utf8Validator();
      for (let i = 0; i < bytes.length; i++) {
        let expected = true;
        try {
          decoder.decode(bytes.subarray(i, i + 1), { stream: true });
        } catch {
          expected = false;
        }
        assert.equal(
          validator.push(bytes.subarray(i, i + 1)),
          expected,
          `byte ${i} of ${label}`,
        );
        if (!expected) break;
      }
    }
  });
});
