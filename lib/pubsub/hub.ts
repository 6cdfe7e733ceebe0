/**
 * Rooms and broadcast: {@linkcode Hub} keeps which sockets subscribed to
 * which topics and publishes a message to a topic's sockets, framed once,
 * with a bound on what a slow subscriber may queue.
 *
 * @module
 */

import { FrameEncoder } from "../core/frame_encoder.ts";
import { broadcastPortOf } from "../connection/_broadcast.ts";
import { bufferSourceBytes } from "../connection/_socket_extras.ts";
import type { BroadcastPort, NativeTopics } from "../connection/_broadcast.ts";
import type { WebSocketStreamLike } from "../connection/websocket_stream_like.ts";
import type { WebSocketHooksSocket } from "../connection/websocket_hooks.ts";
import { PerMessageDeflate } from "../extensions/permessage_deflate.ts";
import type {
  Backplane,
  BackplaneMessage,
  BackplaneReceiver,
} from "./backplane.ts";

/**
 * A socket a {@linkcode Hub} takes: any socket of `upgrade()` or
 * `connect()`, stream-driven or hooks-driven.
 *
 * @example Subscribe a hooks socket as it opens
 * ```ts
 * import { Hub, type HubSocket, type WebSocketHooks } from "@wstream/wstream";
 *
 * const hub = new Hub();
 * const join = (socket: HubSocket): boolean => hub.subscribe(socket, "lobby");
 * const hooks: WebSocketHooks = { open: join };
 * await hub.close();
 * ```
 */
export type HubSocket = WebSocketStreamLike | WebSocketHooksSocket<unknown>;

/**
 * What a hub does with a subscriber that has too much queued.
 *
 * @example Close subscribers that fall behind a live feed
 * ```ts
 * import { Hub, type SlowSubscriberPolicy } from "@wstream/wstream";
 *
 * // "drop" suits feeds where the next message supersedes the last; "close" lets the client reconnect and resync.
 * const slowSubscriber: SlowSubscriberPolicy = "close";
 * const hub = new Hub({ maxQueuedBytes: 256 * 1024, slowSubscriber });
 * await hub.close();
 * ```
 */
export type SlowSubscriberPolicy = "drop" | "close";

/**
 * Options of {@linkcode Hub}.
 *
 * @example Bound what each subscriber may queue, report backplane errors
 * ```ts
 * import { Hub, type HubOptions } from "@wstream/wstream";
 *
 * const options: HubOptions = {
 *   maxQueuedBytes: 256 * 1024,
 *   slowSubscriber: "drop",
 *   onError: (error) => console.warn("hub:", error.message),
 * };
 * const hub = new Hub(options);
 * await hub.ready;
 * await hub.close();
 * ```
 */
export interface HubOptions {
  /**
   * The most bytes a subscriber may have queued (its `bufferedAmount`,
   * which counts what the hub queued) for a publication to be handed to
   * it: a message that would take it past this is dropped for that socket
   * or closes it (`slowSubscriber`). A message into an empty queue is
   * always taken. `Infinity` turns the check off.
   *
   * @default {1048576} (1 MiB)
   */
  maxQueuedBytes?: number;
  /**
   * What happens to a subscriber past `maxQueuedBytes`: `"drop"` skips the
   * message for that socket and counts it ({@linkcode Hub.dropped}), the
   * socket stays subscribed and gets later messages once it caught up;
   * `"close"` closes it with 1008 (policy violation, `"Subscriber too
   * slow"`) and unsubscribes it from every topic.
   *
   * @default {"drop"}
   */
  slowSubscriber?: SlowSubscriberPolicy;
  /**
   * Shares the topics with other processes (`@wstream/wstream/redis`, or
   * your own {@linkcode Backplane}). The hub starts it at construction
   * ({@linkcode Hub.ready} resolves once it started), subscribes it to a
   * topic when the topic's first local subscriber comes and unsubscribes it
   * when the last one goes, forwards every publication, and delivers what
   * other processes publish to local subscribers only. Publications made
   * before it started are delivered locally only.
   *
   * @default {undefined} (one process)
   */
  backplane?: Backplane;
  /**
   * Called with the backplane's errors (it failed to start, lost its
   * connection, failed to forward) and errors thrown by the backplane's
   * methods; local delivery goes on. What it throws is reported with
   * `console.error`.
   *
   * @default {console.error}
   */
  onError?: (error: Error) => void;
}

