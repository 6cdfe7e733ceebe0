/**
 * Request bodies for wstream's `serve()`, private to wstream: how a request
 * head frames its body ({@linkcode requestBodyFraming}, RFC 9112 §6), a
 * sans-I/O decoder of `Content-Length` and `chunked` bodies
 * ({@linkcode BodyDecoder}, RFC 9112 §6.2 and §7.1), and
 * {@linkcode RequestBody}, the `ReadableStream` a handler reads, which pulls
 * bytes from the socket only while the handler reads. Never re-exported.
 *
 * @module
 */

/**
 * A request body could not be read; {@linkcode HttpBodyError.status} is the
 * status to answer with (400, 408, 413 or 501) and the message a plain-text
 * reason fit for the response body.
 */
export class HttpBodyError extends Error {
  /** The HTTP status to answer with. */
  readonly status: number;

  /**
   * Creates a body error.
   *
   * @param status The HTTP status to answer with.
   * @param message A sentence saying what was wrong with the body.
   */
  constructor(status: number, message: string) {
    super(message);
    this.name = "HttpBodyError";
    this.status = status;
  }
}

/** How a request's body is delimited (RFC 9112 §6.3). */
export type BodyFraming =
  | { kind: "none" }
  | { kind: "length"; length: number }
  | { kind: "chunked" };

/** The longest chunk-size line (size and extensions), CRLF included. */
export const MAX_CHUNK_LINE = 4096;
/** The most bytes of trailer fields read (and discarded) after a chunked body. */
export const MAX_TRAILER_SIZE = 16 * 1024;

const HEX_SIZE = /^([0-9A-Fa-f]{1,16})(?:[ \t]*;[\t\x20-\x7e\x80-\xff]*)?$/;
const TRAILER_LINE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[\t\x20-\x7e\x80-\xff]*$/;

/**
 * Decides how a request's body is delimited, refusing what RFC 9112 §6.1 and
 * §6.3 make ambiguous (the request smuggling rules).
 *
 * @param headers The request's headers (as `HttpHeadReader` validated them:
 * one `Content-Length` value, never beside `Transfer-Encoding`).
 * @param http10 Whether the request is HTTP/1.0.
 * @param maxBodySize The largest body accepted, in bytes.
 * @returns The framing.
 * @throws {HttpBodyError} 400 for `Transfer-Encoding` in HTTP/1.0, beside
 * `Content-Length`, or whose final coding is not `chunked` (or that applies
 * `chunked` twice); 501 for a coding other than `chunked`; 413 for a
 * `Content-Length` over `maxBodySize`.
 */
export function requestBodyFraming(
  headers: Headers,
  http10: boolean,
  maxBodySize: number,
): BodyFraming {
  const te = headers.get("transfer-encoding");
  if (te !== null) {
    if (headers.has("content-length")) {
      throw new HttpBodyError(
        400,
        "A request must not carry both Content-Length and Transfer-Encoding (RFC 9112 §6.3)",
      );
    }
    if (http10) {
      throw new HttpBodyError(
        400,
        "Transfer-Encoding in an HTTP/1.0 request is not supported (RFC 9112 §6.1): send Content-Length",
      );
    }
    const codings = te.split(",").map((coding) => coding.trim().toLowerCase())
      .filter((coding) => coding !== "");
    if (codings.at(-1) !== "chunked") {
      throw new HttpBodyError(
        400,
        `Invalid Transfer-Encoding ${
          JSON.stringify(te)
        }: chunked must be the final transfer coding (RFC 9112 §6.3)`,
      );
    }
    if (codings.length > 1) {
      if (codings.indexOf("chunked") < codings.length - 1) {
        throw new HttpBodyError(
          400,
          `Invalid Transfer-Encoding ${
            JSON.stringify(te)
          }: chunked applied more than once (RFC 9112 §7)`,
        );
      }
      throw new HttpBodyError(
        501,
        `Transfer coding not implemented: ${
          JSON.stringify(te)
        }; send the body with chunked alone or with Content-Length`,
      );
    }
    return { kind: "chunked" };
  }
  const cl = headers.get("content-length");
  if (cl === null) return { kind: "none" };
  const length = Number(cl.split(",")[0]!.trim());
  if (!Number.isSafeInteger(length) || length > maxBodySize) {
    throw new HttpBodyError(
      413,
      `Content too large: the body of ${
        cl.split(",")[0]!.trim()
      } bytes exceeds the server's limit of ${maxBodySize} bytes`,
    );
  }
  return length === 0 ? { kind: "none" } : { kind: "length", length };
}

