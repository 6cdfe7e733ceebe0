import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { HttpHeadError, HttpHeadReader } from "../../lib/http/request_head.ts";
import type {
  HttpHead,
  HttpHeadReaderOptions,
} from "../../lib/http/request_head.ts";
import { latin1, pushInChunks } from "../_test_utils.ts";

const encoder = new TextEncoder();

/** Pushes `bytes` in chunks of `size` (Infinity: whole), stopping at a head. */
function read(
  bytes: Uint8Array,
  size: number,
  options?: HttpHeadReaderOptions,
): HttpHead | null {
  return pushInChunks(new HttpHeadReader(options), bytes, size);
}

const CHUNKINGS = [["whole", Infinity], ["1-byte chunks", 1]] as const;

interface GoodCase {
  name: string;
  head: string;
  method: string;
  url: string;
  headers?: Record<string, string>;
  rest?: string;
  options?: HttpHeadReaderOptions;
}

const GOOD: GoodCase[] = [
  {
    name: "a WebSocket upgrade request (RFC 6455 §1.2)",
    head: "GET /chat HTTP/1.1\r\nHost: server.example.com\r\n" +
      "Upgrade: websocket\r\nConnection: Upgrade\r\n" +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
      "Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n" +
      "Sec-WebSocket-Version: 13\r\n\r\n",
    method: "GET",
    url: "http://server.example.com/chat",
    headers: {
      upgrade: "websocket",
      connection: "Upgrade",
      "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
      "sec-websocket-protocol": "chat, superchat",
      "sec-websocket-version": "13",
    },
  },
  {
    name: "a Host with a port and a query string",
    head: "GET /a/b?x=1&y=%20 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n",
    method: "GET",
    url: "http://127.0.0.1:8080/a/b?x=1&y=%20",
  },
  {
    name: "an IPv6 Host",
    head: "GET / HTTP/1.1\r\nHost: [::1]:9000\r\n\r\n",
    method: "GET",
    url: "http://[::1]:9000/",
  },
  {
    name: "bare LF line endings (RFC 9112 §2.2)",
    head: "GET /lf HTTP/1.1\nHost: a\nX-Y: z\n\n",
    method: "GET",
    url: "http://a/lf",
    headers: { "x-y": "z" },
  },
  {
    name: "empty lines before the request line (RFC 9112 §2.2)",
    head: "\r\n\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
    method: "GET",
    url: "http://a/",
  },
  {
    name: "optional whitespace around values and empty values",
    head:
      "GET / HTTP/1.1\r\nHost:a\r\nX-A: \t v \t\r\nX-B:\r\nX-C: x y\r\n\r\n",
    method: "GET",
    url: "http://a/",
    headers: { "x-a": "v", "x-b": "", "x-c": "x y" },
  },
  {
    name: "repeated headers combined",
    head: "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\nx-a: 2\r\n\r\n",
    method: "GET",
    url: "http://a/",
    headers: { "x-a": "1, 2" },
  },
  {
    name: "obs-text in a value kept as Latin-1",
    head: "GET / HTTP/1.1\r\nHost: a\r\nX-A: caf\xe9\r\n\r\n",
    method: "GET",
    url: "http://a/",
    headers: { "x-a": "caf\xe9" },
  },
  {
    name: "a path starting with two slashes stays a path",
    head: "GET //evil.example/x HTTP/1.1\r\nHost: a\r\n\r\n",
    method: "GET",
    url: "http://a//evil.example/x",
  },
  {
    name: "the absolute form, whose authority wins (RFC 9112 §3.2.2)",
    head: "GET http://b.example:81/p?q HTTP/1.1\r\nHost: a\r\n\r\n",
    method: "GET",
    url: "http://b.example:81/p?q",
  },
  {
    name: "an empty Host falling back to defaultHost",
    head: "GET /x HTTP/1.1\r\nHost:\r\n\r\n",
    method: "GET",
    url: "http://127.0.0.1:4000/x",
    options: { defaultHost: "127.0.0.1:4000" },
  },
  {
    name: "a POST head, its body left in rest",
    head: "POST /form HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n",
    rest: "abc",
    method: "POST",
    url: "http://a/form",
    headers: { "content-length": "3" },
  },
  {
    name: "identical repeated Content-Length values",
    head: "PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 2, 2\r\n\r\n",
    method: "PUT",
    url: "http://a/",
  },
  {
    name: "frame bytes after an upgrade head in rest",
    head: "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    rest: "\x81\x85\r\n\r\nHTTP",
    method: "GET",
    url: "http://a/",
  },
  {
    name: "a head exactly maxHeadSize bytes long",
    head: "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    options: { maxHeadSize: 27 },
    method: "GET",
    url: "http://a/",
  },
  ...["HEAD", "OPTIONS", "DELETE", "PATCH"].map((method) => ({
    name: `the ${method} method`,
    head: `${method} / HTTP/1.1\r\nHost: a\r\n\r\n`,
    method,
    url: "http://a/",
  })),
];

