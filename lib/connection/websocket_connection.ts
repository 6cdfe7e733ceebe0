/**
 * A WebSocket connection over any byte stream pair, in the WHATWG
 * `WebSocketStream` shape.
 *
 * @module
 */

import { fastAsciiDecoder } from "../core/_latin1.ts";
import { CloseCode, encodeCloseBody } from "../core/close_code.ts";
import { WebSocketError } from "../core/errors.ts";
import type { MessageExtension } from "../core/extension.ts";
import { createMessageStreams } from "./_message_streams.ts";
import type { MessageStreamHooks } from "./_message_streams.ts";
import { everyInterval, stopInterval } from "./_shared_interval.ts";
import type { Ticker } from "./_shared_interval.ts";
import { KeepaliveMonitor } from "../core/keepalive.ts";
import type { Role } from "../core/frame.ts";
import { Protocol } from "../core/protocol.ts";
import { StreamPairChannel } from "./_stream_pair_channel.ts";
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
} from "./_socket_extras.ts";
import type {
  NetAddr,
  WebSocketCloseInfo,
  WebSocketMessage,
  WebSocketOpenInfo,
  WebSocketStreamLike,
} from "./websocket_stream_like.ts";
import { channelOf } from "../transports/_socket_channel.ts";
import { registerBroadcastLookup } from "./_broadcast.ts";
import {
  type AnyHooks,
  type AnyHooksSocket,
  HOOK_ERROR_CODE,
  HOOK_ERROR_REASON,
  registerHooksDriver,
  reportHookError,
  SEND_LIMIT_CODE,
  SEND_LIMIT_FACTOR,
  SEND_LIMIT_REASON,
} from "./_hooks.ts";
import type { BroadcastPort } from "./_broadcast.ts";
import type {
  ByteChannel,
  ByteReceiver,
} from "../transports/_socket_channel.ts";

/**
 * A bidirectional byte transport: what a TCP or TLS socket looks like as Web
 * Streams.
 *
 * The connection relies on this contract: `readable` yields received bytes
 * and closes at EOF (errors on a socket error); the connection may keep and
 * modify the chunks it reads, so a transport must not reuse a buffer it has
 * enqueued; `readable` is pull-based, so a consumer that stops reading stops
 * socket reads; `writable.write()` resolves once the bytes are handed to the
 * OS; closing or aborting `writable`, or cancelling `readable`, closes the
 * socket.
 *
 * @example Run a client connection over in-memory streams
 * ```ts
 * import { type ByteStreamPair, WebSocketConnection } from "@wstream/wstream";
 * import assert from "node:assert/strict";
 *
 * const transport: ByteStreamPair = {
 *   readable: ReadableStream.from([new Uint8Array([0x81, 0x02, 0x68, 0x69, 0x88, 0x02, 0x03, 0xe8])]), // "hi", close 1000
 *   writable: new WritableStream(),
 * };
 * const socket = new WebSocketConnection(transport, { role: "client" });
 * assert.deepEqual(await Array.fromAsync((await socket.opened).readable), ["hi"]);
 * assert.deepEqual(await socket.closed, { closeCode: 1000, reason: "" });
 * ```
 */
export interface ByteStreamPair {
  /** Bytes received from the peer. */
  readable: ReadableStream<Uint8Array>;
  /** Bytes to send to the peer. */
  writable: WritableStream<Uint8Array>;
}

/**
 * A transport that resolves after an opening handshake, with what the
 * handshake decided; its fields override the connection's options.
 *
 * @example Hand over what the handshake decided, and the bytes read past its head
 * ```ts
 * import { type NegotiatedTransport, WebSocketConnection } from "@wstream/wstream";
 * import assert from "node:assert/strict";
 *
 * const transport: NegotiatedTransport = {
 *   readable: ReadableStream.from([new Uint8Array([0x88, 0x02, 0x03, 0xe8])]), // close 1000
 *   writable: new WritableStream(),
 *   protocol: "chat",
 *   head: new Uint8Array([0x81, 0x02, 0x68, 0x69]), // "hi", read along with the 101 response
 * };
 * const socket = new WebSocketConnection(Promise.resolve(transport), { role: "client" });
 * const { protocol, readable } = await socket.opened;
 * assert.deepEqual([protocol, await Array.fromAsync(readable)], ["chat", ["hi"]]);
 * ```
 */
export interface NegotiatedTransport extends ByteStreamPair {
  /**
   * The negotiated subprotocol.
   *
   * @default {undefined} the connection's `protocol` option
   */
  protocol?: string;
  /**
   * The negotiated `Sec-WebSocket-Extensions` answer.
   *
   * @default {undefined} the connection's `extensions` option
   */
  extensions?: string;
  /**
   * Bytes read past the HTTP head, processed first.
   *
   * @default {undefined} the connection's `head` option
   */
  head?: Uint8Array;
}

/**
 * Options of {@linkcode WebSocketConnection}.
 *
 * @example A server connection with its own limits
 * ```ts
 * import { WebSocketConnection, type WebSocketConnectionOptions } from "@wstream/wstream";
 * import assert from "node:assert/strict";
 *
 * const options: WebSocketConnectionOptions = { role: "server", url: "ws://localhost/chat", protocol: "chat", maxMessageSize: 1 << 20 };
 * const transport = { readable: ReadableStream.from<Uint8Array>([]), writable: new WritableStream<Uint8Array>() };
 * const socket = new WebSocketConnection(transport, options);
 * assert.equal(socket.url, "ws://localhost/chat");
 * assert.equal((await socket.closed).closeCode, 1006); // the transport ended without a close frame
 * ```
 */
