/**
 * What wstream's two HTTP/1.1 head readers share, private to wstream: the
 * {@linkcode HeadCollector} that gathers a head's bytes line by line up to a
 * size limit, and the RFC 9110 / RFC 9112 field syntax with
 * {@linkcode parseFields}. `HttpHeadReader` (request heads, server side) and
 * `HttpResponseHeadReader` (response heads, client side) add only their
 * start line and what their side of RFC 9112 asks for; each passes the
 * errors it throws, so their public errors stay their own. Never
 * re-exported.
 *
 * @module
 */

const LF = 0x0a;
const CR = 0x0d;
const DEFAULT_MAX_HEAD_SIZE = 16 * 1024;
const EMPTY = new Uint8Array(0);

/** RFC 9110 §5.6.2 token (methods, field names). */
export const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/**
 * Field values: any octet but CTLs (HTAB allowed) and DEL (RFC 9110 §5.5).
 * The same octets make a reason phrase (RFC 9112 §4).
 */
export const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
// RFC 9112 §5: field-name ":" OWS field-value OWS, no space before the colon.
// The OWS is dropped by trimOws: a pattern such as /(.*?)[ \t]*$/ backtracks
// quadratically over a long run of inner whitespace (16 KiB: ~0.5 s of CPU).
const FIELD_LINE = /^([^:\s]+):(.*)$/;

/** Options of {@linkcode HeadCollector}. */
export interface HeadCollectorOptions {
  /** The reader's class name, for the error when it is pushed to when done. */
  owner: string;
  /** The most bytes the head may take; `undefined` for 16384. */
  maxHeadSize: number | undefined;
  /** Makes the error thrown when the head exceeds `maxHeadSize`. */
  tooLarge(maxHeadSize: number): Error;
}

/** A complete line of the head, as {@linkcode HeadCollector.push} reports it. */
export interface HeadLine {
  /** Which line of the head it is, from 0. */
  index: number;
  /** The offset in the head of its first byte. */
  start: number;
  /** The offset in the head of its LF. */
  end: number;
  /** Whether it is empty: a LF or CRLF alone. */
  empty: boolean;
}

/** A complete head, as {@linkcode HeadCollector.push} returns it. */
export interface CollectedHead {
  /**
   * The head's lines decoded as Latin-1, each without its LF (a CR before
   * the LF is kept: drop it with {@linkcode stripCr}), the final empty line
   * left out.
   */
  lines: string[];
  /** The bytes of the last chunk after the head, copied. */
  rest: Uint8Array;
}

/**
 * Collects the bytes of one HTTP/1.1 head from chunks, in a buffer that grows
 * by doubling up to `maxHeadSize`, and reports each line as it completes so
 * that the reader decides which empty line ends the head. A bare LF ends a
 * line like CRLF (RFC 9112 §2.2).
 */
export class HeadCollector {
  #owner: string;
  #maxHeadSize: number;
  #tooLarge: (maxHeadSize: number) => Error;
  #buffer: Uint8Array = EMPTY;
  #length = 0;
  #lineStart = 0;
  #lineCount = 0;
  #done = false;

  /**
   * Creates a collector for one head.
   *
   * @param options The owner's name, the size limit and its error.
   * @throws {RangeError} If `maxHeadSize` is not a positive integer.
   */
  constructor(options: HeadCollectorOptions) {
    const maxHeadSize = options.maxHeadSize ?? DEFAULT_MAX_HEAD_SIZE;
    if (!Number.isSafeInteger(maxHeadSize) || maxHeadSize < 1) {
      throw new RangeError(
        `Invalid maxHeadSize ${maxHeadSize}: pass a positive integer`,
      );
    }
    this.#owner = options.owner;
    this.#maxHeadSize = maxHeadSize;
    this.#tooLarge = options.tooLarge;
  }

  /** How many bytes of the head were received so far. */
  get length(): number {
    return this.#length;
  }

  /** How many complete lines were received so far. */
  get lineCount(): number {
    return this.#lineCount;
  }

