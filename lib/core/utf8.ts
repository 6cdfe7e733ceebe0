/**
 * Streaming UTF-8 validation that fails at the first impossible byte
 * (RFC 3629 §4, as required for text messages by RFC 6455 §8.1).
 *
 * @module
 */

// Byte classes and transitions of Björn Höhrmann's UTF-8 DFA
// (http://bjoern.hoehrmann.de/utf-8/decoder/dfa/), states pre-multiplied by 12.
// State 0 accepts, state 12 rejects; anything else is inside a sequence.
// deno-fmt-ignore
const BYTE_CLASS = new Uint8Array([
  0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
  0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
  0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
  0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
  1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,9,9,9,9,9,9,9,9,9,9,9,9,9,9,9,9,
  7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,
  8,8,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,
  10,3,3,3,3,3,3,3,3,3,3,3,3,4,3,3,11,6,6,6,5,8,8,8,8,8,8,8,8,8,8,8,
]);
// deno-fmt-ignore
const TRANSITION = new Uint8Array([
  0,12,24,36,60,96,84,12,12,12,48,72, 12,12,12,12,12,12,12,12,12,12,12,12,
  12,0,12,12,12,12,12,0,12,0,12,12, 12,24,12,12,12,12,12,24,12,24,12,12,
  12,12,12,12,12,12,12,24,12,12,12,12, 12,24,12,12,12,12,12,12,12,24,12,12,
  12,12,12,12,12,12,12,36,12,36,12,12, 12,36,12,12,12,12,12,36,12,36,12,12,
  12,36,12,12,12,12,12,12,12,12,12,12,
]);

const ACCEPT = 0;
const REJECT = 12;

/**
 * Validates UTF-8 incrementally, across any split of the input, and reports
 * an error at the first byte that cannot continue a valid sequence: an
 * overlong form, a surrogate, a code point above U+10FFFF or a stray
 * continuation byte is rejected as soon as it is seen, not at the end.
 *
 * @example Fail fast inside a split message
 * ```ts
 * import { Utf8Validator } from "@wstream/wstream/core";
 * import assert from "node:assert/strict";
 *
 * const validator = new Utf8Validator();
 * assert.equal(validator.push(new Uint8Array([0xce, 0xba, 0xe1])), true);
 * assert.equal(validator.complete, false); // inside a 3-byte sequence
 * assert.equal(validator.push(new Uint8Array([0xbd, 0xb9])), true);
 * assert.equal(validator.complete, true);
 * assert.equal(validator.push(new Uint8Array([0xf4, 0x90])), false); // > U+10FFFF
 * ```
 */
export class Utf8Validator {
  #state = ACCEPT;

  /**
   * Feeds the next bytes.
   *
   * @param bytes The next part of the text.
   * @returns `false` as soon as the input so far cannot be valid UTF-8
   * whatever follows; `true` otherwise. After `false` the validator stays
   * failed until {@linkcode Utf8Validator.reset}.
   */
  push(bytes: Uint8Array): boolean {
    let state = this.#state;
    if (state === REJECT) return false;
    let i = 0;
    const length = bytes.length;
    while (i < length) {
      // ASCII run: only valid while no sequence is open.
      if (state === ACCEPT) {
        while (i < length && bytes[i]! < 0x80) i++;
        if (i === length) break;
      }
      state = TRANSITION[state + BYTE_CLASS[bytes[i]!]!]!;
      if (state === REJECT) {
        this.#state = REJECT;
        return false;
      }
      i++;
    }
    this.#state = state;
    return true;
  }

  /** `true` when the bytes so far end on a character boundary and are valid. */
  get complete(): boolean {
    return this.#state === ACCEPT;
  }

  /** Forgets all input, ready for a new text. */
  reset(): void {
    this.#state = ACCEPT;
  }
}

/**
 * Tells whether `bytes` is complete, valid UTF-8.
 *
 * @param bytes The bytes to check.
 * @returns `true` for valid UTF-8 that ends on a character boundary.
 *
 * @example Check a close reason
 * ```ts
 * import { isValidUtf8 } from "@wstream/wstream/core";
 * import assert from "node:assert/strict";
 *
 * assert.equal(isValidUtf8(new TextEncoder().encode("κόσμε")), true);
 * assert.equal(isValidUtf8(new Uint8Array([0xed, 0xa0, 0x80])), false); // surrogate
 * ```
 */
export function isValidUtf8(bytes: Uint8Array): boolean {
  const validator = new Utf8Validator();
  return validator.push(bytes) && validator.complete;
}
