/**
 * The WebSocket client: {@linkcode connect} opens a TCP or TLS connection
 * to a `ws:` or `wss:` URL with the transport of the runtime it runs on
 * (Deno, Bun or Node), performs the RFC 6455 §4.1 opening handshake, and
 * resolves with a {@linkcode WebSocketConnection}.
 *
 * @module
 */

import { HandshakeError } from "../core/errors.ts";
import {
  createClientHandshake,
  verifyServerHandshake,
} from "../core/handshake.ts";
import { HttpResponseHeadReader } from "../http/response_head.ts";
import type { HttpResponseHead } from "../http/response_head.ts";
import { connectTcp } from "../transports/tcp.ts";
import type {
  TcpConnection,
  TcpConnectOptions,
  TlsConnectOptions,
} from "../transports/tcp_connection.ts";
import { WebSocketConnection } from "../connection/websocket_connection.ts";
import type { WebSocketConnectionOptions } from "../connection/websocket_connection.ts";
import {
  type ClientCompressionOptions,
  resolveClientCompression,
} from "../extensions/compression_options.ts";
import { PerMessageDeflate } from "../extensions/permessage_deflate.ts";

/**
 * Options of {@linkcode connect}.
 *
 * @example Offer a subprotocol, send a token, bound the handshake
 * ```ts
 * import { connect, type ConnectOptions, serve, upgrade } from "@wstream/wstream";
 * import assert from "node:assert/strict";
 *
 * const server = serve({ port: 0 }, async (request) => (await upgrade(request, { protocols: ["chat"] })).response);
 * const options: ConnectOptions = { protocols: ["chat"], headers: { Authorization: "Bearer t0k3n" }, handshakeTimeout: 5_000 };
 * const socket = await connect(`ws://127.0.0.1:${(await server.listening).port}/`, options);
 * assert.equal((await socket.opened).protocol, "chat");
 * socket.close();
 * await server.shutdown();
 * ```
 */
