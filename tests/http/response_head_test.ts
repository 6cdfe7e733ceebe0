import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { HttpResponseHeadReader } from "../../lib/http/response_head.ts";
import { latin1, pushInChunks } from "../_test_utils.ts";
import type {
  HttpResponseHead,
  HttpResponseHeadReaderOptions,
} from "../../lib/http/response_head.ts";

/** Pushes `bytes` in chunks of `size` (Infinity: whole), stopping at a head. */
function read(
  bytes: Uint8Array,
  size: number,
  options?: HttpResponseHeadReaderOptions,
): HttpResponseHead | null {
  return pushInChunks(new HttpResponseHeadReader(options), bytes, size);
}

const CHUNKINGS = [["whole", Infinity], ["1-byte chunks", 1]] as const;

interface GoodCase {
  name: string;
  head: string;
  version?: string;
  status: number;
  statusText: string;
  headers?: Record<string, string>;
  rest?: string;
  options?: HttpResponseHeadReaderOptions;
}

const GOOD: GoodCase[] = [
  {
    name: "the RFC 6455 §1.3 server handshake",
    head: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" +
      "Connection: Upgrade\r\n" +
      "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" +
      "Sec-WebSocket-Protocol: chat\r\n\r\n",
    status: 101,
    statusText: "Switching Protocols",
    headers: {
      upgrade: "websocket",
      connection: "Upgrade",
      "sec-websocket-accept": "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
      "sec-websocket-protocol": "chat",
    },
  },
  {
    name: "a 101 with the server's first frames after it",
    head: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
    rest: "\x81\x05Hello\x89\x00",
    status: 101,
    statusText: "Switching Protocols",
  },
  {
    name: "a refusal with its body in rest",
    head: "HTTP/1.1 403 Forbidden\r\nContent-Length: 4\r\n\r\n",
    rest: "nope",
    status: 403,
    statusText: "Forbidden",
    headers: { "content-length": "4" },
  },
  {
    name: "an empty reason phrase",
    head: "HTTP/1.1 101 \r\n\r\n",
    status: 101,
    statusText: "",
  },
  {
    name: "no space after the status code",
    head: "HTTP/1.1 101\r\n\r\n",
    status: 101,
    statusText: "",
  },
  {
    name: "a reason phrase with spaces, tabs and obs-text",
    head: "HTTP/1.1 404 Not \tFound caf\xe9\r\n\r\n",
    status: 404,
    statusText: "Not \tFound caf\xe9",
  },
  {
    name: "an HTTP/1.0 status line (an old proxy)",
    head: "HTTP/1.0 502 Bad Gateway\r\n\r\n",
    version: "HTTP/1.0",
    status: 502,
    statusText: "Bad Gateway",
  },
  {
    name: "bare LF line endings (RFC 9112 §2.2)",
    head: "HTTP/1.1 101 OK\nUpgrade: websocket\n\n",
    status: 101,
    statusText: "OK",
    headers: { upgrade: "websocket" },
  },
  {
    name: "optional whitespace around values and empty values",
    head: "HTTP/1.1 200 OK\r\nX-A: \t v \t\r\nX-B:\r\nX-C:x y\r\n\r\n",
    status: 200,
    statusText: "OK",
    headers: { "x-a": "v", "x-b": "", "x-c": "x y" },
  },
  {
    name: "repeated headers combined",
    head:
      "HTTP/1.1 101 OK\r\nConnection: keep-alive\r\nconnection: Upgrade\r\n\r\n",
    status: 101,
    statusText: "OK",
    headers: { connection: "keep-alive, Upgrade" },
  },
  {
    name: "obsolete line folding replaced by a space (RFC 9112 §5.2)",
    head: "HTTP/1.1 200 OK\r\nX-A: one \r\n  two\r\n\tthree\r\nX-B: b\r\n\r\n",
    status: 200,
    statusText: "OK",
    headers: { "x-a": "one two three", "x-b": "b" },
  },
  {
    name: "obs-text in a value kept as Latin-1",
    head: "HTTP/1.1 200 OK\r\nX-A: caf\xe9\r\n\r\n",
    status: 200,
    statusText: "OK",
    headers: { "x-a": "caf\xe9" },
  },
  {
    name: "a head exactly maxHeadSize bytes long",
    head: "HTTP/1.1 101 OK\r\n\r\n",
    options: { maxHeadSize: 19 },
    status: 101,
    statusText: "OK",
  },
  {
    name: "rest that looks like another head",
    head: "HTTP/1.1 101 OK\r\n\r\n",
    rest: "HTTP/1.1 200 OK\r\n\r\n",
    status: 101,
    statusText: "OK",
  },
];

