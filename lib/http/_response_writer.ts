/**
 * Writes a `Response` as HTTP/1.1 for wstream's `serve()`, streamed, private
 * to wstream: the head, then the body chunk by chunk as the handler produces
 * it (each chunk is written, and waited for, before the next is read), with
 * `Content-Length` when the length is known (set by the handler, or the whole
 * body was available at once) and `Transfer-Encoding: chunked` otherwise
 * (close-delimited for HTTP/1.0 clients). Never re-exported.
 *
 * @module
 */

/** Where the response goes: a socket's write, which resolves once taken. */
export interface ResponseSink {
  /** Sends bytes after earlier writes; rejects once the socket is closed. */
  write(bytes: Uint8Array): Promise<void>;
}

/** Options of {@linkcode writeHttpResponse}. */
export interface ResponseWriteOptions {
  /** Send the head only (a HEAD request). */
  headOnly: boolean;
  /** The client speaks HTTP/1.0: no chunked coding. */
  http10: boolean;
  /** Whether the connection may serve another request afterwards. */
  keepAlive: boolean;
  /** Settles when the client went away: the body is cancelled. */
  aborted?: Promise<void> | undefined;
}

/** Reading the response body failed before anything was written. */
export class ResponseBodyError extends Error {}

/** Writing to the socket failed. */
export class WriteError extends Error {}

/** Status texts for the statuses a server commonly sends. */
export const STATUS_TEXT: Record<number, string> = {
  100: "Continue",
  101: "Switching Protocols",
  200: "OK",
  201: "Created",
  202: "Accepted",
  204: "No Content",
  206: "Partial Content",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  304: "Not Modified",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  411: "Length Required",
  413: "Content Too Large",
  414: "URI Too Long",
  415: "Unsupported Media Type",
  417: "Expectation Failed",
  422: "Unprocessable Content",
  426: "Upgrade Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported",
};

/** Headers the server sets itself on plain responses. */
const FRAMING_HEADERS = new Set([
  "connection",
  "content-length",
  "keep-alive",
  "transfer-encoding",
  "upgrade",
  "set-cookie", // written one per line from getSetCookie()
]);

/** The most bytes gathered to find a body's length before writing. */
const MAX_GATHER = 1024 * 1024;
/** Microtask turns a body read may take to count as available at once. */
const AT_ONCE_TICKS = 8;

const CRLF = new Uint8Array([0x0d, 0x0a]);
const LAST_CHUNK = new Uint8Array([0x30, 0x0d, 0x0a, 0x0d, 0x0a]);

type Read = ReadableStreamReadResult<Uint8Array>;

/**
 * Writes `response`: head, then body as it is produced.
 *
 * The body's first bytes are read before the head is written, so that a
 * body failing at once can still become a 500 ({@linkcode ResponseBodyError});
 * every chunk available at once (up to 1 MiB, such as a string or a byte
 * array) is gathered, so such bodies get `Content-Length`. A handler's own
 * `Content-Length` is kept and enforced: a body of another length closes the
 * connection (it ends early, or is cut at the length) rather than lying.
 *
 * @param response What to send (status 200 or more).
 * @param sink The socket.
 * @param options HEAD, HTTP/1.0, keep-alive, the client-gone signal.
 * @returns Whether the connection may serve another request.
 * @throws {ResponseBodyError} If the body failed before anything was written.
 * @throws {WriteError} If the head could not be written.
 */