export interface ConnectOptions {
  /**
   * The subprotocols to offer (`Sec-WebSocket-Protocol`), in order of
   * preference. Each must be an RFC 7230 token and appear once. The one the
   * server chose is `protocol` in `opened`; a server choosing one that was
   * not offered fails the handshake.
   *
   * @default {[]} none offered
   */
  protocols?: readonly string[];
  /**
   * Extra request headers: `Authorization`, `Cookie`, `Origin`,
   * `User-Agent`... A `Host` given here replaces the one derived from the
   * URL. The handshake's own headers (`Upgrade`, `Connection`,
   * `Sec-WebSocket-Key`, `Sec-WebSocket-Version`, `Sec-WebSocket-Protocol`,
   * `Sec-WebSocket-Extensions`) replace any given here (a
   * `Sec-WebSocket-Extensions` given here is dropped: use `compression`).
   *
   * @default {undefined} none
   */
  headers?: HeadersInit;
  /**
   * permessage-deflate (RFC 7692): `true` offers what browsers offer,
   * `permessage-deflate; client_max_window_bits`; an object sets the offer
   * and the zlib settings ({@linkcode ClientCompressionOptions}); `false`
   * offers nothing. The server's answer is checked (an extension or
   * parameter not offered, or a malformed answer, fails the handshake with
   * `WS_ERR_HANDSHAKE_EXTENSION`) and is `extensions` in `opened`. zlib
   * memory (about 114-245 KiB, by the windows the server picks) is taken
   * on the first compressed message in each direction and freed at close.
   *
   * @default {true}
   */
  compression?: boolean | ClientCompressionOptions;
  /**
   * Aborts the connection attempt: `connect()` rejects with the signal's
   * `reason` (an `AbortError` `DOMException` unless another reason was
   * given) and the socket is closed. Once `connect()` resolved, the signal
   * has no effect: close the connection with `close()`.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
  /**
   * How long, in milliseconds, the whole opening handshake may take: DNS,
   * TCP connect, TLS handshake, sending the request and reading the
   * server's answer. A slower server fails the handshake with a
   * {@linkcode HandshakeError} of code `WS_ERR_HANDSHAKE_TIMEOUT`.
   * `Infinity` disables the limit.
   *
   * @default {10000}
   */
  handshakeTimeout?: number;
  /**
   * TLS settings for `wss:` URLs: extra trusted certificates (`caCerts`,
   * PEM; a private CA or a self-signed server certificate) and the name to
   * verify (`serverName`, default the URL's host). Ignored for `ws:`.
   *
   * @default {undefined} the runtime's trusted roots, the URL's host
   */
  tls?: TlsConnectOptions;
  /**
   * The largest message accepted, in bytes; larger fails with 1009.
   *
   * @default {67108864} (64 MiB)
   */
  maxMessageSize?: number;
  /**
   * The most frames one received message may arrive in; more fail with
   * 1009. 0: no limit (memory follows a message's bytes, not its frames).
   *
   * @default {0}
   */
  maxFragments?: number;
  /**
   * How long to wait, in milliseconds, for the server to answer our close
   * frame and close TCP before closing it ourselves.
   *
   * @default {5000}
   */
  closeTimeout?: number;
  /**
   * Send a keepalive ping every this many milliseconds; 0 disables
   * keepalive. A server that sends nothing for `pongTimeout` after a ping
   * is considered dead: the connection is dropped and `closed` reports
   * 1006.
   *
   * @default {0}
   */
  pingInterval?: number;
  /**
   * How long after a keepalive ping the server must have sent something, in
   * milliseconds.
   *
   * @default {pingInterval}
   */
  pongTimeout?: number;
  /**
   * Close with 1001 ("Idle timeout") after this many milliseconds without
   * receiving anything; 0 disables it.
   *
   * @default {0}
   */
  idleTimeout?: number;
  /**
   * Give up on a server that stopped reading: when writes to it made no
   * progress for this many milliseconds, it is sent a 1008 close frame
   * ("Write stalled: the peer is not reading") behind the stuck bytes and
   * dropped if it has not finished the close handshake `closeTimeout`
   * later; 0 disables it.
   *
   * @default {0}
   */
  writeStallTimeout?: number;
  /**
   * How many bytes of received messages may wait unread in `readable`
   * before wstream stops reading from the socket (text counts its UTF-16
   * length).
   *
   * @default {1048576} (1 MiB)
   */
  readableHighWaterMark?: number;
  /**
   * How many bytes may be sent and not yet accepted by the OS before writes
   * to `writable` wait.
   *
   * @default {1048576} (1 MiB)
   */
  writableHighWaterMark?: number;
}

const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;
/** The most bytes the server's answer head may take. */
const MAX_RESPONSE_HEAD_SIZE = 16 * 1024;
/** The most bytes of a refusal's body quoted in the error message. */
const MAX_BODY_SNIPPET = 200;
/** How long to wait for a refusal's body, in milliseconds. */
const BODY_SNIPPET_TIMEOUT = 1000;
/** The longest delay `setTimeout` honours; longer ones fire at once. */
const MAX_TIMER = 2 ** 31 - 1;

const LIMITS = [
  ["maxMessageSize", "bytes"],
  ["maxFragments", "count"],
  ["closeTimeout", "milliseconds"],
  ["pingInterval", "milliseconds"],
  ["pongTimeout", "milliseconds"],
  ["idleTimeout", "milliseconds"],
  ["writeStallTimeout", "milliseconds"],
  ["readableHighWaterMark", "bytes"],
  ["writableHighWaterMark", "bytes"],
] as const;