interface BadCase {
  name: string;
  head: string;
  error: typeof SyntaxError | typeof RangeError;
  message: RegExp;
  options?: HttpResponseHeadReaderOptions;
}

const BAD: BadCase[] = [
  {
    name: "a request instead of a response",
    head: "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    error: SyntaxError,
    message: /Malformed status line starting "G/,
  },
  {
    name: "an SSH banner",
    head: "SSH-2.0-OpenSSH_9.6\r\n",
    error: SyntaxError,
    message: /did not answer with HTTP\/1.1/,
  },
  {
    name: "an empty first line",
    head: "\r\nHTTP/1.1 101 OK\r\n\r\n",
    error: SyntaxError,
    message: /Malformed status line/,
  },
  {
    name: "a two-digit status code",
    head: "HTTP/1.1 99 Odd\r\n\r\n",
    error: SyntaxError,
    message: /Malformed status line "HTTP\/1.1 99 Odd"/,
  },
  {
    name: "a status code below 100",
    head: "HTTP/1.1 099 Odd\r\n\r\n",
    error: SyntaxError,
    message: /Invalid status code 099/,
  },
  {
    name: "a four-digit status code",
    head: "HTTP/1.1 1010 Odd\r\n\r\n",
    error: SyntaxError,
    message: /Malformed status line/,
  },
  {
    name: "double spaces in the status line",
    head: "HTTP/1.1  101 OK\r\n\r\n",
    error: SyntaxError,
    message: /Malformed status line/,
  },
  {
    name: "a malformed version",
    head: "HTTP/1 101 OK\r\n\r\n",
    error: SyntaxError,
    message: /Malformed status line/,
  },
  {
    name: "HTTP/2.0",
    head: "HTTP/2.0 101 OK\r\n\r\n",
    error: SyntaxError,
    message: /Unsupported HTTP version "HTTP\/2.0"/,
  },
  {
    name: "a control character in the reason phrase",
    head: "HTTP/1.1 101 O\x01K\r\n\r\n",
    error: SyntaxError,
    message: /Malformed status line/,
  },
  {
    name: "a header line without a colon",
    head: "HTTP/1.1 101 OK\r\nNoColon\r\n\r\n",
    error: SyntaxError,
    message: /Malformed header line "NoColon"/,
  },
  {
    name: "whitespace before the colon (RFC 9112 §5.1)",
    head: "HTTP/1.1 101 OK\r\nUpgrade : websocket\r\n\r\n",
    error: SyntaxError,
    message: /Malformed header line "Upgrade : websocket"/,
  },
  {
    name: "an empty header name",
    head: "HTTP/1.1 101 OK\r\n: v\r\n\r\n",
    error: SyntaxError,
    message: /Malformed header line/,
  },
  {
    name: "a non-token header name",
    head: "HTTP/1.1 101 OK\r\nX(A): v\r\n\r\n",
    error: SyntaxError,
    message: /Malformed header line/,
  },
  {
    name: "a continuation line before any header",
    head: "HTTP/1.1 101 OK\r\n  folded\r\n\r\n",
    error: SyntaxError,
    message: /continuation line without a header/,
  },
  {
    name: "a NUL in a value",
    head: "HTTP/1.1 101 OK\r\nX-A: a\x00b\r\n\r\n",
    error: SyntaxError,
    message: /Malformed header line/,
  },
  {
    name: "a bare CR",
    head: "HTTP/1.1 101 OK\r\nX-A: a\rX-B: b\r\n\r\n",
    error: SyntaxError,
    message: /Bare CR/,
  },
  {
    name: "a head one byte over maxHeadSize",
    head: "HTTP/1.1 101 OK\r\n\r\n",
    options: { maxHeadSize: 18 },
    error: RangeError,
    message: /Response head too large: it exceeds 18 bytes/,
  },
  {
    name: "a head over the 16 KiB default",
    head: `HTTP/1.1 101 OK\r\nX-Big: ${"x".repeat(16 * 1024)}\r\n\r\n`,
    error: RangeError,
    message: /it exceeds 16384 bytes/,
  },
  {
    name: "endless headers",
    head: "HTTP/1.1 101 OK\r\n" + "X-A: b\r\n".repeat(3000),
    error: RangeError,
    message: /too large/,
  },
];

