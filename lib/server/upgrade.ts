/**
 * Upgrading a request to a WebSocket connection, whichever server received
 * it: wstream's {@linkcode serve}, {@linkcode attachToNodeServer},
 * `Deno.serve`, or `Bun.serve` with {@linkcode bunServeOptions}.
 *
 * @module
 */

import { answerUpgrade } from "../core/handshake.ts";
import type { UpgradeAnswer, UpgradeOptions } from "../core/handshake.ts";
import { parseExtensionHeader } from "../core/extension_header.ts";
import {
  type CompressionOptions,
  resolveServerCompression,
} from "../extensions/compression_options.ts";
import { PerMessageDeflate } from "../extensions/permessage_deflate.ts";
import {
  bunPendingUpgrades,
  checkLimit,
  NATIVE_DEFAULT_IDLE_TIMEOUT,
  NATIVE_DEFAULT_MAX_MESSAGE_SIZE,
  NATIVE_DEFAULT_PING_INTERVAL,
  NativeSocket,
  type NativeSocketOptions,
} from "../native/_native_socket.ts";
import { upgradedByDeno, upgradeDeno } from "../native/deno_serve.ts";
import { pendingUpgrades } from "./_pending_upgrade.ts";
import type { ServerConnectionDefaults } from "../connection/_server_defaults.ts";
import { WebSocketConnection } from "../connection/websocket_connection.ts";
import type { WebSocketConnectionOptions } from "../connection/websocket_connection.ts";
import type {
  NetAddr,
  WebSocketStreamLike,
} from "../connection/websocket_stream_like.ts";
import type {
  WebSocketHooks,
  WebSocketHooksSocket,
} from "../connection/websocket_hooks.ts";
import { driveWithHooks } from "../connection/_hooks.ts";

/**
 * Options of {@linkcode upgrade}: the handshake's and the connection's.
 * Connection options left `undefined` take the server's defaults
 * ({@linkcode serve}'s, {@linkcode attachToNodeServer}'s or
 * {@linkcode bunServeOptions}'s options; under `Deno.serve`, the defaults
 * of `serve()`).
 *
 * @example A chat endpoint for one site, with tighter limits
 * ```ts
 * import { serve, type ServerUpgradeOptions, upgrade } from "@wstream/wstream";
 *
 * const options: ServerUpgradeOptions = {
 *   protocols: ["chat"],
 *   origin: ["https://example.com"],
 *   maxMessageSize: 64 * 1024,
 *   idleTimeout: 60_000,
 * };
 * const server = serve({ port: 0 }, async (request) => (await upgrade(request, options)).response);
 * await server.shutdown();
 * ```
 */