/**
 * Parses a WebSocket URL the way the WHATWG WebSocket standard does:
 * `ws:` and `wss:` URLs are kept, `http:` and `https:` URLs are mapped to
 * `ws:` and `wss:`, anything else is refused, and so is a fragment
 * (`#...`), which has no meaning in a WebSocket request.
 *
 * @param url An absolute URL.
 * @returns A new `URL` with the `ws:` or `wss:` scheme.
 * @throws {SyntaxError} If `url` does not parse, has another scheme, or has
 * a fragment.
 *
 * @example Normalise URLs before connecting
 * ```ts
 * import { parseWebSocketUrl } from "@wstream/wstream";
 * import assert from "node:assert/strict";
 *
 * assert.equal(parseWebSocketUrl("https://example.com/chat").href, "wss://example.com/chat");
 * assert.equal(parseWebSocketUrl("ws://example.com:80/?room=1").href, "ws://example.com/?room=1");
 * assert.throws(() => parseWebSocketUrl("ftp://example.com/"), SyntaxError);
 * ```
 */
export function parseWebSocketUrl(url: string | URL): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new SyntaxError(
      `Invalid WebSocket URL ${
        JSON.stringify(String(url))
      }: use an absolute ws: or wss: URL such as "ws://localhost:8080/"`,
    );
  }
  if (parsed.protocol === "http:") parsed.protocol = "ws:";
  else if (parsed.protocol === "https:") parsed.protocol = "wss:";
  if (parsed.protocol !== "ws:" && parsed.protocol !== "wss:") {
    throw new SyntaxError(
      `Invalid WebSocket URL ${
        JSON.stringify(parsed.href)
      }: the scheme must be ws: or wss: (or http: / https:, mapped to them)`,
    );
  }
  if (parsed.hash !== "" || parsed.href.endsWith("#")) {
    throw new SyntaxError(
      `Invalid WebSocket URL ${
        JSON.stringify(parsed.href)
      }: remove the fragment (#...), WebSocket URLs cannot have one`,
    );
  }
  return parsed;
}

/**
 * Opens a WebSocket connection to a `ws:` or `wss:` server (RFC 6455):
 * connects over TCP, or TLS for `wss:`, with the runtime's transport (Deno,
 * Bun or Node), sends the opening handshake, checks the server's answer,
 * and resolves with the open connection.
 *
 * The request is `GET <path and query> HTTP/1.1` with `Host`, `Upgrade`,
 * `Connection`, a fresh `Sec-WebSocket-Key`, `Sec-WebSocket-Version: 13`,
 * `Sec-WebSocket-Protocol` when `protocols` are offered,
 * `Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits`
 * unless `compression` is `false`, and the `headers` given. Redirects are not followed; interim 1xx answers (`103 Early
 * Hints`) are skipped. Whatever fails, the socket is closed before the
 * promise rejects (one exception: the transports cannot yet interrupt a
 * TLS handshake in progress, so on an abort or timeout during it `connect()`
 * rejects at once and that socket closes when its handshake ends):
 *
 * | failure | rejects with |
 * | ------- | ------------ |
 * | DNS failure, refused connection, TLS failure, socket error during the handshake | `Error` naming the URL, the transport's error as `cause` |
 * | answer other than 101 | {@linkcode HandshakeError} `WS_ERR_HANDSHAKE_STATUS`, with `status` set and up to 200 bytes of the body in the message |
 * | 101 with a wrong `Upgrade`, `Connection` or `Sec-WebSocket-Accept` | {@linkcode HandshakeError} `WS_ERR_HANDSHAKE_UPGRADE`, `_CONNECTION`, `_ACCEPT` |
 * | subprotocol or extension not offered | {@linkcode HandshakeError} `WS_ERR_HANDSHAKE_PROTOCOL`, `_EXTENSION` |
 * | an answer that is not HTTP, or the connection closed before a complete answer | {@linkcode HandshakeError} `WS_ERR_HANDSHAKE_MALFORMED` |
 * | no complete answer within `handshakeTimeout` | {@linkcode HandshakeError} `WS_ERR_HANDSHAKE_TIMEOUT` |
 * | `signal` aborted | the signal's `reason` |
 *
 * @param url The server's URL: `ws:` or `wss:` (`http:` and `https:` are
 * mapped to them; see {@linkcode parseWebSocketUrl}).
 * @param options Subprotocols, headers, abort signal, timeout, TLS and the
 * connection's limits.
 * @returns The open connection, in the client role; `opened` resolves at
 * once with the negotiated subprotocol.
 * @throws {SyntaxError} (rejects) If the URL is invalid, or a subprotocol is
 * not a token or is offered twice.
 * @throws {TypeError} (rejects) If a header name or value is invalid.
 * @throws {RangeError} (rejects) If a limit, `handshakeTimeout` or a
 * `compression` setting is out of range.
 *
 * @example Send a message and read the answer
 * ```ts
 * import { connect, serve, upgrade } from "@wstream/wstream";
 * import assert from "node:assert/strict";
 *
 * const server = serve({ port: 0 }, async (request) => {
 *   const { response, socket } = await upgrade(request, { protocols: ["echo"] });
 *   socket?.opened.then(({ readable, writable }) => readable.pipeTo(writable))
 *     .catch(() => {});
 *   return response;
 * });
 * const { port } = await server.listening;
 * const socket = await connect(`ws://127.0.0.1:${port}/`, { protocols: ["echo"] });
 * const { readable, writable, protocol } = await socket.opened;
 * assert.equal(protocol, "echo");
 * await writable.getWriter().write("hello");
 * const { value } = await readable.getReader().read();
 * assert.equal(value, "hello");
 * socket.close({ closeCode: 1000, reason: "done" });
 * assert.deepEqual(await socket.closed, { closeCode: 1000, reason: "done" });
 * await server.shutdown();
 * ```
 *
 * @example Tell a refused upgrade from a network failure
 * ```ts ignore
 * import { connect, HandshakeError } from "@wstream/wstream";
 *
 * try {
 *   const socket = await connect("wss://example.com/chat", {
 *     headers: { Authorization: "Bearer secret" },
 *     handshakeTimeout: 5000,
 *   });
 *   socket.close();
 * } catch (error) {
 *   if (error instanceof HandshakeError) console.error(error.code, error.message);
 *   else throw error; // DNS, connection refused, TLS, or aborted
 * }
 * ```
 */
