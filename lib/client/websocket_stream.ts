/**
 * {@linkcode WebSocketStream}: the WHATWG `WebSocketStream` client API,
 * built on wstream's {@linkcode connect}, for runtimes that have none
 * (Bun, Node) and, with the same shape, on Deno.
 *
 * @module
 */

import { connect, parseWebSocketUrl } from "./connect.ts";
import type { ConnectOptions } from "./connect.ts";
import { isValidCloseCode } from "../core/close_code.ts";
import { WebSocketError } from "../core/errors.ts";
import { createClientHandshake } from "../core/handshake.ts";
import { resolveClientCompression } from "../extensions/compression_options.ts";
import type { WebSocketConnection } from "../connection/websocket_connection.ts";
import {
  broadcastPortOf,
  registerBroadcastLookup,
} from "../connection/_broadcast.ts";
import type {
  NetAddr,
  WebSocketCloseInfo,
  WebSocketOpenInfo,
  WebSocketStreamLike,
} from "../connection/websocket_stream_like.ts";

/**
 * Options of {@linkcode WebSocketStream}: the WHATWG ones (`protocols`,
 * `signal`) and Deno's `headers`, plus wstream's handshake timeout, TLS
 * settings and connection limits (see {@linkcode ConnectOptions}).
 *
 * @example Connect without compression, with an Origin
 * ```ts
 * import { serve, upgrade, WebSocketStream, type WebSocketStreamOptions } from "@wstream/wstream";
 * import assert from "node:assert/strict";
 *
 * const server = serve({ port: 0 }, async (request) => (await upgrade(request)).response);
 * const options: WebSocketStreamOptions = { headers: { Origin: "https://example.com" }, compression: false };
 * const socket = new WebSocketStream(`ws://127.0.0.1:${(await server.listening).port}/`, options);
 * assert.equal((await socket.opened).extensions, "");
 * socket.close();
 * await server.shutdown();
 * ```
 */
export interface WebSocketStreamOptions extends ConnectOptions {}

/** The message of the error `opened` and `closed` reject with after an early `close()`. */
const CLOSED_WHILE_CONNECTING =
  "WebSocket closed before the opening handshake completed";

/**
 * A WebSocket client in the shape of the WHATWG `WebSocketStream` proposal
 * (the same shape as Deno's): messages are read from a `ReadableStream` and
 * written to a `WritableStream`, with backpressure both ways.
 *
 * Construction starts {@linkcode connect} at once. Once the handshake
 * succeeded, the socket behaves exactly like a
 * {@linkcode WebSocketConnection}: `closed` always resolves, with the
 * server's code and reason after a close handshake, the code we failed the
 * connection with after a protocol error, or 1006 when the connection was
 * lost; `readable` ends after a clean close and errors with a
 * {@linkcode WebSocketError} otherwise.
 *
 * If the opening handshake fails, `opened` **and** `closed` reject with the
 * same error, as with Deno's native `WebSocketStream`: the
 * {@linkcode HandshakeError} (wrong status, bad accept value, subprotocol
 * not offered, malformed answer, timeout), the `Error` wrapping a DNS,
 * connection or TLS failure, the `signal`'s reason when it was aborted, or
 * a {@linkcode WebSocketError} when `close()` was called before the
 * handshake completed (which abandons it). Both promises are marked
 * handled, so an application that awaits only one of them never sees an
 * unhandled rejection.
 *
 * Differences from Deno's native class: a connection lost after the
 * handshake resolves `closed` with 1006 where Deno rejects it; `close()`
 * accepts the codes a {@linkcode WebSocketConnection} accepts and throws a
 * `RangeError` (Deno throws an `InvalidAccessError` `DOMException` for codes
 * other than 1000 and 3000-4999); invalid wstream-specific options (limits,
 * `handshakeTimeout`) reject `opened` and `closed` with a `RangeError`
 * rather than throwing.
 *
 * @example Talk to an echo server
 * ```ts
 * import { serve, upgrade, WebSocketStream } from "@wstream/wstream";
 * import assert from "node:assert/strict";
 *
 * const server = serve({ port: 0 }, async (request) => {
 *   const { response, socket } = await upgrade(request);
 *   socket?.opened.then(({ readable, writable }) => readable.pipeTo(writable))
 *     .catch(() => {});
 *   return response;
 * });
 * const { port } = await server.listening;
 * const socket = new WebSocketStream(`ws://127.0.0.1:${port}/`);
 * const { readable, writable } = await socket.opened;
 * await writable.getWriter().write(new Uint8Array([1, 2, 3]));
 * const { value } = await readable.getReader().read();
 * assert.deepEqual(value, new Uint8Array([1, 2, 3]));
 * socket.close({ closeCode: 1000, reason: "bye" });
 * assert.deepEqual(await socket.closed, { closeCode: 1000, reason: "bye" });
 * await server.shutdown();
 * ```
 *
 * @example Handle a failed handshake
 * ```ts ignore
 * import { WebSocketStream } from "@wstream/wstream";
 *
 * const socket = new WebSocketStream("wss://example.com/chat", {
 *   protocols: ["chat"],
 *   signal: AbortSignal.timeout(5000),
 * });
 * try {
 *   const { readable } = await socket.opened;
 *   for await (const message of readable) console.log(message);
 * } catch (error) {
 *   console.error("could not connect:", error); // `closed` rejects too
 * }
 * ```
 */