export interface WebSocketConnectionOptions {
  /** Our side of the connection: it decides the masking rules. */
  role: Role;
  /**
   * The URL of the connection, as reported by `url`.
   * @default {""}
   */
  url?: string;
  /**
   * The negotiated subprotocol.
   * @default {""}
   */
  protocol?: string;
  /**
   * The negotiated `Sec-WebSocket-Extensions` answer.
   * @default {""}
   */
  extensions?: string;
  /**
   * The negotiated extensions' message transforms (permessage-deflate:
   * `PerMessageDeflate`), in the order of the `extensions` answer. The
   * connection owns them: their `close()` is called once `closed` settles.
   * @default {[]}
   */
  messageExtensions?: readonly MessageExtension[];
  /**
   * Bytes already read past the HTTP head; they are processed before
   * anything read from the transport.
   * @default {undefined}
   */
  head?: Uint8Array;
  /**
   * The largest message accepted, in bytes; larger fails with 1009.
   * @default {67108864} (64 MiB)
   */
  maxMessageSize?: number;
  /**
   * The most frames one received message may arrive in; more fail with
   * 1009. 0: no limit (memory follows a message's bytes, not its frames).
   * @default {0}
   */
  maxFragments?: number;
  /**
   * How long to wait, in milliseconds, for the peer to answer our close
   * frame (and, for a client, for the server to close TCP) before closing
   * the transport ourselves.
   * @default {5000}
   */
  closeTimeout?: number;
  /**
   * How many bytes of received messages may wait in `readable` before
   * wstream stops reading from the transport.
   * @default {1048576} (1 MiB)
   */
  readableHighWaterMark?: number;
  /**
   * How many bytes may be written to the transport and not yet accepted by
   * the OS before writes to `writable` wait.
   * @default {1048576} (1 MiB)
   */
  writableHighWaterMark?: number;
  /**
   * Send a ping every this many milliseconds while the connection is open;
   * 0 disables keepalive. A peer that sends nothing at all (no pong, no
   * data) for `pongTimeout` after a ping is considered dead: it is sent a
   * 1011 close frame on a best-effort basis, the transport is closed, and
   * `closed` reports 1006.
   * @default {0}
   */
  pingInterval?: number;
  /**
   * How long after a keepalive ping the peer must have sent something.
   * @default {pingInterval}
   */
  pongTimeout?: number;
  /**
   * Close the connection with 1001 ("Idle timeout") after this many
   * milliseconds without receiving anything; 0 disables it.
   * @default {0}
   */
  idleTimeout?: number;
  /**
   * Give up on a peer that stopped reading: when bytes have waited for the
   * transport this many milliseconds with none taken (TCP's window stayed
   * closed), a 1008 close frame ("Write stalled: the peer is not reading")
   * is queued behind them, and the transport is closed if the peer has not
   * finished the close handshake `closeTimeout` later; `closed` reports
   * 1008. Separate from keepalive: while writes are stalled, or reading is
   * paused because the application is behind, a missing pong is not held
   * against the peer. Checked at the keepalive timer's granularity (half
   * the smallest of the intervals); 0 disables it.
   * @default {0}
   */
  writeStallTimeout?: number;
  /**
   * The peer's address, reported as `remoteAddr` (the servers and the
   * client pass the TCP peer's).
   * @default {null}
   */
  remoteAddr?: NetAddr | null;
}

const DEFAULT_HIGH_WATER_MARK = 1024 * 1024;
/**
 * How many bytes of automatic replies (pongs) may be produced while the
 * transport is backed up (`writableHighWaterMark` bytes not yet taken)
 * before wstream stops reading from the peer: a peer that floods pings and
 * never reads is then slowed through TCP, like a slow reader of messages.
 * Only automatic replies pause reading, so two peers both writing heavily
 * never wait on each other.
 */
const AUTO_REPLY_ALLOWANCE = 64 * 1024;
/**
 * Queued chunks (broadcast frames and what preceded them) up to this many
 * bytes in all leave in one transport write, copied together; more are
 * written one by one, uncopied.
 */
const COALESCE_LIMIT = 64 * 1024;
/**
 * The smallest read that goes straight into a large frame's payload buffer
 * (transports that read into buffers of their choice: Deno's).
 */
const DIRECT_READ_MINIMUM = 64 * 1024;

/**
 * Binary messages from this size leave as header plus payload where the
 * runtime writes synchronously (Bun): no copy into a frame buffer.
 */
const DIRECT_SEND_MINIMUM = 64 * 1024;
const NO_EXTENSIONS: readonly MessageExtension[] = [];

/** A connection's private broadcast handlers, for its port. */
let broadcastHandlers: {
  role(connection: WebSocketConnection): Role;
  extensions(connection: WebSocketConnection): readonly MessageExtension[];
  writable(connection: WebSocketConnection): boolean;
  sendFrame(connection: WebSocketConnection, frame: Uint8Array): boolean;
  sendMessage(
    connection: WebSocketConnection,
    message: string | Uint8Array,
  ): boolean;
};

/** A connection's private handlers, for its hooks socket. */
let hooksHandlers: {
  send(connection: WebSocketConnection, data: string | BufferSource): number;
  ping(
    connection: WebSocketConnection,
    data: string | BufferSource | undefined,
  ): number;
  terminate(connection: WebSocketConnection): void;
  readyState(connection: WebSocketConnection): 0 | 1 | 2 | 3;
  protocol(connection: WebSocketConnection): string;
  extensions(connection: WebSocketConnection): string;
};

/** A connection's private handlers, for {@linkcode ConnectionPort}. */
let connectionHandlers: {
  data(connection: WebSocketConnection, chunk: Uint8Array): void;
  end(connection: WebSocketConnection, error: Error | undefined): void;
  readTarget(connection: WebSocketConnection): Uint8Array | null;
  pull(connection: WebSocketConnection): void;
  write(
    connection: WebSocketConnection,
    message: string | BufferSource | ArrayBufferView,
  ): Promise<void> | void;
  accepted(connection: WebSocketConnection): void;
  cancelled(connection: WebSocketConnection, reason: unknown): void;
  aborted(connection: WebSocketConnection, reason: unknown): void;
  tick(connection: WebSocketConnection): void;
};

/**
 * A WebSocket connection (after the opening handshake) over any
 * {@linkcode ByteStreamPair}, shaped like the WHATWG `WebSocketStream`.
 *
 * Every frame of a received chunk is parsed in one synchronous call of the
 * sans-I/O {@linkcode Protocol}; messages go to `readable`, whose bounded
 * queue stops transport reads when the application stops reading; writes to
 * `writable` are encoded at once and coalesced into one transport write per
 * microtask turn, and wait while the transport is slow.
 *
 * `closed` always resolves: with the peer's close code and reason after a
 * close handshake, with the code we failed the connection with (1002, 1007,
 * 1009) after a protocol error, or with 1006 when the transport ended
 * without a close frame. After a clean close `readable` ends; otherwise it
 * errors with a {@linkcode WebSocketError} carrying the same code.
 *
 * @example Echo messages over a byte stream pair
 * ```ts ignore
 * import { WebSocketConnection } from "@wstream/wstream";
 *
 * declare const transport: import("@wstream/wstream").ByteStreamPair;
 * const socket = new WebSocketConnection(transport, { role: "server" });
 * const { readable, writable } = await socket.opened;
 * const writer = writable.getWriter();
 * for await (const message of readable) await writer.write(message);
 * console.log(await socket.closed);
 * ```
 */
export class WebSocketConnection implements WebSocketStreamLike {
  /** The URL of the connection. */
  readonly url: string;
  /**
   * The peer's address (the `remoteAddr` option), `null` when unknown.
   *
   * @example Log who connected
   * ```ts ignore
   * import type { WebSocketStreamLike } from "@wstream/wstream";
   *
   * declare const socket: WebSocketStreamLike;
   * console.log(socket.remoteAddr?.hostname, socket.secure);
   * ```
   */
  readonly remoteAddr: NetAddr | null;
  /** Whether the URL is `wss:` (the connection runs over TLS). */
  readonly secure: boolean;
  /**
   * Called with the payload of every pong received, `null` for none: see
   * {@linkcode WebSocketStreamLike.onpong}.
   *
   * @default {null}
   */
  onpong: ((data: Uint8Array) => void) | null = null;