export async function connect(
  url: string | URL,
  options: ConnectOptions = {},
): Promise<WebSocketConnection> {
  const target = parseWebSocketUrl(url);
  const href = target.href;
  const protocols = [...(options.protocols ?? [])];
  const userHeaders = new Headers(options.headers);
  userHeaders.delete("sec-websocket-extensions");
  const compression = resolveClientCompression(options.compression);
  const offer = compression?.negotiation ?? false;
  const { key, headers } = createClientHandshake({
    protocols,
    headers: userHeaders,
    compression: offer,
  });
  const connectionOptions = connectionOptionsOf(options, href);
  const handshakeTimeout = options.handshakeTimeout ??
    DEFAULT_HANDSHAKE_TIMEOUT;
  if (!(handshakeTimeout > 0)) {
    throw new RangeError(
      `Cannot use handshakeTimeout ${handshakeTimeout}: use a positive number of milliseconds (Infinity for none)`,
    );
  }
  const signal = options.signal;
  signal?.throwIfAborted();

  const secure = target.protocol === "wss:";
  const hostname = target.hostname.replace(/^\[(.*)\]$/, "$1");
  const port = target.port === "" ? (secure ? 443 : 80) : Number(target.port);
  const tcpOptions: TcpConnectOptions = { hostname, port };
  if (secure) tcpOptions.tls = { ...options.tls };
  const request = encodeRequest(target, headers);

  // Everything below may be cut short by the signal or the timeout: `stop`
  // closes the socket (which ends any pending read or write) and rejects
  // `stopped`, which every await races against.
  let socket: TcpConnection | null = null;
  let stopReason: unknown;
  let stoppedEarly = false;
  let phase = "connecting";
  const { promise: stopped, reject: rejectStopped } = Promise.withResolvers<
    never
  >();
  stopped.catch(() => {});
  const stop = (reason: unknown): void => {
    if (stoppedEarly) return;
    stoppedEarly = true;
    stopReason = reason;
    rejectStopped(reason);
    socket?.close();
  };
  const onAbort = (): void => stop(signal!.reason);
  signal?.addEventListener("abort", onAbort, { once: true });
  const timer = handshakeTimeout <= MAX_TIMER
    ? setTimeout(() =>
      stop(
        new HandshakeError(
          "WS_ERR_HANDSHAKE_TIMEOUT",
          `Opening handshake with ${href} timed out after ${handshakeTimeout} ms while ${phase}`,
        ),
      ), handshakeTimeout)
    : undefined;
  const race = <T>(promise: Promise<T>): Promise<T> =>
    Promise.race([promise, stopped]);

  try {
    const opening = connectTcp(tcpOptions);
    // A socket that arrives after the attempt was stopped is closed at once.
    opening.then((late) => {
      if (stoppedEarly) late.close();
    }, () => {});
    try {
      socket = await race(opening);
    } catch (error) {
      if (stoppedEarly) throw stopReason;
      throw connectError(href, error);
    }

    phase = "sending the request";
    const writer = socket.writable.getWriter();
    try {
      await race(writer.write(request));
    } catch (error) {
      if (stoppedEarly) throw stopReason;
      throw connectionLost(href, "sending the handshake request", error);
    } finally {
      writer.releaseLock();
    }

    phase = "waiting for the server's answer";
    const reader = socket.readable.getReader();
    const head = await readResponseHead(reader, href, race, () => {
      if (stoppedEarly) throw stopReason;
    });

    if (head.status !== 101) {
      // The server answered in time; its refusal's body gets its own bound.
      clearTimeout(timer);
      const body = await readBodySnippet(reader, head, stopped);
      if (stoppedEarly) throw stopReason;
      throw refusalError(href, head, body);
    }

    const { protocol, extensions, deflate } = await race(
      verifyServerHandshake(head, { key, protocols, compression: offer }),
    );
    if (stoppedEarly) throw stopReason;
    reader.releaseLock();
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
    const connection = socket;
    socket = null; // Owned by the WebSocket connection from now on.
    connectionOptions.remoteAddr = remoteAddrOf(connection);
    if (deflate !== null && compression !== null) {
      connectionOptions.messageExtensions = [
        new PerMessageDeflate({
          role: "client",
          params: deflate,
          ...compression.local,
        }),
      ];
    }
    return new WebSocketConnection({
      readable: connection.readable,
      writable: connection.writable,
      protocol,
      extensions,
      head: head.rest,
    }, connectionOptions);
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
    socket?.close();
  }
}

