/**
 * The WebSocket socket of the native paths of `upgrade()`: under
 * `Deno.serve` and `Bun.serve` the runtime owns the TCP socket and the
 * WebSocket codec, so wstream drives the runtime's WebSocket through a small
 * {@linkcode NativeEndpoint} and presents the same `WebSocketStreamLike`
 * socket, with the same semantics, as `WebSocketConnection`.
 * Private to `upgrade.ts`, `native_deno.ts` and `native_bun.ts`; never
 * re-exported.
 *
 * @module
 */

import { createMessageStreams } from "../connection/_message_streams.ts";
import { everyInterval, stopInterval } from "../connection/_shared_interval.ts";
import { KeepaliveMonitor } from "../core/keepalive.ts";
import { CloseCode, encodeCloseBody } from "../core/close_code.ts";
import { WebSocketError } from "../core/errors.ts";
import type { ServerConnectionDefaults } from "../connection/_server_defaults.ts";
import {
  bufferSourceBytes,
  callUser,
  closeForAbort,
  closeForCancel,
  pingPayload,
  PingTracker,
  scheduleMacrotask,
  toSendable,
  UNSENDABLE_WRITE_CODE,
  UNSENDABLE_WRITE_REASON,
} from "../connection/_socket_extras.ts";
import type {
  NetAddr,
  WebSocketCloseInfo,
  WebSocketMessage,
  WebSocketOpenInfo,
  WebSocketStreamLike,
} from "../connection/websocket_stream_like.ts";
import { registerBroadcastLookup } from "../connection/_broadcast.ts";
import {
  type AnyHooks,
  type AnyHooksSocket,
  HOOK_ERROR_CODE,
  HOOK_ERROR_REASON,
  reportHookError,
  SEND_LIMIT_CODE,
  SEND_LIMIT_FACTOR,
  SEND_LIMIT_REASON,
} from "../connection/_hooks.ts";
import type { BroadcastPort, NativeTopics } from "../connection/_broadcast.ts";

/**
 * A request that `bunServeOptions()`'s `fetch` handed to the handler,
 * waiting for `upgrade()`. The protocol, as with `PendingUpgrade`:
 * `upgrade()` validates the request, creates `native` and sets `response`;
 * once the handler returned, `fetch` sets `settled` and, if the handler
 * returned `response`, calls Bun's `server.upgrade()` with `native` as the
 * socket's data, else fails `native`.
 */
export interface BunPendingUpgrade {
  /** The connection settings of `bunServeOptions()`, below `upgrade()`'s. */
  readonly defaults: ServerConnectionDefaults;
  /** The 101 response `upgrade()` produced, `null` until it is called. */
  response: Response | null;
  /** The socket `upgrade()` created, `null` until it is called. */
  native: NativeSocket | null;
  /** Set once the handler returned: too late to upgrade. */
  settled: boolean;
  /** The client's address from Bun's `server.requestIP()`, if known. */
  remoteAddr: NetAddr | null;
  /**
   * Whether `bunServeOptions()` turned on Bun's `perMessageDeflate`, so
   * that an upgrade may negotiate it.
   */
  readonly deflate: boolean;
  /**
   * The `Sec-WebSocket-Extensions` offer `fetch` hands Bun's negotiation
   * (by setting it on the request before `server.upgrade()`), `null` to
   * remove the client's offer so that Bun negotiates nothing. Set by
   * `upgrade()`; `undefined` until then.
   */
  extensionOffer?: string | null;
}

/** Requests of `bunServeOptions()`'s `fetch` that may still be upgraded. */
export const bunPendingUpgrades: WeakMap<Request, BunPendingUpgrade> =
  new WeakMap();

/** Default largest message on the native paths, as `serve()`'s. */
export const NATIVE_DEFAULT_MAX_MESSAGE_SIZE = 16 * 1024 * 1024;
/** Default idle timeout on the native paths, as `serve()`'s. */
export const NATIVE_DEFAULT_IDLE_TIMEOUT = 120_000;
/** Default keepalive ping interval on the native paths, as `serve()`'s. */
export const NATIVE_DEFAULT_PING_INTERVAL = 30_000;
/** Default bound of unread received bytes on the native paths. */
export const NATIVE_DEFAULT_MAX_UNREAD_BYTES = 16 * 1024 * 1024;

const DEFAULT_HIGH_WATER_MARK = 1024 * 1024;
const DEFAULT_CLOSE_TIMEOUT = 5000;
/** How often a blocked write re-reads `bufferedAmount` where no event tells. */
const DRAIN_POLL_MS = 5;

/** The reason of the 1008 close when the application does not read. */
export const UNREAD_LIMIT_REASON =
  "Too many unread messages: the server reads more slowly than you send";