/**
 * Options of {@linkcode Hub.publish}.
 *
 * @example Do not echo a message to its sender
 * ```ts
 * import { Hub, type PublishOptions, WebSocketConnection } from "@wstream/wstream";
 * import assert from "node:assert/strict";
 *
 * const peer = new TransformStream<Uint8Array, Uint8Array>(); // an in-memory transport
 * const sender = new WebSocketConnection({ readable: peer.readable, writable: new WritableStream() }, { role: "server" });
 * await sender.opened;
 * const hub = new Hub();
 * hub.subscribe(sender, "room");
 * const options: PublishOptions = { except: sender };
 * assert.equal(hub.publish("room", "hello", options), 0); // the room has no one else
 * await peer.writable.close();
 * await hub.close();
 * ```
 */
export interface PublishOptions {
  /**
   * A socket, or sockets, not to hand the message to (the sender).
   *
   * @default {undefined} every subscriber of the topic gets the message
   */
  except?: HubSocket | Iterable<HubSocket>;
}

/**
 * Counters of a {@linkcode Hub}, since it was created.
 *
 * @example Compute the share of messages dropped
 * ```ts
 * import { Hub, type HubStats } from "@wstream/wstream";
 * import assert from "node:assert/strict";
 *
 * const hub = new Hub();
 * hub.publish("news", "hello");
 * const { delivered, dropped }: HubStats = hub.stats;
 * assert.equal(dropped / Math.max(1, delivered + dropped), 0);
 * await hub.close();
 * ```
 */
export interface HubStats {
  /** Calls of `publish()`, plus messages received from the backplane. */
  published: number;
  /** Messages handed to local sockets. */
  delivered: number;
  /** Messages dropped for slow subscribers (`slowSubscriber: "drop"`). */
  dropped: number;
  /** Subscribers closed for being slow (`slowSubscriber: "close"`). */
  closed: number;
}

/**
 * The close code a slow subscriber gets under `slowSubscriber: "close"`.
 *
 * @example Recognise, on the client, a close for being too slow
 * ```ts
 * import { SLOW_SUBSCRIBER_CLOSE_CODE, SLOW_SUBSCRIBER_REASON, type WebSocketCloseInfo } from "@wstream/wstream";
 * import assert from "node:assert/strict";
 *
 * const tooSlow = (info: WebSocketCloseInfo): boolean =>
 *   info.closeCode === SLOW_SUBSCRIBER_CLOSE_CODE && info.reason === SLOW_SUBSCRIBER_REASON;
 * assert.equal(tooSlow({ closeCode: 1008, reason: "Subscriber too slow" }), true);
 * ```
 */
export const SLOW_SUBSCRIBER_CLOSE_CODE = 1008;
/**
 * The close reason a slow subscriber gets under `slowSubscriber: "close"`.
 *
 * @example Tell a slow-subscriber close from other policy violations
 * ```ts
 * import { SLOW_SUBSCRIBER_REASON } from "@wstream/wstream";
 * import assert from "node:assert/strict";
 *
 * const closed = { closeCode: 1008, reason: "Subscriber too slow" }; // from `await socket.closed`
 * const action = closed.reason === SLOW_SUBSCRIBER_REASON ? "reconnect and resync" : "give up";
 * assert.equal(action, "reconnect and resync");
 * ```
 */
export const SLOW_SUBSCRIBER_REASON = "Subscriber too slow";

const DEFAULT_MAX_QUEUED_BYTES = 1024 * 1024;
const TEXT = 0x1;
const BINARY = 0x2;
const textEncoder = new TextEncoder();
/** Frames broadcasts once, unmasked (server role), for every codec socket. */
const serverEncoder = new FrameEncoder({ role: "server" });
let nextHubId = 0;

/** How a subscriber is handed messages, decided once per socket. */
type Delivery =
  /** Server-role codec socket, no extension: the shared plain frame. */
  | { kind: "plain" }
  /**
   * Server-role codec socket with permessage-deflate: the shared
   * compressed frame of its parameter set when it resets the context
   * (`key`), else the plain frame under the threshold and its own
   * compression above.
   */
  | { kind: "deflate"; deflate: PerMessageDeflate; key: string | null }
  /** Encoded by the socket itself (client role, unknown extensions, native). */
  | { kind: "message" };