/** The server's address, `null` if the runtime cannot tell. */
function remoteAddrOf(
  connection: TcpConnection,
): { hostname: string; port: number } | null {
  try {
    const { hostname, port } = connection.remoteAddr;
    return { hostname, port };
  } catch {
    return null;
  }
}

/** Validates the connection's limits and builds its options. */
function connectionOptionsOf(
  options: ConnectOptions,
  url: string,
): WebSocketConnectionOptions {
  const connectionOptions: WebSocketConnectionOptions = { role: "client", url };
  for (const [name, unit] of LIMITS) {
    const value = options[name];
    if (value === undefined) continue;
    const valid = unit === "milliseconds"
      ? typeof value === "number" && value >= 0 && value <= MAX_TIMER
      : Number.isSafeInteger(value) && value >= 0;
    if (!valid) {
      throw new RangeError(
        `Cannot use ${name} ${value}: use a non-negative ${
          unit === "bytes"
            ? "integer number of bytes"
            : unit === "count"
            ? "integer"
            : `number of milliseconds up to ${MAX_TIMER}`
        }`,
      );
    }
    connectionOptions[name] = value;
  }
  return connectionOptions;
}

/** The request head: request line, `Host`, the handshake's headers, then the rest. */
function encodeRequest(target: URL, headers: Headers): Uint8Array {
  const host = headers.get("host") ?? target.host;
  headers.delete("host");
  let text = `GET ${target.pathname}${target.search} HTTP/1.1\r\n` +
    `Host: ${host}\r\n`;
  for (const name of HANDSHAKE_HEADERS) {
    const value = headers.get(name);
    if (value !== null) text += `${name}: ${value}\r\n`;
  }
  for (const [name, value] of headers) {
    if (!HANDSHAKE_HEADER_SET.has(name)) {
      text += `${titleCase(name)}: ${value}\r\n`;
    }
  }
  text += "\r\n";
  // Header values are ByteStrings: one byte per code unit.
  return Uint8Array.from(text, (char) => char.charCodeAt(0));
}

