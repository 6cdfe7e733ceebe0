/**
 * A sans-I/O reader of HTTP/1.1 (and HTTP/1.0) request heads (RFC 9112
 * §2–§5): feed it the bytes a TCP connection delivers, get back a `Request`
 * and the bytes that followed the head.
 *
 * It reads heads and nothing else: the `Request` it builds has a `null`
 * body, and any body bytes already received are in {@linkcode HttpHead.rest}
 * (wstream's `serve()` reads bodies with its own decoder on top).
 *
 * @module
 */

import {
  HeadCollector,
  type HeadSyntax,
  parseFields,
  stripCr,
  TOKEN,
} from "./_head_collector.ts";

const DEFAULT_MAX_HEADER_COUNT = 100;
const DEFAULT_MAX_LINE_SIZE = 8192;

/** Checks a limit: a positive safe integer, else a RangeError. */
function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`Invalid ${name} ${value}: pass a positive integer`);
  }
  return value;
}

/**
 * Options of {@linkcode HttpHeadReader}.
 *
 * @example Refuse heads over 4 KiB with 431
 * ```ts
 * import { HttpHeadError, HttpHeadReader, type HttpHeadReaderOptions } from "@wstream/wstream/http";
 * import assert from "node:assert/strict";
 *
 * const options: HttpHeadReaderOptions = { maxHeadSize: 4096, defaultHost: "example.com" };
 * const reader = new HttpHeadReader(options);
 * const huge = new TextEncoder().encode(`GET / HTTP/1.1\r\nCookie: ${"a".repeat(5000)}\r\n\r\n`);
 * assert.throws(() => reader.push(huge), (error: unknown) => error instanceof HttpHeadError && error.status === 431);
 * ```
 */
export interface HttpHeadReaderOptions {
  /**
   * The most bytes the head may take, request line and final empty line
   * included. A longer head fails with status 431.
   *
   * @default {16384}
   */
  maxHeadSize?: number;
  /**
   * The most header lines (fields, continuation lines included) the head
   * may have. More fail with status 431.
   *
   * @default {100}
   */
  maxHeaderCount?: number;
  /**
   * The most bytes one line of the head may take, CRLF included. A longer
   * request line fails with status 414 (URI Too Long), a longer field line
   * with 431.
   *
   * @default {8192}
   */
  maxLineSize?: number;
  /**
   * The authority (`host[:port]`) put in the request URL when the `Host`
   * header is empty (RFC 9112 §3.2 allows an empty `Host`).
   *
   * @default {"localhost"}
   */
  defaultHost?: string;
}

/**
 * A complete request head, as {@linkcode HttpHeadReader.push} returns it.
 *
 * @example Read the request and the bytes after it
 * ```ts
 * import { type HttpHead, HttpHeadReader } from "@wstream/wstream/http";
 * import assert from "node:assert/strict";
 *
 * const bytes = new TextEncoder().encode("GET /chat HTTP/1.1\r\nHost: example.com\r\n\r\nnext");
 * const head: HttpHead | null = new HttpHeadReader().push(bytes);
 * assert.equal(head?.request.url, "http://example.com/chat");
 * assert.equal(head?.version, "HTTP/1.1");
 * assert.equal(new TextDecoder().decode(head?.rest), "next");
 * ```
 */
export interface HttpHead {
  /** The request, with the method, URL and headers of the head and no body. */
  request: Request;
  /**
   * The bytes received after the head (a body, pipelined requests or, after a
   * WebSocket upgrade, the first frames). A fresh copy the caller may mutate.
   */
  rest: Uint8Array;
  /**
   * The request's HTTP version: `"HTTP/1.1"`, or `"HTTP/1.0"` (whose
   * connections close after the response unless it asks for keep-alive, and
   * which may leave `Host` out).
   */
  version: "HTTP/1.1" | "HTTP/1.0";
}

/**
 * A request head could not be read. {@linkcode HttpHeadError.status} is the
 * HTTP status to answer with; the message is a plain-text reason fit for the
 * response body.
 *
 * | status | when |
 * | ------ | ---- |
 * | 400 | malformed request line, header line, `Host`, `Content-Length`; obsolete line folding |
 * | 414 | the request line is longer than `maxLineSize` |
 * | 431 | the head is longer than `maxHeadSize`, a header line longer than `maxLineSize`, or more than `maxHeaderCount` header lines |
 * | 501 | a method other than GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH |
 * | 505 | a well-formed HTTP version other than HTTP/1.1 and HTTP/1.0 |
 *
 * @example Map a bad head to a status
 * ```ts
 * import { HttpHeadError, HttpHeadReader } from "@wstream/wstream/http";
 * import assert from "node:assert/strict";
 *
 * const reader = new HttpHeadReader();
 * assert.throws(
 *   () => reader.push(new TextEncoder().encode("GET / HTTP/2.0\r\n\r\n")),
 *   (error: unknown) => error instanceof HttpHeadError && error.status === 505,
 * );
 * ```
 */
