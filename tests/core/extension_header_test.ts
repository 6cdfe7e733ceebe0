import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  type ExtensionElement,
  formatExtensionHeader,
  isToken,
  parseExtensionHeader,
} from "../../lib/core/extension_header.ts";

const p = (name: string, value: string | null = null) => ({ name, value });

/** Valid headers and what they parse to. */
const VALID: [string | string[] | null, ExtensionElement[]][] = [
  [null, []],
  ["", []],
  [" , ,\t", []],
  ["permessage-deflate", [{ name: "permessage-deflate", params: [] }]],
  ["permessage-deflate; client_max_window_bits", [{
    name: "permessage-deflate",
    params: [p("client_max_window_bits")],
  }]],
  // RFC 7692 §5.1 example: several offers, a quoted value, OWS everywhere.
  [
    'permessage-deflate ;  client_max_window_bits = 10 ,  Permessage-Deflate; SERVER_max_window_bits="10"; x=Ab',
    [
      {
        name: "permessage-deflate",
        params: [p("client_max_window_bits", "10")],
      },
      {
        name: "permessage-deflate",
        params: [p("server_max_window_bits", "10"), p("x", "Ab")],
      },
    ],
  ],
  // Repeated parameters are kept for the negotiation to judge.
  ["a; b; b=1", [{ name: "a", params: [p("b"), p("b", "1")] }]],
  // Several header lines.
  [["a; b=1", "c"], [{ name: "a", params: [p("b", "1")] }, {
    name: "c",
    params: [],
  }]],
  // A quoted-pair unescapes to a token character.
  ['a; b="1\\0"', [{ name: "a", params: [p("b", "10")] }]],
  ["a,,b", [{ name: "a", params: [] }, { name: "b", params: [] }]],
];

/** Malformed headers and a fragment of their message. */
const INVALID: [string, RegExp][] = [
  ["a;", /expected a parameter name of "a", found the end/],
  ["a; =1", /expected a parameter name of "a", found "=" at offset 3/],
  ["a; b=", /expected a value for "b", found the end/],
  ["a b", /expected ";" or "," after "a", found "b" at offset 2/],
  ["; a", /expected an extension name, found ";" at offset 0/],
  ['a; b="10', /unterminated quoted value of "b"/],
  ['a; b="1 0"', /must be a token once unquoted.*" " at offset 7/],
  ['a; b=""', /quoted value of "b" is empty/],
  ['a; b="1\\', /unterminated quoted value/],
  ["a; b=1=2", /expected ";" or "," after "a", found "=" at offset 6/],
  ["pérmessage", /expected ";" or "," after "p", found "é"/],
  ["a; b=\u0000", /expected a value for "b", found "\\u0000"/],
  ['a; "b"', /expected a parameter name/],
];

describe("parseExtensionHeader", () => {
  for (const [header, expected] of VALID) {
    it(`parses ${JSON.stringify(header)}`, () => {
      assert.deepEqual(parseExtensionHeader(header), expected);
    });
  }
  for (const [header, message] of INVALID) {
    it(`rejects ${JSON.stringify(header)} with a SyntaxError`, () => {
      assert.throws(
        () => parseExtensionHeader(header),
        (error: unknown) =>
          error instanceof SyntaxError && message.test(error.message),
      );
    });
  }

  it("round-trips through formatExtensionHeader", () => {
    for (const [header, expected] of VALID) {
      if (header === null) continue;
      assert.deepEqual(
        parseExtensionHeader(formatExtensionHeader(expected)),
        expected,
      );
    }
  });

  it("quotes at most 64 characters of a hostile header in its message", () => {
    const header = "a b" + "x".repeat(10_000);
    assert.throws(() => parseExtensionHeader(header), (error: Error) => {
      assert.ok(error.message.length < 200, error.message);
      return true;
    });
  });

  it("parses 100 KB hostile headers in linear time", () => {
    // Each of these is quadratic (or worse) for a backtracking regex or a
    // parser that rescans: at 100 KB that would take minutes, not ms.
    const n = 100_000;
    const cases: [string, number | null][] = [
      ["a;".repeat(n / 2) + "b", 1],
      ["a, ".repeat(n / 3), Math.floor(n / 3)],
      [" ".repeat(n), 0],
      [",".repeat(n), 0],
      ["a" + "; b".repeat(n / 3), 1],
      ["a; b=" + "c".repeat(n), 1],
      ['a; b="' + "\\c".repeat(n / 2) + '"', 1],
      ["a" + " ".repeat(n) + "b", null],
      ['a; b="' + "c".repeat(n), null],
      ["a; b=" + "=".repeat(n), null],
      ["a" + " ;".repeat(n / 2), null],
    ];
    for (const [header, elements] of cases) {
      if (elements === null) {
        assert.throws(() => parseExtensionHeader(header), SyntaxError);
      } else {
        assert.equal(parseExtensionHeader(header).length, elements);
      }
    }
    // Work counted, not timed: 1 MB of the worst case must take about ten
    // times 100 KB, so run it 10x larger and check it still completes with
    // the right answer.
    const big = "a; b".repeat(250_000);
    assert.equal(parseExtensionHeader(big)[0]!.params.length, 250_000 * 1);
  });
});

describe("formatExtensionHeader", () => {
  it("writes elements and parameters with and without values", () => {
    assert.equal(
      formatExtensionHeader([
        { name: "permessage-deflate", params: [p("a"), p("b", "1")] },
        { name: "x", params: [] },
      ]),
      "permessage-deflate; a; b=1, x",
    );
    assert.equal(formatExtensionHeader([]), "");
  });

  it("throws a SyntaxError for a name or value that is not a token", () => {
    for (
      const element of [
        { name: "a b", params: [] },
        { name: "a", params: [p("b c")] },
        { name: "a", params: [p("b", "")] },
        { name: "a", params: [p("b", '"1"')] },
      ]
    ) {
      assert.throws(() => formatExtensionHeader([element]), SyntaxError);
    }
  });

  it("isToken accepts RFC 7230 tokens only", () => {
    assert.ok(isToken("!#$%&'*+-.^_`|~09AZaz"));
    for (const bad of ["", " ", "a,b", "a;b", 'a"', "é", "a=b", "a\u007f"]) {
      assert.equal(isToken(bad), false, bad);
    }
  });
});