const HANDSHAKE_HEADERS = [
  "Upgrade",
  "Connection",
  "Sec-WebSocket-Key",
  "Sec-WebSocket-Version",
  "Sec-WebSocket-Protocol",
  "Sec-WebSocket-Extensions",
] as const;
const HANDSHAKE_HEADER_SET = new Set(
  HANDSHAKE_HEADERS.map((name) => name.toLowerCase()),
);

/** `x-api-key` → `X-Api-Key`: the conventional spelling, for picky servers. */
function titleCase(name: string): string {
  return name.replace(
    /(^|-)([a-z])/g,
    (_: string, dash: string, letter: string) => dash + letter.toUpperCase(),
  );
}

/**
 * Reads until a complete final response head arrived, skipping interim 1xx
 * answers other than 101 (`103 Early Hints`, `100 Continue`), which a
 * client must accept even unasked (RFC 9110 §15.2).
 */
async function readResponseHead(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  url: string,
  race: <T>(promise: Promise<T>) => Promise<T>,
  checkStopped: () => void,
): Promise<HttpResponseHead> {
  let parser = new HttpResponseHeadReader({
    maxHeadSize: MAX_RESPONSE_HEAD_SIZE,
  });
  let pending: Uint8Array | null = null;
  while (true) {
    if (pending !== null) {
      const head = pushHead(parser, pending, url);
      pending = null;
      if (head === null) continue;
      if (head.status >= 200 || head.status === 101) return head;
      parser = new HttpResponseHeadReader({
        maxHeadSize: MAX_RESPONSE_HEAD_SIZE,
      });
      if (head.rest.length > 0) pending = head.rest;
      continue;
    }
    let result: ReadableStreamReadResult<Uint8Array>;
    try {
      result = await race(reader.read());
    } catch (error) {
      checkStopped();
      throw connectionLost(url, "waiting for the handshake answer", error);
    }
    checkStopped();
    if (result.done) {
      throw new HandshakeError(
        "WS_ERR_HANDSHAKE_MALFORMED",
        parser.bytesReceived === 0
          ? `The server at ${url} closed the connection without answering the opening handshake`
          : `The server at ${url} closed the connection in the middle of its handshake answer (${parser.bytesReceived} bytes received)`,
      );
    }
    pending = result.value;
  }
}

/** Feeds the head parser, reporting malformed answers as handshake errors. */
function pushHead(
  parser: HttpResponseHeadReader,
  bytes: Uint8Array,
  url: string,
): HttpResponseHead | null {
  try {
    return parser.push(bytes);
  } catch (error) {
    throw new HandshakeError(
      "WS_ERR_HANDSHAKE_MALFORMED",
      `Invalid handshake answer from ${url}: ${(error as Error).message}`,
    );
  }
}

/**
 * Reads the start of a refusal's body, for the error message: at most
 * {@linkcode MAX_BODY_SNIPPET} bytes, {@linkcode BODY_SNIPPET_TIMEOUT} ms.
 * Honours `Content-Length` and chunked transfer coding; never throws.
 */
