/**
 * A {@linkcode Backplane} over Redis pub/sub that takes the Redis client the
 * application already has (npm `redis`, npm `ioredis` or Bun's built-in
 * `Bun.RedisClient`), through a small adapter: {@linkcode fromNodeRedis},
 * {@linkcode fromIoredis}, {@linkcode fromBunRedis}, or your own
 * {@linkcode RedisPubSub}.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type {
  Backplane,
  BackplaneMessage,
  BackplaneReceiver,
} from "./backplane.ts";
import {
  decodeMessage,
  encodeMessage,
  randomSenderId,
} from "./_redis_codec.ts";

/**
 * Where a {@linkcode RedisPubSub} reports what its connections do.
 *
 * @example Forward a custom client's events from a RedisPubSub adapter
 * ```ts
 * import type { RedisPubSubEvents } from "@wstream/wstream/redis";
 * import { EventEmitter } from "node:events";
 * import assert from "node:assert/strict";
 *
 * function forward(subscriber: EventEmitter, events: RedisPubSubEvents): void {
 *   subscriber.on("message", (channel: string, message: string) => events.message(channel, message));
 *   subscriber.on("error", (error: Error) => events.disconnected(error));
 *   subscriber.on("ready", () => events.reconnected());
 * }
 * const seen: string[] = [], client = new EventEmitter();
 * forward(client, { message: (channel) => seen.push(channel), disconnected() {}, reconnected() {} });
 * client.emit("message", "wstream:news", "hello");
 * assert.deepEqual(seen, ["wstream:news"]);
 * ```
 */
export interface RedisPubSubEvents {
  /** A message on a subscribed channel, as bytes or (text-only clients) a string. */
  message(channel: string, message: Uint8Array | string): void;
  /** The subscriber connection was lost (or a command on it failed). */
  disconnected(error: Error): void;
  /** The subscriber connection is back after `disconnected`: resubscribe now. */
  reconnected(): void;
}

/**
 * The few Redis operations the backplane needs, over a publishing
 * connection (the application's client) and a subscribing one (a duplicate
 * of it, owned by the adapter). Implement it to use another client.
 *
 * @example An adapter that publishes nowhere (the shape only)
 * ```ts
 * import type { RedisPubSub } from "@wstream/wstream/redis";
 *
 * const nowhere: RedisPubSub = {
 *   textOnly: false,
 *   start: () => Promise.resolve(),
 *   publish: () => Promise.resolve(),
 *   subscribe: () => Promise.resolve(),
 *   unsubscribe: () => Promise.resolve(),
 *   close: () => Promise.resolve(),
 * };
 * ```
 */
export interface RedisPubSub {
  /**
   * True if the client only carries strings (it decodes received messages
   * as UTF-8): binary room messages then travel as base64.
   */
  readonly textOnly: boolean;
  /** Opens the subscriber connection; then reports to `events`. */
  start(events: RedisPubSubEvents): Promise<void>;
  /** `PUBLISH channel message` on the application's connection. */
  publish(channel: string, message: Uint8Array | string): Promise<unknown>;
  /**
   * `SUBSCRIBE channel` on the subscriber connection. Called again for every
   * channel after `reconnected`: it must not deliver a message twice then.
   */
  subscribe(channel: string): Promise<unknown>;
  /** `UNSUBSCRIBE channel` on the subscriber connection. */
  unsubscribe(channel: string): Promise<unknown>;
  /** Closes the subscriber connection (never the application's client). */
  close(): Promise<void>;
}

/**
 * Options of {@linkcode createRedisBackplane}.
 *
 * @example One channel namespace per application sharing a Redis
 * ```ts ignore
 * import { createClient } from "redis";
 * import { createRedisBackplane, fromNodeRedis, type RedisBackplaneOptions } from "@wstream/wstream/redis";
 *
 * const client = await createClient({ url: "redis://127.0.0.1:6379" }).on("error", console.error).connect();
 * const options: RedisBackplaneOptions = { redis: fromNodeRedis(client), keyPrefix: "chat:" };
 * const backplane = createRedisBackplane(options); // give it to new Hub({ backplane })
 * ```
 */