/** The decoder's states (plain numbers: Node's type stripping has no enums). */
const State = {
  Data: 0,
  Size: 1,
  DataCr: 2,
  DataLf: 3,
  Trailer: 4,
  Done: 5,
} as const;
type State = typeof State[keyof typeof State];

/**
 * Decodes a `Content-Length` or `chunked` request body from chunks of
 * bytes, sans I/O: chunk extensions are ignored, trailer fields read and
 * discarded, chunk sizes strict hex on a line of at most
 * {@linkcode MAX_CHUNK_LINE} bytes ending in CRLF (RFC 9112 §7.1).
 */
export class BodyDecoder {
  #state: State;
  #remaining: number;
  #chunked: boolean;
  #maxBodySize: number;
  #received = 0;
  #line = "";
  #trailerSize = 0;

  /**
   * Creates a decoder for one body.
   *
   * @param framing A `length` or `chunked` framing.
   * @param maxBodySize The most body bytes accepted (chunked bodies).
   */
  constructor(
    framing: Exclude<BodyFraming, { kind: "none" }>,
    maxBodySize: number,
  ) {
    this.#chunked = framing.kind === "chunked";
    this.#state = this.#chunked ? State.Size : State.Data;
    this.#remaining = framing.kind === "length" ? framing.length : 0;
    this.#maxBodySize = maxBodySize;
  }

  /** Whether the whole body was decoded. */
  get done(): boolean {
    return this.#state === State.Done;
  }

  /** How many body bytes were announced so far. */
  get received(): number {
    return this.#received;
  }

  /**
   * Decodes the next received bytes.
   *
   * @param chunk Bytes received after those already pushed.
   * @param out Receives the body bytes in `chunk`, as views into it.
   * @returns The bytes of `chunk` after the body once it ended (a view,
   * possibly empty), or `null` when more bytes are needed.
   * @throws {HttpBodyError} 400 for a malformed chunk, 413 once a chunked
   * body exceeds `maxBodySize`.
   */
  push(chunk: Uint8Array, out: Uint8Array[]): Uint8Array | null {
    let i = 0;
    while (i < chunk.length || this.#state === State.Done) {
      switch (this.#state) {
        case State.Done:
          return chunk.subarray(i);
        case State.Data: {
          const take = Math.min(this.#remaining, chunk.length - i);
          if (take > 0) out.push(chunk.subarray(i, i + take));
          i += take;
          this.#remaining -= take;
          if (this.#remaining === 0) {
            this.#state = this.#chunked ? State.DataCr : State.Done;
          }
          break;
        }
        case State.DataCr:
        case State.DataLf: {
          const expected = this.#state === State.DataCr ? 0x0d : 0x0a;
          if (chunk[i] !== expected) {
            throw new HttpBodyError(
              400,
              "Malformed chunked body: chunk data must be followed by CRLF (RFC 9112 §7.1)",
            );
          }
          i++;
          this.#state = this.#state === State.DataCr
            ? State.DataLf
            : State.Size;
          break;
        }
        case State.Size:
        case State.Trailer:
          i = this.#readLine(chunk, i);
          break;
      }
    }
    return null;
  }

  /**
   * Reports the end of the received bytes.
   *
   * @throws {HttpBodyError} 400 if the body is incomplete.
   */
  end(): void {
    if (this.#state !== State.Done) {
      throw new HttpBodyError(
        400,
        "Incomplete request body: the connection ended before its end",
      );
    }
  }

  #readLine(chunk: Uint8Array, start: number): number {
    const lf = chunk.indexOf(0x0a, start);
    const stop = lf === -1 ? chunk.length : lf;
    const limit = this.#state === State.Size
      ? MAX_CHUNK_LINE
      : MAX_TRAILER_SIZE - this.#trailerSize;
    if (this.#line.length + (stop - start) + 1 > limit) {
      throw new HttpBodyError(
        400,
        this.#state === State.Size
          ? `Malformed chunked body: a chunk-size line longer than ${MAX_CHUNK_LINE} bytes`
          : `Malformed chunked body: trailer fields longer than ${MAX_TRAILER_SIZE} bytes`,
      );
    }
    this.#line += String.fromCharCode(...chunk.subarray(start, stop));
    if (lf === -1) return chunk.length;
    const raw = this.#line;
    this.#line = "";
    if (!raw.endsWith("\r") || raw.indexOf("\r") !== raw.length - 1) {
      throw new HttpBodyError(
        400,
        "Malformed chunked body: lines must end with CRLF and hold no other CR (RFC 9112 §7.1)",
      );
    }
    const line = raw.slice(0, -1);
    if (this.#state === State.Size) {
      const match = HEX_SIZE.exec(line);
      if (match === null) {
        throw new HttpBodyError(
          400,
          `Malformed chunked body: invalid chunk size line ${
            JSON.stringify(line.slice(0, 64))
          }`,
        );
      }
      const size = parseInt(match[1]!, 16);
      if (
        !Number.isSafeInteger(size) || this.#received + size > this.#maxBodySize
      ) {
        throw new HttpBodyError(
          413,
          `Content too large: the chunked body exceeds the server's limit of ${this.#maxBodySize} bytes`,
        );
      }
      this.#received += size;
      this.#remaining = size;
      this.#state = size === 0 ? State.Trailer : State.Data;
    } else {
      this.#trailerSize += raw.length + 1;
      if (line === "") {
        this.#state = State.Done;
      } else if (!TRAILER_LINE.test(line)) {
        throw new HttpBodyError(
          400,
          `Malformed chunked body: invalid trailer field ${
            JSON.stringify(line.slice(0, 64))
          }`,
        );
      }
    }
    return lf + 1;
  }
}

