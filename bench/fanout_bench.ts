/**
 * Fan-out benchmark: 1 publisher → 1,000 subscribed connections × 32-byte
 * text messages. Reports deliveries per second (messages × subscribers
 * over the wall time from the first byte received to the last) and the
 * server's CPU time per delivery, for wstream's `Hub` on Deno, Bun and
 * Node (wstream's `serve()`), on `Bun.serve` (Bun's native topics
 * underneath), against Bun's own `server.publish` and npm `ws` looping over
 * `wss.clients` on Node.
 *
 *   deno run -A bench/fanout_bench.ts [--quick] [--rounds N] [--conns N]
 *                                     [--messages M] [--only name,name]
 *                                     [--out [path]] [--json]
 *
 * The subscribers are one Node process of raw TCP connections that only
 * read and count bytes (`bench/load/fanout_subscribers.mjs`); the
 * publisher is `bench/servers/fanout_server.ts`, publishing 16 messages
 * per event-loop turn.
 *
 * `--rounds N` (default 3; 1 with `--quick`) runs every server once per
 * round, the servers interleaved; each row of the report is the median
 * [min–max] over the rounds, and the ratios of issue 9's targets are the
 * median [min–max] of the per-round ratios. The Markdown report goes to
 * stdout; `--out` also writes it, with the raw results as JSON next to it:
 * `--out` alone writes `bench/results/<YYYY-MM-DD>-fanout.json` and `.md`
 * (`-fanout-quick.*` with `--quick`, git-ignored, so that a quick run never
 * overwrites the day's results), `--out path` writes `path` (with `.json`)
 * and `path` with `.md`. `bench/charts.ts` draws `fanout.svg` from the
 * newest `<YYYY-MM-DD>-fanout.json`. `--json` prints the JSON on one line.
 *
 * @module
 */
import { spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { createInterface } from "node:readline";
import process from "node:process";

const ROOT = new URL("../", import.meta.url).pathname;
const SERVER = new URL("./servers/fanout_server.ts", import.meta.url).pathname;
const SUBSCRIBERS = new URL("./load/fanout_subscribers.mjs", import.meta.url)
  .pathname;
/** The payload of every message (`bench/servers/fanout_server.ts`). */
const MESSAGE_BYTES = 32;
/** Messages published per event-loop turn (`fanout_server.ts`). */
const BATCH = 16;

/** A server of the benchmark: its id in the JSON, its row in the report. */
export interface Target {
  id: string;
  label: string;
  command: string[];
}

export const TARGETS: readonly Target[] = [
  {
    id: "wstream-deno",
    label: "wstream Deno `serve()` + `Hub`",
    command: ["deno", "run", "-A", SERVER, "wstream"],
  },
  {
    id: "wstream-bun",
    label: "wstream Bun `serve()` + `Hub`",
    command: ["bun", SERVER, "wstream"],
  },
  {
    id: "wstream-bun-serve",
    label: "wstream `Bun.serve` + `Hub` (Bun's topics)",
    command: ["bun", SERVER, "wstream-bun"],
  },
  {
    id: "bun-native",
    label: "Bun native `server.publish`",
    command: ["bun", SERVER, "bun-native"],
  },
  {
    id: "wstream-node",
    label: "wstream Node `serve()` + `Hub`",
    command: ["node", SERVER, "wstream"],
  },
  {
    id: "ws-node",
    label: "`ws` loop over `wss.clients` (Node)",
    command: ["node", SERVER, "ws"],
  },
];

/** One server in one round. */
export interface Sample {
  round: number;
  server: string;
  ok: boolean;
  /** Deliveries (messages × subscribers) per second of wall time. */
  deliveriesPerSec?: number;
  /** Server CPU (user + system) µs per delivery; `null`: not recorded. */
  serverCpuUsPerDelivery?: number | null;
  /** Subscriber process CPU µs per delivery; `null`: not recorded. */
  clientCpuUsPerDelivery?: number | null;
  /** Wall time from the first byte received to the last; `null`: not recorded. */
  ms?: number | null;
  error?: string;
}

export interface Spread {
  median: number;
  /** `null` where only the median was recorded. */
  min: number | null;
  max: number | null;
}

/** The results file `--out` writes (`<YYYY-MM-DD>-fanout.json`). */
export interface FanoutResults {
  environment: {
    command: string;
    /** ISO time of the run (only the day when transcribed). */
    date: string;
    deno: string;
    bun: string;
    node: string;
    ws: string;
    cpuModel: string;
    nproc: number;
    kernel: string | null;
  };
  options: {
    quick: boolean;
    rounds: number;
    conns: number;
    messages: number;
    messageBytes: number;
    batch: number;
    /** The server ids, in the order they ran within each round. */
    servers: string[];
  };
  samples: Sample[];
  /** Per server id: its label and the median [min–max] over the rounds. */
  summary: Record<
    string,
    {
      label: string;
      deliveriesPerSec: Spread | null;
      serverCpuUsPerDelivery: Spread | null;
    }
  >;
  /** Set when the file was transcribed from an older Markdown report. */
  transcribedFrom?: { file: string; note: string };
}

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

interface Options {
  quick: boolean;
  rounds: number;
  conns: number;
  messages: number;
  only: string[] | null;
  /** The JSON path (the Markdown goes next to it), or `null`: stdout only. */
  out: string | null;
  json: boolean;
}

function usage(message: string): never {
  console.error(`fanout_bench: ${message}`);
  console.error(
    "usage: deno run -A bench/fanout_bench.ts [--quick] [--rounds N] " +
      "[--conns N] [--messages M] [--only name,name] [--out [path]] [--json]",
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
    quick,
    rounds: quick ? 1 : 3,
    conns: 1000,
    messages: quick ? 300 : 3000,
    only: null,
    out: null,
    json: false,
  };
  const count = (name: string, value: string | undefined): number => {
    const n = Number(value);
    if (value === undefined || !Number.isInteger(n) || n < 1) {
      usage(`${name} needs a positive integer`);
    }
    return n;
  };
  for (let i = 0; i < args.length; i++) {
    const name = args[i]!;
    const value = args[i + 1];
    switch (name) {
      case "--quick":
        break;
      case "--json":
        options.json = true;
        break;
      case "--rounds":
        options.rounds = count(name, value);
        i++;
        break;
      case "--conns":
        options.conns = count(name, value);
        i++;
        break;
      case "--messages":
        options.messages = count(name, value);
        i++;
        break;
      case "--only":
        if (value === undefined) usage("--only needs names");
        options.only = value.split(",");
        i++;
        break;
      case "--out":
        // `--out` alone: the dated file in bench/results/.
        if (value === undefined || value.startsWith("--")) {
          options.out = `${ROOT}bench/results/${localDate()}-fanout${
            quick ? "-quick" : ""
          }.json`;
        } else {
          options.out = value.replace(/\.(json|md)$/, "") + ".json";
          i++;
        }
        break;
      default:
        usage(`unknown argument ${name}`);
    }
  }
  return options;
}

// ---------------------------------------------------------------------------
// Running one server
// ---------------------------------------------------------------------------

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

async function run(
  command: string[],
  conns: number,
  messages: number,
): Promise<
  Required<Pick<Sample, "deliveriesPerSec" | "ms">> & {
    serverCpuUsPerDelivery: number;
    clientCpuUsPerDelivery: number;
  }
> {
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
    // Both exit on EXIT; the kill is for a child that hangs. Wait for it, so
    // that the next server of the round starts on a quiet machine.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    subscribers?.kill();
    server.kill();
  }
}

// ---------------------------------------------------------------------------
// Results and report
// ---------------------------------------------------------------------------

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? sorted[middle]!
    : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function spreadOf(values: number[]): Spread | null {
  if (values.length === 0) return null;
  return {
    median: median(values),
    min: Math.min(...values),
    max: Math.max(...values),
  };
}

/** The per-server median [min–max] over the successful rounds. */
export function summarize(
  samples: Sample[],
  targets: readonly Target[],
): FanoutResults["summary"] {
  const summary: FanoutResults["summary"] = {};
  for (const target of targets) {
    const ok = samples.filter((s) => s.server === target.id && s.ok);
    summary[target.id] = {
      label: target.label,
      deliveriesPerSec: spreadOf(
        ok.flatMap((s) => s.deliveriesPerSec ?? []),
      ),
      serverCpuUsPerDelivery: spreadOf(
        ok.flatMap((s) => s.serverCpuUsPerDelivery ?? []),
      ),
    };
  }
  return summary;
}

/** Per-round ratios `server / other` of deliveries per second. */
export function ratios(
  samples: Sample[],
  server: string,
  other: string,
): number[] {
  const out: number[] = [];
  for (const a of samples) {
    if (a.server !== server || !a.ok || a.deliveriesPerSec === undefined) {
      continue;
    }
    const b = samples.find((x) =>
      x.server === other && x.round === a.round && x.ok &&
      x.deliveriesPerSec !== undefined
    );
    if (b !== undefined) out.push(a.deliveriesPerSec / b.deliveriesPerSec!);
  }
  return out;
}

