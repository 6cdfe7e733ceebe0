import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  BodyDecoder,
  type BodyFraming,
  HttpBodyError,
  MAX_CHUNK_LINE,
  requestBodyFraming,
} from "../../lib/http/_request_body.ts";
import { concat, fromLatin1, latin1 } from "../_test_utils.ts";

/** Decodes `wire` whole and in 1-byte pieces; both must agree. */
function decode(
  framing: Exclude<BodyFraming, { kind: "none" }>,
  wire: string,
  maxBodySize = 1 << 20,
): { body: string; rest: string | null } {
  const results = [];
  for (const size of [wire.length || 1, 1]) {
    const decoder = new BodyDecoder(framing, maxBodySize);
    const out: Uint8Array[] = [];
    let rest: Uint8Array | null = null;
    const bytes = latin1(wire);
    for (let i = 0; i < bytes.length && rest === null; i += size) {
      rest = decoder.push(bytes.slice(i, i + size), out);
      if (rest !== null) {
        rest = concat([rest, bytes.subarray(i + size)]);
      }
    }
    results.push({
      body: fromLatin1(concat(out)),
      rest: rest === null ? null : fromLatin1(rest),
    });
  }
  assert.deepEqual(results[0], results[1]);
  return results[0]!;
}

function status(fn: () => unknown): number {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof HttpBodyError, String(error));
    return error.status;
  }
  assert.fail("expected an HttpBodyError");
}

describe("requestBodyFraming", () => {
  const headers = (init: Record<string, string>) => new Headers(init);
  it("reads Content-Length, chunked, or no body", () => {
    assert.deepEqual(requestBodyFraming(headers({}), false, 10), {
      kind: "none",
    });
    assert.deepEqual(
      requestBodyFraming(headers({ "content-length": "0" }), false, 10),
      { kind: "none" },
    );
    assert.deepEqual(
      requestBodyFraming(headers({ "content-length": "7" }), false, 10),
      { kind: "length", length: 7 },
    );
    assert.deepEqual(
      requestBodyFraming(
        headers({ "transfer-encoding": "Chunked" }),
        false,
        10,
      ),
      { kind: "chunked" },
    );
  });

  it("refuses what RFC 9112 §6 makes ambiguous, with the status to answer", () => {
    const cases: [Record<string, string>, boolean, number][] = [
      [{ "content-length": "11" }, false, 413],
      [{ "content-length": "99999999999999999999" }, false, 413],
      [{ "transfer-encoding": "chunked", "content-length": "3" }, false, 400],
      [{ "transfer-encoding": "gzip" }, false, 400],
      [{ "transfer-encoding": "chunked, gzip" }, false, 400],
      [{ "transfer-encoding": "chunked, chunked" }, false, 400],
      [{ "transfer-encoding": "gzip, chunked" }, false, 501],
      [{ "transfer-encoding": "chunked" }, true, 400],
    ];
    for (const [init, http10, expected] of cases) {
      assert.equal(
        status(() => requestBodyFraming(headers(init), http10, 10)),
        expected,
        JSON.stringify(init),
      );
    }
  });
});

describe("BodyDecoder", () => {
  it("decodes a Content-Length body and returns the bytes after it", () => {
    assert.deepEqual(
      decode({ kind: "length", length: 5 }, "helloGET / HTTP/1.1"),
      { body: "hello", rest: "GET / HTTP/1.1" },
    );
    assert.deepEqual(decode({ kind: "length", length: 5 }, "hel"), {
      body: "hel",
      rest: null,
    });
  });

  it("decodes chunked bodies: extensions ignored, trailers discarded", () => {
    assert.deepEqual(
      decode(
        { kind: "chunked" },
        "5;name=value\r\nhello\r\nA \t; x\r\n, world!!!\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT",
      ),
      { body: "hello, world!!!", rest: "NEXT" },
    );
    assert.deepEqual(decode({ kind: "chunked" }, "0\r\n\r\n"), {
      body: "",
      rest: "",
    });
    assert.deepEqual(decode({ kind: "chunked" }, "3\r\nabc\r\n"), {
      body: "abc",
      rest: null,
    });
  });

  it("rejects malformed chunked bodies with 400, whole and byte by byte", () => {
    const bad = [
      "zz\r\nabc\r\n0\r\n\r\n", // Not hex.
      "-1\r\n", // Not hex.
      " 3\r\nabc\r\n", // Leading space.
      "0x3\r\nabc\r\n", // A prefix.
      "3\nabc\r\n", // Bare LF.
      "3\r\nabcX\r\n", // Data longer than its size.
      "3\r\nab\rc\r\n0\r\n\r\n".replace("ab\rc", "abcd"), // Same, CR elsewhere.
      "3;\x01\r\nabc\r\n", // A control character in an extension.
      `${"0".repeat(MAX_CHUNK_LINE)}3\r\n`, // A size line too long.
      "3\r\nabc\r\n0\r\nbad trailer\r\n\r\n",
      "3\r\nabc\r\n0\r\nA: b\r\r\n\r\n",
    ];
    for (const wire of bad) {
      for (const size of [wire.length, 1]) {
        const decoder = new BodyDecoder({ kind: "chunked" }, 1 << 20);
        const bytes = latin1(wire);
        assert.equal(
          status(() => {
            for (let i = 0; i < bytes.length; i += size) {
              decoder.push(bytes.slice(i, i + size), []);
            }
          }),
          400,
          JSON.stringify(wire),
        );
      }
    }
  });

  it("fails a chunked body with 413 once its announced sizes exceed maxBodySize", () => {
    const decoder = new BodyDecoder({ kind: "chunked" }, 10);
    const out: Uint8Array[] = [];
    decoder.push(latin1("6\r\nabcdef\r\n"), out);
    assert.equal(
      status(() => decoder.push(latin1("5\r\n"), out)),
      413,
    );
    // Before a byte of the too-large chunk was taken.
    assert.equal(fromLatin1(concat(out)), "abcdef");
    const huge = new BodyDecoder({ kind: "chunked" }, 10);
    assert.equal(
      status(() => huge.push(latin1("ffffffffffffffff\r\n"), [])),
      413,
    );
  });

  it("reports an incomplete body at the end of input with 400", () => {
    const decoder = new BodyDecoder({ kind: "length", length: 4 }, 10);
    decoder.push(latin1("ab"), []);
    assert.equal(status(() => decoder.end()), 400);
  });
});