/** What the native socket needs from a runtime's server-side WebSocket. */
export interface NativeEndpoint {
  /**
   * Sends a message after those already sent.
   *
   * @returns `false` when the runtime dropped it because the connection is
   * gone.
   * @throws When the runtime refuses to send (the connection is closing).
   */
  send(message: string | Uint8Array): boolean;
  /**
   * Sends a message for a hooks socket, with Bun's return values: bytes
   * sent (> 0), -1 queued under backpressure, 0 dropped. Never throws.
   */
  sendCounted(message: string | Uint8Array): number;
  /** Bytes given to `send()` and not yet handed to the OS. */
  bufferedAmount(): number;
  /**
   * `true` when the runtime calls {@linkcode NativeSocket.drain} as its
   * send buffer empties (Bun); `false` to poll `bufferedAmount()` (Deno).
   */
  readonly drainEvents: boolean;
  /** Sends a close frame after the messages already sent. */
  close(code: number | undefined, reason: string): void;
  /** Drops the TCP connection at once; `null` where the runtime cannot. */
  readonly terminate: (() => void) | null;
  /**
   * Sends a ping with `data` (empty when omitted); `null` where the
   * runtime sends its own keepalive pings (Deno, configured from
   * `pingInterval`) and does not report pongs.
   */
  readonly ping: ((data?: Uint8Array) => void) | null;
  /**
   * The runtime's own topics for this socket (Bun), used by a hub's
   * broadcasts; absent where the runtime has none (Deno).
   */
  readonly topics?: NativeTopics | undefined;
}

/** Limits and negotiated values of a {@linkcode NativeSocket}. */
export interface NativeSocketOptions {
  /** The `ws:` / `wss:` URL of the connection. */
  url: string;
  /** The negotiated subprotocol, or `""`. */
  protocol: string;
  /** The extensions the runtime negotiated, as it answered them, or `""`. */
  extensions?: string | undefined;
  /** The peer's address, `null` when unknown. */
  remoteAddr?: NetAddr | null | undefined;
  /** The largest message accepted, in bytes (UTF-8 bytes for text). */
  maxMessageSize: number;
  /** How long the closing handshake may take, in ms. */
  closeTimeout?: number | undefined;
  /** The `readable` queue's high-water mark (its `desiredSize`). */
  readableHighWaterMark?: number | undefined;
  /** Bytes buffered in the runtime above which writes wait. */
  writableHighWaterMark?: number | undefined;
  /** Unread bytes in `readable` above which the connection closes with 1008. */
  maxUnreadBytes?: number | undefined;
  /** Keepalive ping interval in ms; 0: none. */
  pingInterval?: number | undefined;
  /** How long after a ping the peer must have sent something, in ms. */
  pongTimeout?: number | undefined;
  /** Close with 1001 after this long without receiving anything; 0: never. */
  idleTimeout?: number | undefined;
  /** Drive the socket by these hooks instead of streams. */
  hooks?: AnyHooks | undefined;
  /** The hooks socket's initial `data`. */
  data?: unknown;
}

/** The socket an application sees: only the `WebSocketStreamLike` members. */
class NativeWebSocketStream implements WebSocketStreamLike {
  readonly url: string;
  readonly opened: Promise<WebSocketOpenInfo>;
  readonly closed: Promise<WebSocketCloseInfo>;
  readonly remoteAddr: NetAddr | null;
  readonly secure: boolean;
  onpong: ((data: Uint8Array) => void) | null = null;
  readonly #native: NativeSocket;

  constructor(
    native: NativeSocket,
    url: string,
    remoteAddr: NetAddr | null,
    opened: Promise<WebSocketOpenInfo>,
    closed: Promise<WebSocketCloseInfo>,
  ) {
    this.#native = native;
    this.url = url;
    this.secure = url.startsWith("wss:");
    this.remoteAddr = remoteAddr;
    this.opened = opened;
    this.closed = closed;
  }

  get bufferedAmount(): number {
    return this.#native.bufferedAmount;
  }

  close(closeInfo: { closeCode?: number; reason?: string } = {}): void {
    this.#native.close(closeInfo);
  }

  ping(data?: string | BufferSource): Promise<number> {
    return this.#native.ping(data);
  }

  static {
    registerBroadcastLookup((socket) =>
      socket instanceof NativeWebSocketStream
        ? new NativeBroadcastPort(socket.#native)
        : null
    );
  }
}

/** The socket the hooks of a hooks-driven native socket get. */
class NativeHooksSocket implements AnyHooksSocket {
  readonly #native: NativeSocket;
  readonly url: string;
  readonly remoteAddr: NetAddr | null;
  readonly secure: boolean;
  readonly closed: Promise<WebSocketCloseInfo>;
  data: unknown;