const int = (v: number) => Math.round(v).toLocaleString("en-US");
const kilo = (v: number) => `${int(v / 1000)}k`;
/** Three significant digits: 13.1, 1.54, 0.78. */
const cpu = (v: number) => v >= 10 ? v.toFixed(1) : v.toFixed(2);

function spreadText(s: Spread | null, format: (v: number) => string): string {
  if (s === null) return "–";
  if (s.min === null || s.max === null || s.min === s.max) {
    return format(s.median);
  }
  return `${format(s.median)} [${format(s.min)}–${format(s.max)}]`;
}

/** Issue 9's targets: ratios of deliveries per second, per round. */
const ISSUE_TARGETS = [
  {
    server: "wstream-node",
    other: "ws-node",
    text: "wstream on Node ÷ `ws` loop",
    goal: 3,
    digits: 1,
  },
  {
    server: "wstream-bun-serve",
    other: "bun-native",
    text: "wstream under `Bun.serve` ÷ Bun native publish",
    goal: 0.5,
    digits: 2,
    also: { server: "wstream-bun", text: "wstream's own `serve()` on Bun" },
  },
] as const;

/** The Markdown report, in the style of `2026-12-02-fanout.md`. */
export function report(results: FanoutResults, jsonName: string): string {
  const { environment: env, options, samples, summary } = results;
  const runs = options.rounds;
  const targets = options.servers.map((id) => {
    const known = TARGETS.find((t) => t.id === id);
    return { id, label: summary[id]?.label ?? known?.label ?? id };
  });
  const out: string[] = [];
  out.push(`# Fan-out benchmark, ${env.date.slice(0, 10)}`, "");
  out.push(
    `1 publisher → ${int(options.conns)} subscribed connections × ` +
      `${int(options.messages)} messages of ${options.messageBytes} B text ` +
      `(\`${env.command}\`). The subscribers are one Node process of raw TCP ` +
      "connections that only read and count " +
      "(`bench/load/fanout_subscribers.mjs`); the publisher is " +
      `\`bench/servers/fanout_server.ts\` (${options.batch} messages per ` +
      `event-loop turn). Deno ${env.deno}, Bun ${env.bun}, Node ${env.node}, ` +
      `\`ws\` ${env.ws}; ${env.cpuModel}, ${env.nproc} CPUs` +
      (env.kernel === null ? "" : `, ${env.kernel}`) +
      `; ${runs} round${runs === 1 ? "" : "s"}, the servers interleaved in ` +
      "each (not pinned to cores). Cells: median [min–max] over the rounds. " +
      `Raw results: \`${jsonName}\`.`,
    "",
  );
  if (results.transcribedFrom !== undefined) {
    out.push(`**${results.transcribedFrom.note}**`, "");
  }
  const header = [
    "server",
    "deliveries/s: median [min–max]",
    `deliveries/s: ${
      runs === 1
        ? "run 1"
        : `run ${Array.from({ length: runs }, (_, i) => i + 1).join(" / ")}`
    }`,
    "server CPU µs/delivery: median [min–max]",
  ];
  out.push(
    `| ${header.join(" | ")} |`,
    "| --- | ---: | ---: | ---: |",
  );
  for (const target of targets) {
    const perRound = Array.from({ length: runs }, (_, i) => {
      const s = samples.find((x) =>
        x.server === target.id && x.round === i + 1
      );
      return s === undefined
        ? "–"
        : s.ok && s.deliveriesPerSec !== undefined
        ? int(s.deliveriesPerSec)
        : "failed";
    });
    const sum = summary[target.id];
    out.push(
      `| ${target.label} | ${
        spreadText(sum?.deliveriesPerSec ?? null, kilo)
      } | ${perRound.join(" / ")} | ${
        spreadText(sum?.serverCpuUsPerDelivery ?? null, cpu)
      } |`,
    );
  }
  const failures = samples.filter((s) => !s.ok);
  if (failures.length > 0) {
    out.push("", "Failed runs:", "");
    for (const f of failures) {
      out.push(`- round ${f.round}, ${f.server}: ${f.error ?? "failed"}`);
    }
  }
  const lines: string[] = [];
  for (const goal of ISSUE_TARGETS) {
    const values = ratios(samples, goal.server, goal.other);
    if (values.length === 0) continue;
    const format = (v: number) => `${v.toFixed(goal.digits)}×`;
    const s = spreadOf(values)!;
    let line = `- ${goal.text}: **${
      spreadText(s, format)
    }** (target ≥ ${goal.goal}×: ${
      s.median >= goal.goal ? "met" : "**not met**"
    })`;
    if ("also" in goal) {
      const also = spreadOf(ratios(samples, goal.also.server, goal.other));
      if (also !== null) {
        line += `; ${goal.also.text}: ${spreadText(also, format)}`;
      }
    }
    lines.push(`${line}.`);
  }
  if (lines.length > 0) {
    out.push(
      "",
      "Targets (issue 9), per-round ratios of deliveries/s, median [min–max]:",
      "",
      ...lines,
    );
  }
  return out.join("\n") + "\n";
}