interface Member {
  readonly socket: HubSocket;
  readonly port: BroadcastPort;
  readonly delivery: Delivery;
  readonly topics: Set<string>;
  /** The runtime topics it was subscribed with, and to which topics. */
  native: NativeTopics | null;
  readonly nativeTopics: Set<string>;
}

/** A runtime's publish over the natively subscribed members of one group. */
interface NativeGroup {
  topics: NativeTopics;
  excluded: Member[];
}

/**
 * Rooms and broadcast for any wstream socket: subscribe sockets to topics,
 * publish a message to a topic's sockets.
 *
 * - Sockets from every placement: `serve()`, `attachToNodeServer`,
 *   `Deno.serve`, `Bun.serve` (`bunServeOptions`) and client sockets from
 *   `connect()`. A socket leaves all its topics when it closes.
 * - On wstream's codec a message is framed once per publication and the
 *   same bytes are queued on every server-side socket, in order with its
 *   other writes; permessage-deflate sockets with `server_no_context_takeover`
 *   share one compressed payload per parameter set, those with context
 *   takeover compress per socket (that cost is per subscriber); client
 *   sockets mask per socket. Under `Bun.serve`, Bun's own topics carry the
 *   message (`server.publish`); under `Deno.serve`, `send` per socket.
 * - A subscriber with `maxQueuedBytes` queued is skipped (`"drop"`,
 *   counted) or closed with 1008 (`"close"`): a socket that stops reading
 *   never grows the server's memory past the bound.
 * - With a {@linkcode Backplane}, topics span processes.
 *
 * @example A chat room
 * ```ts ignore
 * import { Hub, serve, upgrade } from "@wstream/wstream";
 *
 * const hub = new Hub();
 * serve({ port: 8080 }, async (request) => {
 *   const { response, socket } = await upgrade(request);
 *   if (socket === null) return response;
 *   hub.subscribe(socket, "lobby");
 *   socket.opened.then(async ({ readable }) => {
 *     for await (const message of readable) {
 *       hub.publish("lobby", message, { except: socket });
 *     }
 *   }).catch(() => {});
 *   return response;
 * });
 * ```
 *
 * @example Count subscribers; nothing is sent to a topic without any
 * ```ts
 * import { Hub } from "@wstream/wstream";
 * import assert from "node:assert/strict";
 *
 * const hub = new Hub({ maxQueuedBytes: 64 * 1024, slowSubscriber: "drop" });
 * assert.equal(hub.subscribers("news"), 0);
 * assert.equal(hub.publish("news", "nobody listens"), 0);
 * await hub.close();
 * ```
 */
export class Hub {
  /**
   * Resolves once the backplane started (at once without one). Never
   * rejects: a backplane that fails to start is reported to `onError`,
   * and the hub serves this process alone.
   */
  readonly ready: Promise<void>;

