/**
 * Running a wstream handler in `Bun.serve`: {@linkcode bunServeOptions}
 * turns a handler into the `fetch` and `websocket` options of `Bun.serve`,
 * so that {@linkcode upgrade} works inside it.
 *
 * @module
 */

import {
  bunPendingUpgrades,
  checkLimit,
  NATIVE_DEFAULT_IDLE_TIMEOUT,
  NATIVE_DEFAULT_MAX_MESSAGE_SIZE,
  NATIVE_DEFAULT_PING_INTERVAL,
  type NativeSocket,
} from "./_native_socket.ts";
import type { BunPendingUpgrade } from "./_native_socket.ts";
import type { ServeHandler } from "../http/handler.ts";
import {
  type CompressionOptions,
  resolveServerCompression,
} from "../extensions/compression_options.ts";
import type { WebSocketMessage } from "../connection/websocket_stream_like.ts";
import type { NativeTopics } from "../connection/_broadcast.ts";

/**
 * Options of {@linkcode bunServeOptions}: the defaults of every upgrade.
 *
 * @example Defaults of every upgrade under Bun.serve
 * ```ts
 * import { bunServeOptions, type BunServeOptions, upgrade } from "@wstream/wstream";
 * import assert from "node:assert/strict";
 *
 * const options: BunServeOptions = { maxMessageSize: 1 << 20, pingInterval: 20_000, compression: false };
 * const { websocket } = bunServeOptions(async (request) => (await upgrade(request)).response, options);
 * assert.equal(websocket.maxPayloadLength, 1 << 20);
 * assert.equal(websocket.perMessageDeflate, false);
 * ```
 */
export interface BunServeOptions {
  /**
   * The largest message accepted, in bytes, for upgrades that do not set
   * their own; larger closes the connection with 1009. It is also Bun's
   * `maxPayloadLength`, so an upgrade's own `maxMessageSize` can lower it
   * but not raise it.
   *
   * @default {16777216} (16 MiB)
   */
  maxMessageSize?: number;
  /**
   * Close a WebSocket with 1001 after this many milliseconds without
   * receiving anything, for upgrades that do not set their own; 0: never.
   *
   * @default {120000}
   */
  idleTimeout?: number;
  /**
   * Send a keepalive ping every this many milliseconds, for upgrades that
   * do not set their own; 0 disables keepalive.
   *
   * @default {30000}
   */
  pingInterval?: number;
  /**
   * How long after a keepalive ping the peer must have sent something, in
   * milliseconds.
   *
   * @default {pingInterval}
   */
  pongTimeout?: number;
  /**
   * How long to wait, in milliseconds, for the closing handshake before
   * dropping the connection.
   *
   * @default {5000}
   */
  closeTimeout?: number;
  /**
   * permessage-deflate, for upgrades that do not set their own
   * `compression`: anything but `false` turns on Bun's `perMessageDeflate`
   * (Bun's shared compressor: no context takeover either way, 15-bit
   * windows; the settings of {@linkcode CompressionOptions} do not apply
   * under Bun, but are checked). `false` turns it off for every upgrade,
   * whatever their own option says.
   *
   * @default {true}
   */
  compression?: boolean | CompressionOptions;
}

/**
 * The part of Bun's `Server` that {@linkcode bunServeOptions} uses.
 *
 * @example A stand-in for Bun's server in a unit test
 * ```ts
 * import { bunServeOptions, type BunServerLike } from "@wstream/wstream";
 * import assert from "node:assert/strict";
 *
 * const server: BunServerLike = { upgrade: () => false, requestIP: () => ({ address: "192.0.2.7", port: 51234 }) };
 * const { fetch } = bunServeOptions((_request, info) => new Response(info.remoteAddr.hostname));
 * const response = await fetch(new Request("http://localhost/"), server);
 * assert.equal(await response?.text(), "192.0.2.7");
 * ```
 */
