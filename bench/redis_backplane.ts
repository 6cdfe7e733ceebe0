/**
 * The Redis backplane across 2 processes: a publishing process and a
 * receiving one (each a backplane on its own Redis client) through a local
 * `redis-server` started for the run.
 *
 * - throughput: the publisher publishes N messages as fast as it can; the
 *   receiver reports deliveries/s (first to last message received).
 * - latency: the publisher publishes at a fixed rate (default 10,000/s),
 *   each message carrying its send time; the receiver reports p50/p99/max of
 *   publish → receive. That hop is what the backplane adds to a delivery
 *   over the in-process case (where a hub hands the message to its local
 *   sockets directly and the same socket writes follow in both cases).
 *
 * ```sh
 * deno run -A bench/redis_backplane.ts   # or: bun / node bench/redis_backplane.ts
 * # CLIENT=redis|ioredis|bun (bun: Bun only; default redis), RATE=10000,
 * # SECONDS=5, COUNT=200000, SIZE=64 (bytes of text per message)
 * ```
 *
 * Needs `redis-server` (Debian's) and the clients of `npm ci --prefix
 * tests/interop`.
 *
 * @module
 */
import process from "node:process";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createRedisBackplane } from "../lib/pubsub/redis_backplane.ts";
import type { Backplane } from "../lib/pubsub/backplane.ts";
import {
  startRedis,
  waitForSubscribers,
} from "../tests/pubsub/_redis_server.ts";
import {
  BUN_REDIS,
  type ClientKind,
  IOREDIS,
  NODE_REDIS,
} from "../tests/pubsub/_redis_clients.ts";

const CLIENT = process.env.CLIENT ?? "redis";
const RATE = Number(process.env.RATE ?? "10000");
const SECONDS = Number(process.env.SECONDS ?? "5");
const COUNT = Number(process.env.COUNT ?? "200000");
const SIZE = Number(process.env.SIZE ?? "64");
const TOPIC = "bench";

const kind: ClientKind =
  { redis: NODE_REDIS, ioredis: IOREDIS, bun: BUN_REDIS }[
    CLIENT
  ] ?? NODE_REDIS;

/** Milliseconds since the epoch, sub-millisecond, comparable across processes. */
const now = (): number => performance.timeOrigin + performance.now();

async function open(url: string): Promise<{
  backplane: Backplane;
  close(): Promise<void>;
  messages: (handler: (data: string) => void) => void;
}> {
  const client = await kind.connect(url);
  const backplane = createRedisBackplane({ redis: client.redis });
  let handler = (_data: string): void => {};
  await backplane.start({
    message: (_topic, data) => handler(data as string),
    error: (error) => console.error("backplane:", error.message, error.cause),
  });
  return {
    backplane,
    messages: (next) => handler = next,
    close: async () => {
      await backplane.close();
      await client.close();
    },
  };
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

/** The receiving process: prints one JSON line per phase. */
async function receiver(url: string): Promise<void> {
  const node = await open(url);
  node.backplane.subscribe(TOPIC);
  let phase: "idle" | "throughput" | "latency" = "idle";
  let count = 0;
  let first = 0;
  let latencies: number[] = [];
  node.messages((data) => {
    const received = now();
    if (data.startsWith("begin ")) {
      phase = data.slice(6) as typeof phase;
      count = 0;
      latencies = [];
      return;
    }
    if (data === "end") {
      if (phase === "throughput") {
        const seconds = (received - first) / 1000;
        console.log(JSON.stringify({
          phase,
          messages: count,
          perSecond: Math.round(count / seconds),
        }));
      } else {
        const sorted = Float64Array.from(latencies).sort();
        console.log(JSON.stringify({
          phase,
          messages: count,
          p50: +percentile(sorted, 0.5).toFixed(3),
          p99: +percentile(sorted, 0.99).toFixed(3),
          max: +sorted[sorted.length - 1]!.toFixed(3),
        }));
      }
      return;
    }
    if (data === "quit") {
      node.close().then(() => process.exit(0));
      return;
    }
    if (count++ === 0) first = received;
    if (phase === "latency") {
      latencies.push(received - Number(data.slice(0, data.indexOf(" "))));
    }
  });
  console.log("ready");
}

async function publisher(): Promise<void> {
  const redis = await startRedis();
  const self = fileURLToPath(import.meta.url);
  const deno = (globalThis as { Deno?: { execPath(): string } }).Deno;
  const [command, args] = deno !== undefined
    ? [deno.execPath(), ["run", "-A", self]]
    : [process.execPath, [self]];
  const child = spawn(command, args, {
    env: { ...process.env, BENCH_RECEIVER: redis.url },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines: string[] = [];
  const waiters: (() => void)[] = [];
  let buffered = "";
  child.stdout.on("data", (chunk: Uint8Array) => {
    buffered += String(chunk);
    const parts = buffered.split("\n");
    buffered = parts.pop()!;
    lines.push(...parts);
    waiters.splice(0).forEach((wake) => wake());
  });
  const nextLine = async (): Promise<string> => {
    while (lines.length === 0) {
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
    return lines.shift()!;
  };
  const node = await open(redis.url);
  try {
    await nextLine(); // "ready"
    await waitForSubscribers(redis.port, `wstream:${TOPIC}`, 1);
    const padding = "x".repeat(Math.max(0, SIZE - 20));
    const publish = (data: string): void => node.backplane.publish(TOPIC, data);

    publish("begin throughput");
    for (let i = 0; i < COUNT; i++) publish(`${i} ${padding}`);
    publish("end");
    const throughput = JSON.parse(await nextLine());

    publish("begin latency");
    const total = RATE * SECONDS;
    const start = performance.now();
    let sent = 0;
    while (sent < total) {
      const due = Math.min(
        total,
        Math.floor((performance.now() - start) * RATE / 1000),
      );
      for (; sent < due; sent++) publish(`${now()} ${padding}`);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    publish("end");
    const latency = JSON.parse(await nextLine());
    publish("quit");
    const runtime = deno !== undefined
      ? "deno"
      : (globalThis as { Bun?: unknown }).Bun !== undefined
      ? "bun"
      : "node";
    console.log(JSON.stringify({
      runtime,
      client: kind.name,
      size: SIZE,
      throughput: {
        messages: throughput.messages,
        perSecond: throughput.perSecond,
      },
      latency: { rate: RATE, seconds: SECONDS, ...latency },
    }));
  } finally {
    await node.close();
    await new Promise((resolve) => {
      if (child.exitCode !== null) resolve(null);
      child.on("exit", resolve);
      setTimeout(() => {
        if (child.exitCode === null && child.pid !== undefined) {
          process.kill(child.pid, "SIGKILL");
        }
      }, 5000);
    });
    await redis.stop();
  }
}

const receiverUrl = process.env.BENCH_RECEIVER;
if (receiverUrl !== undefined) await receiver(receiverUrl);
else await publisher();