  constructor(
    native: NativeSocket,
    data: unknown,
    closed: Promise<WebSocketCloseInfo>,
  ) {
    this.#native = native;
    const socket = native.socket;
    this.url = socket.url;
    this.remoteAddr = socket.remoteAddr;
    this.secure = socket.secure;
    this.closed = closed;
    this.data = data;
  }

  get protocol(): string {
    return this.#native.protocol;
  }

  get extensions(): string {
    return this.#native.extensions;
  }

  get readyState(): 0 | 1 | 2 | 3 {
    return this.#native.hooksReadyState;
  }

  get bufferedAmount(): number {
    return this.#native.bufferedAmount;
  }

  send(data: string | BufferSource): number {
    return this.#native.hooksSend(data);
  }

  close(code?: number, reason?: string): void {
    const info: { closeCode?: number; reason?: string } = {};
    if (code !== undefined) info.closeCode = code;
    if (reason !== undefined) info.reason = reason;
    this.#native.close(info);
  }

  terminate(): void {
    this.#native.hooksTerminate();
  }

  ping(data?: string | BufferSource): number {
    return this.#native.hooksPing(data);
  }

  static {
    registerBroadcastLookup((socket) =>
      socket instanceof NativeHooksSocket
        ? new NativeBroadcastPort(socket.#native)
        : null
    );
  }
}

/** How a hub (`lib/pubsub/`) hands a native socket broadcast messages. */
class NativeBroadcastPort implements BroadcastPort {
  readonly #native: NativeSocket;
  readonly role: null = null;
  readonly extensions: readonly never[] = [];

  constructor(native: NativeSocket) {
    this.#native = native;
  }

  get writable(): boolean {
    return this.#native.takesBroadcast;
  }

  get bufferedAmount(): number {
    return this.#native.bufferedAmount;
  }

  get topics(): NativeTopics | null {
    return this.#native.takesBroadcast ? this.#native.topics : null;
  }

  sendFrame(): boolean {
    throw new TypeError("A native socket frames its messages itself");
  }

  sendMessage(message: string | Uint8Array): boolean {
    return this.#native.sendBroadcast(message);
  }

  close(code: number, reason: string): void {
    this.#native.close({ closeCode: code, reason });
  }
}

/**
 * Drives a runtime's native server-side WebSocket behind the
 * `WebSocketStreamLike` shape, with the semantics of
 * `WebSocketConnection`:
 *
 * - `close()` validates its arguments (RangeError) and sends the close
 *   frame after every message already written to `writable`; the closing
 *   handshake is bounded by `closeTimeout`.
 * - `closed` always resolves: the close code and reason of a clean close;
 *   the code we failed the connection with (1008, 1009); 1006 otherwise.
 * - `readable` ends after a clean close and errors with a
 *   {@linkcode WebSocketError} otherwise.
 * - Writes wait while the runtime buffers `writableHighWaterMark` bytes or
 *   more.
 * - Reading cannot be paused on these runtimes: a message arriving while
 *   `maxUnreadBytes` are already unread closes the connection with 1008.
 *
 * The runtime glue calls {@linkcode NativeSocket.open},
 * {@linkcode NativeSocket.receive}, {@linkcode NativeSocket.activity},
 * {@linkcode NativeSocket.drain} and {@linkcode NativeSocket.ended}; the
 * application only sees {@linkcode NativeSocket.socket}.
 */
export class NativeSocket {
  /** The socket handed to the application. */
  readonly socket: WebSocketStreamLike;
  /** The socket the hooks get, when driven by hooks (`options.hooks`). */
  readonly hooksSocket: AnyHooksSocket | null = null;
  readonly #hooks: AnyHooks | null = null;
  /** A hooks `send()` returned -1: `drain` is due. */
  #hooksBackpressured = false;
  /** A hook threw: the connection is closing with 1011. */
  #hookFailed = false;
  /**
   * A message arrived since the last keepalive tick (hooks: no clock read
   * per message; the tick counts it, which only delays idle and dead
   * verdicts by less than a tick).
   */
  #receivedSinceTick = false;
  /** The pings waiting for their pong, once `ping()` was called. */
  #pings: PingTracker | null = null;

  readonly #options: NativeSocketOptions;

  /** The extensions the runtime negotiated, `""` for none. */
  get extensions(): string {
    return this.#options.extensions ?? "";
  }
  #resolveOpened!: (info: WebSocketOpenInfo) => void;
  #rejectOpened!: (error: unknown) => void;
  #resolveClosed!: (info: WebSocketCloseInfo) => void;

  #endpoint: NativeEndpoint | null = null;
  #messages: ReadableStreamDefaultController<WebSocketMessage> | null = null;
  #messagesDone = false;
  #sink: WritableStreamDefaultController | null = null;