export interface BunServerLike {
  /**
   * Upgrades the request being answered to a WebSocket.
   *
   * @returns `false` if Bun refused.
   */
  upgrade(
    request: Request,
    options: { headers: Headers; data: unknown },
  ): boolean;
  /** The client's address (Bun ≥ 1.0.4), `null` when unknown. */
  requestIP?(
    request: Request,
  ): { address: string; port: number } | null;
  /**
   * Publishes to every WebSocket subscribed to `topic` (a hub's
   * broadcasts use it).
   */
  publish?(
    topic: string,
    data: string | Uint8Array,
    compress?: boolean,
  ): number;
}

/**
 * The part of Bun's `ServerWebSocket` that {@linkcode bunServeOptions} uses.
 *
 * @example A stand-in for Bun's ServerWebSocket in a unit test
 * ```ts
 * import type { BunServerWebSocketLike } from "@wstream/wstream";
 * import assert from "node:assert/strict";
 *
 * const sent: (string | Uint8Array)[] = [];
 * const ws: BunServerWebSocketLike = {
 *   data: undefined, binaryType: "arraybuffer", readyState: 1,
 *   send(data) { sent.push(data); return typeof data === "string" ? data.length : data.byteLength; },
 *   close() {}, terminate() {}, ping: () => 0, getBufferedAmount: () => 0,
 * };
 * assert.equal(ws.send("hi"), 2);
 * assert.deepEqual(sent, ["hi"]);
 * ```
 */
export interface BunServerWebSocketLike {
  /** The `data` given to `server.upgrade()`. */
  readonly data: unknown;
  /** How binary messages are delivered: wstream sets `"arraybuffer"`. */
  binaryType: string;
  /** 1 while open. */
  readonly readyState: number;
  /**
   * Sends, compressed when `compress` and permessage-deflate was
   * negotiated; -1 under backpressure, 0 when dropped, else the bytes sent.
   */
  send(data: string | Uint8Array, compress?: boolean): number;
  /** Sends a close frame and closes. */
  close(code?: number, reason?: string): void;
  /** Drops the connection at once. */
  terminate(): void;
  /** Sends a ping, with `data` as its payload. */
  ping(data?: string | Uint8Array): number;
  /** The bytes queued and not yet written to the socket. */
  getBufferedAmount(): number;
  /** Subscribes to a topic of `server.publish()`. */
  subscribe?(topic: string): void;
  /** Unsubscribes from a topic. */
  unsubscribe?(topic: string): void;
  /** Publishes to the topic's other subscribers (not this socket). */
  publish?(
    topic: string,
    data: string | Uint8Array,
    compress?: boolean,
  ): number;
}

/**
 * The `websocket` option of `Bun.serve` that {@linkcode bunServeOptions} returns.
 *
 * @example Read the settings handed to Bun.serve
 * ```ts
 * import { bunServeOptions, type BunWebSocketHandler } from "@wstream/wstream";
 * import assert from "node:assert/strict";
 *
 * const websocket: BunWebSocketHandler = bunServeOptions(() => new Response("hello")).websocket;
 * assert.equal(websocket.maxPayloadLength, 16 * 1024 * 1024); // maxMessageSize
 * assert.equal(websocket.sendPings, false); // wstream runs keepalive itself
 * assert.equal(websocket.idleTimeout, 0); // and the idle timeout
 * ```
 */
export interface BunWebSocketHandler {
  /** Bun's message size limit: `maxMessageSize`. */
  maxPayloadLength: number;
  /** Never reached: wstream's writes wait from 1 MiB buffered. */
  backpressureLimit: number;
  /** `false`: wstream handles write backpressure itself. */
  closeOnBackpressureLimit: boolean;
  /**
   * Whether Bun may negotiate permessage-deflate (the `compression`
   * option); each upgrade's own choice is applied by the offer Bun sees.
   */
  perMessageDeflate: boolean;
  /** 0: wstream's own `idleTimeout` applies, per connection. */
  idleTimeout: number;
  /** `false`: wstream's own keepalive (`pingInterval`) applies. */
  sendPings: boolean;
  /** Bun opened a WebSocket. */
  open(ws: BunServerWebSocketLike): void;
  /** A message arrived. */
  message(
    ws: BunServerWebSocketLike,
    message: string | ArrayBuffer | Uint8Array,
  ): void;
  /** The send buffer shrank. */
  drain(ws: BunServerWebSocketLike): void;
  /** A ping arrived (Bun answers it). */
  ping(ws: BunServerWebSocketLike): void;
  /** A pong arrived, with its payload. */
  pong(ws: BunServerWebSocketLike, data?: ArrayBuffer | Uint8Array): void;
  /** The connection closed. */
  close(ws: BunServerWebSocketLike, code: number, reason: string): void;
}

