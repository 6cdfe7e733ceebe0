/**
 * Rooms across processes: a Redis pub/sub backplane for a hub, taking the
 * Redis client your application already has. wstream depends on no Redis
 * package: an adapter wraps npm `redis` ({@linkcode fromNodeRedis}), npm
 * `ioredis` ({@linkcode fromIoredis}) or Bun's built-in `Bun.RedisClient`
 * ({@linkcode fromBunRedis}), and {@linkcode createRedisBackplane} turns it
 * into a {@linkcode Backplane}.
 *
 * A message published on any process reaches every subscriber of its topic
 * on every process once, in the publisher's order; text and binary arrive
 * intact; each application's channels are kept apart by `keyPrefix`. When
 * Redis is unreachable, the hub's `receiver.error` hears it, local delivery
 * goes on, and messages other processes publish until the subscriber
 * connection is back are lost for this process.
 *
 * @example Two processes, one room (run it twice on one Redis)
 * ```ts ignore
 * import { Hub, serve, upgrade } from "@wstream/wstream";
 * import { createRedisBackplane, fromNodeRedis } from "@wstream/wstream/redis";
 * import { createClient } from "redis";
 *
 * const client = await createClient({ url: "redis://127.0.0.1:6379" })
 *   .on("error", (error) => console.error("redis:", error.message))
 *   .connect();
 * const hub = new Hub({
 *   backplane: createRedisBackplane({ redis: fromNodeRedis(client) }),
 * });
 * serve({ port: 8080, reusePort: true }, async (request) => {
 *   const { response, socket } = await upgrade(request);
 *   if (socket === null) return response;
 *   hub.subscribe(socket, "lobby");
 *   socket.opened.then(async ({ readable }) => {
 *     for await (const message of readable) hub.publish("lobby", message);
 *   }).catch(() => {});
 *   return response;
 * });
 * ```
 *
 * @module
 */
export * from "./lib/pubsub/redis_backplane.ts";
export type {
  Backplane,
  BackplaneMessage,
  BackplaneReceiver,
} from "./lib/pubsub/backplane.ts";