  readonly #options: Omit<WebSocketConnectionOptions, "head" | "remoteAddr">;
  /** Bytes received after the handshake, until `#start` consumed them. */
  #head: Uint8Array | undefined;
  readonly #protocol: Protocol;
  // `opened` and `closed` are built on first access only (hooks and many
  // servers never ask): until then, what they would settle with is kept.
  #openedPromise: Promise<WebSocketOpenInfo> | null = null;
  #openedResolvers: PromiseWithResolvers<WebSocketOpenInfo> | null = null;
  /** Why the transport never came, if it did not. */
  #openFailure: { error: unknown } | null = null;
  /** The streams, built on the first access to `opened` or message. */
  #openInfo: WebSocketOpenInfo | null = null;
  #closedPromise: Promise<WebSocketCloseInfo> | null = null;
  #resolveClosed: ((info: WebSocketCloseInfo) => void) | null = null;
  /** What `closed` resolves with, once settled. */
  #closeInfo: WebSocketCloseInfo | null = null;

  #channel: ByteChannel | null = null;
  /** What the transport and the application's streams call into. */
  readonly #port: ConnectionPort = new ConnectionPort(this);
  #receiving = false;
  #eof = false;
  /** Reading waits while the application reads what preceded a close. */
  #waitingForApp = false;
  #messages: ReadableStreamDefaultController<WebSocketMessage> | null = null;
  #messagesDone = false;
  /** The connection ended: streams built from now on start ended. */
  #messagesEnded = false;
  #sink: WritableStreamDefaultController | null = null;

  #flushScheduled = false;
  #inflight = 0;
  /**
   * Frames queued by a broadcast (shared with other sockets, never
   * modified), with the protocol's output that preceded them, in order;
   * written before the protocol's next output.
   */
  #queued: Uint8Array[] | null = null;
  #queuedLength = 0;
  #drained: (() => void) | null = null;
  #transportFailed = false;
  /** Bytes of pongs produced since the transport backed up. */
  #autoReplyBacklog = 0;
  /** The transport is being closed: nothing more is written or read. */
  #transportClosing = false;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  #closeRequest:
    | { code: number | undefined; reason: string; afterWrites: number }
    | null = null;
  #writesAccepted = 0;
  #writesProcessed = 0;
  #settled = false;
  readonly #keepalive: KeepaliveMonitor;
  /** The pings waiting for their pong, once `ping()` was called. */
  #pings: PingTracker | null = null;
  /** The keepalive period this connection ticks at; 0: not ticking. */
  #keepalivePeriod = 0;
  #peerDead = false;
  /** Writes the transport completed: progress for the write-stall check. */
  #writesCompleted = 0;
  /** `#writesCompleted` at the previous keepalive tick. */
  #writesCompletedAtTick = 0;
  /** The application's hooks, when driven by hooks instead of streams. */
  #hooks: AnyHooks | null = null;
  /** The socket the hooks get. */
  #hooksSocket: AnyHooksSocket | null = null;
  /** A hooks `send()` returned -1: `drain` is due once under the mark. */
  #hooksBackpressured = false;
  /** Hooks run from the receive path: its flush writes their sends. */
  #inReceive = false;
  /** A hook threw: the connection is closing with 1011. */
  #hookFailed = false;

  /**
   * Starts a connection over `transport`, which may still be on its way (a
   * server resolves it after writing the 101 response).
   *
   * @param transport The byte streams, or a promise of them; if it rejects,
   * `opened` rejects with its reason and `closed` resolves with 1006.
   * @param options Role, negotiated values and limits.
   * @throws {RangeError} If a limit is invalid.
   */
  constructor(
    transport:
      | ByteStreamPair
      | NegotiatedTransport
      | Promise<ByteStreamPair | NegotiatedTransport>,
    options: WebSocketConnectionOptions,
  ) {
    // Kept apart (head, dropped once used) or copied (remoteAddr) below.
    const { head, remoteAddr: addr, ...rest } = options;
    this.#options = rest;
    this.#head = head;
    this.#keepalive = new KeepaliveMonitor(options, Date.now());
    this.url = options.url ?? "";
    this.secure = this.url.startsWith("wss:");
    this.remoteAddr = addr == null
      ? null
      : { hostname: addr.hostname, port: addr.port };
    const protocolOptions: ConstructorParameters<typeof Protocol>[0] = {
      role: options.role,
    };
    if (options.maxFragments !== undefined) {
      protocolOptions.maxFragments = options.maxFragments;
    }
    if (options.maxMessageSize !== undefined) {
      protocolOptions.maxMessageSize = options.maxMessageSize;
    }
    if (options.messageExtensions !== undefined) {
      protocolOptions.extensions = options.messageExtensions;
    }
    if (fastAsciiDecoder !== undefined) {
      protocolOptions.decodeAscii = fastAsciiDecoder;
    }
    this.#protocol = new Protocol(protocolOptions);
    Promise.resolve(transport).then(
      (pair) => this.#start(pair),
      (error) => {
        this.#openFailure = { error };
        this.#openedResolvers?.reject(error);
        this.#openedResolvers = null;
        this.#settle({ closeCode: CloseCode.AbnormalClosure, reason: "" });
      },
    );
  }