export interface ServerUpgradeOptions extends UpgradeOptions {
  /**
   * permessage-deflate (RFC 7692): `true` or an object of settings to
   * negotiate it when the client offers it (browsers always do), `false`
   * to decline. A malformed `Sec-WebSocket-Extensions` is refused with 400
   * unless this is `false`. What was agreed is the socket's `extensions`.
   *
   * Where it runs:
   *
   * - `serve()` and `attachToNodeServer()`: wstream's `PerMessageDeflate`,
   *   with these settings (python-websockets' defaults: 4 KiB windows both
   *   ways, memLevel 5; about 114-184 KiB per connection once messages are
   *   compressed both ways, nothing before; see
   *   {@linkcode CompressionOptions}).
   * - `Bun.serve`: Bun's own compression (its shared compressor, no context
   *   takeover either way; the window, level, memLevel and threshold
   *   settings do not apply), only if {@linkcode bunServeOptions} enabled it;
   *   an offer that limits the server's window is declined. `extensions`
   *   is Bun's answer.
   * - `Deno.serve`: Deno's WebSocket negotiates no compression; the socket
   *   always reports `extensions: ""`.
   *
   * @default {true}, or the server's `compression`
   */
  compression?: boolean | CompressionOptions;
  /**
   * The largest message accepted, in bytes; larger fails with 1009.
   *
   * @default {16777216} (16 MiB), or the server's `maxMessageSize`
   */
  maxMessageSize?: number;
  /**
   * The most frames one received message may arrive in; more fail with
   * 1009. 0: no limit, since a fragmented message's memory follows its
   * bytes (bounded by `maxMessageSize`), not its frames. Not under
   * `Deno.serve` and `Bun.serve`, whose runtime reassembles messages.
   *
   * @default {0}, or the server's `maxFragments`
   */
  maxFragments?: number;
  /**
   * How long to wait, in milliseconds, for the client to answer our close
   * frame before closing the TCP connection.
   *
   * @default {5000}
   */
  closeTimeout?: number;
  /**
   * Send a keepalive ping every this many milliseconds; 0 disables
   * keepalive. A peer that sends nothing for `pongTimeout` after a ping is
   * dropped and `closed` reports 1006. Under `Deno.serve`, Deno sends the
   * pings (every `pingInterval` rounded up to whole seconds, and waits as
   * long for the pong).
   *
   * @default {30000}, or the server's `pingInterval`
   */
  pingInterval?: number;
  /**
   * How long after a keepalive ping the peer must have sent something, in
   * milliseconds (not under `Deno.serve`: see `pingInterval`).
   *
   * @default {pingInterval}
   */
  pongTimeout?: number;
  /**
   * Close with 1001 ("Idle timeout") after this many milliseconds without
   * receiving anything; 0: never.
   *
   * @default {120000}, or the server's `idleTimeout`
   */
  idleTimeout?: number;
  /**
   * Give up on a peer that stopped reading: when writes to it made no
   * progress for this many milliseconds, it is sent a 1008 close frame
   * ("Write stalled: the peer is not reading") behind the stuck bytes and
   * dropped if it has not finished the close handshake `closeTimeout`
   * later; 0: never. Separate from keepalive (peers that send nothing).
   * Not under `Deno.serve` and `Bun.serve`, whose runtime owns the socket's
   * writes.
   *
   * @default {30000}, or the server's `writeStallTimeout`
   */
  writeStallTimeout?: number;
  /**
   * How many bytes of received messages may wait unread in `readable`
   * before wstream stops reading from the socket (text counts its UTF-16
   * length). Under `Deno.serve` and `Bun.serve`, which cannot stop
   * reading, this is only the stream's high-water mark: see
   * `maxUnreadBytes`.
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
  /**
   * Under `Deno.serve` and `Bun.serve` only, where the runtime reads every
   * message and cannot be paused: the most bytes of messages that may wait
   * unread in `readable`. A message that arrives past it, while older ones
   * are still unread, closes the connection with 1008 and `readable` errors;
   * a message arriving while nothing is unread is always taken (it is
   * bounded by `maxMessageSize`). wstream's own servers never need it:
   * they stop reading instead.
   *
   * @default {16777216} (16 MiB)
   */
  maxUnreadBytes?: number;
  /**
   * The peer's address, reported as the socket's `remoteAddr`, over what
   * the server knows. Under `Deno.serve`, which gives the address only to
   * the handler, pass its `info.remoteAddr` (else `remoteAddr` is `null`);
   * behind a proxy you trust, the client's address from its headers. Under
   * `serve()`, `attachToNodeServer()` and `Bun.serve`, the TCP peer's
   * address is used when this is not given.
   *
   * @default {undefined} the server's knowledge: the TCP peer, or `null`
   * under `Deno.serve`
   *
   * @example Report the client's address under Deno.serve
   * ```ts ignore
   * import { upgrade } from "@wstream/wstream";
   *
   * Deno.serve({ port: 8080 }, async (request, info) => {
   *   const { response, socket } = await upgrade(request, {
   *     remoteAddr: info.remoteAddr,
   *   });
   *   console.log(socket?.remoteAddr); // { hostname: "127.0.0.1", port: 51234 }
   *   return response;
   * });
   * ```
   */
  remoteAddr?: NetAddr;
}