/**
 * What {@linkcode bunServeOptions} returns: spread it into `Bun.serve`.
 *
 * @example Spread into Bun.serve's options
 * ```ts
 * import { bunServeOptions, type BunServeHandlers } from "@wstream/wstream";
 * import assert from "node:assert/strict";
 *
 * const handlers: BunServeHandlers = bunServeOptions(() => new Response("hello"));
 * // Bun only: Bun.serve({ port: 8080, ...handlers });
 * const response = await handlers.fetch(new Request("http://localhost/"), { upgrade: () => false });
 * assert.equal(await response?.text(), "hello");
 * ```
 */
export interface BunServeHandlers {
  /**
   * Calls the handler; answers `undefined` (as Bun wants) when it returned
   * the response of {@linkcode upgrade}, after upgrading with
   * `server.upgrade()`.
   */
  fetch(request: Request, server: BunServerLike): Promise<Response | undefined>;
  /** Bun's WebSocket callbacks and settings. */
  websocket: BunWebSocketHandler;
}

/** Bun's close reasons when it fails a connection itself, and their codes. */
const BUN_FAILURES: [RegExp, number][] = [
  [/too big/i, 1009],
  [/UTF-8/i, 1007],
  [/^Received/, 1002],
];

/** Headers Bun writes itself on the 101 response. */
const BUN_OWN_HEADERS = new Set([
  "upgrade",
  "connection",
  "sec-websocket-accept",
  "sec-websocket-extensions",
]);

/**
 * Builds the `fetch` and `websocket` options of `Bun.serve` for a
 * {@linkcode serve}-style handler, so that the same handler runs under
 * `Bun.serve`: plain requests get the handler's response, and
 * {@linkcode upgrade} works inside it, with the same validation, refusals,
 * subprotocol choice and socket as under wstream's own server.
 *
 * `Bun.serve` gives no raw socket, so this path uses Bun's own WebSocket
 * underneath: `fetch` calls `server.upgrade()` once the handler returned
 * the response of `upgrade()` (and returns `undefined`, as Bun requires;
 * any other response is returned as is, and the socket's `opened` rejects).
 *
 * Differences from wstream's codec, from what Bun's API allows:
 *
 * - Reading cannot be paused: Bun delivers every message. A message that
 *   arrives while `maxUnreadBytes` (see {@linkcode upgrade}) are unread in
 *   `readable` closes the connection with 1008.
 * - Writes wait while Bun buffers `writableHighWaterMark` bytes or more
 *   (`send()` returned -1), until Bun's `drain` event brings it below.
 * - A peer that breaks the protocol is failed by Bun, with Bun's reason
 *   ("Received invalid UTF-8": 1007, "Received too big message": 1009).
 * - `close()` without a code sends 1000, and Bun reports a close of ours
 *   as soon as its close frame is queued: `closed` resolves with the code
 *   sent, without waiting for the peer's answer.
 * - Bun must be asked to upgrade before the turn that received the request
 *   ends, or it reads the bytes after the request head as another request.
 *   `upgrade()` waits for nothing, so a handler that awaits only it is in
 *   time; one that also awaits a timer or I/O before returning answers a
 *   client that sent its first frames with its request with Bun's 400 (the
 *   socket's `opened` rejects).
 *
 * The returned `websocket` object may be tuned before `Bun.serve` is
 * called, except its callbacks.
 *
 * @param handler Answers each request, as for {@linkcode serve}.
 * @param options Defaults of every WebSocket: limits and keepalive.
 * @returns `fetch` and `websocket`, to spread into `Bun.serve`'s options.
 * @throws {RangeError} If a size or time is out of range.
 *
 * @example Serve the same handler with Bun.serve
 * ```ts ignore
 * import { bunServeOptions, upgrade } from "@wstream/wstream";
 *
 * async function handler(request: Request): Promise<Response> {
 *   if (request.headers.get("upgrade") === null) return new Response("hello");
 *   const { response, socket } = await upgrade(request);
 *   socket?.opened.then(async ({ readable, writable }) => {
 *     const writer = writable.getWriter();
 *     for await (const message of readable) await writer.write(message);
 *   }).catch(() => {});
 *   return response;
 * }
 *
 * // Bun only:
 * Bun.serve({ port: 8080, ...bunServeOptions(handler) });
 * ```
 *
 * @example Plain requests get the handler's response
 * ```ts
 * import { bunServeOptions } from "@wstream/wstream";
 * import assert from "node:assert/strict";
 *
 * const { fetch, websocket } = bunServeOptions(
 *   () => new Response("hello"),
 *   { maxMessageSize: 1 << 20 },
 * );
 * assert.equal(websocket.maxPayloadLength, 1 << 20);
 * // Bun passes its server; a plain request never touches it.
 * const response = await fetch(new Request("http://localhost/"), {
 *   upgrade: () => false,
 * });
 * assert.equal(await response?.text(), "hello");
 * ```
 */