  readonly #maxQueuedBytes: number;
  readonly #closeSlow: boolean;
  readonly #onError: (error: Error) => void;
  readonly #backplane: Backplane | null;
  /** The backplane started and takes calls. */
  #forwarding = false;
  #closed = false;
  readonly #members = new Map<HubSocket, Member>();
  readonly #topics = new Map<string, Set<Member>>();
  readonly #dropped = new WeakMap<HubSocket, number>();
  readonly #stats: HubStats = {
    published: 0,
    delivered: 0,
    dropped: 0,
    closed: 0,
  };
  /** Prefix of this hub's runtime topics (Bun's are per server, not per hub). */
  readonly #nativePrefix = `\u0000wstream-hub-${nextHubId++}\u0000`;

  /**
   * Creates a hub.
   *
   * @param options The slow-subscriber bound and policy, a backplane.
   * @throws {RangeError} If `maxQueuedBytes` is negative or not an integer
   * (other than `Infinity`), or `slowSubscriber` is unknown.
   */
  constructor(options: HubOptions = {}) {
    const max = options.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES;
    if (!(max === Infinity || (Number.isSafeInteger(max) && max >= 0))) {
      throw new RangeError(
        `Cannot use maxQueuedBytes ${max}: use a non-negative integer number of bytes, or Infinity`,
      );
    }
    const policy = options.slowSubscriber ?? "drop";
    if (policy !== "drop" && policy !== "close") {
      throw new RangeError(
        `Cannot use slowSubscriber "${policy}": use "drop" or "close"`,
      );
    }
    this.#maxQueuedBytes = max;
    this.#closeSlow = policy === "close";
    const onError = options.onError ??
      ((error: Error) => console.error("wstream hub:", error));
    this.#onError = (error) => {
      try {
        onError(error);
      } catch (thrown) {
        console.error("wstream hub: onError threw", thrown);
      }
    };
    const backplane = options.backplane ?? null;
    this.#backplane = backplane;
    if (backplane === null) {
      this.ready = Promise.resolve();
      return;
    }
    const receiver: BackplaneReceiver = {
      message: (topic, data) => {
        if (this.#closed) return;
        this.#stats.published++;
        const set = this.#topics.get(topic);
        if (set !== undefined) this.#deliver(topic, set, data, null);
      },
      error: (error) => this.#onError(toError(error)),
    };
    let started: Promise<void>;
    try {
      started = Promise.resolve(backplane.start(receiver));
    } catch (error) {
      started = Promise.reject(error);
    }
    this.ready = started.then(
      () => {
        if (this.#closed) return;
        this.#forwarding = true;
        for (const topic of this.#topics.keys()) {
          this.#callBackplane((b) => b.subscribe(topic));
        }
      },
      (error) => this.#onError(toError(error)),
    );
  }

  /**
   * Subscribes a socket to a topic. A socket may subscribe before it is
   * open; it is handed messages once open, and leaves every topic when it
   * closes.
   *
   * @param socket A socket wstream created (`upgrade()` on any server, or
   * `connect()`).
   * @param topic The topic.
   * @returns `true` if it was not subscribed to `topic` yet.
   * @throws {TypeError} If the socket was not created by wstream, the topic
   * is not a string, or the hub is closed.
   *
   * @example Subscribe on upgrade
   * ```ts ignore
   * import { Hub, upgrade } from "@wstream/wstream";
   *
   * const hub = new Hub();
   * export async function handler(request: Request): Promise<Response> {
   *   const { response, socket } = await upgrade(request);
   *   if (socket !== null) hub.subscribe(socket, new URL(request.url).pathname);
   *   return response;
   * }
   * ```
   */
  subscribe(socket: HubSocket, topic: string): boolean {
    this.#checkOpen("subscribe");
    checkTopic(topic);
    let member = this.#members.get(socket);
    if (member === undefined) {
      const port = typeof socket === "object" && socket !== null
        ? broadcastPortOf(socket)
        : null;
      if (port === null) {
        throw new TypeError(
          "Cannot subscribe a socket wstream did not create: use the socket of upgrade() or connect()",
        );
      }
      member = {
        socket,
        port,
        delivery: deliveryOf(port),
        topics: new Set(),
        native: null,
        nativeTopics: new Set(),
      };
      this.#members.set(socket, member);
      socket.closed.then(
        () => this.#remove(socket),
        () => this.#remove(socket),
      );
    }
    if (member.topics.has(topic)) return false;
    member.topics.add(topic);
    let set = this.#topics.get(topic);
    if (set === undefined) {
      set = new Set();
      this.#topics.set(topic, set);
      if (this.#forwarding) this.#callBackplane((b) => b.subscribe(topic));
    }
    set.add(member);
    this.#subscribeNatively(member, topic);
    return true;
  }

  /**
   * Unsubscribes a socket from a topic.
   *
   * @param socket The socket.
   * @param topic The topic.
   * @returns `true` if it was subscribed.
   *
   * @example Leave a room
   * ```ts ignore
   * import type { Hub, WebSocketStreamLike } from "@wstream/wstream";
   *
   * declare const hub: Hub, socket: WebSocketStreamLike;
   * hub.unsubscribe(socket, "lobby");
   * ```
   */
  unsubscribe(socket: HubSocket, topic: string): boolean {
    const member = this.#members.get(socket);
    if (member === undefined || !member.topics.delete(topic)) return false;
    this.#leave(member, topic);
    if (member.topics.size === 0) this.#members.delete(socket);
    return true;
  }

  /**
   * Publishes a message to a topic: hands it to every local subscriber
   * (but `except`), and forwards it to the backplane.
   *
   * @param topic The topic.
   * @param message A `string` is sent as text, an `ArrayBuffer` or
   * `ArrayBufferView` as binary (copied: it may be reused once this
   * returns).
   * @param options `except`: sockets not to hand it to.
   * @returns How many local sockets it was handed to: subscribers that are
   * open, not excepted, and not dropped or closed for being slow.
   * @throws {TypeError} If the topic is not a string, the message is
   * neither a string nor a `BufferSource`, or the hub is closed.
   *
   * @example Publish to everyone but the sender
   * ```ts ignore
   * import type { Hub, WebSocketStreamLike } from "@wstream/wstream";
   *
   * declare const hub: Hub, sender: WebSocketStreamLike;
   * const count = hub.publish("lobby", JSON.stringify({ text: "hi" }), {
   *   except: sender,
   * });
   * console.log(`handed to ${count} sockets`);
   * ```
   */
  publish(
    topic: string,
    message: string | BufferSource,
    options: PublishOptions = {},
  ): number {
    this.#checkOpen("publish");
    checkTopic(topic);
    const data = messageOf(message);
    this.#stats.published++;
    if (this.#forwarding) {
      const copy = typeof data === "string" ? data : data.slice();
      this.#callBackplane((b) => b.publish(topic, copy));
    }
    const set = this.#topics.get(topic);
    if (set === undefined) return 0;
    return this.#deliver(topic, set, data, exceptSet(options.except));
  }

  /**
   * The topics a socket is subscribed to.
   *
   * @param socket The socket.
   * @returns The topics, in subscription order (empty once it closed).
   *
   * @example List a socket's rooms
   * ```ts ignore
   * import type { Hub, WebSocketStreamLike } from "@wstream/wstream";
   *
   * declare const hub: Hub, socket: WebSocketStreamLike;
   * console.log(hub.topics(socket)); // ["lobby", "news"]
   * ```
   */
  topics(socket: HubSocket): string[] {
    return [...(this.#members.get(socket)?.topics ?? [])];
  }

  /**
   * The number of local sockets subscribed to a topic.
   *
   * @param topic The topic.
   * @returns The count (open or not yet open sockets).
   *
   * @example Nobody yet
   * ```ts
   * import { Hub } from "@wstream/wstream";
   * import assert from "node:assert/strict";
   *
   * const hub = new Hub();
   * assert.equal(hub.subscribers("lobby"), 0);
   * await hub.close();
   * ```
   */
  subscribers(topic: string): number {
    return this.#topics.get(topic)?.size ?? 0;
  }

  /**
   * How many publications were dropped for a socket because it had
   * `maxQueuedBytes` queued (`slowSubscriber: "drop"`); kept after it
   * closed or unsubscribed.
   *
   * @param socket The socket.
   * @returns The count.
   *
   * @example Watch a slow subscriber
   * ```ts ignore
   * import type { Hub, WebSocketStreamLike } from "@wstream/wstream";
   *
   * declare const hub: Hub, socket: WebSocketStreamLike;
   * if (hub.dropped(socket) > 100) socket.close({ closeCode: 4000, reason: "lagging" });
   * ```
   */
  dropped(socket: HubSocket): number {
    return this.#dropped.get(socket) ?? 0;
  }

  /**
   * Counters since the hub was created (a snapshot).
   *
   * @example Log the counters
   * ```ts
   * import { Hub } from "@wstream/wstream";
   * import assert from "node:assert/strict";
   *
   * const hub = new Hub();
   * hub.publish("news", "hello");
   * assert.deepEqual(hub.stats, { published: 1, delivered: 0, dropped: 0, closed: 0 });
   * await hub.close();
   * ```
   */
  get stats(): HubStats {
    return { ...this.#stats };
  }

  /**
   * Unsubscribes every socket (they stay open) and closes the backplane.
   * Afterwards `subscribe` and `publish` throw, and backplane messages are
   * ignored. Errors of the backplane's `close()` go to `onError`.
   *
   * @returns Resolves once the backplane is closed.
   *
   * @example Shut down
   * ```ts
   * import { Hub } from "@wstream/wstream";
   *
   * const hub = new Hub();
   * await hub.close();
   * ```
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const member of this.#members.values()) {
      for (const topic of member.nativeTopics) {
        this.#unsubscribeNatively(member, topic);
      }
    }
    this.#members.clear();
    this.#topics.clear();
    const backplane = this.#backplane;
    this.#forwarding = false;
    if (backplane === null) return;
    await this.ready;
    try {
      await backplane.close();
    } catch (error) {
      this.#onError(toError(error));
    }
  }

  /** Hands a message to the subscribers in `set`; returns how many took it. */
  #deliver(
    topic: string,
    set: Set<Member>,
    data: BackplaneMessage,
    except: Set<HubSocket> | null,
  ): number {
    const text = typeof data === "string";
    const opcode = text ? TEXT : BINARY;
    let bytes: Uint8Array | null = text ? null : data;
    const payload = (): Uint8Array =>
      bytes ??= textEncoder.encode(data as string);
    const size = data.length; // UTF-16 units for text: close enough for a bound.
    let plainFrame: Uint8Array | null = null;
    let deflated: Map<string, Uint8Array> | null = null;
    let groups: Map<object, NativeGroup> | null = null;
    const max = this.#maxQueuedBytes;
    let count = 0;
    for (const member of set) {
      const port = member.port;
      const natively = member.nativeTopics.has(topic);
      if (except !== null && except.has(member.socket)) {
        if (natively) groups = exclude(groups, member);
        continue;
      }
      if (!port.writable) {
        if (natively) this.#unsubscribeNatively(member, topic);
        continue;
      }
      if (max !== Infinity) {
        const buffered = port.bufferedAmount;
        if (buffered > 0 && buffered + size > max) {
          if (natively) groups = exclude(groups, member);
          this.#slow(member);
          continue;
        }
      }
      const delivery = member.delivery;
      if (delivery.kind === "message") {
        const topics = port.topics;
        if (topics !== null) {
          if (!natively) this.#subscribeNatively(member, topic);
          if (member.nativeTopics.has(topic)) {
            groups ??= new Map();
            const group = groups.get(topics.group);
            if (group === undefined) {
              groups.set(topics.group, { topics, excluded: [] });
            }
            count++;
            continue;
          }
        }
        if (port.sendMessage(data)) count++;
        continue;
      }
      let frame: Uint8Array | null = null;
      if (delivery.kind === "plain") {
        frame = plainFrame ??= frameOf(opcode, 0, payload());
      } else {
        const deflate = delivery.deflate;
        const length = payload().length;
        if (length < deflate.settings.threshold) {
          frame = plainFrame ??= frameOf(opcode, 0, payload());
        } else if (delivery.key !== null) {
          deflated ??= new Map();
          frame = deflated.get(delivery.key) ?? null;
          if (frame === null) {
            const encoded = deflate.encodeMessage(payload(), opcode);
            frame = frameOf(opcode, encoded.rsv, encoded.data);
            deflated.set(delivery.key, frame);
          }
        }
      }
      if (frame !== null ? port.sendFrame(frame) : port.sendMessage(data)) {
        count++;
      }
    }
    if (groups !== null) {
      for (const group of groups.values()) {
        this.#publishNatively(topic, group, data);
      }
    }
    this.#stats.delivered += count;
    return count;
  }

  /** One runtime publish for a group, leaving out its excluded members. */
  #publishNatively(
    topic: string,
    group: NativeGroup,
    data: BackplaneMessage,
  ): void {
    const name = this.#nativePrefix + topic;
    const excluded = group.excluded;
    try {
      if (excluded.length === 0) {
        group.topics.publish(name, data);
        return;
      }
      const last = excluded[excluded.length - 1]!;
      for (let i = 0; i < excluded.length - 1; i++) {
        excluded[i]!.native!.unsubscribe(name);
      }
      last.native!.publishExcept(name, data);
      for (let i = 0; i < excluded.length - 1; i++) {
        excluded[i]!.native!.subscribe(name);
      }
    } catch (error) {
      this.#onError(toError(error));
    }
  }

  /** A subscriber past `maxQueuedBytes`: drop for it, or close it. */
  #slow(member: Member): void {
    const socket = member.socket;
    if (this.#closeSlow) {
      this.#stats.closed++;
      this.#remove(socket);
      try {
        member.port.close(SLOW_SUBSCRIBER_CLOSE_CODE, SLOW_SUBSCRIBER_REASON);
      } catch {
        // Already closing.
      }
      return;
    }
    this.#stats.dropped++;
    this.#dropped.set(socket, (this.#dropped.get(socket) ?? 0) + 1);
  }

  /** Subscribes a member to the runtime's topic, where it has topics. */
  #subscribeNatively(member: Member, topic: string): void {
    if (member.delivery.kind !== "message") return;
    const topics = member.port.topics;
    if (topics === null) return;
    try {
      topics.subscribe(this.#nativePrefix + topic);
      member.native = topics;
      member.nativeTopics.add(topic);
    } catch {
      // Closing: it is sent nothing natively.
    }
  }

  #unsubscribeNatively(member: Member, topic: string): void {
    if (!member.nativeTopics.delete(topic)) return;
    try {
      member.native!.unsubscribe(this.#nativePrefix + topic);
    } catch {
      // Closed: the runtime already dropped its subscriptions.
    }
  }

  /** A member left `topic` (already removed from `member.topics`). */
  #leave(member: Member, topic: string): void {
    this.#unsubscribeNatively(member, topic);
    const set = this.#topics.get(topic);
    if (set === undefined) return;
    set.delete(member);
    if (set.size === 0) {
      this.#topics.delete(topic);
      if (this.#forwarding) this.#callBackplane((b) => b.unsubscribe(topic));
    }
  }

  /** A socket closed (or was closed for being slow): it leaves every topic. */
  #remove(socket: HubSocket): void {
    const member = this.#members.get(socket);
    if (member === undefined) return;
    this.#members.delete(socket);
    for (const topic of member.topics) this.#leave(member, topic);
    member.topics.clear();
  }

  /** Calls the backplane; what it throws goes to `onError`. */
  #callBackplane(call: (backplane: Backplane) => void): void {
    try {
      call(this.#backplane!);
    } catch (error) {
      this.#onError(toError(error));
    }
  }

  #checkOpen(what: string): void {
    if (this.#closed) {
      throw new TypeError(`Cannot ${what} on a closed Hub: create a new one`);
    }
  }
}