  #writesAccepted = 0;
  #writesProcessed = 0;
  #closeRequest:
    | { code: number | undefined; reason: string; afterWrites: number }
    | null = null;
  #closeSent = false;
  /** The close we failed the connection with, reported as is. */
  #failure: WebSocketCloseInfo | null = null;
  #peerDead = false;
  #settled = false;

  #drained: (() => void) | null = null;
  #drainTimer: ReturnType<typeof setTimeout> | undefined;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  #stopKeepalive: () => void = doNothing;
  #keepalive: KeepaliveMonitor | null = null;

  /**
   * Creates the socket; it opens when the runtime calls `open()`.
   *
   * @param options Negotiated values and limits, already validated.
   */
  constructor(options: NativeSocketOptions) {
    this.#options = options;
    const opened = new Promise<WebSocketOpenInfo>((resolve, reject) => {
      this.#resolveOpened = resolve;
      this.#rejectOpened = reject;
    });
    opened.catch(() => {});
    const closed = new Promise<WebSocketCloseInfo>((resolve) => {
      this.#resolveClosed = resolve;
    });
    const addr = options.remoteAddr;
    this.socket = new NativeWebSocketStream(
      this,
      options.url,
      addr == null ? null : { hostname: addr.hostname, port: addr.port },
      opened,
      closed,
    );
    if (options.hooks !== undefined) {
      this.#hooks = options.hooks;
      this.hooksSocket = new NativeHooksSocket(this, options.data, closed);
    }
  }

  /**
   * The runtime opened the WebSocket: `opened` resolves with the streams.
   *
   * @param endpoint How to send, close and measure the runtime's buffer.
   */
  open(endpoint: NativeEndpoint): void {
    if (this.#endpoint !== null || this.#settled) return;
    this.#endpoint = endpoint;
    if (this.#hooks !== null) {
      this.#openHooks(this.#hooks);
      return;
    }
    const { readable, writable, messages, sink } = createMessageStreams(
      this.#options.readableHighWaterMark ?? DEFAULT_HIGH_WATER_MARK,
      {
        close: () => this.close(),
        write: (message) => this.#write(message),
        accepted: () => this.#writesAccepted++,
        cancelled: (reason) => this.#onCancel(reason),
        aborted: (reason) => this.#onAbort(reason),
      },
    );
    this.#messages = messages;
    this.#sink = sink;
    this.#resolveOpened({
      readable,
      writable,
      protocol: this.#options.protocol,
      extensions: this.#options.extensions ?? "",
    });
    this.#startKeepalive();
    // A close() called before the runtime opened the socket.
    if (this.#closeRequest !== null) this.#maybeSendClose();
  }

