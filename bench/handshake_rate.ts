/**
 * WebSocket opening handshakes per second: wstream's own `serve()` (raw
 * TCP, its own HTTP/1.1 head reader and writer) against a `node:http`
 * server with `attachToNodeServer()` (the runtime's HTTP parser), each on
 * Deno, Bun and Node, over loopback.
 *
 * The driver (this script without `--server`) spawns the server variant as
 * a child process, then runs `--count` handshakes with `--concurrency` in
 * flight from its own process with raw `node:net` sockets: connect, send
 * the upgrade request, read the `101` (checked), send a masked close frame,
 * wait for the server to close. A round is timed from the first connect to
 * the last close; `--warmup` handshakes run first, untimed. With `--all`,
 * both variants of a runtime run side by side in two server processes and
 * their rounds alternate, so that load changes on the machine hit both
 * alike. Reports the median of `--rounds` rounds, the median time from
 * connect to the `101`, and the server process's CPU time (user + system,
 * from `/proc/<pid>/stat`, Linux) per handshake.
 *
 * Usage (see bench/handshake_rate.md):
 *
 *   node bench/handshake_rate.ts --all
 *   node bench/handshake_rate.ts --runtime deno --variant serve --count 10000
 *   node bench/handshake_rate.ts --port 8080   # drive a server started elsewhere
 *
 * Variants (server side, the same handler: `upgrade(request)`, return its
 * response):
 *
 * - `serve`: `serve({ port: 0 }, handler)`: `Deno.listen`, `Bun.listen` or
 *   `node:net` by runtime.
 * - `node-http`: `http.createServer()` + `attachToNodeServer(server,
 *   handler)`.
 *
 * @module
 */

import net from "node:net";
import http from "node:http";
import process from "node:process";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { attachToNodeServer } from "../lib/server/node_http.ts";
import { serve } from "../lib/server/serve.ts";
import { upgrade } from "../lib/server/upgrade.ts";

const RUNTIMES = ["deno", "bun", "node"] as const;
const VARIANTS = ["serve", "node-http"] as const;

type Runtime = typeof RUNTIMES[number];
type Variant = typeof VARIANTS[number];

interface Options {
  server: boolean;
  all: boolean;
  runtime: Runtime;
  variant: Variant;
  count: number;
  warmup: number;
  rounds: number;
  concurrency: number;
  port: number;
}

function parseArgs(args: string[]): Options {
  const options: Options = {
    server: false,
    all: false,
    runtime: "node",
    variant: "serve",
    count: 10_000,
    warmup: 2_000,
    rounds: 3,
    concurrency: 32,
    port: 0,
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const value = args[i + 1] ?? "";
    switch (arg) {
      case "--server":
        options.server = true;
        break;
      case "--all":
        options.all = true;
        break;
      case "--runtime":
        if (!(RUNTIMES as readonly string[]).includes(value)) {
          throw new RangeError(`Unknown runtime "${value}": ${RUNTIMES}`);
        }
        options.runtime = value as Runtime;
        i++;
        break;
      case "--variant":
        if (!(VARIANTS as readonly string[]).includes(value)) {
          throw new RangeError(`Unknown variant "${value}": ${VARIANTS}`);
        }
        options.variant = value as Variant;
        i++;
        break;
      case "--count":
      case "--warmup":
      case "--rounds":
      case "--concurrency":
      case "--port": {
        const number = Number(value);
        if (!Number.isSafeInteger(number) || number < 1 || number > 1e6) {
          throw new RangeError(`Invalid ${arg} "${value}"`);
        }
        options[
          arg.slice(2) as "count" | "warmup" | "rounds" | "concurrency" | "port"
        ] = number;
        i++;
        break;
      }
      default:
        throw new RangeError(`Unknown argument "${arg}"`);
    }
  }
  return options;
}