  /**
   * Appends `chunk` line by line, calling `onLine` with each line it
   * completes, until `onLine` says that line ends the head.
   *
   * @param chunk Bytes received after those already pushed. Not retained.
   * @param onLine Called with each complete line once its bytes are in;
   * returns `true` when the line ends the head. May throw to fail the head.
   * @returns The head once `onLine` returned `true` (push no more after
   * that), or `null` when more bytes are needed.
   * @throws {Error} The `tooLarge` error if the head exceeds `maxHeadSize`,
   * or whatever `onLine` throws.
   * @throws {TypeError} If called again after a head was returned.
   */
  push(
    chunk: Uint8Array,
    onLine: (line: HeadLine) => boolean,
  ): CollectedHead | null {
    if (this.#done) {
      throw new TypeError(
        `${this.#owner} already returned a head: create a new reader`,
      );
    }
    // A head that starts in this chunk is read in place, with no copy, and
    // copied only if it does not end in it (the chunk is not retained).
    const inPlace = this.#length === 0;
    if (inPlace) this.#buffer = chunk;
    try {
      const head = this.#pushLines(chunk, onLine, inPlace);
      if (head === null && inPlace) this.#own();
      return head;
    } catch (error) {
      this.#buffer = EMPTY;
      throw error;
    }
  }