  /**
   * Resolves once the connection is usable, with its message streams
   * (built on first access: a socket driven otherwise costs none).
   */
  get opened(): Promise<WebSocketOpenInfo> {
    let opened = this.#openedPromise;
    if (opened !== null) return opened;
    const failure = this.#openFailure;
    if (failure !== null) {
      opened = Promise.reject(failure.error);
    } else if (this.#channel !== null && this.#hooks === null) {
      opened = Promise.resolve(this.#streams());
    } else {
      const resolvers = Promise.withResolvers<WebSocketOpenInfo>();
      this.#openedResolvers = resolvers;
      opened = resolvers.promise;
    }
    opened.catch(() => {});
    this.#openedPromise = opened;
    return opened;
  }

  /** Resolves once the connection and its transport are closed. */
  get closed(): Promise<WebSocketCloseInfo> {
    let closed = this.#closedPromise;
    if (closed !== null) return closed;
    const info = this.#closeInfo;
    closed = info !== null
      ? Promise.resolve(info)
      : new Promise((resolve) => this.#resolveClosed = resolve);
    this.#closedPromise = closed;
    return closed;
  }

  /**
   * The message streams and what `opened` resolves with, built on first
   * use; in the state the connection reached meanwhile.
   */
  #streams(): WebSocketOpenInfo {
    let info = this.#openInfo;
    if (info !== null) return info;
    const readableHighWaterMark = this.#options.readableHighWaterMark ??
      DEFAULT_HIGH_WATER_MARK;
    const { readable, writable, messages, sink } = createMessageStreams(
      readableHighWaterMark,
      this.#port,
    );
    this.#messages = messages;
    this.#sink = sink;
    info = {
      readable,
      writable,
      protocol: this.#options.protocol ?? "",
      extensions: this.#options.extensions ?? "",
    };
    this.#openInfo = info;
    if (this.#messagesEnded) this.#endStreams(messages, sink);
    return info;
  }

  /**
   * Starts the closing handshake (RFC 6455 §7.1.2) after every message
   * already written to `writable` has been sent. Does nothing once closing.
   *
   * @param closeInfo The code (1000, or 3000-4999; a server may also use
   * 1001-1003 and 1007-1014) and a reason of at most 123 bytes of UTF-8.
   * Without a code, 1000 is sent when a reason is given, and a close frame
   * without a body otherwise.
   * @throws {RangeError} If the code cannot be sent or the reason is too long.
   */
  close(closeInfo: { closeCode?: number; reason?: string } = {}): void {
    const reason = closeInfo.reason ?? "";
    const code = closeInfo.closeCode ??
      (reason === "" ? undefined : CloseCode.NormalClosure);
    encodeCloseBody(code, reason); // Throws RangeError for what cannot be sent.
    this.#requestClose(code, reason, this.#writesAccepted);
  }

  /**
   * Bytes written and not yet taken by the OS: the encoded frames not yet
   * handed to the transport plus those it has not finished writing. See
   * {@linkcode WebSocketStreamLike.bufferedAmount}.
   */
  get bufferedAmount(): number {
    if (this.#settled) return 0;
    return this.#protocol.bufferedAmount + this.#queuedLength +
      this.#inflight;
  }

  /**
   * Sends a ping; resolves with the round-trip time in milliseconds once
   * the matching pong (or a later one) arrived. See
   * {@linkcode WebSocketStreamLike.ping}.
   *
   * @param data At most 125 bytes; without it, 8 unique bytes.
   * @returns The round-trip time in milliseconds.
   *
   * @example Measure the latency
   * ```ts ignore
   * import type { WebSocketStreamLike } from "@wstream/wstream";
   *
   * declare const socket: WebSocketStreamLike;
   * await socket.opened;
   * console.log(`RTT ${(await socket.ping()).toFixed(1)} ms`);
   * ```
   */
  ping(data?: string | BufferSource): Promise<number> {
    try {
      const payload = pingPayload(data);
      const protocol = this.#protocol;
      if (
        this.#channel === null || protocol.state !== "OPEN" ||
        this.#closeRequest !== null || this.#transportFailed
      ) {
        throw new TypeError(
          "Cannot ping a WebSocket that is not open: await opened, and ping before close()",
        );
      }
      const rtt = (this.#pings ??= new PingTracker()).add(payload);
      protocol.sendPing(payload);
      this.#flush();
      return rtt;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Requests the closing handshake after `afterWrites` writes were
   * processed, or, when one is already requested, lowers its wait to
   * `afterWrites` (writes `writable` dropped never come).
   */
  #requestClose(
    code: number | undefined,
    reason: string,
    afterWrites: number,
  ): void {
    const request = this.#closeRequest;
    if (request !== null) {
      if (afterWrites < request.afterWrites) {
        request.afterWrites = afterWrites;
        this.#maybeSendClose();
      }
      return;
    }
    this.#closeRequest = { code, reason, afterWrites };
    // The whole closing handshake, queued writes included, is bounded.
    this.#armCloseTimer();
    this.#maybeSendClose();
  }

  /** `readable` was cancelled: close as its reason says (WHATWG). */
  #onCancel(reason: unknown): void {
    this.#messagesDone = true;
    closeForCancel(reason, (info) => this.close(info));
  }

  /** `writable` was aborted: its queued writes were dropped. */
  #onAbort(reason: unknown): void {
    closeForAbort(reason, (info) => this.close(info));
    // Every write the stream still had was dropped.
    this.#requestClose(undefined, "", this.#writesProcessed);
  }

  #start(pair: NegotiatedTransport): void {
    if (pair.protocol !== undefined) this.#options.protocol = pair.protocol;
    if (pair.extensions !== undefined) {
      this.#options.extensions = pair.extensions;
    }
    if (pair.head !== undefined) this.#head = pair.head;
    this.#channel = channelOf(pair) ?? new StreamPairChannel(pair);
    if (this.#hooks !== null) {
      this.#startHooks();
      return;
    }
    // The streams wait for `opened` (or the first message) to be built.
    const resolvers = this.#openedResolvers;
    if (resolvers !== null) {
      this.#openedResolvers = null;
      resolvers.resolve(this.#streams());
    }
    this.#startKeepalive();
    // A close() requested before the transport arrived goes out now.
    this.#maybeSendClose();
    this.#startReading();
  }

  /**
   * Takes the bytes that followed the handshake (dropped once used), then
   * reads from the transport.
   */
  #startReading(): void {
    const head = this.#head;
    this.#head = undefined;
    if (head !== undefined && head.length > 0) {
      this.#onData(head);
    } else {
      this.#updateReading();
    }
  }

  /**
   * Reads from the transport while the protocol or the application wants
   * bytes: stops while `readable` is full (the application is slow) and
   * while the application reads the messages that preceded a close; closes
   * the transport once the connection is closed.
   */
  #updateReading(): void {
    if (this.#transportClosing || this.#channel === null) return;
    const protocol = this.#protocol;
    let wanted: boolean;
    if (protocol.state === "CLOSED") {
      if (protocol.closeExpected() || this.#transportFailed || this.#eof) {
        this.#closeTransport().catch(internalError);
        return;
      }
      // A client after a clean close waits for the server to end TCP.
      this.#armCloseTimer();
      wanted = true;
    } else {
      wanted = !this.#waitingForApp &&
        this.#autoReplyBacklog <= AUTO_REPLY_ALLOWANCE &&
        (protocol.state !== "OPEN" || this.#messagesDone ||
          (this.#messages?.desiredSize ?? 1) > 0);
    }
    if (wanted === this.#receiving) return;
    this.#receiving = wanted;
    this.#channel.receive(wanted ? this.#port : null);
  }

  /** Every received chunk: all its frames in one synchronous pass. */
  #onData(chunk: Uint8Array): void {
    const protocol = this.#protocol;
    if (protocol.state === "CLOSED") return; // Discarded until EOF.
    this.#keepalive.received(Date.now());
    try {
      protocol.receiveData(chunk);
      this.#afterReceive();
    } catch (error) {
      // Only a bug can get here: never leave the connection hanging or take
      // the whole server down with it.
      internalError(error);
      this.#abandonTransport();
    }
  }

  /** The transport's end: EOF, or an error (an abnormal closure). */
  #onEnd(error: Error | undefined): void {
    this.#eof = true;
    this.#receiving = false;
    if (error !== undefined) this.#transportFailed = true;
    const protocol = this.#protocol;
    if (protocol.state !== "CLOSED") {
      protocol.receiveEof();
      this.#afterReceive();
    } else {
      this.#updateReading();
    }
  }

  /**
   * Delivers events and sends what the protocol queued. When a close frame
   * or protocol error followed messages in the same chunk, the application
   * first gets to read (and answer) those messages.
   */
  #afterReceive(): void {
    if (this.#hooks !== null) {
      this.#afterReceiveHooks();
      return;
    }
    const protocol = this.#protocol;
    for (const event of protocol.eventsReceived()) {
      const type = event.type;
      if (type === "text" || type === "binary") {
        if (!this.#messagesDone) {
          let messages = this.#messages;
          if (messages === null) {
            // Held in `readable` for an `opened` not read yet.
            this.#streams();
            messages = this.#messages!;
          }
          messages.enqueue(event.data);
        }
      } else if (type === "pong") {
        callUser(this.onpong, event.data);
        this.#pings?.pong(event.data);
      } else if (
        type === "ping" && this.#inflight >= this.#writableHighWaterMark()
      ) {
        // Its pong waits behind a backed-up transport.
        this.#autoReplyBacklog += event.data.length + 2;
      }
    }
    if (protocol.closePending && !this.#transportFailed) {
      this.#waitingForApp = true;
      this.#updateReading();
      this.#flushOnceRead().then(() => {
        this.#waitingForApp = false;
        this.#updateReading();
      }).catch(internalError);
      return;
    }
    this.#flush();
    this.#afterFlush();
    this.#updateReading();
  }