/**
 * What {@linkcode upgrade} resolves with.
 *
 * @example A refused upgrade has no socket
 * ```ts
 * import { upgrade, type UpgradeResult } from "@wstream/wstream";
 * import assert from "node:assert/strict";
 *
 * const result: UpgradeResult = await upgrade(new Request("http://localhost/chat"));
 * assert.equal(result.socket, null);
 * assert.equal(result.response.status, 400); // return it from the handler as is
 * assert.equal(await result.response.text(), `Missing Upgrade header: expected "websocket"`);
 * ```
 */
export interface UpgradeResult {
  /**
   * The response the handler must return: the 101 answer when the upgrade
   * was accepted, else a 4xx with a plain-text reason.
   */
  response: Response;
  /**
   * The WebSocket connection, open once the handler returned `response`;
   * `null` when the upgrade was refused.
   */
  socket: WebSocketStreamLike | null;
}

/**
 * Options of {@linkcode upgrade} for a socket driven by hooks instead of
 * streams: {@linkcode ServerUpgradeOptions} plus the hooks and the
 * socket's initial `data`. `readableHighWaterMark` and `maxUnreadBytes` do
 * not apply: messages go to the `message` hook as they are read.
 *
 * @typeParam T The type of the socket's `data`.
 *
 * @example Echo with hooks, with per-connection data
 * ```ts
 * import { type HooksUpgradeOptions, serve, upgrade } from "@wstream/wstream";
 *
 * const options: HooksUpgradeOptions<{ joined: number }> = {
 *   data: { joined: 0 },
 *   hooks: {
 *     open(ws) {
 *       ws.data.joined = Date.now();
 *     },
 *     message(ws, data) {
 *       ws.send(data);
 *     },
 *   },
 * };
 * const server = serve({ port: 0 }, async (request) => (await upgrade(request, options)).response);
 * await server.shutdown();
 * ```
 */
export interface HooksUpgradeOptions<T = undefined>
  extends ServerUpgradeOptions {
  /** The hooks that drive the socket, called synchronously as events come. */
  hooks: WebSocketHooks<T>;
  /**
   * The socket's initial `data`.
   *
   * @default {undefined}
   */
  data?: T;
}

/**
 * What {@linkcode upgrade} resolves with when given `hooks`.
 *
 * @typeParam T The type of the socket's `data`.
 *
 * @example Keep the hooks sockets of a handler
 * ```ts
 * import { type HooksUpgradeResult, upgrade, type WebSocketHooksSocket } from "@wstream/wstream";
 * import assert from "node:assert/strict";
 *
 * const sockets = new Set<WebSocketHooksSocket>();
 * const result: HooksUpgradeResult = await upgrade(new Request("http://localhost/"), { hooks: {} });
 * if (result.socket !== null) sockets.add(result.socket);
 * assert.equal(result.response.status, 400); // not an upgrade request
 * ```
 */
export interface HooksUpgradeResult<T = undefined> {
  /**
   * The response the handler must return: the 101 answer when the upgrade
   * was accepted, else a 4xx with a plain-text reason.
   */
  response: Response;
  /**
   * The socket the hooks get (its `open` hook comes once the handler
   * returned `response`); `null` when the upgrade was refused.
   */
  socket: WebSocketHooksSocket<T> | null;
}

const NUMERIC_OPTIONS = [
  ["maxMessageSize", "bytes"],
  ["maxFragments", "count"],
  ["closeTimeout", "milliseconds"],
  ["pingInterval", "milliseconds"],
  ["pongTimeout", "milliseconds"],
  ["idleTimeout", "milliseconds"],
  ["writeStallTimeout", "milliseconds"],
  ["readableHighWaterMark", "bytes"],
  ["writableHighWaterMark", "bytes"],
  ["maxUnreadBytes", "bytes"],
] as const;