/** Leaves a natively subscribed member out of its group's runtime publish. */
function exclude(
  groups: Map<object, NativeGroup> | null,
  member: Member,
): Map<object, NativeGroup> {
  const native = member.native!;
  const map = groups ?? new Map<object, NativeGroup>();
  const group = map.get(native.group);
  if (group === undefined) {
    map.set(native.group, { topics: native, excluded: [member] });
  } else {
    group.excluded.push(member);
  }
  return map;
}

/** How a socket is handed broadcasts, from what it negotiated. */
function deliveryOf(port: BroadcastPort): Delivery {
  if (port.role !== "server") return { kind: "message" };
  const extensions = port.extensions;
  if (extensions.length === 0) return { kind: "plain" };
  const deflate = extensions[0];
  if (extensions.length === 1 && deflate instanceof PerMessageDeflate) {
    const { params, settings } = deflate;
    const key = params.serverNoContextTakeover
      ? `${params.serverMaxWindowBits}/${settings.level}/${settings.memLevel}`
      : null;
    return { kind: "deflate", deflate, key };
  }
  return { kind: "message" };
}

function frameOf(opcode: number, rsv: number, payload: Uint8Array): Uint8Array {
  return serverEncoder.encode({ fin: true, rsv, opcode, payload });
}

function messageOf(message: string | BufferSource): BackplaneMessage {
  if (typeof message === "string") return message;
  const bytes = bufferSourceBytes(message);
  if (bytes !== null) return bytes;
  throw new TypeError(
    `Cannot publish ${typeof message} ${
      String(message)
    }: publish a string or a BufferSource`,
  );
}

function exceptSet(
  except: PublishOptions["except"],
): Set<HubSocket> | null {
  if (except === undefined) return null;
  if (
    typeof (except as Iterable<HubSocket>)[Symbol.iterator] ===
      "function"
  ) {
    return new Set(except as Iterable<HubSocket>);
  }
  return new Set([except as HubSocket]);
}

function checkTopic(topic: unknown): void {
  if (typeof topic !== "string") {
    throw new TypeError(
      `Cannot use topic ${String(topic)}: a topic is a string`,
    );
  }
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
