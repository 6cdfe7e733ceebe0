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

/** Options of {@linkcode HttpResponseHeadReader}. */
export interface HttpResponseHeadReaderOptions {
  /**
   * The most bytes the head may take, status line and final empty line
   * included. A longer head fails with a `RangeError`.
   *
   * @default {16384}
   */
  maxHeadSize?: number;
}

/** A complete response head, as {@linkcode HttpResponseHeadReader.push} returns it. */
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

const LF = 0x0a;
const CR = 0x0d;
const DEFAULT_MAX_HEAD_SIZE = 16 * 1024;

// RFC 9112 §4: HTTP-version SP 3DIGIT SP reason-phrase. The space after the
// code is optional here: some servers omit it along with an empty phrase.
const STATUS_LINE = /^(HTTP\/\d\.\d) (\d{3})(?: (.*))?$/;
// RFC 9112 §4 reason-phrase: HTAB, SP, VCHAR, obs-text.
const REASON = /^[\t\x20-\x7e\x80-\xff]*$/;
// RFC 9110 §5.6.2 token.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// RFC 9112 §5: field-name ":" OWS field-value OWS, no space before the colon.
const FIELD_LINE = /^([^:\s]+):[ \t]*(.*?)[ \t]*$/;
// Field values: any octet but CTLs (HTAB allowed) and DEL (RFC 9110 §5.5).
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

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
 * import { HttpResponseHeadReader } from "@wstream/wstream";
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
 * import { HttpResponseHeadReader } from "@wstream/wstream";
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
  #maxHeadSize: number;
  #buffer: Uint8Array = new Uint8Array(0);
  #length = 0;
  #lineStart = 0;
  #done = false;

  /**
   * Creates a reader for one response head.
   *
   * @param options The size limit.
   * @throws {RangeError} If `maxHeadSize` is not a positive integer.
   */
  constructor(options: HttpResponseHeadReaderOptions = {}) {
    const maxHeadSize = options.maxHeadSize ?? DEFAULT_MAX_HEAD_SIZE;
    if (!Number.isSafeInteger(maxHeadSize) || maxHeadSize < 1) {
      throw new RangeError(
        `Invalid maxHeadSize ${maxHeadSize}: pass a positive integer`,
      );
    }
    this.#maxHeadSize = maxHeadSize;
  }

  /** How many bytes of an unfinished head were received so far. */
  get bytesReceived(): number {
    return this.#length;
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
    if (this.#done) {
      throw new TypeError(
        "HttpResponseHeadReader already returned a head: create a new reader",
      );
    }
    let i = 0;
    while (i < chunk.length) {
      const lf = chunk.indexOf(LF, i);
      const stop = lf === -1 ? chunk.length : lf + 1;
      this.#append(chunk.subarray(i, stop));
      i = stop;
      if (lf === -1) break;
      const lineEnd = this.#length - 1;
      const lineStart = this.#lineStart;
      this.#lineStart = this.#length;
      // Fail fast on a first line that cannot be a status line, so that a
      // peer speaking something else is recognised at its first line.
      if (lineStart === 0) this.#checkStatusLine(lineEnd);
      const empty = lineEnd === lineStart ||
        (lineEnd === lineStart + 1 && this.#buffer[lineStart] === CR);
      if (empty) {
        this.#done = true;
        const head = this.#buffer.subarray(0, this.#length);
        this.#buffer = new Uint8Array(0);
        return { ...parseHead(head), rest: chunk.slice(i) };
      }
    }
    // A head starts with "HTTP/": recognise a peer speaking something else
    // before it sends a whole line.
    if (this.#lineStart === 0) this.#checkPrefix();
    return null;
  }

  #append(bytes: Uint8Array): void {
    const needed = this.#length + bytes.length;
    if (needed > this.#maxHeadSize) {
      throw new RangeError(
        `Response head too large: it exceeds ${this.#maxHeadSize} bytes`,
      );
    }
    if (needed > this.#buffer.length) {
      let size = Math.max(this.#buffer.length * 2, 1024);
      while (size < needed) size *= 2;
      const grown = new Uint8Array(Math.min(size, this.#maxHeadSize));
      grown.set(this.#buffer.subarray(0, this.#length));
      this.#buffer = grown;
    }
    this.#buffer.set(bytes, this.#length);
    this.#length = needed;
  }

  #checkPrefix(): void {
    const prefix = "HTTP/";
    for (let i = 0; i < Math.min(this.#length, prefix.length); i++) {
      if (this.#buffer[i] !== prefix.charCodeAt(i)) {
        throw new SyntaxError(
          `Malformed status line starting ${
            JSON.stringify(
              latin1(this.#buffer.subarray(0, Math.min(this.#length, 32))),
            )
          }: the peer did not answer with HTTP/1.1`,
        );
      }
    }
  }

  #checkStatusLine(lineEnd: number): void {
    this.#checkPrefix();
    parseStatusLine(stripLineEnd(latin1(this.#buffer.subarray(0, lineEnd))));
  }
}

/** Parses a complete head (status line, fields, final empty line). */
function parseHead(
  head: Uint8Array,
): Omit<HttpResponseHead, "rest"> {
  const lines = latin1(head).split("\n");
  // The head ends with an empty line, so the last two items are empty.
  lines.length -= 2;
  const { version, status, statusText } = parseStatusLine(
    stripLineEnd(lines[0] ?? ""),
  );

  // Unfold obsolete line folding first (RFC 9112 §5.2: a user agent
  // replaces each obs-fold with SP before interpreting the field value).
  const fields: string[] = [];
  for (let index = 1; index < lines.length; index++) {
    const line = stripLineEnd(lines[index] ?? "");
    if (line[0] === " " || line[0] === "\t") {
      if (fields.length === 0) {
        throw new SyntaxError(
          `Malformed header line ${
            JSON.stringify(line)
          }: a continuation line without a header before it`,
        );
      }
      fields[fields.length - 1] = fields[fields.length - 1]!.replace(
        /[ \t]*$/,
        " ",
      ) + line.replace(/^[ \t]+/, "");
    } else {
      fields.push(line);
    }
  }

  const headers = new Headers();
  for (const line of fields) {
    const field = FIELD_LINE.exec(line);
    const name = field?.[1] ?? "";
    const value = field?.[2] ?? "";
    if (field === null || !TOKEN.test(name) || !FIELD_VALUE.test(value)) {
      throw new SyntaxError(`Malformed header line ${JSON.stringify(line)}`);
    }
    try {
      headers.append(name, value);
    } catch {
      throw new SyntaxError(`Malformed header line ${JSON.stringify(line)}`);
    }
  }
  return { version, status, statusText, headers };
}

function parseStatusLine(
  line: string,
): { version: string; status: number; statusText: string } {
  const match = STATUS_LINE.exec(line);
  const reason = match?.[3] ?? "";
  if (match === null || !REASON.test(reason)) {
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

/** Drops the line's CR (before its LF), rejecting any other CR. */
function stripLineEnd(line: string): string {
  const stripped = line.endsWith("\r") ? line.slice(0, -1) : line;
  if (stripped.includes("\r")) {
    throw new SyntaxError(
      `Bare CR in the response head line ${
        JSON.stringify(stripped)
      }: lines must end with CRLF`,
    );
  }
  return stripped;
}

/** Decodes bytes as ISO-8859-1 (each byte one code unit), as ByteStrings are. */
function latin1(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    text += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return text;
}
