/**
 * Regression fixtures from `bench/fuzz.ts` (`deno task fuzz`) for the head
 * readers and the `Sec-WebSocket-Extensions` parser: input bytes in hex
 * (long runs built from a hex unit and a count) and the documented outcome,
 * each fed whole and in 1-byte chunks.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { HttpHeadError, HttpHeadReader } from "../../lib/http/request_head.ts";
import { HttpResponseHeadReader } from "../../lib/http/response_head.ts";
import { parseExtensionHeader } from "../../lib/core/extension_header.ts";
import { concat, hex } from "../_test_utils.ts";

/** `count` copies of the bytes of `unit` (hex). */
function run(unit: string, count: number): Uint8Array {
  const bytes = hex(unit);
  const out = new Uint8Array(bytes.length * count);
  for (let i = 0; i < count; i++) out.set(bytes, i * bytes.length);
  return out;
}

/** The two ways every fixture is fed. */
function chunkings(bytes: Uint8Array): [string, Uint8Array[]][] {
  return [
    ["whole", [bytes.slice()]],
    ["1-byte", Array.from(bytes, (byte) => Uint8Array.of(byte))],
  ];
}

/**
 * Checks that parsing `wire` costs about what parsing `control` (the same
 * length, letters instead of whitespace) costs: the backtracking the
 * fuzzer found made 16 KB of inner spaces ~100-500x slower. Best of 5, with
 * slack for a busy machine.
 */
function assertLinear(
  parse: (bytes: Uint8Array) => void,
  wire: Uint8Array,
  control: Uint8Array,
): void {
  const best = (bytes: Uint8Array): number => {
    let min = Infinity;
    for (let i = 0; i < 5; i++) {
      const start = performance.now();
      try {
        parse(bytes.slice());
      } catch {
        // Only the time matters here.
      }
      min = Math.min(min, performance.now() - start);
    }
    return min;
  };
  const ms = best(wire);
  const controlMs = best(control);
  assert.ok(
    ms < 10 * controlMs + 5,
    `took ${ms.toFixed(1)} ms, ${
      controlMs.toFixed(1)
    } ms without the whitespace`,
  );
}

interface HeadFixture {
  name: string;
  wire: Uint8Array;
  maxHeadSize?: number;
  /** `"ok"`, an HTTP status (request), or an error class name (response). */
  outcome: string;
  /** A header to check on success, and its value's length. */
  header?: [string, number];
  /** The same head with letters for the whitespace, to compare times. */
  control?: Uint8Array;
}

const REQUEST_FIXTURES: HeadFixture[] = [
  {
    // Found by the fuzzer: /(.*?)[ \t]*$/ backtracked over the run.
    name: "a field value with 8,000 spaces inside reads in linear time",
    wire: concat([
      hex("474554202f20485454502f312e310d0a 486f73743a20610d0a 583a2061"), // GET / HTTP/1.1␍␊Host: a␍␊X: a
      run("20", 8_000),
      hex("62 20 20 0d0a 0d0a"), // b, trailing OWS
    ]),
    control: concat([
      hex("474554202f20485454502f312e310d0a 486f73743a20610d0a 583a2061"),
      run("61", 8_000),
      hex("62 20 20 0d0a 0d0a"),
    ]),
    outcome: "ok",
    header: ["x", 8_002],
  },
  {
    name: "a head over maxHeadSize is a 431",
    maxHeadSize: 1024,
    wire: concat([
      hex("474554202f20485454502f312e310d0a 583a2061"),
      run("09", 16_000),
    ]),
    outcome: "431",
  },
  {
    name: "empty lines before the request line are skipped",
    wire: hex(
      "0d0a 0a 474554202f20485454502f312e310d0a 486f73743a20610d0a 0d0a",
    ),
    outcome: "ok",
  },
  {
    name: "HTTP/1.10 is a malformed version (400), not an unsupported one",
    wire: hex("474554202f20485454502f312e31300d0a 486f73743a20610d0a 0d0a"),
    outcome: "400",
  },
  {
    name: "a lowercase method is not implemented (501)",
    wire: hex("676574202f20485454502f312e310d0a 486f73743a20610d0a 0d0a"),
    outcome: "501",
  },
  {
    name: "an absolute-form target with port 99999 is a 400",
    wire: hex(
      "47455420 687474703a2f2f613a39393939392f 20485454502f312e310d0a 486f73743a20610d0a 0d0a",
    ),
    outcome: "400",
  },
  {
    name: "repeated equal Content-Length values are one value",
    wire: hex(
      "474554202f20485454502f312e310d0a 486f73743a20610d0a 436f6e74656e742d4c656e6774683a20352c20350d0a 0d0a",
    ),
    outcome: "ok",
  },
  {
    name: "different Content-Length values are a 400",
    wire: hex(
      "474554202f20485454502f312e310d0a 486f73743a20610d0a 436f6e74656e742d4c656e6774683a20352c360d0a 0d0a",
    ),
    outcome: "400",
  },
  {
    name: "a bare CR inside a field value is a 400",
    wire: hex(
      "474554202f20485454502f312e310d0a 486f73743a20610d0a 583a20610d620d0a 0d0a",
    ),
    outcome: "400",
  },
];