  /**
   * The WebSocket never opened (the handler returned another response, or
   * the runtime refused): `opened` rejects and `closed` reports 1006.
   *
   * @param error Why, for `opened`'s rejection.
   */
  failOpen(error: unknown): void {
    if (this.#endpoint !== null || this.#settled) return;
    this.#rejectOpened(error);
    this.#settle({ closeCode: CloseCode.AbnormalClosure, reason: "" });
  }

  /**
   * A message arrived.
   *
   * @param message A `string` for text, bytes of their own buffer for binary.
   */
  receive(message: WebSocketMessage): void {
    const hooks = this.#hooks;
    if (hooks !== null) {
      this.#receiveHooks(hooks, message);
      return;
    }
    if (this.#messagesDone || this.#failure !== null || this.#settled) return;
    this.#keepalive?.received(Date.now());
    const maxMessageSize = this.#options.maxMessageSize;
    if (
      (typeof message === "string" ? utf8Length(message) : message.length) >
        maxMessageSize
    ) {
      // The text of the codec path's WS_ERR_MESSAGE_TOO_BIG.
      this.#fail(
        CloseCode.MessageTooBig,
        `Received a message of more than ${maxMessageSize} bytes, over the limit`,
      );
      return;
    }
    const messages = this.#messages!;
    const highWaterMark = this.#options.readableHighWaterMark ??
      DEFAULT_HIGH_WATER_MARK;
    const unread = highWaterMark - (messages.desiredSize ?? highWaterMark);
    const limit = this.#options.maxUnreadBytes ??
      NATIVE_DEFAULT_MAX_UNREAD_BYTES;
    // A message into an empty queue is always taken (maxMessageSize bounds
    // it); past the limit the runtime cannot be paused, so we close.
    if (unread > 0 && unread + Math.max(1, message.length) > limit) {
      this.#fail(CloseCode.PolicyViolation, UNREAD_LIMIT_REASON);
      return;
    }
    messages.enqueue(message);
  }

  /** The runtime's topics (Bun), once open; `null` where it has none. */
  get topics(): NativeTopics | null {
    return this.#endpoint?.topics ?? null;
  }

  /** Whether a hub's broadcast may send a message now. */
  get takesBroadcast(): boolean {
    return this.#endpoint !== null && !this.#closeSent &&
      this.#closeRequest === null && this.#failure === null && !this.#settled;
  }

  /**
   * Sends a hub's broadcast message after what was already sent, beside
   * `writable` (whose queue it does not wait for).
   *
   * @param message The message.
   * @returns `false` if the socket no longer takes messages.
   */
  sendBroadcast(message: string | Uint8Array): boolean {
    if (!this.takesBroadcast) return false;
    let sent: boolean;
    try {
      sent = this.#endpoint!.send(message);
    } catch {
      return false; // Closing: the runtime's close report follows.
    }
    if (!sent) this.#abandon();
    return sent;
  }

  /** Something other than a message arrived (a ping or a pong). */
  activity(): void {
    this.#keepalive?.received(Date.now());
  }

  /**
   * A pong arrived: `onpong` is called and the pings it acknowledges
   * resolve.
   *
   * @param data Its payload, of its own buffer.
   */
  pong(data: Uint8Array): void {
    this.#keepalive?.received(Date.now());
    if (this.#settled) return;
    const hooks = this.#hooks;
    if (hooks !== null) {
      if (hooks.pong === undefined || this.#hookFailed) return;
      try {
        hooks.pong(this.hooksSocket!, data);
      } catch (error) {
        this.#hookThrew(error);
      }
      return;
    }
    callUser(this.socket.onpong, data);
    this.#pings?.pong(data);
  }

  /** Bytes given to the runtime and not yet handed to the OS. */
  get bufferedAmount(): number {
    const endpoint = this.#endpoint;
    if (endpoint === null || this.#settled) return 0;
    try {
      return endpoint.bufferedAmount();
    } catch {
      return 0;
    }
  }

  /**
   * Sends a ping; resolves with the round-trip time once its pong (or a
   * later one) arrived. Rejects with a `TypeError` where the runtime cannot
   * ping (Deno).
   *
   * @param data At most 125 bytes; without it, 8 unique bytes.
   * @returns The round-trip time in milliseconds.
   */
  ping(data?: string | BufferSource): Promise<number> {
    try {
      const payload = pingPayload(data);
      const endpoint = this.#endpoint;
      if (
        endpoint === null || this.#settled || this.#closeSent ||
        this.#closeRequest !== null || this.#failure !== null
      ) {
        throw new TypeError(
          "Cannot ping a WebSocket that is not open: await opened, and ping before close()",
        );
      }
      if (endpoint.ping === null) {
        throw new TypeError(
          "Cannot ping under Deno.serve: Deno's server-side WebSocket has no ping API and hides pongs (its keepalive is the pingInterval option); use wstream's serve() or attachToNodeServer() for ping()",
        );
      }
      const rtt = (this.#pings ??= new PingTracker()).add(payload);
      endpoint.ping(payload);
      return rtt;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** `readable` was cancelled: close as its reason says (WHATWG). */
  #onCancel(reason: unknown): void {
    this.#messagesDone = true;
    closeForCancel(reason, (info) => this.close(info));
  }

  /** `writable` was aborted: its queued writes were dropped. */
  #onAbort(reason: unknown): void {
    closeForAbort(reason, (info) => this.close(info));
    this.#lowerCloseWait();
  }

  /** Writes `writable` dropped never come: send a requested close now. */
  #lowerCloseWait(): void {
    const request = this.#closeRequest;
    if (request !== null && request.afterWrites > this.#writesProcessed) {
      request.afterWrites = this.#writesProcessed;
      this.#maybeSendClose();
    }
  }

  /** The runtime's send buffer shrank: a waiting write may go on. */
  drain(): void {
    if (this.#hooksBackpressured) this.#hooksDrained();
    const drained = this.#drained;
    if (drained === null) return;
    if (
      this.#settled || this.#endpoint === null ||
      this.#endpoint.bufferedAmount() < this.#writableHighWaterMark()
    ) {
      this.#drained = null;
      clearTimeout(this.#drainTimer);
      drained();
    }
  }

  /**
   * The runtime reports the connection closed.
   *
   * @param info The close code and reason to report: the close frame's
   * after a clean close; the code the runtime failed the connection with,
   * or 1006, otherwise.
   * @param clean Whether the closing handshake completed (a close frame
   * was received and nobody failed the connection).
   */
  ended(info: WebSocketCloseInfo, clean: boolean): void {
    if (this.#settled) return;
    if (this.#endpoint === null) {
      this.failOpen(
        new WebSocketError("WebSocket closed before opening", info),
      );
      return;
    }
    const reported = this.#peerDead
      ? { closeCode: CloseCode.AbnormalClosure, reason: "" }
      : this.#failure ?? info;
    this.#endStreams(
      reported,
      clean && this.#failure === null && !this.#peerDead,
    );
    this.#settle(reported);
  }

  /**
   * Starts the closing handshake after what was already written, like
   * `WebSocketConnection.close()`.
   *
   * @param closeInfo The code and reason.
   * @throws {RangeError} If the code cannot be sent or the reason is too long.
   */
  close(closeInfo: { closeCode?: number; reason?: string } = {}): void {
    const reason = closeInfo.reason ?? "";
    const code = closeInfo.closeCode ??
      (reason === "" ? undefined : CloseCode.NormalClosure);
    encodeCloseBody(code, reason); // Throws RangeError for what cannot be sent.
    if (this.#closeRequest !== null || this.#failure !== null) return;
    if (this.#settled) return;
    this.#closeRequest = { code, reason, afterWrites: this.#writesAccepted };
    this.#armCloseTimer();
    this.#maybeSendClose();
  }

  #write(
    message: string | BufferSource | ArrayBufferView,
  ): Promise<void> | void {
    const index = ++this.#writesProcessed;
    const request = this.#closeRequest;
    if (
      this.#closeSent || this.#failure !== null || this.#settled ||
      (request !== null && index > request.afterWrites)
    ) {
      this.#maybeSendClose();
      throw new TypeError(
        "Cannot write to a WebSocket that is closing or closed",
      );
    }
    let data: string | Uint8Array;
    try {
      data = toSendable(message);
    } catch (error) {
      // `writable` errors with this: never leave a socket nobody can write
      // to open. Once it errored, not before (Bun reports the close at once).
      scheduleMacrotask(() => {
        if (this.#closeRequest === null) {
          this.close({
            closeCode: UNSENDABLE_WRITE_CODE,
            reason: UNSENDABLE_WRITE_REASON,
          });
        }
        this.#lowerCloseWait();
      });
      throw error;
    }
    const endpoint = this.#endpoint!;
    let sent: boolean;
    try {
      sent = endpoint.send(data);
    } catch {
      // The runtime already saw the close; its close report follows.
      throw new TypeError(
        "Cannot write to a WebSocket that is closing or closed",
      );
    }
    if (!sent) {
      this.#abandon();
      throw new TypeError(
        "Cannot write to a WebSocket whose connection is gone",
      );
    }
    this.#maybeSendClose();
    if (endpoint.bufferedAmount() >= this.#writableHighWaterMark()) {
      return this.#waitForDrain();
    }
  }

  #writableHighWaterMark(): number {
    return this.#options.writableHighWaterMark ?? DEFAULT_HIGH_WATER_MARK;
  }

  #waitForDrain(): Promise<void> {
    return new Promise((resolve) => {
      this.#drained = resolve;
      if (this.#endpoint!.drainEvents) return;
      const poll = (): void => {
        this.#drainTimer = setTimeout(() => {
          this.drain();
          if (this.#drained !== null) poll();
        }, DRAIN_POLL_MS);
      };
      poll();
    });
  }

  /** Sends the requested close once every accepted write went out. */
  #maybeSendClose(): void {
    const request = this.#closeRequest;
    const endpoint = this.#endpoint;
    if (request === null || endpoint === null || this.#closeSent) return;
    if (this.#writesProcessed < request.afterWrites) return;
    this.#closeSent = true;
    try {
      endpoint.close(request.code, request.reason);
    } catch {
      // Already closing: the runtime's close report follows.
    }
  }

  /** Fails the connection with our close code, which `closed` reports. */
  #fail(code: number, reason: string): void {
    if (this.#failure !== null || this.#settled) return;
    const info = { closeCode: code, reason };
    this.#failure = info;
    this.#endStreams(info, false);
    this.#armCloseTimer();
    if (!this.#closeSent) {
      this.#closeSent = true;
      try {
        this.#endpoint?.close(code, reason);
      } catch {
        // Already closing.
      }
    }
  }

  /** Gives up on the connection: an abnormal closure (1006). */
  #abandon(): void {
    try {
      this.#endpoint?.terminate?.();
    } catch {
      // Already gone.
    }
    if (this.#settled) return;
    const info = this.#peerDead || this.#failure === null
      ? { closeCode: CloseCode.AbnormalClosure, reason: "" }
      : this.#failure;
    this.#endStreams(info, false);
    this.#settle(info);
  }

  #armCloseTimer(): void {
    if (this.#closeTimer !== undefined || this.#settled) return;
    this.#closeTimer = setTimeout(
      () => this.#abandon(),
      this.#options.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT,
    );
  }

  /** Ends `readable` (cleanly or with an error) and errors `writable`. */
  #endStreams(info: WebSocketCloseInfo, clean: boolean): void {
    if (!this.#messagesDone && this.#messages !== null) {
      this.#messagesDone = true;
      if (clean) {
        this.#messages.close();
      } else {
        this.#messages.error(
          new WebSocketError(
            `WebSocket closed abnormally with code ${info.closeCode}`,
            info,
          ),
        );
      }
    }
    this.#messagesDone = true;
    this.#sink?.error(new WebSocketError("WebSocket is closed", info));
    // A write waiting for the buffer to drain gives up: the sink errored.
    const drained = this.#drained;
    this.#drained = null;
    clearTimeout(this.#drainTimer);
    drained?.();
  }

  #settle(info: WebSocketCloseInfo): void {
    if (this.#settled) return;
    this.#settled = true;
    clearTimeout(this.#closeTimer);
    clearTimeout(this.#drainTimer);
    this.#stopKeepalive();
    this.#pings?.closed(info);
    this.#resolveClosed(info);
    const hooks = this.#hooks;
    if (hooks?.close !== undefined) {
      try {
        hooks.close(this.hooksSocket!, info);
      } catch (error) {
        reportHookError(hooks, this.hooksSocket!, error);
      }
    }
  }

  /** Hooks instead of streams: keepalive, then the `open` hook. */
  #openHooks(hooks: AnyHooks): void {
    this.#messagesDone = true;
    this.#startKeepalive();
    if (this.#closeRequest !== null) {
      this.#maybeSendClose(); // A close() called before the runtime opened.
      return;
    }
    if (hooks.open === undefined) return;
    try {
      hooks.open(this.hooksSocket!);
    } catch (error) {
      this.#hookThrew(error);
    }
  }

  /** A message for the `message` hook, called at once. */
  #receiveHooks(hooks: AnyHooks, message: WebSocketMessage): void {
    if (this.#failure !== null || this.#settled || this.#hookFailed) return;
    this.#receivedSinceTick = true;
    const max = this.#options.maxMessageSize;
    if (
      typeof message === "string"
        ? message.length * 3 > max && utf8Length(message) > max
        : message.length > max
    ) {
      this.#fail(
        CloseCode.MessageTooBig,
        `Received a message of more than ${max} bytes, over the limit`,
      );
      return;
    }
    if (hooks.message === undefined) return;
    try {
      hooks.message(this.hooksSocket!, message);
    } catch (error) {
      this.#hookThrew(error);
    }
  }

  /** A hook threw: report it, close with 1011, deliver nothing more. */
  #hookThrew(error: unknown): void {
    reportHookError(this.#hooks!, this.hooksSocket!, error);
    if (this.#hookFailed) return;
    this.#hookFailed = true;
    if (this.#closeRequest === null && this.#failure === null) {
      this.close({ closeCode: HOOK_ERROR_CODE, reason: HOOK_ERROR_REASON });
    }
  }

  /** The hooks socket's `send()`, with Bun's return values. */
  hooksSend(data: string | BufferSource): number {
    let message: string | Uint8Array;
    if (typeof data === "string" || data instanceof Uint8Array) {
      message = data;
    } else {
      const bytes = bufferSourceBytes(data);
      if (bytes === null) {
        throw new TypeError(
          `Cannot send a value of type ${typeof data}: send a string or a BufferSource`,
        );
      }
      message = bytes;
    }
    const endpoint = this.#endpoint;
    if (endpoint === null || !this.takesBroadcast) return 0;
    const sent = endpoint.sendCounted(message);
    if (endpoint.drainEvents) {
      // Bun's verdict as is; its drain event follows a -1.
      if (sent === -1) {
        this.#hooksBackpressured = true;
        this.#checkSendLimit(endpoint);
      }
      return sent;
    }
    if (sent === 0) return 0;
    if (endpoint.bufferedAmount() < this.#writableHighWaterMark()) return sent;
    if (!this.#hooksBackpressured) {
      this.#hooksBackpressured = true;
      this.#pollDrain();
    }
    this.#checkSendLimit(endpoint);
    return -1;
  }

  /** Past the send buffer limit: close, as the codec does. */
  #checkSendLimit(endpoint: NativeEndpoint): void {
    if (
      endpoint.bufferedAmount() >=
        this.#writableHighWaterMark() * SEND_LIMIT_FACTOR
    ) {
      this.#fail(SEND_LIMIT_CODE, SEND_LIMIT_REASON);
    }
  }

  /** Where no drain event comes (Deno): polls `bufferedAmount`. */
  #pollDrain(): void {
    this.#drainTimer = setTimeout(() => {
      if (!this.#hooksBackpressured || this.#settled) return;
      this.#hooksDrained();
      if (this.#hooksBackpressured) this.#pollDrain();
    }, DRAIN_POLL_MS);
  }

  /** The runtime's buffer shrank: `drain` if a `send()` returned -1. */
  #hooksDrained(): void {
    const endpoint = this.#endpoint;
    if (
      endpoint === null ||
      (!endpoint.drainEvents &&
        endpoint.bufferedAmount() >= this.#writableHighWaterMark())
    ) {
      return;
    }
    this.#hooksBackpressured = false;
    const hooks = this.#hooks!;
    if (hooks.drain === undefined || !this.takesBroadcast) return;
    try {
      hooks.drain(this.hooksSocket!);
    } catch (error) {
      this.#hookThrew(error);
    }
  }

  /** The hooks socket's `ping()`. */
  hooksPing(data: string | BufferSource | undefined): number {
    const payload = data === undefined ? new Uint8Array(0) : pingPayload(data);
    const endpoint = this.#endpoint;
    if (endpoint === null || endpoint.ping === null || !this.takesBroadcast) {
      return 0;
    }
    try {
      endpoint.ping(payload);
    } catch {
      return 0; // Closing: the runtime's close report follows.
    }
    return payload.length + 2;
  }

  /** The hooks socket's `terminate()`. */
  hooksTerminate(): void {
    if (this.#endpoint?.terminate == null) {
      this.close({ closeCode: CloseCode.GoingAway });
      return;
    }
    this.#abandon();
  }

  /** The hooks socket's `readyState`. */
  get hooksReadyState(): 0 | 1 | 2 | 3 {
    if (this.#settled) return 3;
    if (this.#endpoint === null) return 0;
    return this.takesBroadcast ? 1 : 2;
  }

  /** The negotiated subprotocol. */
  get protocol(): string {
    return this.#options.protocol;
  }

  /**
   * Keepalive and idle timeout, as `WebSocketConnection` runs
   * them. Where the runtime pings by itself and hides pongs (Deno), a live
   * peer is taken to have answered every `pingInterval`: the runtime closes
   * the connection (1006) when it does not.
   */
  #startKeepalive(): void {
    const keepalive = new KeepaliveMonitor(this.#options, Date.now());
    if (keepalive.tickInterval === 0) return;
    this.#keepalive = keepalive;
    const ping = this.#endpoint!.ping;
    const ticker = { tick: (): void => this.#keepaliveTick(keepalive, ping) };
    const period = keepalive.tickInterval;
    this.#stopKeepalive = () => stopInterval(period, ticker);
    everyInterval(period, ticker);
  }

  #keepaliveTick(
    keepalive: KeepaliveMonitor,
    ping: (() => void) | null,
  ): void {
    {
      if (this.#closeRequest !== null || this.#failure !== null) {
        this.#stopKeepalive();
        return;
      }
      const now = Date.now();
      if (this.#receivedSinceTick) {
        this.#receivedSinceTick = false;
        keepalive.received(now);
      }
      switch (keepalive.tick(now)) {
        case "ping":
          if (ping === null) {
            // The runtime pings by itself and closes a dead peer itself.
            keepalive.received(now);
            return;
          }
          try {
            ping();
          } catch {
            // Closing: the runtime's close report follows.
          }
          return;
        case "idle":
          this.#stopKeepalive();
          this.close({
            closeCode: CloseCode.GoingAway,
            reason: "Idle timeout",
          });
          return;
        case "dead":
          // The peer is gone or stuck: tell it if it still listens, then drop it.
          this.#stopKeepalive();
          this.#peerDead = true;
          if (!this.#closeSent) {
            this.#closeSent = true;
            try {
              this.#endpoint!.close(
                CloseCode.InternalError,
                "Keepalive timeout",
              );
            } catch {
              // Already closing.
            }
          }
          this.#abandon();
          return;
      }
    }
  }
}

/** The UTF-8 length of a string, without encoding it. */
function utf8Length(text: string): number {
  let length = text.length;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) continue;
    if (unit < 0x800) {
      length += 1;
    } else if (
      unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length &&
      (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00
    ) {
      length += 2; // A surrogate pair: 2 units, 4 bytes.
      i++;
    } else {
      length += 2;
    }
  }
  return length;
}

/**
 * Checks a size or time option.
 *
 * @param name The option's name, for the message.
 * @param value The value; `undefined` passes.
 * @param unit `"bytes"` (a non-negative safe integer) or `"milliseconds"`
 * (a non-negative number that a timer can hold).
 * @throws {RangeError} If the value is out of range.
 */
export function checkLimit(
  name: string,
  value: number | undefined,
  unit: "bytes" | "milliseconds" | "count",
): void {
  if (value === undefined) return;
  const valid = unit === "milliseconds"
    ? typeof value === "number" && value >= 0 && value <= 2 ** 31 - 1
    : Number.isSafeInteger(value) && value >= 0;
  if (!valid) {
    throw new RangeError(
      `Cannot use ${name} ${value}: use a non-negative ${
        unit === "bytes"
          ? "integer number of bytes"
          : unit === "count"
          ? "integer"
          : "number of milliseconds up to 2147483647"
      }`,
    );
  }
}

function doNothing(): void {}