  /** Hooks instead of streams: the `open` hook, then reading. */
  #startHooks(): void {
    this.#messagesDone = true; // Reading never waits for a reader.
    this.#startKeepalive();
    // A close() requested before the transport arrived goes out now.
    this.#maybeSendClose();
    const hooks = this.#hooks!;
    if (hooks.open !== undefined && this.#closeRequest === null) {
      try {
        hooks.open(this.#hooksSocket!);
      } catch (error) {
        this.#hookThrew(error);
      }
    }
    this.#startReading();
  }

  /**
   * Hands the events to the hooks, synchronously, then writes what they
   * sent with the protocol's own replies, in one write. A close frame (or a
   * protocol error) read after messages takes effect at that write, after
   * the answers to those messages.
   */
  #afterReceiveHooks(): void {
    const protocol = this.#protocol;
    const events = protocol.eventsReceived();
    if (events.length !== 0) {
      const hooks = this.#hooks!;
      const ws = this.#hooksSocket!;
      this.#inReceive = true;
      for (let i = 0; i < events.length; i++) {
        const event = events[i]!;
        const type = event.type;
        if (type === "text" || type === "binary") {
          if (hooks.message === undefined || this.#hookFailed) continue;
          try {
            hooks.message(ws, event.data);
          } catch (error) {
            this.#hookThrew(error);
          }
        } else if (type === "pong") {
          if (hooks.pong === undefined || this.#hookFailed) continue;
          try {
            hooks.pong(ws, event.data);
          } catch (error) {
            this.#hookThrew(error);
          }
        } else if (
          type === "ping" && this.#inflight >= this.#writableHighWaterMark()
        ) {
          // Its pong waits behind a backed-up transport.
          this.#autoReplyBacklog += event.data.length + 2;
        }
      }
      this.#inReceive = false;
    }
    this.#flush();
    this.#afterFlush();
    this.#updateReading();
  }

  /** A hook threw: report it, close with 1011, deliver nothing more. */
  #hookThrew(error: unknown): void {
    reportHookError(this.#hooks!, this.#hooksSocket!, error);
    if (this.#hookFailed) return;
    this.#hookFailed = true;
    this.#requestClose(
      HOOK_ERROR_CODE,
      HOOK_ERROR_REASON,
      this.#writesAccepted,
    );
  }

  /** Whether a hooks `send()` or `ping()` may queue now. */
  #hooksOpen(): boolean {
    return this.#channel !== null && this.#protocol.state === "OPEN" &&
      this.#closeRequest === null && !this.#transportFailed &&
      !this.#transportClosing;
  }