describe("HttpResponseHeadReader", () => {
  for (const [chunking, size] of CHUNKINGS) {
    for (const c of GOOD) {
      it(`reads ${c.name} (${chunking})`, () => {
        const bytes = latin1(c.head + (c.rest ?? ""));
        const head = read(bytes, size, c.options);
        assert.ok(head !== null, "expected a complete head");
        assert.equal(head.version, c.version ?? "HTTP/1.1");
        assert.equal(head.status, c.status);
        assert.equal(head.statusText, c.statusText);
        for (const [name, value] of Object.entries(c.headers ?? {})) {
          assert.equal(head.headers.get(name), value, name);
        }
        // In 1-byte chunks the rest arrives in later pushes, never returned.
        assert.deepEqual(
          head.rest,
          size === 1 ? new Uint8Array() : latin1(c.rest ?? ""),
        );
      });
    }
    for (const c of BAD) {
      it(`throws ${c.error.name} on ${c.name} (${chunking})`, () => {
        assert.throws(
          () => read(latin1(c.head), size, c.options),
          (error: unknown) => {
            assert.ok(error instanceof c.error, String(error));
            assert.match((error as Error).message, c.message);
            return true;
          },
        );
      });
    }
  }

  it("recognises a non-HTTP answer at its first bytes, before any line ends", () => {
    const reader = new HttpResponseHeadReader();
    assert.equal(reader.push(latin1("HT")), null);
    assert.throws(() => reader.push(latin1("X")), SyntaxError);
    assert.throws(
      () => new HttpResponseHeadReader().push(latin1("\x16\x03\x01\x02")),
      /Malformed status line starting/,
    );
  });

  it("rejects a malformed status line as soon as it ends, before the head does", () => {
    const reader = new HttpResponseHeadReader();
    assert.throws(() => reader.push(latin1("HTTP/1.1 abc\r\n")), SyntaxError);
  });

  it("returns null until the final empty line arrives", () => {
    const reader = new HttpResponseHeadReader();
    assert.equal(reader.push(latin1("HTTP/1.1 101 OK\r\n")), null);
    assert.equal(reader.push(latin1("Upgrade: websocket\r\n")), null);
    assert.equal(reader.push(latin1("\r")), null);
    assert.equal(reader.bytesReceived, 38);
    assert.ok(reader.push(latin1("\n")) !== null);
  });

  it("returns a rest that does not alias the pushed chunk", () => {
    const chunk = latin1("HTTP/1.1 101 OK\r\n\r\nxyz");
    const head = new HttpResponseHeadReader().push(chunk);
    assert.ok(head !== null);
    chunk.fill(0);
    assert.deepEqual(head.rest, latin1("xyz"));
  });

  it("keeps each Set-Cookie header apart", () => {
    const head = read(
      latin1("HTTP/1.1 101 OK\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n"),
      Infinity,
    );
    assert.deepEqual(head?.headers.getSetCookie(), ["a=1", "b=2"]);
  });

  it("throws TypeError when pushed to after returning a head", () => {
    const reader = new HttpResponseHeadReader();
    reader.push(latin1("HTTP/1.1 101 OK\r\n\r\n"));
    assert.throws(() => reader.push(new Uint8Array(1)), TypeError);
  });

  it("rejects an invalid maxHeadSize with RangeError", () => {
    assert.throws(
      () => new HttpResponseHeadReader({ maxHeadSize: 0 }),
      RangeError,
    );
    assert.throws(
      () => new HttpResponseHeadReader({ maxHeadSize: 1.5 }),
      RangeError,
    );
  });
});