/**
 * Answers a WebSocket upgrade request inside a request handler, with a
 * socket driven by hooks instead of streams: the same validation, paths
 * and options as the stream form below, on every server (`serve()`,
 * `attachToNodeServer()`, `Deno.serve`, `Bun.serve`).
 *
 * The hooks are called synchronously from the receive path, with no stream
 * and no promise per message; {@linkcode WebSocketHooksSocket.send} is
 * synchronous and reports backpressure by returning -1 (then wait for the
 * `drain` hook). Under `Bun.serve` they map one to one onto Bun's own
 * `websocket` handlers. On wstream's codec (`serve()`,
 * `attachToNodeServer()`) and under `Deno.serve`, what a `message` hook
 * sends goes out before the answer to a close frame read with the
 * message. Reading is never paused for the application (as under Bun):
 * automatic replies stay bounded, and so do sends (see
 * {@linkcode WebSocketHooksSocket}).
 *
 * @typeParam T The type of the socket's `data`.
 * @param request The request the handler received.
 * @param options The hooks, the socket's `data`, and the options of the
 * stream form.
 * @returns The response to return from the handler and the hooks socket.
 * @throws {TypeError} If an accepted request came from none of those
 * servers, or if `upgrade()` was already called for it or its handler
 * returned.
 * @throws {RangeError} If a size or time option is out of range.
 * @throws Whatever the `protocols` or `origin` callback throws.
 *
 * @example An echo server with hooks
 * ```ts
 * import { serve, upgrade } from "@wstream/wstream";
 *
 * const server = serve({ port: 0 }, async (request) => {
 *   const { response } = await upgrade(request, {
 *     hooks: {
 *       message(ws, data) {
 *         ws.send(data);
 *       },
 *       close(ws, { closeCode, reason }) {
 *         console.log(ws.remoteAddr, "left:", closeCode, reason);
 *       },
 *     },
 *   });
 *   return response; // 101, or the 4xx of a refused upgrade
 * });
 * await server.shutdown();
 * ```
 */