export async function writeHttpResponse(
  response: Response,
  sink: ResponseSink,
  options: ResponseWriteOptions,
): Promise<boolean> {
  const status = response.status;
  const noBody = status === 204 || status === 304 || status < 200;
  let declared: number | null = null;
  const lengthHeader = response.headers.get("content-length");
  if (lengthHeader !== null && /^\d{1,15}$/.test(lengthHeader.trim())) {
    declared = Number(lengthHeader.trim());
  }
  let keepAlive = options.keepAlive &&
    !hasToken(response.headers.get("connection"), "close");

  const reader = noBody ? null : response.body?.getReader() ?? null;
  if (reader === null) await response.body?.cancel().catch(() => {});
  const gathered: Uint8Array[] = [];
  let gatheredSize = 0;
  let done = reader === null;
  let next: Promise<Read> | null = null;
  if (reader !== null) {
    try {
      let result: Read = await reader.read();
      while (!result.done) {
        const chunk = toBytes(result.value);
        gathered.push(chunk);
        gatheredSize += chunk.length;
        if (gatheredSize >= MAX_GATHER) break;
        next = reader.read();
        next.catch(() => {});
        const quick = await Promise.race([next, ticks(AT_ONCE_TICKS)]);
        if (quick === null) break;
        next = null;
        result = quick;
      }
      done = result.done;
    } catch (error) {
      reader.cancel(error).catch(() => {});
      throw new ResponseBodyError("Reading the response body failed", {
        cause: error,
      });
    }
    if (done) next = null;
    if (done && declared !== null && declared !== gatheredSize) {
      throw new ResponseBodyError(
        `The response's Content-Length ${declared} does not match its body of ${gatheredSize} bytes`,
      );
    }
  }

  // Framing (RFC 9112 §6.1-6.3).
  let framing: "none" | "length" | "chunked" | "close" = "none";
  let length = 0;
  if (noBody) {
    framing = "none";
  } else if (declared !== null) {
    framing = "length";
    length = declared;
  } else if (done) {
    framing = "length";
    length = gatheredSize;
  } else if (!options.headOnly) {
    framing = options.http10 ? "close" : "chunked";
  }
  if (framing === "close") keepAlive = false;

  let text = `HTTP/1.1 ${status} ${
    response.statusText || STATUS_TEXT[status] || ""
  }\r\n`;
  for (const [name, value] of response.headers) {
    if (!FRAMING_HEADERS.has(name)) text += `${name}: ${value}\r\n`;
  }
  for (const cookie of response.headers.getSetCookie()) {
    text += `set-cookie: ${cookie}\r\n`;
  }
  if (framing === "length") text += `content-length: ${length}\r\n`;
  if (framing === "chunked") text += "transfer-encoding: chunked\r\n";
  if (!keepAlive) text += "connection: close\r\n";
  else if (options.http10) text += "connection: keep-alive\r\n";
  text += "\r\n";

  const headBytes = latin1(text);
  if (options.headOnly || framing === "none") {
    if (reader !== null) reader.cancel().catch(() => {});
    await write(sink, headBytes, true);
    return keepAlive;
  }

  // The head with what was gathered, in one write.
  let sent = 0;
  const first: Uint8Array[] = [headBytes];
  const frame = (chunk: Uint8Array): void => {
    if (framing === "chunked") {
      first.push(latin1(`${chunk.length.toString(16)}\r\n`), chunk, CRLF);
    } else {
      first.push(chunk);
    }
  };
  let overflow = false;
  for (const chunk of gathered) {
    if (chunk.length === 0) continue;
    if (framing === "length" && sent + chunk.length > length) {
      frame(chunk.subarray(0, length - sent));
      sent = length;
      overflow = true;
      break;
    }
    frame(chunk);
    sent += chunk.length;
  }
  if (done && framing === "chunked") first.push(LAST_CHUNK);
  await write(sink, concat(first), true);
  if (reader === null || done) return keepAlive;
  if (overflow) return tooLong(reader, length);

  // Stream the rest, one chunk at a time.
  const aborted = options.aborted?.then((): null => null);
  while (true) {
    let result: Read | null;
    try {
      const read = next ?? reader.read();
      next = null;
      result =
        await (aborted === undefined ? read : Promise.race([read, aborted]));
    } catch {
      return false; // The body failed midway: close, the client sees it cut.
    }
    if (result === null) {
      reader.cancel(new Error("The client went away")).catch(() => {});
      return false;
    }
    if (result.done) break;
    let chunk: Uint8Array;
    try {
      chunk = toBytes(result.value);
    } catch (error) {
      reader.cancel(error).catch(() => {});
      console.error(error);
      return false;
    }
    if (chunk.length === 0) continue;
    if (framing === "length" && sent + chunk.length > length) {
      chunk = chunk.subarray(0, length - sent);
      overflow = true;
    }
    sent += chunk.length;
    try {
      if (framing === "chunked") {
        await sink.write(
          concat([latin1(`${chunk.length.toString(16)}\r\n`), chunk, CRLF]),
        );
      } else if (chunk.length > 0) {
        await sink.write(chunk);
      }
    } catch {
      reader.cancel(new Error("The client went away")).catch(() => {});
      return false;
    }
    if (overflow) return tooLong(reader, length);
  }
  if (framing === "length" && sent !== length) {
    console.error(
      new TypeError(
        `The response body ended after ${sent} of its Content-Length ${length} bytes: the connection was closed`,
      ),
    );
    return false;
  }
  if (framing === "chunked") {
    try {
      await sink.write(LAST_CHUNK);
    } catch {
      return false;
    }
  }
  return keepAlive && framing !== "close";
}

function tooLong(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  length: number,
): false {
  reader.cancel().catch(() => {});
  console.error(
    new TypeError(
      `The response body is longer than its Content-Length ${length}: it was cut there and the connection closed`,
    ),
  );
  return false;
}

async function write(
  sink: ResponseSink,
  bytes: Uint8Array,
  head: boolean,
): Promise<void> {
  try {
    await sink.write(bytes);
  } catch (error) {
    throw new WriteError(
      head ? "Writing the response failed" : "Writing the body failed",
      { cause: error },
    );
  }
}

/**
 * Whether a comma-separated header value holds `token` (case-insensitive),
 * as `Connection: keep-alive, Upgrade` does.
 *
 * @param value The header value, or `null`.
 * @param token The lower-case token.
 * @returns Whether it is there.
 */
export function hasToken(value: string | null, token: string): boolean {
  if (value === null) return false;
  return value.split(",").some((item) => item.trim().toLowerCase() === token);
}

function ticks(count: number): Promise<null> {
  let promise: Promise<null> = Promise.resolve(null);
  for (let i = 1; i < count; i++) promise = promise.then(() => null);
  return promise;
}

function toBytes(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (ArrayBuffer.isView(value)) {
    return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  }
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  throw new TypeError(
    `The response body produced ${
      Object.prototype.toString.call(value)
    }: produce Uint8Array chunks`,
  );
}

/**
 * Encodes a string of code units 0-255 as bytes.
 *
 * @param text The text.
 * @returns One byte a code unit.
 */
export function latin1(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  let size = 0;
  for (const part of parts) size += part.length;
  const out = new Uint8Array(size);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