export class WebSocketStream implements WebSocketStreamLike {
  /** The URL connected to, normalised (`http:` / `https:` mapped to `ws:` / `wss:`). */
  readonly url: string;
  /**
   * Resolves once the opening handshake succeeded, with the message
   * streams and the negotiated subprotocol and extensions; rejects if it
   * failed.
   */
  readonly opened: Promise<WebSocketOpenInfo>;
  /**
   * Resolves once the connection is closed, with the close code and reason;
   * rejects, with the same error as `opened`, if the handshake failed.
   */
  readonly closed: Promise<WebSocketCloseInfo>;

  /**
   * Whether the URL is `wss:` (the connection runs over TLS), known from
   * construction.
   */
  readonly secure: boolean;
  #connection: WebSocketConnection | null = null;
  #onpong: ((data: Uint8Array) => void) | null = null;
  #abandon = new AbortController();
  #closedEarly: { closeCode?: number; reason?: string } | null = null;

  /**
   * Starts connecting to `url`.
   *
   * @param url The server's URL: `ws:` or `wss:` (`http:` and `https:` are
   * mapped to them).
   * @param options Subprotocols, abort signal, headers, timeout, TLS and the
   * connection's limits.
   * @throws {SyntaxError} If the URL does not parse, has another scheme or a
   * fragment, or a subprotocol is not a token or is offered twice.
   * @throws {TypeError} If a header name or value is invalid.
   */
  constructor(url: string | URL, options: WebSocketStreamOptions = {}) {
    const target = parseWebSocketUrl(url);
    // Check the protocols and headers now, as the WHATWG constructor does
    // for its arguments; connect() builds its own handshake.
    createClientHandshake({
      protocols: options.protocols ?? [],
      headers: options.headers ?? {},
    });
    resolveClientCompression(options.compression); // RangeError now.
    this.url = target.href;
    this.secure = target.protocol === "wss:";
    const signal = options.signal === undefined
      ? this.#abandon.signal
      : AbortSignal.any([options.signal, this.#abandon.signal]);
    const connecting = connect(target, { ...options, signal }).then(
      (connection) => {
        const early = this.#closedEarly;
        if (early !== null) {
          // close() came after the handshake finished but before we knew.
          connection.close(early);
          throw this.#abandon.signal.reason;
        }
        this.#connection = connection;
        connection.onpong = this.#onpong;
        return connection;
      },
    );
    this.opened = connecting.then((connection) => connection.opened);
    this.closed = connecting.then((connection) => connection.closed);
    this.opened.catch(() => {});
    this.closed.catch(() => {});
  }

  /** The server's address once connected, `null` before. */
  get remoteAddr(): NetAddr | null {
    return this.#connection?.remoteAddr ?? null;
  }

  /**
   * Bytes written and not yet taken by the OS (0 before `opened`): see
   * {@linkcode WebSocketStreamLike.bufferedAmount}.
   */
  get bufferedAmount(): number {
    return this.#connection?.bufferedAmount ?? 0;
  }

  /**
   * Called with the payload of every pong received, `null` for none; may
   * be set before `opened` resolves.
   *
   * @default {null}
   */
  get onpong(): ((data: Uint8Array) => void) | null {
    return this.#onpong;
  }

  set onpong(callback: ((data: Uint8Array) => void) | null) {
    this.#onpong = callback;
    if (this.#connection !== null) this.#connection.onpong = callback;
  }

  /**
   * Sends a ping and resolves with the round-trip time in milliseconds once
   * the matching pong (or a later one) arrived: see
   * {@linkcode WebSocketStreamLike.ping}. Rejects with a `TypeError` before
   * `opened` resolved.
   *
   * @param data At most 125 bytes; without it, 8 unique bytes.
   * @returns The round-trip time in milliseconds.
   *
   * @example Measure the latency to a server
   * ```ts
   * import { serve, upgrade, WebSocketStream } from "@wstream/wstream";
   * import assert from "node:assert/strict";
   *
   * const server = serve({ port: 0 }, async (request) => {
   *   const { response, socket } = await upgrade(request);
   *   socket?.opened.then(({ readable }) => readable.pipeTo(new WritableStream()))
   *     .catch(() => {});
   *   return response;
   * });
   * const { port } = await server.listening;
   * const socket = new WebSocketStream(`ws://127.0.0.1:${port}/`);
   * await socket.opened;
   * const rtt = await socket.ping();
   * assert.ok(rtt >= 0);
   * socket.close();
   * await socket.closed;
   * await server.shutdown();
   * ```
   */
  ping(data?: string | BufferSource): Promise<number> {
    const connection = this.#connection;
    if (connection === null) {
      return Promise.reject(
        new TypeError(
          "Cannot ping a WebSocket that is not open: await opened, and ping before close()",
        ),
      );
    }
    return connection.ping(data);
  }

  /**
   * Starts the closing handshake after every message already written; or,
   * before the opening handshake completed, abandons it: the socket is
   * closed and `opened` and `closed` reject with a
   * {@linkcode WebSocketError}. Does nothing once closing or after a failed
   * handshake.
   *
   * @param closeInfo The code (1000 or 3000-4999; 1001-1003 and 1007-1014
   * are accepted too) and a reason of at most 123 bytes of UTF-8. Without a
   * code, 1000 is sent when a reason is given, and a close frame without a
   * body otherwise.
   * @throws {RangeError} If the code cannot be sent or the reason is too
   * long.
   */
  close(closeInfo: { closeCode?: number; reason?: string } = {}): void {
    if (this.#connection !== null) {
      this.#connection.close(closeInfo);
      return;
    }
    const { closeCode, reason = "" } = closeInfo;
    if (
      closeCode !== undefined &&
      !(Number.isInteger(closeCode) && isValidCloseCode(closeCode))
    ) {
      throw new RangeError(
        `Cannot close with code ${closeCode}: use 1000, 3000-4999, or (servers) 1001-1003 and 1007-1014`,
      );
    }
    if (new TextEncoder().encode(reason).length > 123) {
      throw new RangeError(
        `Cannot close with a reason of more than 123 bytes of UTF-8: "${
          reason.slice(0, 32)
        }..."`,
      );
    }
    if (this.#closedEarly !== null) return;
    this.#closedEarly = { ...closeInfo };
    this.#abandon.abort(new WebSocketError(CLOSED_WHILE_CONNECTING));
  }

  static {
    // A Hub reaches the connection underneath, once there is one.
    registerBroadcastLookup((socket) => {
      if (!(socket instanceof WebSocketStream)) return null;
      const connection = socket.#connection;
      if (connection === null) {
        throw new TypeError(
          "Cannot subscribe a WebSocketStream before it opened: await socket.opened first",
        );
      }
      return broadcastPortOf(connection);
    });
  }
}