  /** The hooks socket's `send()` (see `WebSocketHooksSocket.send`). */
  #hooksSend(data: string | BufferSource): number {
    let bytes: Uint8Array | null = null;
    if (typeof data !== "string") {
      bytes = data instanceof Uint8Array ? data : bufferSourceBytes(data);
      if (bytes === null) {
        throw new TypeError(
          `Cannot send a value of type ${typeof data}: send a string or a BufferSource`,
        );
      }
    }
    if (!this.#hooksOpen()) return 0;
    const protocol = this.#protocol;
    const highWaterMark = this.#writableHighWaterMark();
    const waiting = this.#queuedLength + this.#inflight;
    const before = protocol.bufferedAmount;
    if (before + waiting >= highWaterMark * SEND_LIMIT_FACTOR) {
      // The application went on sending past -1: bound the queue.
      protocol.fail(SEND_LIMIT_CODE, SEND_LIMIT_REASON);
      this.#flush();
      this.#afterFlush();
      this.#updateReading();
      return 0;
    }
    if (bytes === null) protocol.sendText(data as string);
    else {
      const sent = this.#sendDirect(bytes);
      if (sent > 0) {
        if (this.bufferedAmount >= highWaterMark) {
          this.#hooksBackpressured = true;
          return -1;
        }
        return sent;
      }
      protocol.sendBinary(bytes);
    }
    const after = protocol.bufferedAmount;
    if (after + waiting >= highWaterMark) {
      this.#flush();
      // Still over once written (a transport that writes synchronously may
      // have taken it all): `drain` follows the transport's progress.
      if (this.bufferedAmount >= highWaterMark) {
        this.#hooksBackpressured = true;
        return -1;
      }
      return after - before;
    }
    // From the receive path, its flush writes this message with the others.
    if (!this.#inReceive) this.#scheduleFlush();
    return after - before;
  }

  /**
   * Where the runtime writes synchronously (Bun), sends a large binary
   * message as its header then its payload, straight from `bytes`: no frame
   * buffer, and no copy when the kernel takes it all. What it does not take
   * is copied before this returns, so the caller may reuse `bytes` at once.
   *
   * @returns The frame's bytes once sent; 0 when this does not apply
   * (small, earlier bytes still queued, a client, an extension): send it
   * the usual way then.
   */
  #sendDirect(bytes: Uint8Array): number {
    const channel = this.#channel;
    if (
      bytes.length < DIRECT_SEND_MINIMUM || channel === null ||
      channel.writesNow !== true || this.#queued !== null ||
      this.#inflight !== 0 || this.#transportFailed || this.#transportClosing
    ) {
      return 0;
    }
    const protocol = this.#protocol;
    if (protocol.bufferedAmount > 0) {
      this.#flushInPlace(); // Earlier frames go first.
      if (this.#inflight !== 0) return 0;
    }
    const header = protocol.beginDirectMessage(0x2, bytes.length);
    if (header === null) return 0;
    const took = channel.tryWrite!(header);
    if (took < header.length) {
      const rest = new Uint8Array(header.length - took + bytes.length);
      rest.set(header.subarray(took));
      rest.set(bytes, header.length - took);
      this.#writeOut(rest, true);
      return header.length + bytes.length;
    }
    const taken = channel.tryWrite!(bytes);
    if (taken === bytes.length) {
      this.#writesCompleted++;
      return header.length + bytes.length;
    }
    this.#writeOut(bytes.slice(taken), true);
    return header.length + bytes.length;
  }

  /** The hooks socket's `ping()`. */
  #hooksPing(data: string | BufferSource | undefined): number {
    const payload = data === undefined ? new Uint8Array(0) : pingPayload(data);
    if (!this.#hooksOpen()) return 0;
    this.#protocol.sendPing(payload);
    if (!this.#inReceive) this.#scheduleFlush();
    return payload.length + 2;
  }

  /** The hooks socket's `terminate()`. */
  #hooksTerminate(): void {
    if (this.#channel === null) {
      this.close({ closeCode: CloseCode.GoingAway });
      return;
    }
    this.#abandonTransport();
  }

  /** The hooks socket's `readyState`. */
  #hooksReadyState(): 0 | 1 | 2 | 3 {
    if (this.#settled) return 3;
    if (this.#channel === null) return 0;
    return this.#hooksOpen() ? 1 : 2;
  }

  /** The transport took bytes: `drain` if `send()` returned -1 before. */
  #hooksDrained(): void {
    if (this.bufferedAmount >= this.#writableHighWaterMark()) return;
    this.#hooksBackpressured = false;
    const hooks = this.#hooks!;
    if (hooks.drain === undefined || !this.#hooksOpen()) return;
    try {
      hooks.drain(this.#hooksSocket!);
    } catch (error) {
      this.#hookThrew(error);
    }
  }

  /** The connection is closed: the `close` hook, once. */
  #hooksClosed(info: WebSocketCloseInfo): void {
    const hooks = this.#hooks!;
    if (hooks.close === undefined) return;
    try {
      hooks.close(this.#hooksSocket!, info);
    } catch (error) {
      reportHookError(hooks, this.#hooksSocket!, error);
    }
  }

  /** Drives this connection by hooks (before its transport arrived). */
  #enableHooks(hooks: AnyHooks, data: unknown): AnyHooksSocket | null {
    if (this.#channel !== null || this.#hooks !== null) return null;
    this.#hooks = hooks;
    const socket = new ConnectionHooksSocket(this, data);
    this.#hooksSocket = socket;
    return socket;
  }

  async #flushOnceRead(): Promise<void> {
    const messages = this.#messages;
    const highWaterMark = this.#options.readableHighWaterMark ??
      DEFAULT_HIGH_WATER_MARK;
    const deadline = Date.now() + (this.#options.closeTimeout ?? 5000);
    while (
      !this.#messagesDone && (messages?.desiredSize ?? highWaterMark) <
        highWaterMark &&
      Date.now() < deadline
    ) {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    // One more turn for the application's answers to reach the writable.
    await new Promise((resolve) => setTimeout(resolve, 0));
    this.#flush();
    this.#afterFlush();
  }

  #afterFlush(): void {
    const protocol = this.#protocol;
    if (protocol.state === "CLOSED") {
      this.#endMessages();
    } else if (protocol.state === "CLOSING") {
      this.#armCloseTimer();
    }
  }

  #endMessages(): void {
    if (this.#messagesDone) return;
    this.#messagesDone = true;
    this.#messagesEnded = true;
    const messages = this.#messages;
    if (messages !== null) this.#endStreams(messages, this.#sink!);
  }

  /** Ends `readable` and `writable` as the connection ended. */
  #endStreams(
    messages: ReadableStreamDefaultController<WebSocketMessage>,
    sink: WritableStreamDefaultController,
  ): void {
    const info = this.#reportedCloseInfo();
    if (this.#protocol.closeReceived !== null && !this.#protocol.error) {
      messages.close();
    } else {
      messages.error(
        new WebSocketError(
          `WebSocket closed abnormally with code ${info.closeCode}`,
          info,
        ),
      );
    }
    sink.error(
      new WebSocketError("WebSocket is closed", info),
    );
  }

  #write(
    message: string | BufferSource | ArrayBufferView,
  ): Promise<void> | void {
    const index = ++this.#writesProcessed;
    const protocol = this.#protocol;
    const request = this.#closeRequest;
    if (
      protocol.state !== "OPEN" ||
      (request !== null && index > request.afterWrites)
    ) {
      this.#maybeSendClose();
      throw new TypeError(
        "Cannot write to a WebSocket that is closing or closed",
      );
    }
    if (typeof message === "string") {
      protocol.sendText(message);
    } else if (message instanceof Uint8Array) {
      if (this.#sendDirect(message) === 0) protocol.sendBinary(message);
    } else {
      let data: string | Uint8Array;
      try {
        data = toSendable(message);
      } catch (error) {
        // `writable` errors with this: never leave a socket nobody can
        // write to open.
        this.#requestClose(
          UNSENDABLE_WRITE_CODE,
          UNSENDABLE_WRITE_REASON,
          this.#writesProcessed,
        );
        throw error;
      }
      if (typeof data === "string") protocol.sendText(data);
      else protocol.sendBinary(data);
    }
    const highWaterMark = this.#writableHighWaterMark();
    if (
      protocol.bufferedAmount + this.#queuedLength + this.#inflight >=
        highWaterMark
    ) {
      // Too much waiting: write now rather than at the end of the turn.
      this.#flush();
    } else {
      this.#scheduleFlush();
    }
    this.#maybeSendClose();
    if (this.#inflight >= highWaterMark) {
      return new Promise((resolve) => this.#drained = resolve);
    }
  }

  #writableHighWaterMark(): number {
    return this.#options.writableHighWaterMark ?? DEFAULT_HIGH_WATER_MARK;
  }

  /** Sends the requested close once every accepted write went out. */
  #maybeSendClose(): void {
    const request = this.#closeRequest;
    if (request === null || this.#channel === null) return;
    if (this.#writesProcessed < request.afterWrites) return;
    const protocol = this.#protocol;
    if (protocol.state === "OPEN") {
      protocol.sendClose(request.code, request.reason);
      this.#flush();
      this.#armCloseTimer();
    }
    this.#updateReading();
  }

  /**
   * Writes what the application queued at the end of this event-loop turn,
   * not per message: every reply produced while handling one transport read
   * leaves in one write (one syscall). Measured on Deno with 64 connections
   * x 16 messages in flight: 2x the messages per second of a per-microtask
   * flush.
   */
  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    scheduleMacrotask(() => {
      this.#flushScheduled = false;
      this.#flush();
    });
  }

  #flush(): void {
    const queued = this.#queued;
    if (queued === null && this.#channel!.writesNow === true) {
      this.#flushInPlace();
      return;
    }
    const bytes = this.#protocol.dataToSend();
    if (queued !== null) {
      this.#queued = null;
      const total = this.#queuedLength + (bytes?.length ?? 0);
      this.#queuedLength = 0;
      if (this.#transportFailed || this.#transportClosing) return;
      if (bytes !== null) queued.push(bytes);
      if (queued.length === 1 || total > COALESCE_LIMIT) {
        for (const chunk of queued) this.#writeOut(chunk);
      } else {
        const joined = new Uint8Array(total);
        let at = 0;
        for (const chunk of queued) {
          joined.set(chunk, at);
          at += chunk.length;
        }
        this.#writeOut(joined);
      }
      return;
    }
    if (bytes === null || this.#transportFailed || this.#transportClosing) {
      return;
    }
    this.#writeOut(bytes);
  }

  /**
   * Where the runtime writes synchronously (Bun): writes the protocol's
   * output buffer in place, with no view and no new buffer when the kernel
   * takes it all (the buffer goes back to the protocol's pool); the rest
   * leaves through the channel's queued write.
   */
  #flushInPlace(): void {
    const protocol = this.#protocol;
    const out = protocol.peekOutput();
    if (out === null) return;
    if (this.#transportFailed || this.#transportClosing) {
      protocol.dataToSend(); // Dropped, as #flush drops it.
      return;
    }
    const length = protocol.bufferedAmount;
    const taken = this.#channel!.tryWrite!(out, length);
    protocol.outputWritten(taken);
    if (taken === length) {
      this.#writesCompleted++;
      return;
    }
    this.#writeOut(protocol.dataToSend()!, true);
  }

  /** Hands bytes to the transport, counted in `bufferedAmount` until taken. */
  #writeOut(bytes: Uint8Array, tried = false): void {
    const channel = this.#channel!;
    if (!tried && channel.tryWrite !== undefined) {
      // Where the runtime writes synchronously (Bun): no promise when the
      // kernel takes it all, the usual case of a reply.
      const taken = channel.tryWrite(bytes);
      if (taken === bytes.length) {
        this.#writesCompleted++;
        return;
      }
      if (taken > 0) bytes = bytes.subarray(taken);
    }
    const length = bytes.length;
    this.#inflight += length;
    this.#channel!.write(bytes).then(
      () => {
        this.#writesCompleted++;
        this.#inflight -= length;
        if (this.#inflight < this.#writableHighWaterMark()) {
          if (this.#drained !== null) {
            const drained = this.#drained;
            this.#drained = null;
            drained();
          }
          if (this.#autoReplyBacklog !== 0) {
            // The transport caught up: read the peer again.
            this.#autoReplyBacklog = 0;
            this.#updateReading();
          }
          if (this.#hooksBackpressured) this.#hooksDrained();
        }
      },
      () => this.#abandonTransport(),
    );
  }

  /** Whether a broadcast may queue a message now. */
  #takesBroadcast(): boolean {
    return this.#channel !== null && this.#protocol.state === "OPEN" &&
      this.#closeRequest === null && !this.#transportFailed &&
      !this.#transportClosing;
  }

