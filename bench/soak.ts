/**
 * Soak: N connections × M messages against wstream's `serve()` echo on
 * Deno, Bun and Node, every echo checked byte for byte and in order, 10 %
 * of the clients killed mid-frame and 10 % stalled (not reading while
 * their echoes pile up, so that the server must hold them back through
 * TCP), with the server's memory before, during and after.
 *
 * For each runtime this script (the driver; run it with Node) starts
 * `bench/soak/server.ts` (the echo of `examples/echo.ts`, `serve()`'s
 * defaults but `maxConnections`: `conns` + 1,000) as a child process,
 * warms it up (100 clients × 10 messages), collects garbage and reads its
 * baseline RSS (`VmRSS`, `/proc/<pid>/status`), then runs the clients of
 * `bench/soak/client.ts` in this process: every connection is opened first
 * (so that all `conns` are open at once), then each healthy client sends
 * its `messages` with 4 in flight; see `bench/soak/client.ts` for the
 * message mix (text with multi-byte UTF-8 and binary, empty to 256 KiB,
 * 10 % fragmented, pings between fragments) and for what killed and
 * stalled clients do. The server's RSS is sampled every 100 ms (and its
 * `VmHWM` read at the end). Once every client is done, the driver waits
 * until the server counts no open WebSocket, lets it settle (`--settle`
 * seconds), reads RSS ("after"), collects garbage and reads it again
 * ("after GC"), with the server's open file descriptors.
 *
 * A runtime fails (exit status 1) if any message of a healthy or stalled
 * client is lost, corrupted or reordered, a client failed to connect or to
 * close cleanly, the server exited, WebSockets or file descriptors stay
 * open on the server after the clients left, or the RSS after GC exceeds
 * the server's memory did not come back. The bounds, after all clients
 * closed, a settle and a forced GC: the JS heap (`heapUsed`) at most
 * max(16 MiB, 1 KiB × conns) above its baseline, and RSS at most
 * max(64 MiB, peak − baseline) above its baseline. Why: an echo server
 * holds nothing once its clients are gone, so the JS heap must return to
 * its baseline; a closed connection kept alive (its socket, streams,
 * buffers or timers: several KiB each) would leave ≥ 1 KiB × conns.
 * RSS is not held to its baseline because the runtimes' allocators keep
 * freed pages (Deno kept ~90 % of its peak RSS after GC with its JS heap
 * back at the baseline, in runs of 500 and 10,000 connections); it must
 * not exceed the peak, i.e. it stopped growing once the clients left.
 *
 * Usage (Linux; `bun` and `deno` on `PATH`; each connection needs a file
 * descriptor on both sides, so `ulimit -n` ≥ conns + 1,000):
 *
 * ```sh
 * node bench/soak.ts                       # 10,000 × 100 on deno, bun, node
 * node bench/soak.ts --quick               # 500 × 20
 * node bench/soak.ts --runtime bun --conns 2000 --messages 50
 * ```
 *
 * Options: `--runtime deno|bun|node|all` (default `all`), `--conns N`
 * (10,000), `--messages M` (100), `--size N` (every payload N bytes; the
 * default is the mix), `--kill F` (0.1), `--stall F` (0.1), `--window N`
 * (4), `--stall-ms MS` (3,000), `--stall-bytes N` (16 MiB),
 * `--stall-concurrency N` (50), `--settle S` (5), `--seed N` (1),
 * `--quick` (500 × 20, settle 2 s), `--out path` (Markdown; the JSON goes
 * next to it; default `bench/results/<YYYY-MM-DD>-soak.md`,
 * `-soak-quick.md` with `--quick`, git-ignored), `--no-out`.
 *
 * @module
 */
import { spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import process from "node:process";
import { runSoak, soakPassed, type SoakStats } from "./soak/client.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const SERVER = new URL("./soak/server.ts", import.meta.url).pathname;
const RUNTIMES = ["deno", "bun", "node"] as const;
type Runtime = typeof RUNTIMES[number];

/** The RSS bound above the baseline: MiB, and share of the growth to the peak. */
const RSS_FLOOR_MIB = 64;
const RSS_PEAK_SHARE = 1;
/** The JS heap bound above the baseline: MiB, and KiB per connection. */
const HEAP_FLOOR_MIB = 16;
const HEAP_PER_CONN_KIB = 1;

interface Options {
  runtimes: Runtime[];
  conns: number;
  messages: number;
  size: number | "mix";
  kill: number;
  stall: number;
  window: number;
  stallMs: number;
  stallBytes: number;
  stallConcurrency: number;
  settle: number;
  seed: number;
  quick: boolean;
  out: string | null;
}

function usage(message: string): never {
  console.error(`soak: ${message}`);
  console.error(
    "usage: node bench/soak.ts [--runtime deno|bun|node|all] [--conns N] " +
      "[--messages M] [--size N] [--kill F] [--stall F] [--window N] " +
      "[--stall-ms MS] [--stall-bytes N] [--stall-concurrency N] " +
      "[--settle S] [--seed N] [--quick] [--out path | --no-out]",
  );
  process.exit(2);
}

function localDate(): string {
  const now = new Date();
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${
    pad(now.getDate())
  }`;
}

function parseOptions(args: string[]): Options {
  const quick = args.includes("--quick");
  const options: Options = {
    runtimes: [...RUNTIMES],
    conns: quick ? 500 : 10_000,
    messages: quick ? 20 : 100,
    size: "mix",
    kill: 0.1,
    stall: 0.1,
    window: 4,
    stallMs: 3000,
    stallBytes: 16 * 1024 * 1024,
    stallConcurrency: 50,
    settle: quick ? 2 : 5,
    seed: 1,
    quick,
    out: `${ROOT}bench/results/${localDate()}-soak${quick ? "-quick" : ""}.md`,
  };
  const number = (name: string, value: string | undefined): number => {
    const n = Number(value);
    if (value === undefined || value === "" || !Number.isFinite(n) || n < 0) {
      usage(`${name} needs a number`);
    }
    return n;
  };
  const fraction = (name: string, value: string | undefined): number => {
    const n = number(name, value);
    if (n > 1) usage(`${name} needs a fraction 0-1`);
    return n;
  };
  for (let i = 0; i < args.length; i++) {
    const name = args[i]!;
    const value = args[i + 1];
    switch (name) {
      case "--quick":
        continue;
      case "--no-out":
        options.out = null;
        continue;
      case "--runtime":
        if (value === "all") options.runtimes = [...RUNTIMES];
        else if (RUNTIMES.includes(value as Runtime)) {
          options.runtimes = [value as Runtime];
        } else usage("--runtime is deno, bun, node or all");
        break;
      case "--conns":
        options.conns = Math.max(1, Math.floor(number(name, value)));
        break;
      case "--messages":
        options.messages = Math.max(1, Math.floor(number(name, value)));
        break;
      case "--size":
        options.size = Math.floor(number(name, value));
        if (options.size > 16 * 1024 * 1024) usage("--size is at most 16 MiB");
        break;
      case "--kill":
        options.kill = fraction(name, value);
        break;
      case "--stall":
        options.stall = fraction(name, value);
        break;
      case "--window":
        options.window = Math.max(1, Math.floor(number(name, value)));
        break;
      case "--stall-ms":
        options.stallMs = number(name, value);
        break;
      case "--stall-bytes":
        options.stallBytes = Math.floor(number(name, value));
        break;
      case "--stall-concurrency":
        options.stallConcurrency = Math.max(1, Math.floor(number(name, value)));
        break;
      case "--settle":
        options.settle = number(name, value);
        break;
      case "--seed":
        options.seed = Math.floor(number(name, value));
        break;
      case "--out":
        if (value === undefined) usage("--out needs a path");
        options.out = value;
        break;
      default:
        usage(`unknown argument ${name}`);
    }
    i++;
  }
  if (options.kill + options.stall > 1) usage("--kill + --stall exceeds 1");
  return options;
}

// ---------------------------------------------------------------------------
// The server process
// ---------------------------------------------------------------------------

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function log(message: string): void {
  console.error(`[soak] ${message}`);
}

/** What the server answers to `stats` and `gc` (`bench/soak/server.ts`). */
interface ServerStats {
  open: number;
  opened: number;
  closed: number;
  echoed: number;
  fds: number;
  heapUsed: number;
  external: number;
}

function status(pid: number, field: "VmRSS" | "VmHWM"): number {
  const text = readFileSync(`/proc/${pid}/status`, "utf8");
  const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(text);
  if (match === null) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(match[1]) / 1024;
}

function version(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: "utf8" });
  return (result.stdout ?? "").split("\n")[0]!.trim() || "?";
}

class ServerProcess {
  readonly runtime: Runtime;
  readonly child: ChildProcess;
  exit: string | null = null;
  #lines: string[] = [];
  #waiters: ((line: string) => void)[] = [];
  #stderr = "";

  constructor(runtime: Runtime, maxConnections: number) {
    this.runtime = runtime;
    const [command, ...args] = runtime === "deno"
      ? ["deno", "run", "-A", "--v8-flags=--expose-gc", SERVER]
      : runtime === "bun"
      ? ["bun", SERVER]
      : ["node", "--expose-gc", SERVER];
    this.child = spawn(command!, args, {
      cwd: ROOT,
      env: {
        ...process.env,
        PORT: "0",
        MAX_CONNECTIONS: String(maxConnections),
        NO_COLOR: "1",
      },
      stdio: ["pipe", "pipe", "pipe"],
    });
    this.child.on("exit", (code, signal) => {
      this.exit = signal ?? `exit status ${code}`;
    });
    let buffered = "";
    this.child.stdout!.on("data", (chunk) => {
      buffered += String(chunk);
      let newline;
      while ((newline = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        const waiter = this.#waiters.shift();
        if (waiter !== undefined) waiter(line);
        else this.#lines.push(line);
      }
    });
    this.child.stderr!.on("data", (chunk) => {
      this.#stderr = (this.#stderr + String(chunk)).slice(-4000);
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  get stderr(): string {
    return this.#stderr.trim();
  }

  #line(timeoutMs: number): Promise<string> {
    const line = this.#lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const index = this.#waiters.indexOf(waiter);
        if (index >= 0) this.#waiters.splice(index, 1);
        reject(
          new Error(
            `the ${this.runtime} server did not answer (${
              this.exit ?? "running"
            }): ${this.stderr}`,
          ),
        );
      }, timeoutMs);
      const waiter = (line: string) => {
        clearTimeout(timer);
        resolve(line);
      };
      this.#waiters.push(waiter);
    });
  }

  async port(): Promise<number> {
    const line = await this.#line(30_000);
    const match = /^listening on (\d+)/.exec(line);
    if (match === null) throw new Error(`unexpected server output: ${line}`);
    return Number(match[1]);
  }

  async ask(command: "stats" | "gc"): Promise<ServerStats> {
    if (this.exit !== null) {
      throw new Error(`the ${this.runtime} server exited (${this.exit})`);
    }
    this.child.stdin!.write(`${command}\n`);
    return JSON.parse(await this.#line(30_000)) as ServerStats;
  }

  async stop(): Promise<void> {
    if (this.exit !== null) return;
    const exited = new Promise((resolve) => this.child.once("exit", resolve));
    this.child.stdin!.write("exit\n");
    await Promise.race([exited, sleep(2000)]);
    if (this.exit === null) {
      this.child.kill("SIGKILL");
      await exited;
    }
  }
}

// ---------------------------------------------------------------------------
// One runtime
// ---------------------------------------------------------------------------

/** What one runtime's soak measured. */
interface RuntimeResult {
  runtime: Runtime;
  version: string;
  passed: boolean;
  /** Why it failed (empty when it passed). */
  failures: string[];
  client: SoakStats;
  server: {
    /** Messages the server echoed (its own count; killed clients' included). */
    echoed: number;
    opened: number;
    /** WebSockets still open once the clients were done, then after waiting. */
    openAtEnd: number;
    openAfter: number;
    /** Seconds from the last client done to no WebSocket open. */
    drainSeconds: number;
    fdsBaseline: number;
    fdsAfter: number;
  };
  rss: {
    /** MiB: after warm-up and GC; highest sample; VmHWM; after the settle; after GC. */
    baseline: number;
    peak: number;
    hwm: number;
    after: number;
    afterGc: number;
    /** The bound `afterGc` must stay under. */
    bound: number;
    samples: number;
  };
  /** The server's JS heap (`heapUsed`), MiB: after warm-up and GC; after GC at the end. */
  heap: { baseline: number; afterGc: number; bound: number };
  elapsedSeconds: number;
}

async function soakRuntime(
  runtime: Runtime,
  options: Options,
): Promise<RuntimeResult> {
  const failures: string[] = [];
  const started = performance.now();
  const server = new ServerProcess(runtime, options.conns + 1000);
  try {
    const port = await server.port();
    log(`${runtime}: server pid ${server.pid} on port ${port}; warming up`);
    const warm = await runSoak({
      port,
      conns: 100,
      messages: 10,
      kill: 0,
      stall: 0,
      seed: options.seed + 1000,
    });
    if (!soakPassed(warm)) {
      throw new Error(`warm-up failed: ${warm.errors.join("; ")}`);
    }
    await waitClosed(server, 10);
    await sleep(500);
    const before = await server.ask("gc");
    await sleep(500);
    const baseline = status(server.pid, "VmRSS");
    log(
      `${runtime}: baseline ${baseline.toFixed(1)} MiB, ${before.fds} fds; ` +
        `${options.conns} clients × ${options.messages} messages`,
    );
    let peak = baseline;
    let samples = 0;
    const sampler = setInterval(() => {
      try {
        peak = Math.max(peak, status(server.pid, "VmRSS"));
        samples++;
      } catch {
        // The server exited: reported below.
      }
    }, 100);
    let client: SoakStats;
    const soakStarted = performance.now();
    try {
      client = await runSoak({
        port,
        conns: options.conns,
        messages: options.messages,
        kill: options.kill,
        stall: options.stall,
        window: options.window,
        stallMs: options.stallMs,
        stallBytes: options.stallBytes,
        stallConcurrency: options.stallConcurrency,
        sizes: options.size,
        seed: options.seed,
        onPhase: (phase, stats) => {
          if (phase === "open") {
            log(
              `${runtime}: ${stats.opened} open in ${
                (stats.openMs / 1000).toFixed(1)
              } s (${stats.failedOpen} failed)`,
            );
          }
        },
      });
    } finally {
      clearInterval(sampler);
    }
    log(
      `${runtime}: clients done in ${
        ((performance.now() - soakStarted) / 1000).toFixed(1)
      } s: sent ${client.sent}, echoed ${client.echoed}, lost ${client.lost}`,
    );
    if (server.exit !== null) {
      throw new Error(`the server exited during the soak (${server.exit})`);
    }
    const hwm = status(server.pid, "VmHWM");
    const end = await server.ask("stats");
    const doneAt = performance.now();
    const drained = await waitClosed(server, 30);
    const drainSeconds = (performance.now() - doneAt) / 1000;
    await sleep(options.settle * 1000);
    const after = status(server.pid, "VmRSS");
    const last = await server.ask("gc");
    await sleep(500);
    const afterGc = status(server.pid, "VmRSS");
    const bound = baseline +
      Math.max(RSS_FLOOR_MIB, RSS_PEAK_SHARE * (peak - baseline));
    if (!soakPassed(client)) {
      failures.push(
        `clients: lost ${client.lost}, corrupted ${client.corrupted}, ` +
          `reordered ${client.reordered}, failed ${client.failed}, ` +
          `failed to open ${client.failedOpen}, closed cleanly ` +
          `${client.closedClean} of ${client.healthy + client.stalled}` +
          (client.errors.length > 0 ? `: ${client.errors.join("; ")}` : ""),
      );
    }
    if (drained.open !== 0) {
      failures.push(`${drained.open} WebSockets still open on the server`);
    }
    if (last.fds > before.fds + 5) {
      failures.push(
        `server file descriptors: ${last.fds} after, ${before.fds} before`,
      );
    }
    const heapBound = Math.max(
      HEAP_FLOOR_MIB,
      (HEAP_PER_CONN_KIB * options.conns) / 1024,
    );
    const heapGrowth = (last.heapUsed - before.heapUsed) / 1048576;
    if (heapGrowth > heapBound) {
      failures.push(
        `JS heap after GC ${heapGrowth.toFixed(1)} MiB above its baseline ` +
          `> bound ${heapBound.toFixed(1)} MiB`,
      );
    }
    if (afterGc > bound) {
      failures.push(
        `RSS after GC ${afterGc.toFixed(1)} MiB > bound ${
          bound.toFixed(1)
        } MiB`,
      );
    }
    return {
      runtime,
      version: runtimeVersion(runtime),
      passed: failures.length === 0,
      failures,
      client,
      server: {
        echoed: last.echoed - before.echoed,
        opened: last.opened - before.opened,
        openAtEnd: end.open,
        openAfter: drained.open,
        drainSeconds,
        fdsBaseline: before.fds,
        fdsAfter: last.fds,
      },
      rss: { baseline, peak, hwm, after, afterGc, bound, samples },
      heap: {
        baseline: before.heapUsed / 1048576,
        afterGc: last.heapUsed / 1048576,
        bound: before.heapUsed / 1048576 + heapBound,
      },
      elapsedSeconds: (performance.now() - started) / 1000,
    };
  } finally {
    await server.stop();
  }
}

/** Waits (at most `seconds`) until the server has no WebSocket open. */
async function waitClosed(
  server: ServerProcess,
  seconds: number,
): Promise<ServerStats> {
  const deadline = performance.now() + seconds * 1000;
  while (true) {
    const stats = await server.ask("stats");
    if (stats.open === 0 || performance.now() > deadline) return stats;
    await sleep(100);
  }
}

function runtimeVersion(runtime: Runtime): string {
  switch (runtime) {
    case "deno":
      return version("deno", ["--version"]);
    case "bun":
      return `bun ${version("bun", ["--version"])}`;
    case "node":
      return `node ${version("node", ["--version"])}`;
  }
}

// ---------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------

const int = (n: number) => Math.round(n).toLocaleString("en-US");
const mib = (n: number) => n.toFixed(1);

function report(results: RuntimeResult[], options: Options): string {
  const command = [
    "node bench/soak.ts",
    ...(options.quick ? ["--quick"] : []),
    ...(options.runtimes.length === 1
      ? [`--runtime ${options.runtimes[0]}`]
      : []),
  ].join(" ");
  const lines = [
    `# Soak, ${localDate()}`,
    "",
    `${int(options.conns)} connections (all open at once) × ${
      int(options.messages)
    } messages against wstream's \`serve()\` echo ` +
    `(\`bench/soak/server.ts\`), per runtime: \`${command}\`. ` +
    `${Math.round(options.kill * 100)} % of the clients killed mid-frame ` +
    `(half of them with a TCP reset), ${
      Math.round(options.stall * 100)
    } % stalled (not reading for ${
      options.stallMs / 1000
    } s while sending up to ${
      options.stallBytes / 1048576
    } MiB, at most ${options.stallConcurrency} at once), ` +
    `${options.window} messages in flight per client, ` +
    (options.size === "mix"
      ? "the size mix of `bench/soak/client.ts` (empty to 256 KiB, " +
        "text with multi-byte UTF-8 and binary, 10 % fragmented)."
      : `${options.size}-byte payloads.`) +
    ` Every echo checked byte for byte and in order. ${os.cpus().length} ` +
    `CPUs (${os.cpus()[0]?.model ?? "?"}), ${
      Math.round(os.totalmem() / 2 ** 30)
    } GiB; the driver runs on ${process.release.name} ${process.version}.`,
    "",
    "| runtime | connections | sent | echoed | lost / corrupted / reordered " +
    "| killed (abandoned in flight) | stalled (held back by TCP) " +
    "| server RSS MiB: baseline / peak / after / after GC (bound) " +
    "| JS heap MiB: baseline / after GC | elapsed s | result |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
  ];
  for (const r of results) {
    const c = r.client;
    lines.push(
      `| ${r.version} | ${int(c.opened)} | ${int(c.sent)} | ${
        int(c.echoed)
      } | ${c.lost} / ${c.corrupted} / ${c.reordered} | ${int(c.killed)} (${
        int(c.abandoned)
      }) | ${int(c.stalled)} (${int(c.heldBack)}) | ${mib(r.rss.baseline)} / ${
        mib(r.rss.peak)
      } / ${mib(r.rss.after)} / ${mib(r.rss.afterGc)} (≤ ${
        mib(r.rss.bound)
      }) | ${mib(r.heap.baseline)} / ${mib(r.heap.afterGc)} | ${
        r.elapsedSeconds.toFixed(1)
      } | ${r.passed ? "pass" : `**FAIL**: ${r.failures.join("; ")}`} |`,
    );
  }
  lines.push(
    "",
    "- sent / echoed: complete messages; a killed client's messages in " +
      "flight when it was killed are abandoned (sent, never echoed to it), " +
      "not lost. Lost, corrupted and reordered count healthy and stalled " +
      "clients only and must be 0.",
    "- held back by TCP: stalled clients whose writes stayed blocked (the " +
      "server had stopped reading them) before their stall ended.",
    `- Bounds after all clients closed, a ${options.settle} s settle and a ` +
      `forced GC: JS heap ≤ baseline + max(${HEAP_FLOOR_MIB} MiB, ` +
      `${HEAP_PER_CONN_KIB} KiB × connections); RSS ≤ baseline + ` +
      `max(${RSS_FLOOR_MIB} MiB, peak − baseline) (see \`bench/soak.ts\`).`,
    "",
    "Details per runtime:",
    "",
  );
  for (const r of results) {
    const c = r.client;
    lines.push(
      `- ${r.version}: ${int(c.healthy)} healthy, ${int(c.killed)} killed ` +
        `(${int(c.resets)} by reset), ${int(c.stalled)} stalled; ` +
        `${(c.bytesSent / 1e9).toFixed(2)} GB sent; ${int(c.fragmented)} ` +
        `fragmented, ${int(c.large)} over 64 KiB, ${int(c.multibyte)} ` +
        `multi-byte text; pings ${int(c.pings)}, pongs ${int(c.pongs)}; ` +
        `stalled in flight at the stall's end: max ${
          mib(c.stallInFlightMax / 1048576)
        } MiB, mean ${
          mib(c.stallInFlightTotal / Math.max(1, c.stalled) / 1048576)
        } MiB; clean closes ${int(c.closedClean)}; opened in ${
          (c.openMs / 1000).toFixed(1)
        } s, clients done in ${(c.totalMs / 1000).toFixed(1)} s; ` +
        `server echoed ${int(r.server.echoed)}, open WebSockets at the ` +
        `end ${r.server.openAtEnd} → ${r.server.openAfter} after ${
          r.server.drainSeconds.toFixed(1)
        } s; server fds ${r.server.fdsBaseline} → ${r.server.fdsAfter}; ` +
        `VmHWM ${mib(r.rss.hwm)} MiB; ${r.rss.samples} RSS samples.`,
    );
  }
  return lines.join("\n") + "\n";
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const limits = readFileSync("/proc/self/limits", "utf8");
  const match = /Max open files\s+(\d+|unlimited)/.exec(limits);
  const limit = match?.[1] === "unlimited" ? Infinity : Number(match?.[1]);
  if (limit < options.conns + 500) {
    usage(`ulimit -n is ${limit}: raise it to ${options.conns + 1000}`);
  }
  const results: RuntimeResult[] = [];
  for (const runtime of options.runtimes) {
    try {
      const result = await soakRuntime(runtime, options);
      results.push(result);
      log(
        `${runtime}: ${result.passed ? "pass" : "FAIL"} ` +
          `(RSS ${mib(result.rss.baseline)} → ${mib(result.rss.peak)} → ${
            mib(result.rss.afterGc)
          } MiB)` +
          (result.passed ? "" : `: ${result.failures.join("; ")}`),
      );
    } catch (error) {
      log(`${runtime}: FAIL: ${(error as Error).message}`);
      results.push({
        runtime,
        version: runtimeVersion(runtime),
        passed: false,
        failures: [(error as Error).message],
        client: (await import("./soak/client.ts")).emptyStats(options.conns),
        server: {
          echoed: 0,
          opened: 0,
          openAtEnd: -1,
          openAfter: -1,
          drainSeconds: 0,
          fdsBaseline: -1,
          fdsAfter: -1,
        },
        rss: {
          baseline: 0,
          peak: 0,
          hwm: 0,
          after: 0,
          afterGc: 0,
          bound: 0,
          samples: 0,
        },
        heap: { baseline: 0, afterGc: 0, bound: 0 },
        elapsedSeconds: 0,
      });
    }
  }
  const markdown = report(results, options);
  if (options.out !== null) {
    const dir = options.out.slice(0, options.out.lastIndexOf("/"));
    if (dir !== "") mkdirSync(dir, { recursive: true });
    const json = options.out.replace(/\.md$/, "") + ".json";
    writeFileSync(options.out, markdown);
    writeFileSync(
      json,
      JSON.stringify({ date: localDate(), options, results }, null, 2) + "\n",
    );
    // The repository's `deno fmt --check` covers bench/results/.
    spawnSync("deno", ["fmt", "-q", options.out, json], { stdio: "ignore" });
    log(`wrote ${options.out} and ${json}`);
  }
  console.log(markdown);
  process.exit(results.every((r) => r.passed) ? 0 : 1);
}

await main();