// ---------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------

function version(command: string, args: string[] = ["--version"]): string {
  const out = spawnSync(command, args, { encoding: "utf8" });
  if (out.error !== undefined || out.status !== 0) return "unavailable";
  return out.stdout.trim();
}

function environment(): FanoutResults["environment"] {
  let ws = "not installed";
  try {
    ws = (JSON.parse(
      readFileSync(`${ROOT}tests/interop/node_modules/ws/package.json`, "utf8"),
    ) as { version: string }).version;
  } catch {
    // Reported as not installed.
  }
  return {
    command: [
      "deno",
      "run",
      "-A",
      "bench/fanout_bench.ts",
      ...process.argv
        .slice(2),
    ].join(" "),
    date: new Date().toISOString(),
    deno: version("deno").split(/\s+/)[1] ?? "unavailable",
    bun: version("bun"),
    node: version("node").replace(/^v/, ""),
    ws,
    cpuModel: os.cpus()[0]?.model.trim() ?? "unknown",
    nproc: os.availableParallelism(),
    kernel: `${os.type()} ${os.release()}`,
  };
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const targets = TARGETS.filter((target) =>
    options.only === null ||
    options.only.some((name) =>
      target.id === name || target.label.includes(name)
    )
  );
  if (targets.length === 0) usage("--only matched no server");
  const env = environment();
  const log = (line: string) => console.error(`fanout_bench: ${line}`);
  log(
    `${options.conns} subscribers × ${options.messages} messages of ` +
      `${MESSAGE_BYTES} B, ${options.rounds} round(s)`,
  );
  const samples: Sample[] = [];
  for (let round = 1; round <= options.rounds; round++) {
    for (const target of targets) {
      try {
        const result = await run(
          target.command,
          options.conns,
          options.messages,
        );
        samples.push({ round, server: target.id, ok: true, ...result });
        log(
          `round ${round}/${options.rounds} ${target.id}: ` +
            `${int(result.deliveriesPerSec)} deliveries/s, server ` +
            `${result.serverCpuUsPerDelivery.toFixed(3)} µs/delivery`,
        );
      } catch (error) {
        const message = (error as Error).message;
        samples.push({ round, server: target.id, ok: false, error: message });
        log(
          `round ${round}/${options.rounds} ${target.id}: failed: ${message}`,
        );
      }
    }
  }
  const results: FanoutResults = {
    environment: env,
    options: {
      quick: options.quick,
      rounds: options.rounds,
      conns: options.conns,
      messages: options.messages,
      messageBytes: MESSAGE_BYTES,
      batch: BATCH,
      servers: targets.map((t) => t.id),
    },
    samples,
    summary: summarize(samples, targets),
  };
  const jsonName = options.out === null
    ? "(not written: no --out)"
    : options.out.slice(options.out.lastIndexOf("/") + 1);
  const markdown = report(results, jsonName);
  if (options.out !== null) {
    const mdPath = options.out.replace(/\.json$/, ".md");
    const dir = options.out.slice(0, options.out.lastIndexOf("/"));
    if (dir !== "") mkdirSync(dir, { recursive: true });
    writeFileSync(mdPath, markdown);
    writeFileSync(options.out, JSON.stringify(results, null, 2) + "\n");
    // The repository's `deno fmt --check` covers bench/results/.
    spawnSync("deno", ["fmt", "-q", mdPath, options.out], {
      stdio: "ignore",
    });
    console.log(readFileSync(mdPath, "utf8"));
    log(`wrote ${mdPath} and ${options.out}`);
  } else {
    console.log(markdown);
  }
  if (options.json) console.log(JSON.stringify(results));
}

if (import.meta.main) {
  await main();
  process.exit(0);
}