export interface RedisBackplaneOptions {
  /** The Redis client, through an adapter such as {@linkcode fromNodeRedis}. */
  redis: RedisPubSub;
  /**
   * Prefix of every channel name: a room `topic` is published on
   * `keyPrefix + topic`. Give each application sharing a Redis its own.
   *
   * @default {"wstream:"}
   */
  keyPrefix?: string;
  /**
   * Send binary messages as base64 text. Needed on **every** process when
   * any of them uses a client that only carries text (Bun's built-in one,
   * whose adapter always sends base64).
   *
   * @default {false} (`true` when `redis.textOnly`)
   */
  binaryAsBase64?: boolean;
}

/** How many other processes' sequence numbers are remembered. */
const MAX_SENDERS = 4096;

/**
 * Creates a {@linkcode Backplane} over Redis pub/sub: every room message a
 * process publishes goes to the channel `keyPrefix + topic`, and each
 * process subscribes to the channels of the topics it has subscribers of.
 *
 * Guarantees, while Redis is reachable: a message published on one process
 * reaches every other process subscribed to its topic exactly once, in the
 * order that process published it (Redis keeps the order of one
 * connection's commands; each message carries a per-sender sequence number,
 * so a duplicate delivery is dropped); a process never receives its own
 * messages back (each carries the publishing backplane's random id); text
 * stays a `string` and binary stays bytes, byte for byte.
 *
 * During an outage (Redis down, restarting, or the network cut),
 * `receiver.error` is called once per lost connection; the clients
 * reconnect by themselves and the backplane then subscribes again to every
 * current topic. What is lost: messages other processes published while
 * this process's subscriber connection was down (Redis pub/sub keeps
 * nothing for absent subscribers). This process's own publications during
 * the gap are queued by the client (npm `redis` and `ioredis` offline
 * queues, Bun's too) and published after it reconnects, so other processes
 * that are subscribed again by then receive them; a client configured
 * without an offline queue rejects them, reported to `receiver.error`.
 * Local delivery (the hub's own sockets) goes on throughout.
 *
 * @param options The Redis client adapter and channel naming.
 * @returns The backplane, to give to a hub.
 * @throws {TypeError} If `keyPrefix` is not a string.
 *
 * @example Two processes sharing rooms through one Redis (npm redis)
 * ```ts ignore
 * import { createClient } from "redis";
 * import { Hub } from "@wstream/wstream";
 * import { createRedisBackplane, fromNodeRedis } from "@wstream/wstream/redis";
 *
 * const client = createClient({ url: "redis://127.0.0.1:6379" });
 * client.on("error", (error) => console.error("redis", error));
 * await client.connect();
 * const hub = new Hub({
 *   backplane: createRedisBackplane({ redis: fromNodeRedis(client), keyPrefix: "chat:" }),
 * });
 * ```
 *
 * @example Driving a backplane directly (what a hub does)
 * ```ts ignore
 * import { createRedisBackplane, fromIoredis } from "@wstream/wstream/redis";
 * import Redis from "ioredis";
 *
 * const backplane = createRedisBackplane({ redis: fromIoredis(new Redis()) });
 * await backplane.start({
 *   message: (topic, data) => console.log(topic, data),
 *   error: (error) => console.warn("backplane:", error.message),
 * });
 * backplane.subscribe("room-1");
 * backplane.publish("room-1", "hello"); // other processes' room-1 gets it
 * await backplane.close();
 * ```
 */