export function upgrade<T = undefined>(
  request: Request,
  options: HooksUpgradeOptions<T>,
): Promise<HooksUpgradeResult<T>>;
/**
 * Answers a WebSocket upgrade request inside a request handler, on
 * whichever server received it, with one socket API everywhere.
 *
 * Validates the request with {@linkcode answerUpgrade} (method, `Upgrade`,
 * `Connection`, `Sec-WebSocket-Version`, `Sec-WebSocket-Key`, origin,
 * subprotocol), the same way on every server. A refused request resolves
 * with the 4xx response (400, 403, 405 or 426, plain-text reason) and
 * `socket: null`. An accepted one resolves with the 101 response, which the
 * handler must return, and the socket, whose `opened` resolves once that
 * response went out. If the handler returns any other response, `opened`
 * rejects and `closed` resolves with 1006 (under `Deno.serve`, Deno gives
 * no such signal and `opened` never settles).
 *
 * The path taken, in order:
 *
 * 1. A request of wstream's {@linkcode serve} or
 *    {@linkcode attachToNodeServer} (Deno, Bun, Node): wstream's own codec
 *    over the raw socket ({@linkcode WebSocketConnection}); bytes the client
 *    sent right after its request head are its first frames.
 * 2. On Deno, a request of `Deno.serve`: `Deno.upgradeWebSocket` with the
 *    chosen subprotocol; Deno's WebSocket underneath.
 * 3. On Bun, a request of `Bun.serve` whose options came from
 *    {@linkcode bunServeOptions}: Bun's `server.upgrade()` once the handler
 *    returned; Bun's WebSocket underneath.
 *
 * On the native paths (2, 3) the socket keeps the same semantics (close
 * after pending writes, `closed` codes, `readable` ending or erroring,
 * write backpressure), but reading cannot be paused: see `maxUnreadBytes`.
 *
 * `upgrade()` waits for no I/O and no timer (the handshake's SHA-1 is
 * synchronous), so a handler that awaits nothing else hands the runtime
 * its upgrade in the turn the request arrived: `Deno.upgradeWebSocket` is
 * called from `upgrade()`, and Bun's `server.upgrade()` as soon as the
 * handler returned. Two cases remain that the runtimes make impossible:
 *
 * - `Bun.serve`: unless `server.upgrade()` runs before the turn that
 *   received the request ends, Bun parses the bytes after the request head
 *   as another HTTP request. So when the handler awaits something that
 *   settles in a later turn (a timer, I/O, `crypto.subtle`), before or
 *   after `upgrade()`, and the client sent its first frames in the same
 *   TCP segment as its request, the client gets Bun's `400 Bad Request`,
 *   `opened` rejects with a `TypeError` and `closed` reports 1006.
 *   Clients that wait for the 101 before sending are not affected.
 * - `Deno.serve`: Deno answers the client's close frame as soon as it reads
 *   it, in the turn it delivered the message before it, and its
 *   `WebSocket` only sends what is sent from that message's event. So when
 *   a message and the client's close frame arrive in the same read (the
 *   same TCP segment), `readable` still yields the message, but Deno's
 *   close frame goes out first and a write answering the message rejects
 *   with a `TypeError` (nothing is sent; `closed` reports the client's
 *   code). Likewise for a message followed in the same read by a frame
 *   Deno rejects (a reserved opcode, say): Deno drops the connection
 *   without a close frame, the write rejects, and `closed` reports 1006.
 *
 * wstream's own codec (path 1) has neither limit: the first frames wait
 * in the socket until the handler returned, and an echo of a message goes
 * out before the answer to a close frame or bad frame read with it. Under
 * `Deno.serve`, the hooks form (`upgrade(request, { hooks })`) lifts the
 * second limit: its `message` hook runs in Deno's message event.
 *
 * @param request The request the handler received.
 * @param options Subprotocols, allowed origins, extra 101 headers, limits.
 * @returns The response to return from the handler and the socket.
 * @throws {TypeError} If an accepted request came from none of those
 * servers, or if `upgrade()` was already called for it or its handler
 * returned.
 * @throws {RangeError} If a size or time option is out of range.
 * @throws Whatever the `protocols` or `origin` callback throws.
 *
 * @example Accept upgrades and echo messages
 * ```ts
 * import { serve, upgrade } from "@wstream/wstream";
 *
 * const server = serve({ port: 0 }, async (request) => {
 *   const { response, socket } = await upgrade(request, {
 *     protocols: ["chat"],
 *     maxMessageSize: 1 << 20,
 *   });
 *   if (socket === null) return response; // refused: 400/403/405/426
 *   socket.opened.then(async ({ readable, writable }) => {
 *     const writer = writable.getWriter();
 *     for await (const message of readable) await writer.write(message);
 *   }).catch(() => {});
 *   return response;
 * });
 * await server.shutdown();
 * ```
 *
 * @example The same handler under Deno.serve
 * ```ts ignore
 * import { upgrade } from "@wstream/wstream";
 *
 * Deno.serve({ port: 8080 }, async (request) => {
 *   const { response, socket } = await upgrade(request, { protocols: ["chat"] });
 *   socket?.opened.then(async ({ readable, writable }) => {
 *     const writer = writable.getWriter();
 *     for await (const message of readable) await writer.write(message);
 *   }).catch(() => {});
 *   return response;
 * });
 * ```
 */