/** The server side, in a child process: prints `READY <port>`. */
async function runServer(variant: Variant): Promise<void> {
  const handler = async (request: Request): Promise<Response> =>
    (await upgrade(request)).response;
  let port: number;
  let stop: () => Promise<void>;
  if (variant === "serve") {
    const server = serve({ port: 0, hostname: "127.0.0.1" }, handler);
    port = (await server.listening).port;
    stop = () => server.shutdown();
  } else {
    const server = http.createServer();
    attachToNodeServer(server, handler);
    await new Promise<void>((resolve) =>
      server.listen(0, "127.0.0.1", resolve)
    );
    port = (server.address() as net.AddressInfo).port;
    stop = () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
  }
  process.stdout.write(`READY ${port}\n`);
  // Run until the driver closes stdin.
  process.stdin.resume();
  await new Promise((resolve) => process.stdin.on("end", resolve));
  await stop();
  process.exit(0);
}

const REQUEST = Buffer.from(
  "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n" +
    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
    "Sec-WebSocket-Version: 13\r\n\r\n",
  "latin1",
);
/** A masked close frame with code 1000 (mask 00 00 00 00). */
const CLOSE_FRAME = Buffer.from([0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]);

interface RoundResult {
  seconds: number;
  rate: number;
  medianMs: number;
  /** Server CPU time (user + system) per handshake, in microseconds. */
  cpuUs: number;
}

/** CPU seconds (user + system) a process used so far; Linux only, else NaN. */
function cpuSeconds(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    // Fields after the parenthesized command name; utime, stime are 14, 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ
  } catch {
    return Number.NaN;
  }
}

/** Runs `count` handshakes, `concurrency` at a time. */
function drive(
  port: number,
  count: number,
  concurrency: number,
): Promise<RoundResult> {
  return new Promise((resolve, reject) => {
    let started = 0;
    let finished = 0;
    let failed = false;
    const latencies: number[] = [];
    const begin = performance.now();
    const fail = (error: Error): void => {
      if (failed) return;
      failed = true;
      reject(error);
    };
    const next = (): void => {
      if (failed) return;
      if (started >= count) {
        if (finished === count) {
          const seconds = (performance.now() - begin) / 1000;
          latencies.sort((a, b) => a - b);
          resolve({
            seconds,
            rate: count / seconds,
            medianMs: latencies[Math.floor(latencies.length / 2)] ?? 0,
            cpuUs: Number.NaN,
          });
        }
        return;
      }
      started++;
      const t0 = performance.now();
      let head = "";
      let upgraded = false;
      const socket = net.connect({ host: "127.0.0.1", port, noDelay: true });
      socket.on("connect", () => socket.write(REQUEST));
      socket.on("data", (chunk: Buffer) => {
        if (upgraded) return;
        head += chunk.toString("latin1");
        if (!head.includes("\r\n\r\n")) return;
        if (!head.startsWith("HTTP/1.1 101 ")) {
          fail(new Error(`Not upgraded: ${JSON.stringify(head)}`));
          return;
        }
        upgraded = true;
        latencies.push(performance.now() - t0);
        socket.write(CLOSE_FRAME);
      });
      socket.on("error", (error) => fail(error));
      socket.on("close", () => {
        if (!upgraded) {
          fail(new Error(`Closed before the 101: ${JSON.stringify(head)}`));
          return;
        }
        finished++;
        next();
      });
    };
    for (let i = 0; i < Math.min(concurrency, count); i++) next();
  });
}

function driverName(): string {
  const versions = process.versions as Record<string, string | undefined>;
  if (versions.bun !== undefined) return `bun ${versions.bun}`;
  if (versions.deno !== undefined) return `deno ${versions.deno}`;
  return `node ${process.version}`;
}

function medianBy<T>(items: T[], key: (item: T) => number): T {
  const sorted = [...items].sort((a, b) => key(a) - key(b));
  return sorted[Math.floor(sorted.length / 2)]!;
}

function command(runtime: Runtime, variant: Variant): [string, string[]] {
  const script = fileURLToPath(import.meta.url);
  const args = ["--server", "--variant", variant];
  switch (runtime) {
    case "deno":
      return ["deno", ["run", "-A", script, ...args]];
    case "bun":
      return ["bun", [script, ...args]];
    case "node":
      return ["node", [script, ...args]];
  }
}