export class HttpHeadError extends Error {
  /** The HTTP status to answer with: 400, 414, 431, 501 or 505. */
  readonly status: number;

  /**
   * Creates a head error.
   *
   * @param status The HTTP status to answer with.
   * @param message A sentence saying what was wrong with the head.
   */
  constructor(status: number, message: string) {
    super(message);
    this.name = "HttpHeadError";
    this.status = status;
  }
}

/** How request heads fail: 400, a bare CR, obsolete line folding. */
const SYNTAX: HeadSyntax = {
  error: (message) => new HttpHeadError(400, message),
  bareCr: () => "Bare CR in the request head: end lines with CRLF",
  obsFold: "reject",
};

/** The methods wstream's server hands to a handler; others get 501. */
const METHODS = new Set([
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "DELETE",
  "OPTIONS",
  "PATCH",
]);

// RFC 9112 §3: method SP request-target SP HTTP-version, single spaces.
const REQUEST_LINE = /^([^ ]+) ([^ ]+) ([^ ]+)$/;
const HTTP_VERSION = /^HTTP\/(\d)\.(\d)$/;
// Request targets: visible ASCII only (RFC 3986 characters, leniently).
const TARGET = /^[\x21-\x7e]+$/;
// uri-host [":" port] (RFC 9110 §7.2), IP literal or reg-name.
const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]+)(?::\d*)?$/;
const DIGITS = /^\d+$/;

/**
 * Reads one HTTP/1.1 request head from chunks of bytes, sans I/O.
 *
 * Call {@linkcode HttpHeadReader.push} with every chunk received until it
 * returns a {@linkcode HttpHead}; it throws {@linkcode HttpHeadError} (with
 * the status to answer) as soon as the bytes cannot be a valid head. The
 * reader follows RFC 9112's leniencies: empty lines before the request line
 * are skipped (§2.2) and a bare LF ends a line like CRLF (§2.2). It rejects
 * what RFC 9112 tells a server to reject: a bare CR, whitespace between a
 * field name and its colon (§5.1), obsolete line folding (§5.2), a missing,
 * repeated or invalid `Host` (§3.2; HTTP/1.0 requests may leave it out),
 * conflicting `Content-Length` or
 * `Content-Length` with `Transfer-Encoding` (§6.3).
 *
 * Targets may be in origin form (`/path?query`) or, as §3.2.2 requires
 * servers to accept, absolute form with the `http` scheme, whose authority
 * then wins over `Host`. Other forms (`*`, authority form, other schemes)
 * fail with 400. The request URL is `http://<Host><target>`.
 *
 * Bodies are not read: the `Request` has no body whatever the head declares,
 * and any body bytes already received are part of {@linkcode HttpHead.rest}.
 *
 * @example Read a WebSocket upgrade request fed one byte at a time
 * ```ts
 * import { HttpHeadReader } from "@wstream/wstream/http";
 * import assert from "node:assert/strict";
 *
 * const bytes = new TextEncoder().encode(
 *   "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\r\n\x81",
 * );
 * const reader = new HttpHeadReader();
 * let head = null;
 * for (let i = 0; i < bytes.length && head === null; i++) {
 *   head = reader.push(bytes.subarray(i, i + 1));
 * }
 * assert.ok(head !== null);
 * assert.equal(head.request.url, "http://example.com/chat");
 * assert.equal(head.request.headers.get("upgrade"), "websocket");
 * assert.deepEqual(head.rest, new Uint8Array()); // 0x81 came in a later chunk
 * ```
 */
export class HttpHeadReader {
  #collector: HeadCollector;
  #defaultHost: string;
  #sawRequestLine = false;
  #headerLines = 0;
  readonly #maxHeaderCount: number;
  readonly #maxLineSize: number;

