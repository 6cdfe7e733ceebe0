/**
 * Fan-out benchmark: 1 publisher → 1,000 subscribed connections × 32-byte
 * text messages. Reports deliveries per second (messages × subscribers
 * over the wall time from the first byte received to the last) and the
 * server's CPU time per delivery, for wstream's `Hub` on Deno, Bun and
 * Node (wstream's `serve()`), on `Bun.serve` (Bun's native topics
 * underneath), against Bun's own `server.publish` and npm `ws` looping over
 * `wss.clients` on Node.
 *
 *   deno run -A bench/fanout_bench.ts [--quick] [--conns N] [--messages M]
 *                                     [--only name,name]
 *
 * The subscribers are one Node process of raw TCP connections that only
 * read and count bytes (`bench/load/fanout_subscribers.mjs`); the
 * publisher is `bench/servers/fanout_server.ts`, publishing 16 messages
 * per event-loop turn.
 *
 * @module
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import process from "node:process";

const args = process.argv.slice(2);
const quick = args.includes("--quick");
function option(name: string, fallback: number): number {
  const at = args.indexOf(name);
  return at >= 0 ? Number(args[at + 1]) : fallback;
}
const conns = option("--conns", 1000);
const messages = option("--messages", quick ? 300 : 3000);
const onlyAt = args.indexOf("--only");
const only = onlyAt >= 0 ? args[onlyAt + 1]!.split(",") : null;

const SERVER = new URL("./servers/fanout_server.ts", import.meta.url).pathname;
const SUBSCRIBERS = new URL("./load/fanout_subscribers.mjs", import.meta.url)
  .pathname;

const targets: { name: string; command: string[] }[] = [
  {
    name: "wstream Deno serve()",
    command: ["deno", "run", "-A", SERVER, "wstream"],
  },
  { name: "wstream Bun serve()", command: ["bun", SERVER, "wstream"] },
  {
    name: "wstream Bun.serve (native topics)",
    command: ["bun", SERVER, "wstream-bun"],
  },
  { name: "Bun native server.publish", command: ["bun", SERVER, "bun-native"] },
  { name: "wstream Node serve()", command: ["node", SERVER, "wstream"] },
  { name: "ws Node (loop over clients)", command: ["node", SERVER, "ws"] },
];

/** The lines a child prints, awaited one prefix at a time. */
function lines(child: ChildProcess): (prefix: string) => Promise<string> {
  const waiting: { prefix: string; resolve: (line: string) => void }[] = [];
  const seen: string[] = [];
  createInterface({ input: child.stdout! }).on("line", (line) => {
    const at = waiting.findIndex((w) => line.startsWith(w.prefix));
    if (at >= 0) waiting.splice(at, 1)[0]!.resolve(line);
    else seen.push(line);
  });
  child.stderr!.on("data", (data) => process.stderr.write(data));
  return (prefix) => {
    const at = seen.findIndex((line) => line.startsWith(prefix));
    if (at >= 0) return Promise.resolve(seen.splice(at, 1)[0]!);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`Timed out waiting for ${prefix}`)),
        120_000,
      );
      waiting.push({
        prefix,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
      });
    });
  };
}

async function run(command: string[]): Promise<Record<string, number>> {
  const server = spawn(command[0]!, command.slice(1), {
    stdio: ["pipe", "pipe", "pipe"],
  });
  let subscribers: ChildProcess | null = null;
  try {
    const fromServer = lines(server);
    const port = Number((await fromServer("PORT")).split(" ")[1]);
    subscribers = spawn(
      "node",
      [SUBSCRIBERS, String(port), String(conns), String(messages)],
      { stdio: ["pipe", "pipe", "pipe"] },
    );
    const fromSubscribers = lines(subscribers);
    await fromSubscribers("READY");
    await new Promise((resolve) => setTimeout(resolve, 300));
    server.stdin!.write(`GO ${messages}\n`);
    const ms = Number((await fromSubscribers("DONE")).split(" ")[1]);
    const clientCpu = Number((await fromSubscribers("CPU")).split(" ")[1]);
    server.stdin!.write("CPU\n");
    const serverCpu = Number((await fromServer("CPU")).split(" ")[1]);
    const deliveries = conns * messages;
    return {
      deliveriesPerSec: Math.round(deliveries / (ms / 1000)),
      serverCpuUsPerDelivery: serverCpu / deliveries,
      clientCpuUsPerDelivery: clientCpu / deliveries,
      ms,
    };
  } finally {
    subscribers?.stdin?.write("EXIT\n");
    server.stdin?.write("EXIT\n");
    setTimeout(() => {
      subscribers?.kill();
      server.kill();
    }, 1000).unref?.();
  }
}

console.log(
  `fan-out: ${conns} subscribers x ${messages} messages of 32 B (text)`,
);
console.log(
  "| server | deliveries/s | server CPU µs/delivery | client CPU µs/delivery |",
);
console.log("| --- | ---: | ---: | ---: |");
const results: Record<string, Record<string, number>> = {};
for (const target of targets) {
  if (only !== null && !only.some((name) => target.name.includes(name))) {
    continue;
  }
  try {
    const result = await run(target.command);
    results[target.name] = result;
    console.log(
      `| ${target.name} | ${result.deliveriesPerSec!.toLocaleString("en")} | ${
        result.serverCpuUsPerDelivery!.toFixed(3)
      } | ${result.clientCpuUsPerDelivery!.toFixed(3)} |`,
    );
  } catch (error) {
    console.log(`| ${target.name} | failed: ${(error as Error).message} | | |`);
  }
}
if (args.includes("--json")) console.log(JSON.stringify(results));
process.exit(0);