interface RunningServer {
  variant: Variant;
  pid: number | undefined;
  port: number;
  stop(): Promise<void>;
}

async function startServer(
  runtime: Runtime,
  variant: Variant,
): Promise<RunningServer> {
  const [program, args] = command(runtime, variant);
  const child = spawn(program, args, {
    stdio: ["pipe", "pipe", "inherit"],
    env: { ...process.env, DENO_NO_UPDATE_CHECK: "1" },
  });
  const stop = async (): Promise<void> => {
    child.stdin!.end();
    if (child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    const timer = setTimeout(() => child.kill(), 5000);
    await exited;
    clearTimeout(timer);
  };
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let output = "";
      const timer = setTimeout(
        () => reject(new Error(`${program} did not start`)),
        30_000,
      );
      child.stdout!.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        const match = /READY (\d+)/.exec(output);
        if (match !== null) {
          clearTimeout(timer);
          resolve(Number(match[1]));
        }
      });
      child.on(
        "exit",
        (code) => reject(new Error(`${program} exited ${code}`)),
      );
    });
    return { variant, pid: child.pid, port, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Measures the variants of one runtime, each in its own server process,
 * with their rounds interleaved (A, B, A, B, ...) so that load changes on
 * the machine hit all variants alike.
 */
async function measure(
  runtime: Runtime,
  variants: readonly Variant[],
  options: Options,
): Promise<void> {
  const servers: RunningServer[] = [];
  try {
    for (const variant of variants) {
      servers.push(await startServer(runtime, variant));
    }
    const rounds = new Map<RunningServer, RoundResult[]>();
    for (const server of servers) {
      await drive(server.port, options.warmup, options.concurrency);
      rounds.set(server, []);
    }
    for (let i = 0; i < options.rounds; i++) {
      for (const server of servers) {
        const cpuBefore = cpuSeconds(server.pid);
        const round = await drive(
          server.port,
          options.count,
          options.concurrency,
        );
        round.cpuUs = (cpuSeconds(server.pid) - cpuBefore) * 1e6 /
          options.count;
        rounds.get(server)!.push(round);
      }
    }
    for (const server of servers) {
      const results = rounds.get(server)!;
      const median = medianBy(results, (round) => round.rate);
      const cpu = medianBy(results, (round) => round.cpuUs).cpuUs;
      console.log(
        `${runtime.padEnd(5)} ${server.variant.padEnd(10)} ` +
          `${median.rate.toFixed(0).padStart(7)} handshakes/s ` +
          `(rounds: ${results.map((r) => r.rate.toFixed(0)).join(", ")}; ` +
          `median connect→101 ${median.medianMs.toFixed(2)} ms; ` +
          `server CPU ${cpu.toFixed(0)} µs/handshake)`,
      );
    }
  } finally {
    for (const server of servers) await server.stop();
  }
}

const options = parseArgs(process.argv.slice(2));
if (options.server) {
  await runServer(options.variant);
} else {
  console.log(
    `${options.count} handshakes x ${options.rounds} rounds, ` +
      `${options.concurrency} in flight, ${options.warmup} warm-up; ` +
      `driver: ${driverName()}`,
  );
  if (options.port !== 0) {
    // A server started elsewhere (a baseline, a profiled process).
    await drive(options.port, options.warmup, options.concurrency);
    for (let i = 0; i < options.rounds; i++) {
      const round = await drive(
        options.port,
        options.count,
        options.concurrency,
      );
      console.log(
        `port ${options.port}: ${round.rate.toFixed(0)} handshakes/s ` +
          `(median connect→101 ${round.medianMs.toFixed(2)} ms)`,
      );
    }
    process.exit(0);
  }
  const runtimes = options.all ? RUNTIMES : [options.runtime];
  const variants = options.all ? VARIANTS : [options.variant];
  for (const runtime of runtimes) await measure(runtime, variants, options);
}