  #pushLines(
    chunk: Uint8Array,
    onLine: (line: HeadLine) => boolean,
    inPlace: boolean,
  ): CollectedHead | null {
    let i = 0;
    while (i < chunk.length) {
      const lf = chunk.indexOf(LF, i);
      const stop = lf === -1 ? chunk.length : lf + 1;
      if (inPlace) {
        if (stop > this.#maxHeadSize) throw this.#tooLarge(this.#maxHeadSize);
        this.#length = stop;
      } else {
        this.#append(chunk.subarray(i, stop));
      }
      i = stop;
      if (lf === -1) break;
      const start = this.#lineStart;
      const end = this.#length - 1;
      const line: HeadLine = {
        index: this.#lineCount,
        start,
        end,
        empty: end === start ||
          (end === start + 1 && this.#buffer[start] === CR),
      };
      this.#lineStart = this.#length;
      this.#lineCount++;
      if (onLine(line)) {
        this.#done = true;
        const lines = latin1(this.#buffer.subarray(0, this.#length))
          .split(
            "\n",
          );
        this.#buffer = EMPTY;
        // The head ends with an empty line, so the last two items are empty.
        lines.length -= 2;
        return { lines, rest: chunk.slice(i) };
      }
    }
    return null;
  }

  /**
   * Decodes bytes of the head received so far as Latin-1.
   *
   * @param start The offset of the first byte.
   * @param end The offset after the last byte.
   * @returns One code unit a byte.
   */
  text(start: number, end: number): string {
    return latin1(
      this.#buffer.subarray(start, Math.min(end, this.#length)),
    );
  }

  /** Copies the part of a head read in place into a buffer of its own. */
  #own(): void {
    let size = 1024;
    while (size < this.#length) size *= 2;
    const owned = new Uint8Array(Math.min(size, this.#maxHeadSize));
    owned.set(this.#buffer.subarray(0, this.#length));
    this.#buffer = owned;
  }

  #append(bytes: Uint8Array): void {
    const needed = this.#length + bytes.length;
    if (needed > this.#maxHeadSize) throw this.#tooLarge(this.#maxHeadSize);
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
}

/** How a head reader reports what is wrong with its head's lines. */
export interface HeadSyntax {
  /** Makes the error to throw from a message saying what was wrong. */
  error(message: string): Error;
  /** The message for a bare CR in `line` (its final CR already dropped). */
  bareCr(line: string): string;
  /**
   * What to do with obsolete line folding (RFC 9112 §5.2): `"reject"` it, as
   * a server must or may, or `"unfold"` it, replacing each fold with a space,
   * as a user agent must.
   */
  obsFold: "reject" | "unfold";
}

/**
 * Drops a line's final CR (the one before its LF), rejecting any other CR
 * (RFC 9112 §2.2).
 *
 * @param line A line of {@linkcode CollectedHead.lines}.
 * @param syntax The reader's errors.
 * @returns The line without its final CR.
 * @throws {Error} `syntax.error(syntax.bareCr(...))` if another CR remains.
 */
export function stripCr(line: string, syntax: HeadSyntax): string {
  const stripped = line.endsWith("\r") ? line.slice(0, -1) : line;
  if (stripped.includes("\r")) {
    throw syntax.error(syntax.bareCr(stripped));
  }
  return stripped;
}

/**
 * Parses and validates the field lines of a head (RFC 9112 §5) into name and
 * value pairs, in order, for `new Headers(pairs)` or a `Request`'s `headers`
 * (which combine repeated fields with `", "`): one conversion, where
 * appending to a `Headers` that the `Request` then copies costs two (30 µs
 * a request on Deno).
 *
 * @param lines The field lines of {@linkcode CollectedHead.lines}, CRs kept.
 * @param syntax The reader's errors and obs-fold policy.
 * @param onField Called with each field's name and value in order, before
 * it is appended, for a reader that checks single fields (such as counting
 * `Host` fields, which `Headers` would combine).
 * @returns The fields, as `[name, value]` pairs in order.
 * @throws {Error} A `syntax.error(...)` on a bare CR, a folded line that is
 * rejected or has no field before it, or a malformed field line.
 */
export function parseFields(
  lines: readonly string[],
  syntax: HeadSyntax,
  onField?: (name: string, value: string) => void,
): [string, string][] {
  const headers: [string, string][] = [];
  const add = (line: string): void => {
    const field = FIELD_LINE.exec(line);
    const name = field?.[1] ?? "";
    const value = trimOws(field?.[2] ?? "");
    // What `Headers` accepts (RFC 9110 §5.1, §5.5), so no later throw.
    if (field === null || !TOKEN.test(name) || !FIELD_VALUE.test(value)) {
      throw syntax.error(`Malformed header line ${JSON.stringify(line)}`);
    }
    onField?.(name, value);
    headers.push([name, value]);
  };

  if (syntax.obsFold === "reject") {
    // Line by line: the first bad line, whatever is wrong with it, fails.
    for (const raw of lines) {
      if (raw[0] === " " || raw[0] === "\t") {
        throw syntax.error(
          "Obsolete line folding is not supported (RFC 9112 §5.2): send each header on one line",
        );
      }
      add(stripCr(raw, syntax));
    }
    return headers;
  }

  // Unfold first (RFC 9112 §5.2: a user agent replaces each obs-fold with SP
  // before interpreting the field value), then read the unfolded fields.
  const fields: string[] = [];
  for (const raw of lines) {
    const line = stripCr(raw, syntax);
    if (line[0] === " " || line[0] === "\t") {
      if (fields.length === 0) {
        throw syntax.error(
          `Malformed header line ${
            JSON.stringify(line)
          }: a continuation line without a header before it`,
        );
      }
      fields[fields.length - 1] = `${trimOws(fields[fields.length - 1]!)} ${
        trimOws(line)
      }`;
    } else {
      fields.push(line);
    }
  }
  for (const line of fields) add(line);
  return headers;
}

/**
 * Drops leading and trailing SP and HTAB (OWS, RFC 9110 §5.6.3), in time
 * linear in the length whatever the whitespace inside.
 */
function trimOws(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && isOws(value.charCodeAt(start))) start++;
  while (end > start && isOws(value.charCodeAt(end - 1))) end--;
  return value.slice(start, end);
}

function isOws(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

type Latin1Slice = (this: Uint8Array, start: number, end: number) => string;
/** Node's, Bun's and Deno's `Buffer` method: a range with no view or spread. */
const latin1Slice = (globalThis as {
  Buffer?: { prototype?: { latin1Slice?: Latin1Slice } };
}).Buffer?.prototype?.latin1Slice;
/** Decodes ASCII; a decoder, unlike `fromCharCode(...)`, allocates little. */
const ASCII = new TextDecoder();

/** Decodes bytes as ISO-8859-1 (each byte one code unit), as ByteStrings are. */
function latin1(bytes: Uint8Array): string {
  if (latin1Slice !== undefined) {
    return latin1Slice.call(bytes, 0, bytes.length);
  }
  // ASCII, the usual head, decodes the same as UTF-8: a spread of the bytes
  // into fromCharCode would cost ~11 KiB of garbage per head on V8.
  let ascii = true;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i]! >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) return ASCII.decode(bytes);
  let text = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    text += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return text;
}
