/**
 * A sans-I/O reader of HTTP/1.1 response heads (RFC 9112 §2, §4, §5): feed
 * it the bytes a client's TCP connection delivers, get back the status, the
 * headers, and the bytes that followed the head.
 *
 * It is the client side of the WebSocket opening handshake: after a `101
 * Switching Protocols` head, the bytes that follow are the server's first
 * WebSocket frames, returned as {@linkcode HttpResponseHead.rest}.
 *
 * @module
 */

import {
  FIELD_VALUE,
  HeadCollector,
  type HeadSyntax,
  parseFields,
  stripCr,
} from "./_head_collector.ts";

/**
 * Options of {@linkcode HttpResponseHeadReader}.
 *
 * @example Give up on a response head over 8 KiB
 * ```ts
 * import { HttpResponseHeadReader, type HttpResponseHeadReaderOptions } from "@wstream/wstream/http";
 * import assert from "node:assert/strict";
 *
 * const options: HttpResponseHeadReaderOptions = { maxHeadSize: 8192 };
 * const reader = new HttpResponseHeadReader(options);
 * const huge = new TextEncoder().encode(`HTTP/1.1 200 OK\r\nX-Big: ${"a".repeat(9000)}\r\n`);
 * assert.throws(() => reader.push(huge), RangeError);
 * ```
 */
export interface HttpResponseHeadReaderOptions {
  /**
   * The most bytes the head may take, status line and final empty line
   * included. A longer head fails with a `RangeError`.
   *
   * @default {16384}
   */
  maxHeadSize?: number;
}

/**
 * A complete response head, as {@linkcode HttpResponseHeadReader.push} returns it.
 *
 * @example Check a 101 answer
 * ```ts
 * import { type HttpResponseHead, HttpResponseHeadReader } from "@wstream/wstream/http";
 * import assert from "node:assert/strict";
 *
 * const bytes = new TextEncoder().encode("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n");
 * const head: HttpResponseHead | null = new HttpResponseHeadReader().push(bytes);
 * assert.equal(head?.status, 101);
 * assert.equal(head?.statusText, "Switching Protocols");
 * assert.equal(head?.headers.get("upgrade"), "websocket");
 * ```
 */
export interface HttpResponseHead {
  /** The HTTP version of the status line, such as `"HTTP/1.1"`. */
  version: string;
  /** The status code, 100 to 999. */
  status: number;
  /** The reason phrase (`"Switching Protocols"`), possibly empty. */
  statusText: string;
  /**
   * The header fields. Repeated fields are combined with `", "` (read
   * `Set-Cookie` with `getSetCookie()`); obsolete line folding is replaced
   * by a space (RFC 9112 §5.2).
   */
  headers: Headers;
  /**
   * The bytes received after the head: a body or, after a 101, the first
   * WebSocket frames. A fresh copy the caller may mutate.
   */
  rest: Uint8Array;
}

// RFC 9112 §4: HTTP-version SP 3DIGIT SP reason-phrase. The space after the
// code is optional here: some servers omit it along with an empty phrase.
const STATUS_LINE = /^(HTTP\/\d\.\d) (\d{3})(?: (.*))?$/;

/** How response heads fail: SyntaxError; obsolete line folding unfolded. */
const SYNTAX: HeadSyntax = {
  error: (message) => new SyntaxError(message),
  bareCr: (line) =>
    `Bare CR in the response head line ${
      JSON.stringify(line)
    }: lines must end with CRLF`,
  obsFold: "unfold",
};

/**
 * Reads one HTTP/1.1 response head from chunks of bytes, sans I/O.
 *
 * Call {@linkcode HttpResponseHeadReader.push} with every chunk received
 * until it returns a {@linkcode HttpResponseHead}; it throws as soon as the
 * bytes cannot be a valid head, so a misbehaving server is recognised
 * before it sends much. Following RFC 9112, a bare LF ends a line like CRLF
 * (§2.2), a bare CR is rejected (§2.2), and obsolete line folding is
 * replaced by a space (§5.2, as a user agent must). Whitespace between a
 * field name and its colon is rejected (§5.1). HTTP/1.0 status lines are
 * accepted (an old proxy may answer with one); other major versions are
 * not.
 *
 * Bodies are not read: any body bytes already received are part of
 * {@linkcode HttpResponseHead.rest}.
 *
 * @example Read a 101 answer fed one byte at a time, with a frame after it
 * ```ts
 * import { HttpResponseHeadReader } from "@wstream/wstream/http";
 * import assert from "node:assert/strict";
 *
 * const bytes = new Uint8Array([
 *   ...new TextEncoder().encode("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"),
 *   0x81, 0x00, // an empty text frame
 * ]);
 * const reader = new HttpResponseHeadReader();
 * let head = null;
 * for (let i = 0; i < bytes.length && head === null; i++) {
 *   head = reader.push(bytes.subarray(i, i + 1));
 * }
 * assert.ok(head !== null);
 * assert.equal(head.status, 101);
 * assert.equal(head.headers.get("upgrade"), "websocket");
 * assert.deepEqual(head.rest, new Uint8Array()); // the frame came later
 * ```
 *
 * @example Keep the bytes after the head
 * ```ts
 * import { HttpResponseHeadReader } from "@wstream/wstream/http";
 * import assert from "node:assert/strict";
 *
 * const head = new HttpResponseHeadReader().push(new Uint8Array([
 *   ...new TextEncoder().encode("HTTP/1.1 101 Switching Protocols\r\n\r\n"),
 *   0x81, 0x02, 0x68, 0x69, // a text frame: "hi"
 * ]));
 * assert.deepEqual(head?.rest, new Uint8Array([0x81, 0x02, 0x68, 0x69]));
 * ```
 */