export function upgrade(
  request: Request,
  options?: ServerUpgradeOptions,
): Promise<UpgradeResult>;
export async function upgrade<T>(
  request: Request,
  options: ServerUpgradeOptions & Partial<HooksUpgradeOptions<T>> = {},
): Promise<UpgradeResult | HooksUpgradeResult<T>> {
  for (const [name, unit] of NUMERIC_OPTIONS) {
    checkLimit(name, options[name], unit);
  }
  // Too late or too often: say so before reading the request, which Deno
  // closes once upgraded and Bun clears once answered.
  const claimable = pendingUpgrades.get(request) ??
    bunPendingUpgrades.get(request);
  if (claimable?.settled === true) checkUnclaimed(claimable);
  if (upgradedByDeno(request)) throw new TypeError(ALREADY_CALLED);
  const pending = pendingUpgrades.get(request);
  const bun = pending === undefined
    ? bunPendingUpgrades.get(request)
    : undefined;
  const wanted = options.compression ??
    (pending ?? bun)?.defaults.compression;
  // Checks the settings (RangeError) whichever path runs them.
  const compression = resolveServerCompression(wanted);
  const answer = await answerUpgrade(request, {
    ...options,
    compression: compression === null
      ? false
      : pending !== undefined
      ? compression.negotiation
      // Bun's shared compressor: 15-bit windows, no context takeover. Under
      // Deno.serve the header is still validated, and the agreement dropped.
      : BUN_DEFLATE,
  });
  if (!answer.accepted) return { response: answer.response, socket: null };
  const url = request.url.replace(/^http/, "ws");

  // 1. wstream's serve() or attachToNodeServer(): our codec, raw socket.
  if (pending !== undefined) {
    checkUnclaimed(pending);
    const connectionOptions: WebSocketConnectionOptions = {
      role: "server",
      url,
      protocol: answer.protocol,
      extensions: answer.extensions,
      head: pending.head,
      remoteAddr: options.remoteAddr ?? pending.remoteAddr,
    };
    if (answer.deflate !== null && compression !== null) {
      connectionOptions.messageExtensions = [
        new PerMessageDeflate({
          role: "server",
          params: answer.deflate,
          ...compression.local,
        }),
      ];
    }
    const merged = withDefaults(options, pending.defaults);
    for (
      const name of [
        "maxMessageSize",
        "maxFragments",
        "closeTimeout",
        "pingInterval",
        "pongTimeout",
        "idleTimeout",
        "writeStallTimeout",
        "readableHighWaterMark",
        "writableHighWaterMark",
      ] as const
    ) {
      const value = merged[name];
      if (value !== undefined) connectionOptions[name] = value;
    }
    const socket = new WebSocketConnection(
      pending.transport,
      connectionOptions,
    );
    pending.response = answer.response;
    pending.socket = socket;
    if (options.hooks !== undefined) {
      return {
        response: answer.response,
        socket: driveWithHooks(socket, options.hooks, options.data as T),
      };
    }
    return { response: answer.response, socket };
  }

  // 2. Deno.serve: Deno's WebSocket.
  const deno = upgradeDeno(
    request,
    answer,
    nativeOptions(url, answer.protocol, options),
  );
  if (deno !== null) {
    return options.hooks === undefined
      ? { response: deno.response, socket: deno.socket }
      : { response: deno.response, socket: deno.hooksSocket };
  }

  // 3. Bun.serve with bunServeOptions(): Bun's WebSocket, once the handler
  // returned the response.
  if (bun !== undefined) {
    checkUnclaimed(bun);
    const offer = bun.deflate ? bunDeflateOffer(answer) : null;
    const native = new NativeSocket({
      ...nativeOptions(
        url,
        answer.protocol,
        withDefaults(options, bun.defaults),
      ),
      remoteAddr: options.remoteAddr ?? bun.remoteAddr,
      extensions: offer === null ? "" : bunDeflateAnswer(offer),
    });
    bun.extensionOffer = offer;
    bun.response = answer.response;
    bun.native = native;
    return options.hooks === undefined
      ? { response: answer.response, socket: native.socket }
      : { response: answer.response, socket: native.hooksSocket };
  }

  throw new TypeError(
    "upgrade() got a request from a server it cannot upgrade: use it in a " +
      "handler of wstream's serve(), of attachToNodeServer() (node:http), " +
      "of Deno.serve, or of Bun.serve({ ...bunServeOptions(handler) })",
  );
}