interface BadCase {
  name: string;
  head: string;
  status: number;
  reason: RegExp;
  options?: HttpHeadReaderOptions;
}

const BAD: BadCase[] = [
  {
    name: "a request line without a version",
    head: "GET /\r\nHost: a\r\n\r\n",
    status: 400,
    reason: /Malformed request line/,
  },
  {
    name: "double spaces in the request line",
    head: "GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
    status: 400,
    reason: /Malformed request line/,
  },
  {
    name: "a non-token method",
    head: "G(T / HTTP/1.1\r\nHost: a\r\n\r\n",
    status: 400,
    reason: /Malformed request line/,
  },
  {
    name: "a non-ASCII target",
    head: "GET /\xe9 HTTP/1.1\r\nHost: a\r\n\r\n",
    status: 400,
    reason: /Malformed request line/,
  },
  {
    name: "a malformed version",
    head: "GET / HTTP/1\r\nHost: a\r\n\r\n",
    status: 400,
    reason: /Malformed request line/,
  },
  {
    name: "HTTP/0.9",
    head: "GET / HTTP/0.9\r\nHost: a\r\n\r\n",
    status: 505,
    reason: /HTTP version not supported: "HTTP\/0.9"/,
  },
  {
    name: "HTTP/2.0",
    head: "GET / HTTP/2.0\r\nHost: a\r\n\r\n",
    status: 505,
    reason: /HTTP version not supported/,
  },
  {
    name: "CONNECT",
    head: "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n",
    status: 501,
    reason: /Method not implemented: "CONNECT"/,
  },
  {
    name: "a lower-case method (methods are case-sensitive)",
    head: "get / HTTP/1.1\r\nHost: a\r\n\r\n",
    status: 501,
    reason: /Method not implemented: "get"/,
  },
  {
    name: "a header line without a colon",
    head: "GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n",
    status: 400,
    reason: /Malformed header line "NoColon"/,
  },
  {
    name: "whitespace before the colon (RFC 9112 §5.1)",
    head: "GET / HTTP/1.1\r\nHost : a\r\n\r\n",
    status: 400,
    reason: /Malformed header line/,
  },
  {
    name: "an empty header name",
    head: "GET / HTTP/1.1\r\nHost: a\r\n: v\r\n\r\n",
    status: 400,
    reason: /Malformed header line/,
  },
  {
    name: "obsolete line folding (RFC 9112 §5.2)",
    head: "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n  2\r\n\r\n",
    status: 400,
    reason: /Obsolete line folding/,
  },
  {
    name: "a NUL in a value",
    head: "GET / HTTP/1.1\r\nHost: a\r\nX-A: a\x00b\r\n\r\n",
    status: 400,
    reason: /Malformed header line/,
  },
  {
    name: "a bare CR",
    head: "GET / HTTP/1.1\r\nHost: a\rX-A: b\r\n\r\n",
    status: 400,
    reason: /Bare CR/,
  },
  {
    name: "a missing Host (RFC 9112 §3.2)",
    head: "GET / HTTP/1.1\r\nX-A: b\r\n\r\n",
    status: 400,
    reason: /Missing Host/,
  },
  {
    name: "two Host headers",
    head: "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    status: 400,
    reason: /More than one Host/,
  },
  {
    name: "a Host with a path",
    head: "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n",
    status: 400,
    reason: /Invalid Host "a\/b"/,
  },
  {
    name: "a Host with userinfo",
    head: "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n",
    status: 400,
    reason: /Invalid Host/,
  },
  {
    name: "conflicting Content-Length values",
    head:
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
    status: 400,
    reason: /Invalid Content-Length/,
  },
  {
    name: "a negative Content-Length",
    head: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
    status: 400,
    reason: /Invalid Content-Length/,
  },
  {
    name: "Content-Length with Transfer-Encoding (RFC 9112 §6.3)",
    head: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n" +
      "Transfer-Encoding: chunked\r\n\r\n",
    status: 400,
    reason: /both Content-Length and Transfer-Encoding/,
  },
  {
    name: "the asterisk form",
    head: "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
    status: 400,
    reason: /Unsupported request target "\*"/,
  },
  {
    name: "an absolute form with another scheme",
    head: "GET https://a/ HTTP/1.1\r\nHost: a\r\n\r\n",
    status: 400,
    reason: /Unsupported request target/,
  },
  {
    name: "a head one byte over maxHeadSize",
    head: "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    options: { maxHeadSize: 26 },
    status: 431,
    reason: /the head exceeds 26 bytes/,
  },
  {
    name: "a head over the 16 KiB default",
    head: `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${
      "x".repeat(16 * 1024)
    }\r\n\r\n`,
    status: 431,
    reason: /Request header fields too large: the head exceeds 16384 bytes/,
  },
  {
    name: "101 header lines, one over the default maxHeaderCount",
    head: `GET / HTTP/1.1\r\nHost: a\r\n${"X-A: 1\r\n".repeat(100)}\r\n`,
    status: 431,
    reason: /Request header fields too large: more than 100 header lines/,
  },
  {
    name: "a header line over maxLineSize, CRLF included",
    head: `GET / HTTP/1.1\r\nHost: a\r\nX-A: ${"x".repeat(95)}\r\n\r\n`,
    options: { maxLineSize: 100 },
    status: 431,
    reason: /Request header fields too large: a header line exceeds 100 bytes/,
  },
  {
    name: "a request line over maxLineSize",
    head: `GET /${"x".repeat(8192)} HTTP/1.1\r\nHost: a\r\n\r\n`,
    status: 414,
    reason: /URI too long: the request line exceeds 8192 bytes/,
  },
  {
    name:
      "more header lines than a small maxHeaderCount (continuation lines count)",
    head: "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n 2\r\n\r\n",
    options: { maxHeaderCount: 2 },
    status: 431,
    reason: /more than 2 header lines/,
  },
  {
    name: "endless empty lines before the request line",
    head: "\r\n".repeat(9000),
    status: 431,
    reason: /too large/,
  },
];