  /**
   * Creates a reader for one request head.
   *
   * @param options The limits and the fallback authority.
   * @throws {RangeError} If `maxHeadSize`, `maxHeaderCount` or
   * `maxLineSize` is not a positive integer.
   */
  constructor(options: HttpHeadReaderOptions = {}) {
    this.#maxHeaderCount = positiveInteger(
      "maxHeaderCount",
      options.maxHeaderCount ?? DEFAULT_MAX_HEADER_COUNT,
    );
    this.#maxLineSize = positiveInteger(
      "maxLineSize",
      options.maxLineSize ?? DEFAULT_MAX_LINE_SIZE,
    );
    this.#collector = new HeadCollector({
      owner: "HttpHeadReader",
      maxHeadSize: options.maxHeadSize,
      tooLarge: (maxHeadSize) =>
        new HttpHeadError(
          431,
          `Request header fields too large: the head exceeds ${maxHeadSize} bytes`,
        ),
    });
    this.#defaultHost = options.defaultHost ?? "localhost";
  }

  /**
   * Feeds the next chunk of received bytes.
   *
   * @param chunk Bytes received after those already pushed. Not retained.
   * @returns The head once its final empty line arrived (call no more after
   * that), or `null` when more bytes are needed.
   * @throws {HttpHeadError} If the bytes cannot be a valid head or exceed
   * `maxHeadSize`; answer with its `status` and close.
   * @throws {TypeError} If called again after a head was returned.
   */
  push(chunk: Uint8Array): HttpHead | null {
    // Empty lines before the request line are skipped (RFC 9112 §2.2): the
    // first empty line after it ends the head.
    const head = this.#collector.push(chunk, ({ empty, start, end }) => {
      if (empty) return this.#sawRequestLine;
      if (end + 1 - start > this.#maxLineSize) {
        throw this.#sawRequestLine
          ? new HttpHeadError(
            431,
            `Request header fields too large: a header line exceeds ${this.#maxLineSize} bytes`,
          )
          : new HttpHeadError(
            414,
            `URI too long: the request line exceeds ${this.#maxLineSize} bytes`,
          );
      }
      if (this.#sawRequestLine && ++this.#headerLines > this.#maxHeaderCount) {
        throw new HttpHeadError(
          431,
          `Request header fields too large: more than ${this.#maxHeaderCount} header lines`,
        );
      }
      this.#sawRequestLine = true;
      return false;
    });
    if (head === null) return null;
    const { request, version } = this.#parse(head.lines);
    return { request, version, rest: head.rest };
  }

  #parse(
    lines: string[],
  ): { request: Request; version: "HTTP/1.1" | "HTTP/1.0" } {
    let index = 0;
    while (lines[index] === "" || lines[index] === "\r") index++;
    const requestLine = stripCr(lines[index++] ?? "", SYNTAX);
    const match = REQUEST_LINE.exec(requestLine);
    if (match === null) {
      throw new HttpHeadError(
        400,
        `Malformed request line ${JSON.stringify(requestLine)}`,
      );
    }
    const [, method = "", target = "", version = ""] = match;
    const versionMatch = HTTP_VERSION.exec(version);
    if (versionMatch === null || !TOKEN.test(method) || !TARGET.test(target)) {
      throw new HttpHeadError(
        400,
        `Malformed request line ${JSON.stringify(requestLine)}`,
      );
    }
    if (version !== "HTTP/1.1" && version !== "HTTP/1.0") {
      throw new HttpHeadError(
        505,
        `HTTP version not supported: ${JSON.stringify(version)}; use HTTP/1.1`,
      );
    }
    if (!METHODS.has(method)) {
      throw new HttpHeadError(
        501,
        `Method not implemented: ${JSON.stringify(method)}`,
      );
    }

    const hosts: string[] = [];
    const contentLengths: string[] = [];
    let chunked = false;
    const headers = parseFields(lines.slice(index), SYNTAX, (name, value) => {
      const lower = name.toLowerCase();
      if (lower === "host") hosts.push(value);
      else if (lower === "content-length") contentLengths.push(value);
      else if (lower === "transfer-encoding") chunked = true;
    });

    if (contentLengths.length > 0) {
      const values = new Set(
        contentLengths.flatMap((value) => value.split(",")).map((value) =>
          value.trim()
        ),
      );
      const [only] = values;
      if (values.size !== 1 || only === undefined || !DIGITS.test(only)) {
        throw new HttpHeadError(
          400,
          `Invalid Content-Length ${JSON.stringify(contentLengths.join(", "))}`,
        );
      }
      if (chunked) {
        throw new HttpHeadError(
          400,
          "A request must not carry both Content-Length and Transfer-Encoding (RFC 9112 §6.3)",
        );
      }
    }

    if (hosts.length === 0 && version === "HTTP/1.0") hosts.push("");
    const [host] = hosts;
    if (hosts.length !== 1 || host === undefined) {
      throw new HttpHeadError(
        400,
        hosts.length === 0
          ? "Missing Host header (RFC 9112 §3.2)"
          : "More than one Host header (RFC 9112 §3.2)",
      );
    }
    if (host !== "" && !HOST.test(host)) {
      throw new HttpHeadError(400, `Invalid Host ${JSON.stringify(host)}`);
    }

    let url: string;
    if (target[0] === "/") {
      url = `http://${host === "" ? this.#defaultHost : host}${target}`;
    } else if (/^http:\/\/[^/?#]/i.test(target)) {
      url = target; // RFC 9112 §3.2.2: absolute form, its authority wins.
    } else {
      throw new HttpHeadError(
        400,
        `Unsupported request target ${
          JSON.stringify(target)
        }: use a path such as "/" (origin form)`,
      );
    }
    try {
      return { request: new Request(url, { method, headers }), version };
    } catch {
      throw new HttpHeadError(
        400,
        `Invalid request target ${JSON.stringify(target)}`,
      );
    }
  }
}