export function bunServeOptions(
  handler: ServeHandler,
  options: BunServeOptions = {},
): BunServeHandlers {
  const maxMessageSize = options.maxMessageSize ??
    NATIVE_DEFAULT_MAX_MESSAGE_SIZE;
  checkLimit("maxMessageSize", maxMessageSize, "bytes");
  const pingInterval = options.pingInterval ?? NATIVE_DEFAULT_PING_INTERVAL;
  const compression = options.compression ?? true;
  resolveServerCompression(compression); // RangeError for bad settings.
  const defaults = {
    compression,
    maxMessageSize,
    idleTimeout: options.idleTimeout ?? NATIVE_DEFAULT_IDLE_TIMEOUT,
    pingInterval,
    pongTimeout: options.pongTimeout ?? pingInterval,
    closeTimeout: options.closeTimeout ?? 5000,
  };
  for (
    const name of [
      "idleTimeout",
      "pingInterval",
      "pongTimeout",
      "closeTimeout",
    ] as const
  ) {
    checkLimit(name, defaults[name], "milliseconds");
  }

  const fetch = async (
    request: Request,
    server: BunServerLike,
  ): Promise<Response | undefined> => {
    const address = server.requestIP?.(request) ?? null;
    const pending: BunPendingUpgrade = {
      defaults,
      response: null,
      native: null,
      settled: false,
      deflate: compression !== false,
      remoteAddr: address === null
        ? null
        : { hostname: address.address, port: address.port },
    };
    bunPendingUpgrades.set(request, pending);
    let response: Response;
    try {
      response = await handler(request, {
        remoteAddr: {
          transport: "tcp",
          hostname: address?.address ?? "",
          port: address?.port ?? 0,
        },
      });
    } catch (error) {
      pending.native?.failOpen(error);
      throw error;
    } finally {
      pending.settled = true;
    }
    const native = pending.native;
    if (native === null) return response;
    if (response !== pending.response) {
      native.failOpen(
        new TypeError(
          "The handler did not return the response of upgrade(): the WebSocket was not opened",
        ),
      );
      return response;
    }
    if (pending.extensionOffer !== undefined) {
      offerToBun(request, pending.extensionOffer);
    }
    if (server.publish !== undefined) bunServers.set(native, server);
    if (
      server.upgrade(request, { headers: bunHeaders(response), data: native })
    ) {
      return undefined;
    }
    const error = new TypeError("Bun refused the WebSocket upgrade");
    native.failOpen(error);
    return new Response(error.message, {
      status: 500,
      headers: { "content-type": "text/plain; charset=utf-8" },
    });
  };

  const websocket: BunWebSocketHandler = {
    maxPayloadLength: maxMessageSize,
    backpressureLimit: 2 ** 31 - 1,
    closeOnBackpressureLimit: false,
    perMessageDeflate: compression !== false,
    idleTimeout: 0,
    sendPings: false,
    open(ws) {
      ws.binaryType = "arraybuffer";
      const native = nativeOf(ws);
      // Bun compresses a message only when asked to, per send().
      const compress = native.extensions !== "";
      const server = bunServers.get(native);
      bunServers.delete(native);
      native.open({
        topics: server === undefined || ws.subscribe === undefined
          ? undefined
          : bunTopics(ws, server, compression !== false),
        // 0 is "dropped", and also the size of an empty message.
        send: (message) =>
          ws.send(message, compress) !== 0 ||
          (message.length === 0 && ws.readyState === 1),
        sendCounted: (message) => {
          const sent = ws.send(message, compress);
          // Bun counts an empty message sent as 0, which means dropped here.
          return sent === 0 && message.length === 0 && ws.readyState === 1
            ? 2
            : sent;
        },
        bufferedAmount: () => ws.getBufferedAmount(),
        drainEvents: true,
        close: (code, reason) => {
          if (code === undefined) ws.close();
          else ws.close(code, reason);
        },
        terminate: () => ws.terminate(),
        ping: (data) => {
          ws.ping(data);
        },
      });
    },
    message(ws, message) {
      nativeOf(ws).receive(
        typeof message === "string"
          ? message
          : message instanceof ArrayBuffer
          ? new Uint8Array(message)
          : Uint8Array.prototype.slice.call(message) as WebSocketMessage,
      );
    },
    drain(ws) {
      nativeOf(ws).drain();
    },
    ping(ws) {
      nativeOf(ws).activity();
    },
    pong(ws, data) {
      // With binaryType "arraybuffer", Bun hands the payload as an ArrayBuffer.
      nativeOf(ws).pong(
        data === undefined
          ? new Uint8Array(0)
          : data instanceof ArrayBuffer
          ? new Uint8Array(data.slice(0))
          : Uint8Array.prototype.slice.call(data),
      );
    },
    close(ws, code, reason) {
      const native = nativeOf(ws);
      if (code !== 1006) {
        native.ended({ closeCode: code, reason }, true);
        return;
      }
      // 1006 with a reason: Bun failed the connection itself.
      const failure = reason === ""
        ? undefined
        : BUN_FAILURES.find(([pattern]) => pattern.test(reason));
      native.ended(
        failure === undefined
          ? { closeCode: 1006, reason: "" }
          : { closeCode: failure[1], reason },
        false,
      );
    },
  };
  return { fetch, websocket };
}