export class HttpResponseHeadReader {
  #collector: HeadCollector;

  /**
   * Creates a reader for one response head.
   *
   * @param options The size limit.
   * @throws {RangeError} If `maxHeadSize` is not a positive integer.
   */
  constructor(options: HttpResponseHeadReaderOptions = {}) {
    this.#collector = new HeadCollector({
      owner: "HttpResponseHeadReader",
      maxHeadSize: options.maxHeadSize,
      tooLarge: (maxHeadSize) =>
        new RangeError(
          `Response head too large: it exceeds ${maxHeadSize} bytes`,
        ),
    });
  }

  /** How many bytes of an unfinished head were received so far. */
  get bytesReceived(): number {
    return this.#collector.length;
  }

  /**
   * Feeds the next chunk of received bytes.
   *
   * @param chunk Bytes received after those already pushed. Not retained.
   * @returns The head once its final empty line arrived (call no more after
   * that), or `null` when more bytes are needed.
   * @throws {SyntaxError} If the bytes cannot be a valid response head; the
   * message quotes the offending line.
   * @throws {RangeError} If the head exceeds `maxHeadSize`.
   * @throws {TypeError} If called again after a head was returned.
   */
  push(chunk: Uint8Array): HttpResponseHead | null {
    const collector = this.#collector;
    const head = collector.push(chunk, (line) => {
      // Fail fast on a first line that cannot be a status line, so that a
      // peer speaking something else is recognised at its first line.
      if (line.index === 0) {
        this.#checkPrefix();
        parseStatusLine(stripCr(collector.text(line.start, line.end), SYNTAX));
      }
      return line.empty;
    });
    if (head !== null) return { ...parseHead(head.lines), rest: head.rest };
    // A head starts with "HTTP/": recognise a peer speaking something else
    // before it sends a whole line.
    if (collector.lineCount === 0) this.#checkPrefix();
    return null;
  }

  #checkPrefix(): void {
    const prefix = "HTTP/";
    const received = this.#collector.text(0, prefix.length);
    if (!prefix.startsWith(received)) {
      throw new SyntaxError(
        `Malformed status line starting ${
          JSON.stringify(this.#collector.text(0, 32))
        }: the peer did not answer with HTTP/1.1`,
      );
    }
  }
}

/** Parses a complete head's lines (status line, fields). */
function parseHead(lines: string[]): Omit<HttpResponseHead, "rest"> {
  const { version, status, statusText } = parseStatusLine(
    stripCr(lines[0] ?? "", SYNTAX),
  );
  const headers = new Headers(parseFields(lines.slice(1), SYNTAX));
  return { version, status, statusText, headers };
}

function parseStatusLine(
  line: string,
): { version: string; status: number; statusText: string } {
  const match = STATUS_LINE.exec(line);
  const reason = match?.[3] ?? "";
  // RFC 9112 §4 reason-phrase: HTAB, SP, VCHAR, obs-text, as a field value.
  if (match === null || !FIELD_VALUE.test(reason)) {
    throw new SyntaxError(
      `Malformed status line ${
        JSON.stringify(line)
      }: expected "HTTP/1.1 <3-digit status> <reason>"`,
    );
  }
  const version = match[1]!;
  if (!version.startsWith("HTTP/1.")) {
    throw new SyntaxError(
      `Unsupported HTTP version ${JSON.stringify(version)} in status line ${
        JSON.stringify(line)
      }: expected HTTP/1.1`,
    );
  }
  const status = Number(match[2]);
  if (status < 100) {
    throw new SyntaxError(
      `Invalid status code ${match[2]} in status line ${
        JSON.stringify(line)
      }: expected 100-999`,
    );
  }
  return { version, status, statusText: reason };
}