describe("HttpHeadReader", () => {
  for (const [chunking, size] of CHUNKINGS) {
    for (const c of GOOD) {
      it(`reads ${c.name} (${chunking})`, () => {
        const bytes = latin1(c.head + (c.rest ?? ""));
        // In 1-byte chunks the rest arrives in later pushes, never returned.
        const head = read(bytes, size, c.options);
        assert.ok(head !== null, "expected a complete head");
        assert.equal(head.request.method, c.method);
        assert.equal(head.request.url, c.url);
        assert.equal(head.request.body, null);
        for (const [name, value] of Object.entries(c.headers ?? {})) {
          assert.equal(head.request.headers.get(name), value, name);
        }
        assert.deepEqual(
          head.rest,
          size === 1 ? new Uint8Array() : latin1(c.rest ?? ""),
        );
      });
    }
    for (const c of BAD) {
      it(`answers ${c.status} to ${c.name} (${chunking})`, () => {
        assert.throws(
          () => read(latin1(c.head), size, c.options),
          (error: unknown) => {
            assert.ok(error instanceof HttpHeadError, String(error));
            assert.equal(error.status, c.status);
            assert.match(error.message, c.reason);
            return true;
          },
        );
      });
    }
  }

  it("reports the HTTP version, and lets HTTP/1.0 leave Host out", () => {
    const reader11 = new HttpHeadReader();
    assert.equal(
      reader11.push(latin1("GET / HTTP/1.1\r\nHost: a\r\n\r\n"))?.version,
      "HTTP/1.1",
    );
    const reader10 = new HttpHeadReader({ defaultHost: "example.com:80" });
    const head = reader10.push(latin1("GET /x HTTP/1.0\r\n\r\n"));
    assert.equal(head?.version, "HTTP/1.0");
    assert.equal(head?.request.url, "http://example.com/x");
  });

  it("returns null until the final empty line arrives", () => {
    const reader = new HttpHeadReader();
    assert.equal(reader.push(encoder.encode("GET / HTTP/1.1\r\n")), null);
    assert.equal(reader.push(encoder.encode("Host: a\r\n")), null);
    assert.equal(reader.push(encoder.encode("\r")), null);
    assert.ok(reader.push(encoder.encode("\n")) !== null);
  });

  it("returns a rest that does not alias the pushed chunk", () => {
    const chunk = encoder.encode("GET / HTTP/1.1\r\nHost: a\r\n\r\nxyz");
    const head = new HttpHeadReader().push(chunk);
    assert.ok(head !== null);
    chunk.fill(0);
    assert.deepEqual(head.rest, encoder.encode("xyz"));
  });

  it("keeps no reference to a chunk that held only part of the head", () => {
    for (const cut of [5, 16, 20, 25]) {
      const bytes = encoder.encode(
        "GET /path HTTP/1.1\r\nHost: a\r\nX-Long: 0123456789\r\n\r\n",
      );
      const first = bytes.slice(0, cut);
      const reader = new HttpHeadReader();
      assert.equal(reader.push(first), null);
      first.fill(0x41); // The caller reuses its read buffer.
      const head = reader.push(bytes.slice(cut));
      assert.ok(head !== null, `cut at ${cut}`);
      assert.equal(head.request.url, "http://a/path", `cut at ${cut}`);
      assert.equal(head.request.headers.get("x-long"), "0123456789");
    }
  });

  it("throws TypeError when pushed to after returning a head", () => {
    const reader = new HttpHeadReader();
    reader.push(encoder.encode("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
    assert.throws(() => reader.push(new Uint8Array(1)), TypeError);
  });

  it("rejects an invalid maxHeadSize with RangeError", () => {
    assert.throws(() => new HttpHeadReader({ maxHeadSize: 0 }), RangeError);
    assert.throws(() => new HttpHeadReader({ maxHeadSize: 1.5 }), RangeError);
  });

  it("accepts exactly maxHeaderCount header lines and a line of exactly maxLineSize", () => {
    const head = `GET / HTTP/1.1\r\nHost: a\r\nX-A: ${"x".repeat(93)}\r\n\r\n`;
    for (const [, size] of CHUNKINGS) {
      const result = read(latin1(head), size, {
        maxHeaderCount: 2,
        maxLineSize: 100,
      });
      assert.equal(result?.request.headers.get("x-a")?.length, 93);
    }
  });

  it("rejects an invalid maxHeaderCount or maxLineSize with RangeError", () => {
    assert.throws(() => new HttpHeadReader({ maxHeaderCount: 0 }), RangeError);
    assert.throws(() => new HttpHeadReader({ maxLineSize: 2.5 }), RangeError);
  });
});