  /** A broadcast's frames, encoded once for many sockets (server role). */
  #sendFrame(frame: Uint8Array): boolean {
    if (!this.#takesBroadcast()) return false;
    const queued = this.#queued ??= [];
    const before = this.#protocol.dataToSend();
    if (before !== null) {
      queued.push(before);
      this.#queuedLength += before.length;
    }
    queued.push(frame);
    this.#queuedLength += frame.length;
    this.#afterBroadcast();
    return true;
  }

  /** A broadcast's message, encoded (masked, compressed) by this socket. */
  #sendMessage(message: string | Uint8Array): boolean {
    if (!this.#takesBroadcast()) return false;
    if (typeof message === "string") this.#protocol.sendText(message);
    else this.#protocol.sendBinary(message);
    this.#afterBroadcast();
    return true;
  }

  /** Writes now past the high-water mark, else at the end of the turn. */
  #afterBroadcast(): void {
    if (
      this.#protocol.bufferedAmount + this.#queuedLength + this.#inflight >=
        this.#writableHighWaterMark()
    ) {
      this.#flush();
    } else {
      this.#scheduleFlush();
    }
  }

  /** Gives up on the transport: an abnormal closure (1006). */
  #abandonTransport(): void {
    if (this.#transportFailed) return;
    this.#transportFailed = true;
    this.#protocol.receiveEof();
    if (this.#channel !== null) this.#endMessages();
    this.#drained?.();
    this.#channel?.close();
    if (this.#channel !== null) this.#closeTransport().catch(internalError);
  }

  #armCloseTimer(): void {
    if (this.#closeTimer !== undefined || this.#settled) return;
    // If the peer does not finish the close handshake in time, give up.
    this.#closeTimer = setTimeout(
      () => this.#abandonTransport(),
      this.#options.closeTimeout ?? 5000,
    );
  }

  async #closeTransport(): Promise<void> {
    if (this.#transportClosing) return;
    this.#flush(); // The last bytes, before the flag stops further writes.
    this.#transportClosing = true;
    this.#endMessages();
    this.#drained?.();
    const channel = this.#channel!;
    const protocol = this.#protocol;
    if (
      this.#options.role === "server" && !this.#transportFailed &&
      protocol.closeReceived !== null && protocol.closeSent !== null &&
      channel.closeAfterWrites !== undefined
    ) {
      // Both close frames crossed: the peer sends nothing more, and the
      // server closes TCP first (RFC 6455 §7.1.1), with no half close and
      // no linger. Usually the close frame is already written: no wait.
      const closing = channel.closeAfterWrites();
      if (closing !== null && !await this.#withinCloseTimeout(closing)) {
        channel.close();
      }
      this.#settle(this.#reportedCloseInfo());
      return;
    }
    // Let the last bytes (our close frame) drain, but not forever: a peer
    // that stopped reading must not keep the transport open.
    const drained = !this.#transportFailed &&
      await this.#withinCloseTimeout(channel.closeWrite());
    if (!drained) channel.close();
    // Discards what the peer still sends until it closes (bounded).
    await channel.linger();
    this.#settle(this.#reportedCloseInfo());
  }

  /**
   * Waits for `done` (bytes draining), but not forever: a peer that stopped
   * reading must not keep the transport open.
   *
   * @returns Whether it settled within `closeTimeout`.
   */
  async #withinCloseTimeout(done: Promise<void>): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const inTime = await Promise.race([
      done.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(
          () => resolve(false),
          this.#options.closeTimeout ?? 5000,
        );
      }),
    ]);
    clearTimeout(timer);
    return inTime;
  }

  #settle(info: WebSocketCloseInfo): void {
    if (this.#settled) return;
    this.#settled = true;
    clearTimeout(this.#closeTimer);
    this.#stopKeepalive();
    // Frees the extensions' state (zlib memory) with the connection.
    const extensions = this.#options.messageExtensions;
    if (extensions !== undefined) {
      for (const extension of extensions) {
        try {
          extension.close?.();
        } catch (error) {
          internalError(error);
        }
      }
    }
    const reported = this.#peerDead ? this.#reportedCloseInfo() : info;
    this.#pings?.closed(reported);
    this.#closeInfo = reported;
    const resolveClosed = this.#resolveClosed;
    if (resolveClosed !== null) {
      this.#resolveClosed = null;
      resolveClosed(reported);
    }
    if (this.#hooks !== null) this.#hooksClosed(reported);
  }

  /** The close code and reason the application is told about. */
  #reportedCloseInfo(): WebSocketCloseInfo {
    return this.#peerDead
      ? { closeCode: CloseCode.AbnormalClosure, reason: "" }
      : this.#protocol.closeInfo;
  }

  static {
    connectionHandlers = {
      data: (connection, chunk) => connection.#onData(chunk),
      end: (connection, error) => connection.#onEnd(error),
      readTarget: (connection) =>
        connection.#receiving
          ? connection.#protocol.receiveTarget(DIRECT_READ_MINIMUM)
          : null,
      pull: (connection) => connection.#updateReading(),
      write: (connection, message) => connection.#write(message),
      accepted: (connection) => {
        connection.#writesAccepted++;
      },
      cancelled: (connection, reason) => connection.#onCancel(reason),
      aborted: (connection, reason) => connection.#onAbort(reason),
      tick: (connection) => connection.#keepaliveTick(),
    };
    registerBroadcastLookup((socket) =>
      socket instanceof WebSocketConnection
        ? new ConnectionBroadcastPort(socket)
        : null
    );
    registerHooksDriver((connection, hooks, data) =>
      connection instanceof WebSocketConnection
        ? connection.#enableHooks(hooks, data)
        : null
    );
    hooksHandlers = {
      send: (connection, data) => connection.#hooksSend(data),
      ping: (connection, data) => connection.#hooksPing(data),
      terminate: (connection) => connection.#hooksTerminate(),
      readyState: (connection) => connection.#hooksReadyState(),
      protocol: (connection) => connection.#options.protocol ?? "",
      extensions: (connection) => connection.#options.extensions ?? "",
    };
    broadcastHandlers = {
      role: (connection) => connection.#options.role,
      extensions: (connection) =>
        connection.#options.messageExtensions ?? NO_EXTENSIONS,
      writable: (connection) => connection.#takesBroadcast(),
      sendFrame: (connection, frame) => connection.#sendFrame(frame),
      sendMessage: (connection, message) => connection.#sendMessage(message),
    };
  }

  /** Starts the one timer behind keepalive pings and the idle timeout. */
  #startKeepalive(): void {
    const keepalive = this.#keepalive;
    if (keepalive.tickInterval === 0) return;
    keepalive.received(Date.now());
    this.#keepalivePeriod = keepalive.tickInterval;
    everyInterval(keepalive.tickInterval, this.#port);
  }

  #stopKeepalive(): void {
    if (this.#keepalivePeriod === 0) return;
    stopInterval(this.#keepalivePeriod, this.#port);
    this.#keepalivePeriod = 0;
  }

  /** Every keepalive period: ping, or close an idle or dead connection. */
  #keepaliveTick(): void {
    const keepalive = this.#keepalive;
    {
      const protocol = this.#protocol;
      if (protocol.state !== "OPEN" || this.#closeRequest !== null) {
        this.#stopKeepalive();
        return;
      }
      const completed = this.#writesCompleted + (this.#channel?.progress ?? 0);
      const now = Date.now();
      // Paused by our own backpressure: its pong may be waiting unread.
      if (!this.#receiving) keepalive.notReading(now);
      const writesStalled = this.#inflight > 0 &&
        completed === this.#writesCompletedAtTick;
      this.#writesCompletedAtTick = completed;
      switch (keepalive.tick(now, writesStalled)) {
        case "ping":
          protocol.sendPing();
          this.#flush();
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
          protocol.fail(CloseCode.InternalError, "Keepalive timeout");
          this.#flush();
          this.#abandonTransport();
          return;
        case "stalled":
          // The close frame queues behind the stuck bytes; closing the
          // transport waits closeTimeout for them, then drops it.
          this.#stopKeepalive();
          protocol.fail(
            CloseCode.PolicyViolation,
            "Write stalled: the peer is not reading",
          );
          this.#flush();
          this.#afterFlush();
          this.#updateReading();
          return;
      }
    }
  }
}

/**
 * One object per connection that the transport (as its receiver) and the
 * application's streams (as their hooks) call into: prototype methods
 * instead of seven closures, which an idle connection would keep.
 */
class ConnectionPort implements ByteReceiver, MessageStreamHooks, Ticker {
  readonly #connection: WebSocketConnection;

  constructor(connection: WebSocketConnection) {
    this.#connection = connection;
  }

  data(chunk: Uint8Array): void {
    connectionHandlers.data(this.#connection, chunk);
  }

  end(error?: Error): void {
    connectionHandlers.end(this.#connection, error);
  }

  readTarget(): Uint8Array | null {
    return connectionHandlers.readTarget(this.#connection);
  }

  pull(): void {
    connectionHandlers.pull(this.#connection);
  }

  close(): void {
    this.#connection.close();
  }

  write(
    message: string | BufferSource | ArrayBufferView,
  ): Promise<void> | void {
    return connectionHandlers.write(this.#connection, message);
  }

  accepted(): void {
    connectionHandlers.accepted(this.#connection);
  }

  cancelled(reason: unknown): void {
    connectionHandlers.cancelled(this.#connection, reason);
  }

  aborted(reason: unknown): void {
    connectionHandlers.aborted(this.#connection, reason);
  }

  tick(): void {
    connectionHandlers.tick(this.#connection);
  }
}

/** The socket the hooks of a hooks-driven connection get. */
class ConnectionHooksSocket implements AnyHooksSocket {
  readonly #connection: WebSocketConnection;
  data: unknown;

  constructor(connection: WebSocketConnection, data: unknown) {
    this.#connection = connection;
    this.data = data;
  }

  get url(): string {
    return this.#connection.url;
  }

  get protocol(): string {
    return hooksHandlers.protocol(this.#connection);
  }

  get extensions(): string {
    return hooksHandlers.extensions(this.#connection);
  }

  get remoteAddr(): NetAddr | null {
    return this.#connection.remoteAddr;
  }

  get secure(): boolean {
    return this.#connection.secure;
  }

  get readyState(): 0 | 1 | 2 | 3 {
    return hooksHandlers.readyState(this.#connection);
  }

  get bufferedAmount(): number {
    return this.#connection.bufferedAmount;
  }

  get closed(): Promise<WebSocketCloseInfo> {
    return this.#connection.closed;
  }

  send(data: string | BufferSource): number {
    return hooksHandlers.send(this.#connection, data);
  }

  close(code?: number, reason?: string): void {
    const info: { closeCode?: number; reason?: string } = {};
    if (code !== undefined) info.closeCode = code;
    if (reason !== undefined) info.reason = reason;
    this.#connection.close(info);
  }

  terminate(): void {
    hooksHandlers.terminate(this.#connection);
  }

  ping(data?: string | BufferSource): number {
    return hooksHandlers.ping(this.#connection, data);
  }

  static {
    registerBroadcastLookup((socket) =>
      socket instanceof ConnectionHooksSocket
        ? new ConnectionBroadcastPort(socket.#connection)
        : null
    );
  }
}

/** How a hub (`lib/pubsub/`) hands a connection broadcast messages. */
class ConnectionBroadcastPort implements BroadcastPort {
  readonly #connection: WebSocketConnection;
  readonly role: Role;
  readonly extensions: readonly MessageExtension[];
  readonly topics: null = null;

  constructor(connection: WebSocketConnection) {
    this.#connection = connection;
    this.role = broadcastHandlers.role(connection);
    this.extensions = broadcastHandlers.extensions(connection);
  }

  get writable(): boolean {
    return broadcastHandlers.writable(this.#connection);
  }

  get bufferedAmount(): number {
    return this.#connection.bufferedAmount;
  }

  sendFrame(frame: Uint8Array): boolean {
    return broadcastHandlers.sendFrame(this.#connection, frame);
  }

  sendMessage(message: string | Uint8Array): boolean {
    return broadcastHandlers.sendMessage(this.#connection, message);
  }

  close(code: number, reason: string): void {
    this.#connection.close({ closeCode: code, reason });
  }
}

/** Only a bug can get here: report it rather than crash the server. */
function internalError(error: unknown): void {
  console.error("wstream: internal error in a connection", error);
}