/** Takes what a {@linkcode BodySource} receives (a socket's receiver). */
export interface BodyReceiver {
  /** Received bytes, owned by the receiver. */
  data(chunk: Uint8Array): void;
  /** The end of the received bytes (FIN, an error, or closed). */
  end(error?: Error): void;
}

/** Where a body's bytes come from: a socket channel, read on demand. */
export interface BodySource {
  /** Delivers received bytes to `receiver`; `null` stops reading. */
  receive(receiver: BodyReceiver | null): void;
}

/** Options of {@linkcode RequestBody}. */
export interface RequestBodyOptions {
  /** The most body bytes accepted. */
  maxBodySize: number;
  /** Called before the first socket read (to send `100 Continue`). */
  beforeFirstRead?: (() => Promise<void>) | undefined;
  /**
   * The longest wait for body bytes, in milliseconds, while the body is
   * read; past it the body fails with 408. 0: no limit.
   */
  timeout: number;
}

const DISCARDED =
  "The response was sent before the request body was read: the rest of the body was discarded";

/**
 * A request body as the `ReadableStream` a handler reads: bytes received
 * after the head come first, then the socket is read only while the handler
 * waits for more (no read-ahead beyond one socket read), so a slow handler
 * slows the client through TCP. After the response,
 * {@linkcode RequestBody.finish} reads and discards what the handler left.
 */
export class RequestBody {
  /** The stream the handler reads. */
  readonly stream: ReadableStream<Uint8Array>;
  #source: BodySource;
  #decoder: BodyDecoder;
  #options: RequestBodyOptions;
  #pending: Uint8Array | null;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #open = true;
  #started = false;
  #enqueued = 0;
  #rest: Uint8Array | null = null;
  #error: Error | null = null;
  #wake: (() => void) | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #receiver: BodyReceiver;

