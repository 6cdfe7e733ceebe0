/**
 * A chat room served by several processes on one port: each process runs
 * wstream's `serve({ reusePort: true })` (the kernel spreads connections
 * among them, Linux) and a `Hub` whose rooms span the processes through
 * Redis (`@wstream/wstream/redis`). Every message a client sends reaches
 * every client of the room, on whichever process, once and in order.
 *
 * ```sh
 * redis-server --port 6379 &
 * bun examples/chat_cluster.ts                 # Bun's built-in Redis client
 * npm install redis && node examples/chat_cluster.ts
 * # or: deno run -A --unstable-net examples/chat_cluster.ts (reusePort is
 * # unstable in Deno: the workers get --unstable-net)
 * # PORT (8080; 0 = a free port, chosen once), WORKERS (2),
 * # REDIS_URL (redis://127.0.0.1:6379)
 * ```
 *
 * The first process starts WORKERS copies of itself and prints
 * `listening on <port>` once all of them listen. On Node without
 * `SO_REUSEPORT` (not Linux), use `node:cluster` instead: its workers
 * share the primary's listening socket the same way.
 *
 * @module
 */
import process from "node:process";
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createServer } from "node:net";
import { Hub, serve, upgrade } from "../mod.ts";
import {
  type BunRedisClient,
  createRedisBackplane,
  fromBunRedis,
  fromNodeRedis,
  type NodeRedisClient,
  type RedisPubSub,
} from "../redis.ts";

const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const ROOM = "chat";

/** The Redis client: Bun's built-in one, else npm `redis` from the project. */
async function redisClient(): Promise<RedisPubSub> {
  const bun = (globalThis as {
    Bun?: {
      RedisClient: new (url: string) => BunRedisClient & {
        connect(): Promise<void>;
      };
    };
  }).Bun;
  if (bun !== undefined) {
    const client = new bun.RedisClient(redisUrl);
    await client.connect();
    return fromBunRedis(client);
  }
  // npm `redis`, installed in the directory the example is run from.
  const require = createRequire(join(process.cwd(), "package.json"));
  const { createClient } = require("redis") as {
    createClient(options: { url: string }): NodeRedisClient;
  };
  const client = createClient({ url: redisUrl });
  client.on("error", (error: Error) => console.error("redis:", error.message));
  await client.connect();
  return fromNodeRedis(client);
}

async function worker(port: number): Promise<void> {
  const hub = new Hub({
    backplane: createRedisBackplane({
      redis: await redisClient(),
      keyPrefix: "chat-cluster:",
      binaryAsBase64: true, // Bun's client may be on some of the processes.
    }),
    onError: (error) => console.error("hub:", error.message),
  });
  await hub.ready;
  const server = serve({ port, reusePort: true }, async (request) => {
    if (request.headers.get("upgrade") === null) {
      return new Response(`chat served by process ${process.pid}\n`);
    }
    const { response, socket } = await upgrade(request);
    if (socket === null) return response;
    hub.subscribe(socket, ROOM);
    socket.opened.then(async ({ readable }) => {
      for await (const message of readable) hub.publish(ROOM, message);
    }).catch(() => {});
    return response;
  });
  await server.listening;
  console.log(`worker ${process.pid} listening on ${port}`);
  const stop = async (): Promise<void> => {
    await server.shutdown();
    await hub.close();
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

/** A free port, chosen once for every worker. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer().on("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

async function primary(): Promise<void> {
  let port = Number(process.env.PORT ?? "8080");
  if (port === 0) port = await freePort();
  const count = Number(process.env.WORKERS ?? "2");
  const self = fileURLToPath(import.meta.url);
  const deno = (globalThis as { Deno?: { execPath(): string } }).Deno;
  const [command, args] = deno !== undefined
    ? [deno.execPath(), ["run", "-A", "--unstable-net", self]]
    : [process.execPath, [self]];
  let listening = 0;
  const workers = Array.from({ length: count }, () => {
    const child = spawn(command, args, {
      env: { ...process.env, CHAT_WORKER_PORT: String(port) },
      stdio: ["ignore", "pipe", "inherit"],
    });
    child.stdout.on("data", (chunk: Uint8Array) => {
      process.stdout.write(chunk);
      if (/listening on/.test(String(chunk)) && ++listening === count) {
        console.log(`listening on ${port}`);
      }
    });
    child.on("exit", (code) => {
      if (!stopping) {
        console.error(`a worker exited (${code}): stopping`);
        stop();
      }
    });
    return child;
  });
  let stopping = false;
  const stop = (): void => {
    stopping = true;
    for (const child of workers) {
      if (child.exitCode === null && child.pid !== undefined) {
        process.kill(child.pid, "SIGTERM");
      }
    }
    Promise.all(
      workers.map((child) =>
        child.exitCode !== null
          ? null
          : new Promise((resolve) => child.on("exit", resolve))
      ),
    ).then(() => process.exit(0));
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

const workerPort = process.env.CHAT_WORKER_PORT;
if (workerPort !== undefined) await worker(Number(workerPort));
else await primary();