const ALREADY_CALLED = "upgrade() was already called for this request";

/** What Bun's shared compressor (`perMessageDeflate: true`) can run. */
const BUN_DEFLATE = {
  serverNoContextTakeover: true,
  clientNoContextTakeover: true,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
} as const;

/**
 * The offer to hand Bun's negotiation for an upgrade we agreed to compress,
 * or `null` to let Bun negotiate nothing. Bun (uWebSockets) answers
 * offers on its own rules; handing it one of these two offers makes its
 * answer known ({@linkcode bunDeflateAnswer}, checked against Bun by
 * `tests/native/bun_serve_test.ts`). An offer limiting the server's window
 * below 15 bits, which Bun's shared compressor cannot honour, is declined.
 */
function bunDeflateOffer(
  answer: Extract<UpgradeAnswer, { accepted: true }>,
): string | null {
  if (answer.deflate === null || answer.deflate.serverMaxWindowBits < 15) {
    return null;
  }
  // RFC 7692 §7.1.2.1: a server_max_window_bits offered must be answered.
  const [element] = parseExtensionHeader(answer.extensions);
  const askedWindow = element?.params.some((param) =>
    param.name === "server_max_window_bits"
  );
  return askedWindow
    ? "permessage-deflate; server_max_window_bits=15"
    : "permessage-deflate";
}

/** Bun's answer to an offer of {@linkcode bunDeflateOffer} (shared mode). */
function bunDeflateAnswer(offer: string): string {
  return "permessage-deflate; client_no_context_takeover; server_no_context_takeover" +
    (offer.includes("server_max_window_bits")
      ? "; server_max_window_bits=15"
      : "");
}

/** Refuses a second `upgrade()`, or one after the handler returned. */
function checkUnclaimed(
  pending: { response: Response | null; settled: boolean },
): void {
  if (pending.response !== null || pending.settled) {
    throw new TypeError(
      pending.settled
        ? "upgrade() was called after the handler returned: await it inside the handler"
        : ALREADY_CALLED,
    );
  }
}

/** The upgrade's options over the server's defaults over the built-in ones. */
function withDefaults(
  options: ServerUpgradeOptions,
  defaults: ServerConnectionDefaults,
): ServerUpgradeOptions {
  const merged: ServerUpgradeOptions = { ...options };
  for (
    const name of [
      "maxMessageSize",
      "maxFragments",
      "closeTimeout",
      "pingInterval",
      "pongTimeout",
      "idleTimeout",
      "writeStallTimeout",
    ] as const
  ) {
    if (merged[name] === undefined && defaults[name] !== undefined) {
      merged[name] = defaults[name];
    }
  }
  return merged;
}

/** The options of a native socket, with the native paths' defaults. */
function nativeOptions(
  url: string,
  protocol: string,
  options: ServerUpgradeOptions,
): NativeSocketOptions {
  const pingInterval = options.pingInterval ?? NATIVE_DEFAULT_PING_INTERVAL;
  return {
    url,
    protocol,
    remoteAddr: options.remoteAddr ?? null,
    maxMessageSize: options.maxMessageSize ?? NATIVE_DEFAULT_MAX_MESSAGE_SIZE,
    closeTimeout: options.closeTimeout,
    readableHighWaterMark: options.readableHighWaterMark,
    writableHighWaterMark: options.writableHighWaterMark,
    maxUnreadBytes: options.maxUnreadBytes,
    pingInterval,
    pongTimeout: options.pongTimeout ?? pingInterval,
    idleTimeout: options.idleTimeout ?? NATIVE_DEFAULT_IDLE_TIMEOUT,
    hooks: (options as Partial<HooksUpgradeOptions<unknown>>).hooks,
    data: (options as Partial<HooksUpgradeOptions<unknown>>).data,
  };
}