const RESPONSE_FIXTURES: HeadFixture[] = [
  {
    // Found by the fuzzer: the same backtracking on the client side.
    name: "a field value with 16,000 spaces inside reads in linear time",
    wire: concat([
      hex("485454502f312e3120313031200d0a 583a2061"), // HTTP/1.1 101 ␍␊X: a
      run("20", 16_000),
      hex("62 0d0a 0d0a"),
    ]),
    control: concat([
      hex("485454502f312e3120313031200d0a 583a2061"),
      run("61", 16_000),
      hex("62 0d0a 0d0a"),
    ]),
    outcome: "ok",
    header: ["x", 16_002],
  },
  {
    // And when unfolding obsolete line folding (/[ \t]*$/ on the field so far).
    name: "folded lines with 8,000 spaces inside each unfold in linear time",
    wire: concat([
      hex("485454502f312e3120313031200d0a 583a2061"),
      run("20", 8_000),
      hex("62 0d0a 2063"),
      run("20", 8_000),
      hex("64 0d0a 09 65 0d0a 0d0a"),
    ]),
    control: concat([
      hex("485454502f312e3120313031200d0a 583a2061"),
      run("61", 8_000),
      hex("62 0d0a 2063"),
      run("61", 8_000),
      hex("64 0d0a 09 65 0d0a 0d0a"),
    ]),
    outcome: "ok",
    header: ["x", 16_007],
  },
  {
    name: "a four-digit status is a SyntaxError",
    wire: hex("485454502f312e312031303030204269670d0a 0d0a"),
    outcome: "SyntaxError",
  },
  {
    name: "a peer that does not answer HTTP is a SyntaxError",
    wire: hex("49435920323030204f4b0d0a 0d0a"),
    outcome: "SyntaxError",
  },
  {
    name: "a head over maxHeadSize is a RangeError",
    maxHeadSize: 64,
    wire: concat([
      hex("485454502f312e3120313031200d0a 583a20"),
      run("61", 100),
    ]),
    outcome: "RangeError",
  },
];

function pushAll<T>(
  chunks: Uint8Array[],
  push: (chunk: Uint8Array) => T | null,
): T | null {
  for (const chunk of chunks) {
    const head = push(chunk);
    if (head !== null) return head;
  }
  return null;
}

describe("HttpHeadReader fuzz regressions", () => {
  for (const fixture of REQUEST_FIXTURES) {
    for (const [how, chunks] of chunkings(fixture.wire)) {
      test(`${fixture.name} (${how})`, () => {
        const reader = new HttpHeadReader(
          fixture.maxHeadSize === undefined
            ? {}
            : { maxHeadSize: fixture.maxHeadSize },
        );
        let outcome: string;
        let headers: Headers | null = null;
        try {
          const head = pushAll(chunks, (chunk) => reader.push(chunk));
          outcome = head === null ? "incomplete" : "ok";
          headers = head?.request.headers ?? null;
        } catch (error) {
          assert.ok(error instanceof HttpHeadError);
          outcome = String(error.status);
        }
        assert.equal(outcome, fixture.outcome);
        if (fixture.header !== undefined) {
          const [name, length] = fixture.header;
          assert.equal(headers?.get(name)?.length, length);
        }
        if (how === "whole" && fixture.control !== undefined) {
          assertLinear(
            (bytes) => new HttpHeadReader().push(bytes),
            fixture.wire,
            fixture.control,
          );
        }
      });
    }
  }
});

describe("HttpResponseHeadReader fuzz regressions", () => {
  for (const fixture of RESPONSE_FIXTURES) {
    for (const [how, chunks] of chunkings(fixture.wire)) {
      test(`${fixture.name} (${how})`, () => {
        const reader = new HttpResponseHeadReader(
          fixture.maxHeadSize === undefined
            ? {}
            : { maxHeadSize: fixture.maxHeadSize },
        );
        let outcome: string;
        let headers: Headers | null = null;
        try {
          const head = pushAll(chunks, (chunk) => reader.push(chunk));
          outcome = head === null ? "incomplete" : "ok";
          headers = head?.headers ?? null;
        } catch (error) {
          assert.ok(
            error instanceof SyntaxError || error instanceof RangeError,
          );
          outcome = error.name;
        }
        assert.equal(outcome, fixture.outcome);
        if (fixture.header !== undefined) {
          const [name, length] = fixture.header;
          assert.equal(headers?.get(name)?.length, length);
        }
        if (how === "whole" && fixture.control !== undefined) {
          assertLinear(
            (bytes) => new HttpResponseHeadReader().push(bytes),
            fixture.wire,
            fixture.control,
          );
        }
      });
    }
  }
});

const EXTENSION_FIXTURES: { name: string; header: string; outcome: string }[] =
  [
    {
      name: "a quoted value with an escape unquotes to a token",
      header: 'a; b="c\\d"',
      outcome: '[{"name":"a","params":[{"name":"b","value":"cd"}]}]',
    },
    { name: "an empty quoted value", header: 'a;b=""', outcome: "SyntaxError" },
    { name: "a lone quote", header: '"', outcome: "SyntaxError" },
    {
      name: "20,000 spaces between elements parse in linear time",
      header: `a,${" ".repeat(20_000)}b ;c`,
      outcome:
        '[{"name":"a","params":[]},{"name":"b","params":[{"name":"c","value":null}]}]',
    },
    {
      name: "a non-Latin-1 character",
      header: "permessage-deflate; \u0101",
      outcome: "SyntaxError",
    },
  ];

describe("parseExtensionHeader fuzz regressions", () => {
  for (const fixture of EXTENSION_FIXTURES) {
    test(fixture.name, () => {
      let outcome: string;
      try {
        outcome = JSON.stringify(parseExtensionHeader(fixture.header));
      } catch (error) {
        assert.ok(error instanceof SyntaxError);
        outcome = "SyntaxError";
      }
      assert.equal(outcome, fixture.outcome);
    });
  }
});