export function createRedisBackplane(
  options: RedisBackplaneOptions,
): Backplane {
  const redis = options.redis;
  const keyPrefix = options.keyPrefix ?? "wstream:";
  if (typeof keyPrefix !== "string") {
    throw new TypeError(
      `Invalid keyPrefix ${String(keyPrefix)}: pass a string such as "myapp:"`,
    );
  }
  const textOnly = redis.textOnly || (options.binaryAsBase64 ?? false);
  const id = randomSenderId();
  let sequence = 0;
  /** The last sequence number seen from each other backplane. */
  const lastSeen = new Map<string, number>();
  /** Topics this process has subscribers of. */
  const topics = new Set<string>();
  let receiver: BackplaneReceiver | null = null;
  let connected = false;
  let closed = false;

  const report = (error: unknown): void => {
    if (closed || receiver === null) return;
    try {
      receiver.error(error instanceof Error ? error : new Error(String(error)));
    } catch {
      // A throwing receiver must not break the backplane.
    }
  };

  const onMessage = (channel: string, raw: Uint8Array | string): void => {
    if (closed || receiver === null || !channel.startsWith(keyPrefix)) return;
    const topic = channel.slice(keyPrefix.length);
    if (!topics.has(topic)) return; // Arrived after unsubscribe.
    let decoded;
    try {
      decoded = decodeMessage(raw);
    } catch (error) {
      report(error);
      return;
    }
    if (decoded.sender === id) return; // Our own publication.
    const last = lastSeen.get(decoded.sender);
    if (last !== undefined) {
      const ahead = (decoded.sequence - last) >>> 0;
      if (ahead === 0 || ahead > 0x7fffffff) return; // Seen already.
      lastSeen.delete(decoded.sender); // Re-inserted last: most recent.
    } else if (lastSeen.size >= MAX_SENDERS) {
      lastSeen.delete(lastSeen.keys().next().value!);
    }
    lastSeen.set(decoded.sender, decoded.sequence);
    try {
      receiver.message(topic, decoded.data);
    } catch (error) {
      report(error);
    }
  };

  const resubscribe = (topic: string): void => {
    redis.subscribe(keyPrefix + topic).catch((error) => {
      report(
        new Error(
          `Redis backplane could not subscribe to ${
            JSON.stringify(keyPrefix + topic)
          }: ${messageOf(error)}`,
          { cause: error },
        ),
      );
    });
  };

  const events: RedisPubSubEvents = {
    message: onMessage,
    disconnected(error): void {
      if (!connected || closed) return;
      connected = false;
      report(
        new Error(
          `Redis backplane lost its subscriber connection (${
            messageOf(error)
          }): messages other processes publish until it reconnects are lost here`,
          { cause: error },
        ),
      );
    },
    reconnected(): void {
      if (closed) return;
      connected = true;
      for (const topic of topics) resubscribe(topic);
    },
  };

  return {
    async start(newReceiver: BackplaneReceiver): Promise<void> {
      if (receiver !== null) {
        throw new TypeError("This Redis backplane was started already");
      }
      receiver = newReceiver;
      await redis.start(events);
      connected = true;
    },
    publish(topic: string, data: BackplaneMessage): void {
      if (closed) return;
      sequence = (sequence + 1) >>> 0;
      let message: Uint8Array | string;
      try {
        message = encodeMessage(id, sequence, data, textOnly);
        redis.publish(keyPrefix + topic, message).catch((error) => {
          report(
            new Error(
              `Redis backplane could not publish to ${
                JSON.stringify(keyPrefix + topic)
              }: ${messageOf(error)}`,
              { cause: error },
            ),
          );
        });
      } catch (error) {
        report(error);
      }
    },
    subscribe(topic: string): void {
      if (closed || topics.has(topic)) return;
      topics.add(topic);
      resubscribe(topic);
    },
    unsubscribe(topic: string): void {
      if (closed || !topics.delete(topic)) return;
      redis.unsubscribe(keyPrefix + topic).catch((error) => report(error));
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      topics.clear();
      await redis.close().catch(() => {});
    },
  };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Bytes as a Node `Buffer` over the same memory (clients want `Buffer`). */
function toBuffer(message: Uint8Array | string): Buffer | string {
  return typeof message === "string"
    ? message
    : Buffer.from(message.buffer, message.byteOffset, message.byteLength);
}

// ------------------------------------------------------------ npm redis ---

/**
 * The part of an npm `redis` (node-redis v4 and later) client the adapter
 * uses: `createClient()`'s result, connected.
 *
 * @example A connected npm redis client fits
 * ```ts ignore
 * import { createClient } from "redis";
 * import { fromNodeRedis, type NodeRedisClient } from "@wstream/wstream/redis";
 *
 * const client: NodeRedisClient = await createClient({ url: "redis://127.0.0.1:6379" })
 *   .on("error", (error) => console.error(error))
 *   .connect();
 * const redis = fromNodeRedis(client); // subscribes on client.duplicate()
 * ```
 */
export interface NodeRedisClient {
  /** Adds an event listener (`error`, `ready`, ...). */
  on(event: string, listener: (...args: never[]) => void): unknown;
  /** A new client with the same options (not connected yet). */
  duplicate(): NodeRedisClient;
  /** Connects. */
  connect(): Promise<unknown>;
  /** `PUBLISH`. */
  publish(channel: string, message: string | Buffer): Promise<unknown>;
  /** `SUBSCRIBE`, with `bufferMode` true: `listener` gets `Buffer`s. */
  subscribe(
    channel: string,
    listener: (message: Uint8Array, channel: Uint8Array) => void,
    bufferMode: true,
  ): Promise<unknown>;
  /** `UNSUBSCRIBE` of `listener`. */
  unsubscribe(
    channel: string,
    listener: (message: Uint8Array, channel: Uint8Array) => void,
    bufferMode: true,
  ): Promise<unknown>;
  /** Closes gracefully (node-redis 5 and later). */
  close?(): Promise<unknown>;
  /** Closes gracefully (node-redis 4). */
  quit?(): Promise<unknown>;
  /** Closes at once. */
  destroy?(): unknown;
}

/**
 * Adapts an npm `redis` client (v4 and later): publishes on `client`,
 * subscribes on `client.duplicate()` in buffer mode (binary-safe), and
 * reports that connection's `error` / `ready` events. node-redis
 * resubscribes by itself after reconnecting; the backplane's own
 * resubscription then adds nothing. Give `client` an `error` listener of
 * your own: node-redis throws errors that nobody listens to.
 *
 * @param client A connected `createClient()` client.
 * @returns The adapter for {@linkcode createRedisBackplane}.
 *
 * @example
 * ```ts ignore
 * import { createClient } from "redis";
 * import { createRedisBackplane, fromNodeRedis } from "@wstream/wstream/redis";
 *
 * const client = await createClient({ url: "redis://127.0.0.1:6379" })
 *   .on("error", (error) => console.error(error))
 *   .connect();
 * const backplane = createRedisBackplane({ redis: fromNodeRedis(client) });
 * ```
 */
export function fromNodeRedis(client: NodeRedisClient): RedisPubSub {
  let subscriber: NodeRedisClient | null = null;
  const listeners = new Map<
    string,
    (message: Uint8Array, channel: Uint8Array) => void
  >();
  let events: RedisPubSubEvents | null = null;
  return {
    textOnly: false,
    async start(newEvents): Promise<void> {
      events = newEvents;
      const sub = client.duplicate();
      subscriber = sub;
      let ready = false;
      sub.on("error", (error: Error) => events?.disconnected(error));
      sub.on("end", () => {});
      sub.on("ready", () => {
        if (ready) events?.reconnected();
        ready = true;
      });
      await sub.connect();
      ready = true;
    },
    publish: (channel, message) => client.publish(channel, toBuffer(message)),
    subscribe(channel): Promise<unknown> {
      if (subscriber === null) return Promise.reject(notStarted());
      let listener = listeners.get(channel);
      if (listener === undefined) {
        listener = (message) => events?.message(channel, message);
        listeners.set(channel, listener);
      }
      return subscriber.subscribe(channel, listener, true);
    },
    unsubscribe(channel): Promise<unknown> {
      const listener = listeners.get(channel);
      if (subscriber === null || listener === undefined) {
        return Promise.resolve();
      }
      listeners.delete(channel);
      return subscriber.unsubscribe(channel, listener, true);
    },
    async close(): Promise<void> {
      const sub = subscriber;
      subscriber = null;
      events = null;
      if (sub === null) return;
      try {
        await (sub.close?.() ?? sub.quit?.());
      } catch {
        sub.destroy?.();
      }
    },
  };
}

// -------------------------------------------------------------- ioredis ---

/**
 * The part of an `ioredis` client (`new Redis()`) the adapter uses.
 *
 * @example An ioredis client fits
 * ```ts ignore
 * import Redis from "ioredis";
 * import { createRedisBackplane, fromIoredis, type IoredisClient } from "@wstream/wstream/redis";
 *
 * const client: IoredisClient = new Redis("redis://127.0.0.1:6379");
 * const backplane = createRedisBackplane({ redis: fromIoredis(client) });
 * ```
 */
export interface IoredisClient {
  /** Adds an event listener (`error`, `ready`, ...). */
  on(event: string, listener: (...args: never[]) => void): unknown;
  /** Removes an event listener. */
  off?(event: string, listener: (...args: never[]) => void): unknown;
  /** A new connection with the same options (connecting). */
  duplicate(): IoredisClient;
  /** `PUBLISH`. */
  publish(channel: string, message: string | Buffer): Promise<unknown>;
  /** `SUBSCRIBE`. */
  subscribe(channel: string): Promise<unknown>;
  /** `UNSUBSCRIBE`. */
  unsubscribe(channel: string): Promise<unknown>;
  /** Closes gracefully. */
  quit(): Promise<unknown>;
  /** Closes at once. */
  disconnect(): unknown;
  /** `"ready"` once connected. */
  readonly status: string;
}

/**
 * Adapts an `ioredis` client: publishes on `client`, subscribes on
 * `client.duplicate()` and reads its `messageBuffer` events (binary-safe),
 * and reports its `error` / `close` / `ready` events. ioredis resubscribes
 * by itself after reconnecting (`autoResubscribe`, on by default); the
 * backplane's own resubscription then adds nothing.
 *
 * @param client An ioredis `Redis` client.
 * @returns The adapter for {@linkcode createRedisBackplane}.
 *
 * @example
 * ```ts ignore
 * import Redis from "ioredis";
 * import { createRedisBackplane, fromIoredis } from "@wstream/wstream/redis";
 *
 * const backplane = createRedisBackplane({
 *   redis: fromIoredis(new Redis("redis://127.0.0.1:6379")),
 * });
 * ```
 */
export function fromIoredis(client: IoredisClient): RedisPubSub {
  let subscriber: IoredisClient | null = null;
  return {
    textOnly: false,
    async start(events): Promise<void> {
      const sub = client.duplicate();
      subscriber = sub;
      let ready = false;
      sub.on("messageBuffer", (channel: Uint8Array, message: Uint8Array) => {
        events.message(Buffer.from(channel).toString("latin1"), message);
      });
      sub.on("error", (error: Error) => events.disconnected(error));
      sub.on(
        "close",
        () => events.disconnected(new Error("Connection closed")),
      );
      if (sub.status !== "ready") {
        await new Promise<void>((resolve, reject) => {
          const onReady = (): void => {
            sub.off?.("error", onError);
            resolve();
          };
          const onError = (error: Error): void => {
            sub.off?.("ready", onReady);
            reject(error);
          };
          sub.on("ready", onReady);
          sub.on("error", onError);
        });
      }
      ready = true;
      sub.on("ready", () => {
        if (ready) events.reconnected();
      });
    },
    publish: (channel, message) => client.publish(channel, toBuffer(message)),
    subscribe: (channel) =>
      subscriber?.subscribe(channel) ?? Promise.reject(notStarted()),
    unsubscribe: (channel) =>
      subscriber?.unsubscribe(channel) ?? Promise.resolve(),
    async close(): Promise<void> {
      const sub = subscriber;
      subscriber = null;
      if (sub === null) return;
      try {
        await sub.quit();
      } catch {
        sub.disconnect();
      }
    },
  };
}

// ---------------------------------------------------- Bun.RedisClient -----

/**
 * The part of Bun's built-in `Bun.RedisClient` the adapter uses.
 *
 * @example Bun's built-in client fits (Bun only)
 * ```ts ignore
 * import { createRedisBackplane, fromBunRedis, type BunRedisClient } from "@wstream/wstream/redis";
 *
 * const client: BunRedisClient = new Bun.RedisClient("redis://127.0.0.1:6379");
 * // Bun's client carries text only: set binaryAsBase64 on the other processes' backplanes too.
 * const backplane = createRedisBackplane({ redis: fromBunRedis(client) });
 * ```
 */
export interface BunRedisClient {
  /** A new connection with the same options (connected). */
  duplicate(): Promise<BunRedisClient>;
  /** `PUBLISH` (strings only). */
  publish(channel: string, message: string): Promise<unknown>;
  /** `SUBSCRIBE`; `listener` gets each message as a string. */
  subscribe(
    channel: string,
    listener: (message: string, channel: string) => void,
  ): Promise<unknown>;
  /** Removes `listener` (and `UNSUBSCRIBE`s once none is left). */
  unsubscribe(
    channel: string,
    listener?: (message: string, channel: string) => void,
  ): Promise<unknown>;
  /** Whether the connection is up. */
  readonly connected: boolean;
  /** Called on every (re)connection. */
  onconnect: (() => void) | null;
  /** Closes. */
  close(): void;
}

/** How often the Bun adapter checks its subscriber connection, in ms. */
const BUN_CHECK_INTERVAL = 250;

/**
 * Adapts Bun's built-in Redis client (`new Bun.RedisClient(url)`, Bun 1.2
 * and later): publishes on `client`, subscribes on `client.duplicate()`.
 * Bun's client carries only strings (received messages are decoded as
 * UTF-8), so binary room messages travel as base64: set
 * `binaryAsBase64: true` on the backplanes of the other processes too. Bun
 * does not resubscribe after reconnecting: the backplane does, on its
 * `onconnect`; and since Bun reports no disconnection while reconnecting,
 * the adapter checks `connected` every 250 ms.
 *
 * @param client A `Bun.RedisClient`.
 * @returns The adapter for {@linkcode createRedisBackplane}.
 *
 * @example
 * ```ts ignore
 * import { createRedisBackplane, fromBunRedis } from "@wstream/wstream/redis";
 *
 * const backplane = createRedisBackplane({
 *   redis: fromBunRedis(new Bun.RedisClient("redis://127.0.0.1:6379")),
 * });
 * ```
 */
export function fromBunRedis(client: BunRedisClient): RedisPubSub {
  let subscriber: BunRedisClient | null = null;
  let timer: ReturnType<typeof setInterval> | undefined;
  const listeners = new Map<string, (message: string) => void>();
  let events: RedisPubSubEvents | null = null;
  return {
    textOnly: true,
    async start(newEvents): Promise<void> {
      events = newEvents;
      const sub = await client.duplicate();
      subscriber = sub;
      let up = true;
      sub.onconnect = () => {
        up = true;
        events?.reconnected();
      };
      timer = setInterval(() => {
        if (up && !sub.connected) {
          up = false;
          events?.disconnected(new Error("Connection closed"));
        }
      }, BUN_CHECK_INTERVAL);
      (timer as { unref?: () => void }).unref?.();
    },
    publish: (channel, message) =>
      client.publish(
        channel,
        typeof message === "string"
          ? message
          : new TextDecoder().decode(message),
      ),
    async subscribe(channel): Promise<unknown> {
      const sub = subscriber;
      if (sub === null) throw notStarted();
      const old = listeners.get(channel);
      // Bun keeps listeners across a reconnect but not the subscription:
      // drop the old listener so that the message is delivered once.
      if (old !== undefined) {
        await sub.unsubscribe(channel, old).catch(() => {});
      }
      const listener = (message: string): void =>
        events?.message(channel, message);
      listeners.set(channel, listener);
      return sub.subscribe(channel, listener);
    },
    unsubscribe(channel): Promise<unknown> {
      const listener = listeners.get(channel);
      if (subscriber === null || listener === undefined) {
        return Promise.resolve();
      }
      listeners.delete(channel);
      return subscriber.unsubscribe(channel, listener);
    },
    close(): Promise<void> {
      clearInterval(timer);
      const sub = subscriber;
      subscriber = null;
      events = null;
      sub?.close();
      return Promise.resolve();
    },
  };
}

function notStarted(): Error {
  return new Error("The Redis adapter is not started: call backplane.start()");
}