/** The server of each upgrade, from `fetch` until Bun opens the socket. */
const bunServers = new WeakMap<NativeSocket, BunServerLike>();

/** A Bun socket's native topics (`ws.subscribe`, `server.publish`). */
function bunTopics(
  ws: BunServerWebSocketLike,
  server: BunServerLike,
  compress: boolean,
): NativeTopics {
  return {
    group: server,
    subscribe: (topic) => ws.subscribe!(topic),
    unsubscribe: (topic) => ws.unsubscribe!(topic),
    publish: (topic, data) => {
      server.publish!(topic, data, compress);
    },
    publishExcept: (topic, data) => {
      ws.publish!(topic, data, compress);
    },
  };
}

/**
 * Sets the `Sec-WebSocket-Extensions` offer Bun's `server.upgrade()`
 * negotiates on (Bun reads the request's headers), or removes it.
 */
function offerToBun(request: Request, offer: string | null): void {
  try {
    if (offer === null) request.headers.delete("sec-websocket-extensions");
    else request.headers.set("sec-websocket-extensions", offer);
  } catch {
    // Immutable headers (not Bun's): nothing to steer.
  }
}

function nativeOf(ws: BunServerWebSocketLike): NativeSocket {
  return ws.data as NativeSocket;
}

/**
 * The headers for `server.upgrade()`: the 101 answer's, minus those Bun
 * writes itself. An empty `Sec-WebSocket-Protocol` stops Bun from choosing
 * the client's first subprotocol on its own.
 */
function bunHeaders(response: Response): Headers {
  const headers = new Headers();
  for (const [name, value] of response.headers) {
    if (!BUN_OWN_HEADERS.has(name)) headers.append(name, value);
  }
  if (!headers.has("sec-websocket-protocol")) {
    headers.set("sec-websocket-protocol", "");
  }
  return headers;
}