async function readBodySnippet(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  head: HttpResponseHead,
  stopped: Promise<never>,
): Promise<string> {
  const status = head.status;
  if (status < 200 || status === 204 || status === 304) return "";
  const chunked = /(?:^|,)\s*chunked\s*$/i.test(
    head.headers.get("transfer-encoding") ?? "",
  );
  const lengthHeader = head.headers.get("content-length");
  const length = !chunked && lengthHeader !== null && /^\d+$/.test(lengthHeader)
    ? Number(lengthHeader)
    : Infinity;
  // Chunked coding adds size lines: allow room for them.
  const rawLimit = chunked ? 4 * MAX_BODY_SNIPPET + 64 : MAX_BODY_SNIPPET;
  let raw = head.rest;
  const enough = (): boolean =>
    chunked
      ? decodeChunked(raw).done ||
        decodeChunked(raw).body.length >= MAX_BODY_SNIPPET ||
        raw.length >= rawLimit
      : raw.length >= Math.min(length, rawLimit);

  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), BODY_SNIPPET_TIMEOUT);
  });
  try {
    while (!enough()) {
      const result = await Promise.race([reader.read(), timedOut, stopped]);
      if (result === null || result.done) break;
      const joined = new Uint8Array(raw.length + result.value.length);
      joined.set(raw);
      joined.set(result.value, raw.length);
      raw = joined;
    }
  } catch {
    // The connection failed or the attempt was stopped: quote what came.
  } finally {
    clearTimeout(timer);
  }
  const body = chunked ? decodeChunked(raw).body : raw;
  const snippet = body.subarray(0, Math.min(length, MAX_BODY_SNIPPET));
  let text = new TextDecoder().decode(snippet);
  const truncated = body.length > MAX_BODY_SNIPPET ||
    (Number.isFinite(length) && length > MAX_BODY_SNIPPET);
  if (truncated) {
    text = text.replace(/\uFFFD$/, "") + "…";
  }
  return text.trim();
}

/** Decodes as much of a chunked body (RFC 9112 §7.1) as `raw` holds. */
function decodeChunked(raw: Uint8Array): { body: Uint8Array; done: boolean } {
  const parts: Uint8Array[] = [];
  let size = 0;
  let offset = 0;
  while (true) {
    const lf = raw.indexOf(0x0a, offset);
    if (lf === -1) break;
    const line = String.fromCharCode(...raw.subarray(offset, lf));
    const chunkSize = parseInt(line, 16);
    if (!/^[0-9a-f]/i.test(line) || !Number.isSafeInteger(chunkSize)) break;
    if (chunkSize === 0) return { body: concat(parts, size), done: true };
    const start = lf + 1;
    const part = raw.subarray(start, Math.min(start + chunkSize, raw.length));
    parts.push(part);
    size += part.length;
    if (part.length < chunkSize) break;
    offset = start + chunkSize + 2; // the chunk's CRLF
  }
  return { body: concat(parts, size), done: false };
}

function concat(parts: Uint8Array[], size: number): Uint8Array {
  const result = new Uint8Array(size);
  let offset = 0;
  for (const part of parts) {
    result.set(part, offset);
    offset += part.length;
  }
  return result;
}

/** The error for an answer other than 101. */
function refusalError(
  url: string,
  head: HttpResponseHead,
  body: string,
): HandshakeError {
  const statusText = head.statusText === "" ? "" : ` ${head.statusText}`;
  let message =
    `Expected status 101 Switching Protocols from ${url}, got ${head.status}${statusText}`;
  const location = head.headers.get("location");
  if (head.status >= 300 && head.status < 400 && location !== null) {
    message += ` (redirect to ${
      JSON.stringify(location)
    }, not followed: connect to that URL instead)`;
  }
  message += body === ""
    ? ": the server refused the WebSocket upgrade"
    : `: ${JSON.stringify(body)}`;
  return new HandshakeError("WS_ERR_HANDSHAKE_STATUS", message, {
    status: head.status,
  });
}

/** Wraps a DNS, TCP or TLS connection error with the URL. */
function connectError(url: string, cause: unknown): Error {
  return new Error(`Cannot connect to ${url}: ${describe(cause)}`, { cause });
}

/** Wraps a socket error during the handshake with the URL. */
function connectionLost(url: string, what: string, cause: unknown): Error {
  return new Error(
    `Connection to ${url} failed while ${what}: ${describe(cause)}`,
    { cause },
  );
}

/** A transport error's message, with its code when the message lacks it. */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  const message = error.message === "" ? error.name : error.message;
  return typeof code === "string" && !message.includes(code)
    ? `${message} (${code})`
    : message;
}