  /**
   * Creates the body of one request.
   *
   * @param source The socket, read on demand.
   * @param framing A `length` or `chunked` framing.
   * @param initial Bytes received after the head (read first).
   * @param options The size limit, the `100 Continue` hook, the timeout.
   */
  constructor(
    source: BodySource,
    framing: Exclude<BodyFraming, { kind: "none" }>,
    initial: Uint8Array,
    options: RequestBodyOptions,
  ) {
    this.#source = source;
    this.#decoder = new BodyDecoder(framing, options.maxBodySize);
    this.#options = options;
    this.#pending = initial.length > 0 ? initial : null;
    this.#receiver = {
      data: (chunk) => {
        // One socket read at a time: pause, deliver, wait for the next pull.
        this.#pause();
        this.#feed(chunk);
        this.#wakeUp();
      },
      end: (error) => {
        this.#pause();
        try {
          this.#decoder.end();
        } catch (incomplete) {
          this.#fail(error ?? (incomplete as Error));
        }
        this.#wakeUp();
      },
    };
    this.stream = new ReadableStream<Uint8Array>({
      start: (controller): void => {
        this.#controller = controller;
      },
      pull: (): Promise<void> => this.#pull(),
      cancel: (): void => {
        this.#open = false;
      },
    }, { highWaterMark: 0 });
  }

  /** Whether the handler started reading. */
  get started(): boolean {
    return this.#started;
  }

  /** Whether the whole body was received. */
  get complete(): boolean {
    return this.#rest !== null;
  }

  /** Why reading the body failed, if it did. */
  get error(): Error | null {
    return this.#error;
  }

  /**
   * Reads and discards the rest of the body (errors the handler's stream if
   * it is still open), for the next request on the connection.
   *
   * @returns The bytes received after the body.
   * @throws {Error} If the body failed (framing, size, time, socket).
   */
  async finish(): Promise<Uint8Array> {
    if (this.#open && this.#rest === null && this.#error === null) {
      this.#open = false;
      try {
        this.#controller.error(new TypeError(DISCARDED));
      } catch {
        // Closed meanwhile.
      }
    }
    this.#open = false;
    while (this.#rest === null && this.#error === null) {
      await this.#read();
    }
    if (this.#error !== null) throw this.#error;
    return this.#rest!;
  }

  async #pull(): Promise<void> {
    if (!this.#started) {
      this.#started = true;
      if (this.#pending === null && this.#options.beforeFirstRead) {
        try {
          await this.#options.beforeFirstRead();
        } catch (error) {
          this.#fail(error as Error);
          return;
        }
      }
    }
    // A pull that enqueues nothing is not called again (the streams spec):
    // read until a piece, the end or an error.
    const before = this.#enqueued;
    while (
      this.#enqueued === before && this.#rest === null && this.#error === null
    ) {
      await this.#read();
    }
  }

  /** Reads one socket chunk (or the held bytes) into the decoder. */
  #read(): Promise<void> {
    const pending = this.#pending;
    if (pending !== null) {
      this.#pending = null;
      this.#feed(pending);
      return Promise.resolve();
    }
    if (this.#rest !== null || this.#error !== null) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.#wake = resolve;
      const timeout = this.#options.timeout;
      if (timeout > 0) {
        this.#timer = setTimeout(() => {
          this.#pause();
          this.#fail(
            new HttpBodyError(
              408,
              `Request timeout: no part of the request body arrived within ${timeout} ms`,
            ),
          );
          this.#wakeUp();
        }, timeout);
      }
      this.#source.receive(this.#receiver);
    });
  }

  #pause(): void {
    clearTimeout(this.#timer);
    this.#source.receive(null);
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  #feed(chunk: Uint8Array): void {
    if (this.#rest !== null || this.#error !== null) return;
    const out: Uint8Array[] = [];
    let rest: Uint8Array | null;
    try {
      rest = this.#decoder.push(chunk, out);
    } catch (error) {
      this.#fail(error as Error);
      return;
    }
    if (this.#open) {
      for (const piece of out) this.#controller.enqueue(piece);
      this.#enqueued += out.length;
    }
    if (rest !== null) {
      this.#rest = rest;
      if (this.#open) {
        this.#open = false;
        this.#controller.close();
      }
    }
  }

  #fail(error: Error): void {
    if (this.#error !== null || this.#rest !== null) return;
    this.#error = error;
    if (this.#open) {
      this.#open = false;
      this.#controller.error(error);
    }
  }
}
