/**
 * End-to-end echo benchmark: wstream's echo servers on Deno, Bun and Node
 * against the native servers of the same machine, in the same run: Deno's
 * `Deno.upgradeWebSocket` (`deno-native`, `bench/servers/deno_native.ts`),
 * Bun's `Bun.serve` websocket (`bun-native`, `bench/servers/bun_native.ts`)
 * and npm `ws` on Node (`ws-node`, `bench/servers/ws_node.ts`).
 *
 * wstream's servers, each API in each placement:
 *
 * - streams API (`for await` over `readable`, `writer.write()`):
 *   `wstream-{deno,bun,node}` (`serve()`, `examples/echo.ts`),
 *   `wstream-denoserve` and `wstream-bunserve` (under `Deno.serve` and
 *   `Bun.serve`: `bench/servers/wstream_echo.ts` with `PLACEMENT`);
 * - hooks API (`upgrade(request, { hooks })`, `ws.send()` in the `message`
 *   hook): `wstream-hooks-{deno,bun,node}`, `wstream-hooks-denoserve`,
 *   `wstream-hooks-bunserve` (`bench/servers/wstream_hooks.ts`).
 *
 * The report ends its Method section with the performance issue's targets
 * (echo msg/s and µs CPU/msg against the native server, 1 MiB echo,
 * p99 / p99.9 at 10,000 msg/s, handshakes/s, idle KiB per connection):
 * each one's measured ratio or figure, median [min–max], met or not.
 *
 * Every server runs pinned to CPU 0 (`taskset -c 0`), the load client
 * (`bench/_load_client.ts`, a C epoll client) on CPU 1. The servers are
 * interleaved (A, B, C, …, A, B, C, …) over `--rounds` rounds, so that
 * changes of the machine's load hit all of them alike; the report gives the
 * median over the rounds with the min–max, and ratios wstream / reference
 * computed within each round (reference: the native server of the same
 * runtime; on Node, `ws`).
 *
 * Scenarios:
 *
 * - `echo`: 64 connections × 16 messages in flight × 32 B (text): msg/s.
 * - `rate`: 16 connections at a fixed total rate (`--rate`, default 10,000
 *   msg/s: one every server here sustains with CPU to spare; at 20,000 the
 *   slower servers ran near saturation and the tails measured queueing) of
 *   32 B text messages: p50 / p99 / p99.9 round-trip µs, from each
 *   message's scheduled send time.
 * - `sat50`, `sat90`: the same open loop of 32 B text messages at 50% and
 *   90% of the server's own saturation rate, over 64 connections. The
 *   saturation rate is that server's `echo` msg/s in the same round
 *   (closed loop, 64 connections × 16 in flight, measured just before in
 *   the same process): p50 / p99 / p99.9 µs. They need `echo` in the run.
 * - `bulk`: 4 connections × 1 MiB binary messages: MB/s (10^6 B).
 * - `handshake`: 16 concurrent loops of connect + handshake + one 32 B
 *   echo + close (`wsload --echo-once`): handshakes/s.
 * - `idle`: idle memory per connection at 5,000 connections (KiB RSS), by
 *   `bench/idle_memory.ts --json` in a subprocess (its own server process,
 *   the same server code).
 *
 * - `chat`: the JSON chat workload, compressed and not: 64 connections × 4
 *   in flight of `wsload --payloads chat` messages (1,000 generated
 *   chat/event JSON messages of 100-2,000 bytes). The uncompressed servers
 *   above run it plain; the `-deflate` servers (wstream on Deno, Bun and
 *   Node with `compression: true`, `bench/servers/wstream_echo.ts`; Bun
 *   native and `ws` with `perMessageDeflate: true`; `ws` with wstream's
 *   window settings) run only `chat` and `chat-idle`, with the client
 *   offering permessage-deflate (the run fails if a server does not agree
 *   or an inflated echo differs). Rows: msg/s, server CPU µs per message,
 *   wire bytes per message each way, and issue 8's target ratios.
 * - `chat-idle`: KiB per idle connection after one compressed message each
 *   way, at `--chat-idle-count` (default 1,000) connections
 *   (`bench/idle_memory.ts --deflate`), for the `-deflate` servers.
 *
 * The server's CPU time (user + system of the whole process, all threads,
 * from `/proc/<pid>/stat`) is sampled every 250 ms while the load client
 * runs; the median rate over the samples is the server's CPU share under
 * load, and share / throughput its CPU µs per message (per handshake).
 *
 * Usage (Linux; `taskset` and a C compiler for the load client):
 *
 * ```sh
 * deno run -A bench/echo_suite.ts                  # 3 rounds, 5 s per scenario: ~43 min
 * deno run -A bench/echo_suite.ts --quick          # 1 round, 2 s, idle at 1,000: ~7 min
 * deno run -A bench/echo_suite.ts --scenarios chat,chat-idle   # compression only
 * deno run -A bench/echo_suite.ts --servers wstream-deno,deno-native \
 *   --scenarios echo,rate --rounds 5 --out /tmp/echo.md
 * ```
 *
 * Options: `--rounds N`, `--seconds S`, `--warmup S`, `--rate N` (msg/s,
 * all connections together), `--idle-count N`, `--chat-idle-count N`,
 * `--note text` (a bold line at the top of the report), `--quiet-wait S` (before
 * each server, wait up to S seconds, default 30, for the two benchmark
 * cores to be idle; 0: don't), `--servers a,b`,
 * `--scenarios a,b`, `--out path` (Markdown; the raw JSON goes next to it
 * with the extension `.json`; default `bench/results/<YYYY-MM-DD>-echo.md`,
 * `...-echo-quick.md` with `--quick`).
 * `bun` and `node` (23.6+) are taken from `PATH`. The suite logs its
 * estimated duration at the start (a quiet 2-CPU machine; waiting for quiet
 * cores adds to it).
 *
 * @module
 */
import {
  buildLoadClient,
  type LoadResult,
  runLoadClient,
} from "./_load_client.ts";

// ---------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------

const ROOT = new URL("../", import.meta.url).pathname;
const SERVER_CPU = 0;
const CLIENT_CPU = 1;
const FIRST_PORT = 9510;
const PORT_COUNT = 80; // 9510–9589
/** Background CPU (in CPUs) above which a scenario is flagged disturbed. */
const BACKGROUND_LIMIT = 0.1;

type Runtime = "deno" | "bun" | "node";

interface ServerSpec {
  name: string;
  runtime: Runtime;
  /** The script, relative to the repository root. */
  script: string;
  /** The `bench/idle_memory.ts` variant running the same server code. */
  idleVariant: string;
  /** The server this one is compared with; itself for a reference. */
  reference: string;
  /** Extra environment of the server process. */
  env?: Record<string, string>;
  /**
   * Compressed server: the chat scenario offers permessage-deflate and
   * fails unless it is agreed; it runs only `chat` and `chat-idle`.
   */
  deflate?: boolean;
  /** The `bench/idle_memory.ts --deflate` variant (chat-idle). */
  deflateIdleVariant?: string;
}

/** The scenarios a server takes part in. */
function serverScenarios(spec: ServerSpec): readonly Scenario[] {
  return spec.deflate === true
    ? ["chat", "chat-idle"]
    : SCENARIOS.filter((s) => s !== "chat-idle");
}

/** The reference (native) server of each runtime. */
const NATIVE: Record<Runtime, string> = {
  deno: "deno-native",
  bun: "bun-native",
  node: "ws-node",
};

/**
 * wstream's uncompressed echo servers on a runtime: the streams API
 * (`examples/echo.ts`, `bench/servers/wstream_echo.ts`) and the hooks API
 * (`bench/servers/wstream_hooks.ts`), under wstream's `serve()` and, on Deno
 * and Bun, under the runtime's own server (`Deno.serve`, `Bun.serve`).
 */
function wstreamServers(runtime: Runtime): ServerSpec[] {
  const reference = NATIVE[runtime];
  const specs: ServerSpec[] = [
    {
      name: `wstream-${runtime}`,
      runtime,
      script: "examples/echo.ts",
      idleVariant: "wstream",
      reference,
    },
    {
      name: `wstream-hooks-${runtime}`,
      runtime,
      script: "bench/servers/wstream_hooks.ts",
      idleVariant: "wstream-hooks",
      reference,
    },
  ];
  const placement = runtime === "deno"
    ? "denoserve"
    : runtime === "bun"
    ? "bunserve"
    : null;
  if (placement !== null) {
    specs.push({
      name: `wstream-${placement}`,
      runtime,
      script: "bench/servers/wstream_echo.ts",
      env: { PLACEMENT: placement },
      idleVariant: `wstream-${placement}`,
      reference,
    }, {
      name: `wstream-hooks-${placement}`,
      runtime,
      script: "bench/servers/wstream_hooks.ts",
      env: { PLACEMENT: placement },
      idleVariant: `wstream-hooks-${placement}`,
      reference,
    });
  }
  return specs;
}

const SERVERS: ServerSpec[] = [
  // Each runtime's wstream servers, then its native one: the report lists
  // them in this order, each wstream row next to its reference.
  ...wstreamServers("deno"),
  {
    name: "deno-native",
    runtime: "deno",
    script: "bench/servers/deno_native.ts",
    idleVariant: "deno-native",
    reference: "deno-native",
  },
  ...wstreamServers("bun"),
  {
    name: "bun-native",
    runtime: "bun",
    script: "bench/servers/bun_native.ts",
    idleVariant: "bun-native",
    reference: "bun-native",
  },
  ...wstreamServers("node"),
  {
    name: "ws-node",
    runtime: "node",
    script: "bench/servers/ws_node.ts",
    idleVariant: "ws",
    reference: "ws-node",
  },
  // Compressed (permessage-deflate) servers: the chat scenarios only.
  ...(["deno", "bun", "node"] as const).map((runtime): ServerSpec => ({
    name: `wstream-${runtime}-deflate`,
    runtime,
    script: "bench/servers/wstream_echo.ts",
    env: { WSTREAM_COMPRESSION: "1" },
    deflate: true,
    idleVariant: "wstream",
    deflateIdleVariant: "wstream-deflate",
    // Deno's native WebSocket negotiates no compression: its uncompressed
    // chat row is the Deno reference.
    reference: runtime === "deno"
      ? "deno-native"
      : runtime === "bun"
      ? "bun-native-deflate"
      : "ws-node-deflate",
  })),
  {
    name: "bun-native-deflate",
    runtime: "bun",
    script: "bench/servers/bun_native.ts",
    env: { BUN_DEFLATE: "1" },
    deflate: true,
    idleVariant: "bun-native",
    deflateIdleVariant: "bun-native-deflate",
    reference: "bun-native-deflate",
  },
  {
    name: "ws-node-deflate",
    runtime: "node",
    script: "bench/servers/ws_node.ts",
    env: { WS_DEFLATE: "1" },
    deflate: true,
    idleVariant: "ws",
    deflateIdleVariant: "ws-deflate",
    reference: "ws-node-deflate",
  },
  {
    name: "ws-node-deflate-w12",
    runtime: "node",
    script: "bench/servers/ws_node.ts",
    env: { WS_DEFLATE: "w12" },
    deflate: true,
    idleVariant: "ws",
    deflateIdleVariant: "ws-deflate-w12",
    reference: "ws-node-deflate-w12",
  },
];

/**
 * A target of the performance issue for one server, judged on the median
 * over the rounds.
 */
interface Target {
  /** What is measured, for the report. */
  what: string;
  server: string;
  scenario: Scenario;
  metric: (sample: Sample) => number;
  /**
   * `ratio`: the per-round ratio to the server's reference (the native
   * server of its runtime); `value`: the figure itself.
   */
  kind: "ratio" | "value";
  /** `min`: the goal is a floor; `max`: a ceiling. */
  bound: "min" | "max";
  goal: number;
  /** Unit of the goal and the figures: `×` for a ratio. */
  unit: string;
}

/** Idle KiB per connection the issue allows, per runtime. */
const IDLE_LIMIT_KIB: Record<Runtime, number> = { deno: 21, bun: 4, node: 8 };

/** The performance issue's targets for the uncompressed servers. */
function issueTargets(): Target[] {
  const targets: Target[] = [];
  const msgPerSec = (s: Sample) => s.load!.msgPerSec;
  const throughput = (what: string, servers: string[], goal: number) => {
    for (const server of servers) {
      targets.push({
        what,
        server,
        scenario: "echo",
        metric: msgPerSec,
        kind: "ratio",
        bound: "min",
        goal,
        unit: "×",
      });
    }
  };
  const bunHooks = ["wstream-hooks-bun", "wstream-hooks-bunserve"];
  throughput("echo msg/s, Bun, hooks API", bunHooks, 0.8);
  for (const server of bunHooks) {
    targets.push({
      what: "echo server µs CPU/msg, Bun, hooks API",
      server,
      scenario: "echo",
      metric: (s) => s.serverUsPerOp ?? NaN,
      kind: "value",
      bound: "max",
      goal: 1.1,
      unit: " µs",
    });
  }
  throughput(
    "echo msg/s, Bun, streams API",
    ["wstream-bun", "wstream-bunserve"],
    0.5,
  );
  throughput(
    "echo msg/s, Deno, serve()",
    ["wstream-deno", "wstream-hooks-deno"],
    5,
  );
  throughput(
    "echo msg/s, Deno, under Deno.serve",
    ["wstream-denoserve", "wstream-hooks-denoserve"],
    0.95,
  );
  throughput(
    "echo msg/s, Node",
    ["wstream-node", "wstream-hooks-node"],
    5,
  );
  const wstream = SERVERS.filter((s) =>
    s.deflate !== true && s.reference !== s.name
  );
  const each = (
    what: string,
    scenario: Scenario,
    metric: (sample: Sample) => number,
    bound: "min" | "max",
  ) => {
    for (const spec of wstream) {
      targets.push({
        what,
        server: spec.name,
        scenario,
        metric,
        kind: "ratio",
        bound,
        goal: 1,
        unit: "×",
      });
    }
  };
  each("1 MiB echo MB/s", "bulk", (s) => s.load!.mbPerSec, "min");
  each("p99 at 10k msg/s", "rate", (s) => s.load!.p99Us, "max");
  each("p99.9 at 10k msg/s", "rate", (s) => s.load!.p999Us, "max");
  each("handshakes/s", "handshake", (s) => s.load!.handshakesPerSec, "min");
  for (const spec of wstream) {
    targets.push({
      what: "idle KiB/conn",
      server: spec.name,
      scenario: "idle",
      metric: (s) => s.idle!.rssKiBPerConnection,
      kind: "value",
      bound: "max",
      goal: IDLE_LIMIT_KIB[spec.runtime],
      unit: " KiB",
    });
  }
  return targets;
}

/** Targets of the compressed chat rows (issue 8), as per-round ratios. */
const CHAT_TARGETS = {
  /** Wire bytes: ≤ ws with the same windows (12 / 12, memLevel 5). */
  bytesVs: "ws-node-deflate-w12",
  /** Idle KiB per compressed connection: ≤ 0.5× ws's (its defaults). */
  memoryVs: "ws-node-deflate",
  memoryMax: 0.5,
} as const;

const SCENARIOS = [
  "echo",
  "rate",
  "sat50",
  "sat90",
  "bulk",
  "handshake",
  "idle",
  "chat",
  "chat-idle",
] as const;
type Scenario = typeof SCENARIOS[number];
type IdleScenario = "idle" | "chat-idle";
type LoadScenario = Exclude<Scenario, IdleScenario>;
type SaturationScenario = "sat50" | "sat90";

/** The share of the server's saturation rate each `sat` scenario offers. */
const SATURATION_SHARE: Record<SaturationScenario, number> = {
  sat50: 0.5,
  sat90: 0.9,
};

function isSaturation(scenario: Scenario): scenario is SaturationScenario {
  return scenario === "sat50" || scenario === "sat90";
}

/** Connections of the echo scenario, and so of the `sat` scenarios. */
const ECHO_CONNS = 64;

interface Options {
  quick: boolean;
  rounds: number;
  seconds: number;
  warmup: number;
  rate: number;
  idleCount: number;
  chatIdleCount: number;
  /** A line put at the top of the report (e.g. "noisy: machine shared"). */
  note: string;
  quietWait: number;
  servers: ServerSpec[];
  scenarios: Scenario[];
  out: string;
}

function usage(message: string): never {
  console.error(`echo_suite: ${message}`);
  console.error(
    "usage: deno run -A bench/echo_suite.ts [--quick] [--rounds N] " +
      "[--seconds S] [--warmup S] [--rate N] [--idle-count N] " +
      "[--chat-idle-count N] [--note text] " +
      "[--quiet-wait S] " +
      "[--servers a,b] " +
      "[--scenarios echo,rate,sat50,sat90,bulk,handshake,idle,chat," +
      "chat-idle] " +
      "[--out path]",
  );
  Deno.exit(2);
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
    seconds: quick ? 2 : 5,
    warmup: quick ? 0.5 : 1,
    rate: 10_000,
    idleCount: quick ? 1_000 : 5_000,
    chatIdleCount: 1_000,
    note: "",
    quietWait: 30,
    servers: SERVERS,
    scenarios: [...SCENARIOS],
    // A quick run never overwrites the day's full results.
    out: `${ROOT}bench/results/${localDate()}-echo${quick ? "-quick" : ""}.md`,
  };
  const number = (name: string, value: string | undefined): number => {
    const n = Number(value);
    if (value === undefined || !Number.isFinite(n) || n < 0) {
      usage(`${name} needs a number`);
    }
    return n;
  };
  for (let i = 0; i < args.length; i++) {
    const name = args[i];
    const value = args[i + 1];
    switch (name) {
      case "--quick":
        continue;
      case "--rounds":
        options.rounds = Math.max(1, Math.floor(number(name, value)));
        break;
      case "--seconds":
        options.seconds = number(name, value);
        break;
      case "--warmup":
        options.warmup = number(name, value);
        break;
      case "--quiet-wait":
        options.quietWait = number(name, value);
        break;
      case "--rate":
        options.rate = number(name, value);
        break;
      case "--idle-count":
        options.idleCount = Math.floor(number(name, value));
        break;
      case "--chat-idle-count":
        options.chatIdleCount = Math.floor(number(name, value));
        break;
      case "--note":
        if (value === undefined) usage("--note needs a text");
        options.note = value;
        break;
      case "--servers": {
        const names = (value ?? "").split(",").filter((s) => s !== "");
        options.servers = names.map((n) =>
          SERVERS.find((s) => s.name === n) ??
            usage(
              `unknown server ${n} (${SERVERS.map((s) => s.name).join(", ")})`,
            )
        );
        if (options.servers.length === 0) usage("--servers is empty");
        break;
      }
      case "--scenarios": {
        const names = (value ?? "").split(",").filter((s) => s !== "");
        options.scenarios = names.map((n) =>
          SCENARIOS.find((s) => s === n) ??
            usage(`unknown scenario ${n} (${SCENARIOS.join(", ")})`)
        );
        if (options.scenarios.length === 0) usage("--scenarios is empty");
        // The suite's order: echo runs before the sat scenarios that take
        // their rate from it.
        options.scenarios = SCENARIOS.filter((s) =>
          options.scenarios.includes(s)
        );
        if (
          options.scenarios.some(isSaturation) &&
          !options.scenarios.includes("echo")
        ) {
          usage(
            "sat50 and sat90 need the echo scenario (their rates are shares " +
              "of the server's echo msg/s): add echo to --scenarios",
          );
        }
        break;
      }
      case "--out":
        if (value === undefined) usage("--out needs a path");
        options.out = value;
        break;
      default:
        usage(`unknown argument ${name}`);
    }
    i++;
  }
  return options;
}

/** The load client's arguments of a scenario. */
function loadArgs(
  scenario: LoadScenario,
  port: number,
  options: Options,
  spec: ServerSpec,
  targetRate: number,
): Parameters<typeof runLoadClient>[0] {
  const common = { port, seconds: options.seconds, warmup: options.warmup };
  switch (scenario) {
    case "chat":
      return {
        ...common,
        mode: "echo",
        conns: 64,
        inflight: 4,
        payloads: "chat",
        deflate: spec.deflate === true,
      };
    case "echo":
      return {
        ...common,
        mode: "echo",
        conns: ECHO_CONNS,
        inflight: 16,
        size: 32,
      };
    case "rate":
      return { ...common, mode: "rate", conns: 16, size: 32, rate: targetRate };
    case "sat50":
    case "sat90":
      return {
        ...common,
        mode: "rate",
        conns: ECHO_CONNS,
        size: 32,
        rate: targetRate,
      };
    case "bulk":
      return {
        ...common,
        mode: "bulk",
        conns: 4,
        inflight: 1,
        size: 1 << 20,
        binary: true,
      };
    case "handshake":
      return {
        ...common,
        mode: "handshake",
        conns: 16,
        echoOnce: true,
        size: 32,
      };
  }
}

function describeScenario(scenario: Scenario, options: Options): string {
  switch (scenario) {
    case "echo":
      return "64 connections × 16 messages in flight × 32 B text";
    case "rate":
      return `16 connections, ${options.rate.toLocaleString("en-US")} msg/s ` +
        "in total, 32 B text";
    case "sat50":
    case "sat90":
      return `${ECHO_CONNS} connections at ${
        SATURATION_SHARE[scenario] * 100
      }% of the server's own saturation rate (its echo msg/s of the same ` +
        "round) in total, 32 B text";
    case "bulk":
      return "4 connections × 1 MiB binary messages, one in flight each";
    case "handshake":
      return "16 concurrent loops of connect + handshake + one 32 B text " +
        "echo + close";
    case "idle":
      return `${options.idleCount.toLocaleString("en-US")} idle connections`;
    case "chat":
      return "64 connections × 4 messages in flight × chat/event JSON text " +
        "(1,000 generated messages of 100-2,000 B, mean ≈ 615 B), " +
        "permessage-deflate offered to the compressed servers " +
        "(`permessage-deflate; client_max_window_bits`)";
    case "chat-idle":
      return `${
        options.chatIdleCount.toLocaleString("en-US")
      } idle connections, each after one compressed ~1.5 KB message ` +
        "each way";
  }
}

// ---------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A promise resolving to `value` after `ms`, unless cancelled first. */
function timeout<T>(ms: number, value: T): {
  promise: Promise<T>;
  cancel(): void;
} {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const promise = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(value), ms);
  });
  return { promise, cancel: () => clearTimeout(timer) };
}

function log(message: string): void {
  console.error(`[echo_suite] ${message}`);
}

const CLOCK_TICKS = await (async () => {
  try {
    const out = await new Deno.Command("getconf", { args: ["CLK_TCK"] })
      .output();
    const ticks = Number(new TextDecoder().decode(out.stdout).trim());
    return ticks > 0 ? ticks : 100;
  } catch {
    return 100;
  }
})();

/** The user + system CPU seconds of a whole process (all its threads). */
function cpuSeconds(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  // Fields after the command name, which may contain spaces: state is
  // field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** What the suite checked about the server process it measures. */
interface ProcessInfo {
  pid: number;
  /** `/proc/<pid>/comm`: the runtime, as `taskset` execs it. */
  comm: string;
  /** `Cpus_allowed_list` of `/proc/<pid>/status`. */
  cpus: string;
  threads: number;
  /** Child processes (none expected: their CPU time would be missed). */
  children: number[];
}

/**
 * Busy CPU seconds (all but idle and iowait; steal included) of the server's
 * and the client's cores, from `/proc/stat`.
 */
function busySeconds(): number {
  let ticks = 0;
  for (const line of Deno.readTextFileSync("/proc/stat").split("\n")) {
    const match = /^cpu(\d+) (.*)/.exec(line);
    if (match === null) continue;
    const cpu = Number(match[1]);
    if (cpu !== SERVER_CPU && cpu !== CLIENT_CPU) continue;
    const [user, nice, system, , , irq, softirq, steal] = match[2]!.split(" ")
      .map(Number);
    ticks += user! + nice! + system! + irq! + softirq! + (steal ?? 0);
  }
  return ticks / CLOCK_TICKS;
}

/** The pid of the running load client (`wsload`, a child of this process). */
function findLoadClient(): number | null {
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
      const close = stat.lastIndexOf(")");
      const comm = stat.slice(stat.indexOf("(") + 1, close);
      const ppid = Number(stat.slice(close + 2).split(" ")[1]);
      if (comm === "wsload" && ppid === Deno.pid) return Number(entry.name);
    } catch {
      // Gone meanwhile.
    }
  }
  return null;
}

function processInfo(pid: number): ProcessInfo {
  const comm = Deno.readTextFileSync(`/proc/${pid}/comm`).trim();
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const cpus = /Cpus_allowed_list:\s*(\S+)/.exec(status)?.[1] ?? "?";
  const threads = Number(/Threads:\s*(\d+)/.exec(status)?.[1] ?? "0");
  const children: number[] = [];
  for (const task of Deno.readDirSync(`/proc/${pid}/task`)) {
    try {
      const text = Deno.readTextFileSync(
        `/proc/${pid}/task/${task.name}/children`,
      ).trim();
      if (text !== "") children.push(...text.split(/\s+/).map(Number));
    } catch {
      // The thread exited meanwhile.
    }
  }
  return { pid, comm, cpus, threads, children };
}

function runtimeCommand(runtime: Runtime, script: string): string[] {
  switch (runtime) {
    case "deno":
      return [Deno.execPath(), "run", "-A", script];
    case "bun":
      return ["bun", script];
    case "node":
      return ["node", script];
  }
}

/** Keeps the last lines of a child's output, for error reports. */
class OutputTail {
  lines: string[] = [];
  #partial = "";
  onLine: ((line: string) => void) | null = null;

  constructor(stream: ReadableStream<Uint8Array>) {
    (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of stream) {
        this.#partial += decoder.decode(chunk, { stream: true });
        let newline;
        while ((newline = this.#partial.indexOf("\n")) >= 0) {
          const line = this.#partial.slice(0, newline);
          this.#partial = this.#partial.slice(newline + 1);
          this.lines.push(line);
          if (this.lines.length > 20) this.lines.shift();
          this.onLine?.(line);
        }
      }
    })().catch(() => {});
  }

  text(): string {
    return [...this.lines, this.#partial].join("\n").trim();
  }
}

let nextPort = 0;
function takePort(): number {
  return FIRST_PORT + (nextPort++ % PORT_COUNT);
}

class RunningServer {
  readonly spec: ServerSpec;
  readonly port: number;
  readonly child: Deno.ChildProcess;
  readonly stdout: OutputTail;
  readonly stderr: OutputTail;
  exited = false;
  readonly status: Promise<Deno.CommandStatus>;
  info: ProcessInfo | null = null;

  constructor(spec: ServerSpec) {
    this.spec = spec;
    this.port = takePort();
    const command = runtimeCommand(spec.runtime, `${ROOT}${spec.script}`);
    this.child = new Deno.Command("taskset", {
      args: ["-c", String(SERVER_CPU), ...command],
      cwd: ROOT,
      env: { PORT: String(this.port), NO_COLOR: "1", ...spec.env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.stdout = new OutputTail(this.child.stdout);
    this.stderr = new OutputTail(this.child.stderr);
    this.status = this.child.status.then((status) => {
      this.exited = true;
      return status;
    });
  }

  get pid(): number {
    return this.child.pid;
  }

  /** Resolves once the server printed `listening on`. */
  async ready(timeoutMs = 20_000): Promise<void> {
    const listening = new Promise<void>((resolve) => {
      if (this.stdout.lines.some((l) => l.startsWith("listening on"))) {
        resolve();
      }
      this.stdout.onLine = (line) => {
        if (line.startsWith("listening on")) resolve();
      };
    });
    const timer = timeout(timeoutMs, "timeout" as const);
    const outcome = await Promise.race([
      listening.then(() => "ready" as const),
      this.status.then(() => "exited" as const),
      timer.promise,
    ]);
    timer.cancel();
    if (outcome !== "ready") {
      throw new Error(
        `${this.spec.name} did not start (${outcome}): ${this.output()}`,
      );
    }
    this.info = processInfo(this.pid);
  }

  output(): string {
    return [this.stdout.text(), this.stderr.text()].filter((t) => t !== "")
      .join("\n").slice(-2000);
  }

  /** SIGTERM, then SIGKILL after 2 s. */
  async stop(): Promise<void> {
    if (this.exited) return;
    try {
      this.child.kill("SIGTERM");
    } catch {
      // Already gone.
    }
    const timer = timeout(2_000, false);
    const stopped = await Promise.race([
      this.status.then(() => true),
      timer.promise,
    ]);
    timer.cancel();
    if (!stopped) {
      try {
        this.child.kill("SIGKILL");
      } catch {
        // Already gone.
      }
      await this.status;
    }
  }
}

/**
 * Waits (at most `seconds`) until the benchmark cores are quiet: less than
 * `BACKGROUND_LIMIT` CPU busy over one second, with nothing of ours
 * running.
 */
async function waitQuiet(seconds: number): Promise<void> {
  if (seconds <= 0) return;
  const deadline = performance.now() + seconds * 1000;
  let busy = NaN;
  while (true) {
    const before = busySeconds();
    const start = performance.now();
    await sleep(1000);
    busy = (busySeconds() - before) / ((performance.now() - start) / 1000);
    if (busy < BACKGROUND_LIMIT) return;
    if (performance.now() >= deadline) break;
  }
  log(
    `warning: CPUs ${SERVER_CPU} and ${CLIENT_CPU} still busy ` +
      `(${busy.toFixed(2)} CPUs used by other processes) after waiting ` +
      `${seconds} s; going on`,
  );
}

async function startServer(spec: ServerSpec): Promise<RunningServer> {
  const server = new RunningServer(spec);
  try {
    await server.ready();
  } catch (error) {
    await server.stop();
    throw error;
  }
  const info = server.info!;
  const expected = spec.runtime;
  if (!info.comm.startsWith(expected)) {
    log(
      `warning: ${spec.name} pid ${info.pid} is '${info.comm}', not ` +
        `${expected}: its CPU time may be wrong`,
    );
  }
  if (info.children.length > 0) {
    log(
      `warning: ${spec.name} pid ${info.pid} has child processes ` +
        `${info.children.join(", ")}: their CPU time is not counted`,
    );
  }
  if (info.cpus !== String(SERVER_CPU)) {
    log(`warning: ${spec.name} runs on CPUs ${info.cpus}`);
  }
  return server;
}

// ---------------------------------------------------------------------------
// Measurements
// ---------------------------------------------------------------------------

interface ServerCpu {
  /** CPU seconds over the whole load client run (connect and warmup too). */
  totalSeconds: number;
  /** Wall seconds of the whole load client run. */
  wallSeconds: number;
  /** Median CPU share over 250 ms samples: the share under steady load. */
  share: number;
  /**
   * Median CPU time per second used on the server's and the client's cores
   * by anything else than the server and the load client (other processes,
   * interrupts, hypervisor steal), in CPUs: 0 on a quiet machine.
   */
  background: number;
}

interface Sample {
  round: number;
  server: string;
  scenario: Scenario;
  ok: boolean;
  error?: string;
  load?: LoadResult;
  serverCpu?: ServerCpu;
  /**
   * Server CPU µs per message (echo, rate, sat50, sat90, chat), per
   * handshake cycle (handshake).
   */
  serverUsPerOp?: number;
  /**
   * The offered rate, msg/s in total (rate: `--rate`; sat50, sat90: that
   * share of the server's echo msg/s in the same round).
   */
  targetRate?: number;
  /** sat50, sat90: the server's echo msg/s in the same round. */
  saturationRate?: number;
  idle?: IdleResult;
  process?: ProcessInfo;
}

interface IdleResult {
  runtime: string;
  variant: string;
  count: number;
  rssKiBPerConnection: number;
  heapKiBPerConnection: number;
  externalKiBPerConnection: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? sorted[middle]!
    : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Runs the load client while sampling the server's CPU time. */
async function measureLoad(
  server: RunningServer,
  scenario: LoadScenario,
  options: Options,
  targetRate: number,
): Promise<{ load: LoadResult; serverCpu: ServerCpu }> {
  const samples: {
    time: number;
    cpu: number;
    client: number | null;
    busy: number;
  }[] = [];
  let clientPid: number | null = null;
  const sample = () => {
    try {
      const time = performance.now();
      const cpu = cpuSeconds(server.pid);
      clientPid ??= findLoadClient();
      let client: number | null = null;
      if (clientPid !== null) {
        try {
          client = cpuSeconds(clientPid);
        } catch {
          clientPid = null; // It exited.
        }
      }
      samples.push({ time, cpu, client, busy: busySeconds() });
    } catch {
      // The server exited: the load client reports the failure.
    }
  };
  sample();
  const timer = setInterval(sample, 250);
  let load: LoadResult;
  try {
    load = await runLoadClient(
      loadArgs(scenario, server.port, options, server.spec, targetRate),
      { cpu: CLIENT_CPU },
    );
  } finally {
    clearInterval(timer);
  }
  sample();
  const first = samples[0]!;
  const last = samples[samples.length - 1]!;
  const rates: number[] = [];
  const background: number[] = [];
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1]!;
    const b = samples[i]!;
    const seconds = (b.time - a.time) / 1000;
    if (seconds < 0.1) continue;
    rates.push((b.cpu - a.cpu) / seconds);
    if (a.client !== null && b.client !== null) {
      background.push(
        Math.max(
          0,
          (b.busy - a.busy - (b.cpu - a.cpu) - (b.client - a.client)) /
            seconds,
        ),
      );
    }
  }
  return {
    load,
    serverCpu: {
      totalSeconds: last.cpu - first.cpu,
      wallSeconds: (last.time - first.time) / 1000,
      share: rates.length > 0 ? median(rates) : NaN,
      background: background.length > 0 ? median(background) : NaN,
    },
  };
}

function errorText(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).slice(
    0,
    2000,
  );
}

async function measureIdle(
  spec: ServerSpec,
  options: Options,
  scenario: IdleScenario,
): Promise<IdleResult> {
  const chat = scenario === "chat-idle";
  const count = chat ? options.chatIdleCount : options.idleCount;
  const variant = chat ? spec.deflateIdleVariant : spec.idleVariant;
  if (variant === undefined) throw new Error(`${spec.name}: no ${scenario}`);
  const limit = count + 1_000;
  // Each connection is a descriptor on both sides: raise the soft limit
  // for the driver and its server child (as far as the hard limit allows).
  const script =
    `ulimit -n ${limit} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; ` +
    'exec "$@"';
  const child = new Deno.Command("sh", {
    args: [
      "-c",
      script,
      "sh",
      // The driver opens the connections: on the client's core.
      "taskset",
      "-c",
      String(CLIENT_CPU),
      Deno.execPath(),
      "run",
      "-A",
      `${ROOT}bench/idle_memory.ts`,
      "--runtime",
      spec.runtime,
      "--variant",
      variant,
      "--count",
      String(count),
      ...(chat ? ["--deflate"] : []),
      "--server-cpu",
      String(SERVER_CPU),
      "--port",
      String(takePort()),
      "--json",
    ],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = new OutputTail(child.stdout);
  const stderr = new OutputTail(child.stderr);
  const timer = timeout(180_000, null);
  const status = await Promise.race([child.status, timer.promise]);
  timer.cancel();
  if (status === null) {
    try {
      child.kill("SIGKILL");
    } catch {
      // Gone.
    }
    await child.status;
    throw new Error(`idle_memory.ts timed out: ${stderr.text().slice(-1000)}`);
  }
  await sleep(50); // Lets the output readers drain.
  const line = stdout.lines.find((l) => l.startsWith("{"));
  if (!status.success || line === undefined) {
    throw new Error(
      `idle_memory.ts exited ${status.code}: ${
        [stdout.text(), stderr.text()].join("\n").slice(-1500)
      }`,
    );
  }
  const result = JSON.parse(line) as IdleResult;
  return {
    runtime: result.runtime,
    variant: result.variant,
    count: result.count,
    rssKiBPerConnection: result.rssKiBPerConnection,
    heapKiBPerConnection: result.heapKiBPerConnection,
    externalKiBPerConnection: result.externalKiBPerConnection,
  };
}

function summarize(sample: Sample): string {
  if (!sample.ok) {
    return `FAILED: ${(sample.error ?? "").replace(/\s+/g, " ").slice(0, 300)}`;
  }
  if (sample.idle !== undefined) {
    return `${sample.idle.rssKiBPerConnection.toFixed(1)} KiB/conn`;
  }
  const load = sample.load!;
  const cpu = sample.serverCpu!;
  const main = sample.scenario === "echo"
    ? `${fmtInt(load.msgPerSec)} msg/s`
    : sample.scenario === "chat"
    ? `${fmtInt(load.msgPerSec)} msg/s, wire B/msg ${
      load.txWireBytesPerMsg.toFixed(0)
    } up / ${load.rxWireBytesPerMsg.toFixed(0)} down of ${
      load.payloadBytesPerMsg.toFixed(0)
    }${load.deflate ? ` [${load.extensions}]` : ""}`
    : sample.scenario === "rate" || isSaturation(sample.scenario)
    ? `${fmtInt(load.msgPerSec)} of ${
      fmtInt(sample.targetRate ?? NaN)
    } msg/s, p50 ${fmtInt(load.p50Us)} p99 ${fmtInt(load.p99Us)} p99.9 ${
      fmtInt(load.p999Us)
    } µs`
    : sample.scenario === "bulk"
    ? `${load.mbPerSec.toFixed(1)} MB/s`
    : `${fmtInt(load.handshakesPerSec)} handshakes/s`;
  return `${main} (server CPU ${cpu.share.toFixed(2)}, client CPU ${
    load.clientCpuShare.toFixed(2)
  }, background ${cpu.background.toFixed(2)}${
    load.errors > 0 ? `, ${load.errors} errors` : ""
  })`;
}

async function runServerScenarios(
  round: number,
  spec: ServerSpec,
  options: Options,
  samples: Sample[],
): Promise<void> {
  const own = serverScenarios(spec);
  const loadScenarios = options.scenarios.filter((s): s is LoadScenario =>
    s !== "idle" && s !== "chat-idle" && own.includes(s)
  );
  let server: RunningServer | null = null;
  try {
    for (const scenario of loadScenarios) {
      const sample: Sample = {
        round,
        server: spec.name,
        scenario,
        ok: false,
      };
      try {
        if (server === null || server.exited) {
          if (server !== null) {
            log(
              `${spec.name} exited (${server.output().slice(-300)}); ` +
                "restarting it",
            );
          }
          server = await startServer(spec);
        }
        sample.process = server.info!;
        let targetRate = options.rate;
        if (isSaturation(scenario)) {
          // Saturation: this server's echo msg/s of this round (it ran just
          // before, in the same process).
          const echo = samples.find((s) =>
            s.round === round && s.server === spec.name &&
            s.scenario === "echo" && s.ok
          );
          if (echo === undefined) {
            throw new Error(
              "no saturation rate: the echo scenario of this server failed " +
                "in this round",
            );
          }
          sample.saturationRate = echo.load!.msgPerSec;
          targetRate = Math.round(
            echo.load!.msgPerSec * SATURATION_SHARE[scenario],
          );
        }
        if (scenario === "rate" || isSaturation(scenario)) {
          sample.targetRate = targetRate;
        }
        const { load, serverCpu } = await measureLoad(
          server,
          scenario,
          options,
          targetRate,
        );
        sample.load = load;
        sample.serverCpu = serverCpu;
        if (
          scenario === "echo" || scenario === "rate" || scenario === "chat" ||
          isSaturation(scenario)
        ) {
          sample.serverUsPerOp = serverCpu.share * 1e6 / load.msgPerSec;
        } else if (scenario === "handshake") {
          sample.serverUsPerOp = serverCpu.share * 1e6 /
            load.handshakesPerSec;
        }
        sample.ok = true;
      } catch (error) {
        sample.error = errorText(error);
        if (server?.exited) {
          sample.error += `\nserver exited: ${server.output().slice(-500)}`;
        }
      }
      samples.push(sample);
      log(`round ${round} ${spec.name} ${scenario}: ${summarize(sample)}`);
    }
  } finally {
    await server?.stop();
  }
  for (const scenario of ["idle", "chat-idle"] as const) {
    if (!options.scenarios.includes(scenario) || !own.includes(scenario)) {
      continue;
    }
    const sample: Sample = {
      round,
      server: spec.name,
      scenario,
      ok: false,
    };
    try {
      sample.idle = await measureIdle(spec, options, scenario);
      sample.ok = true;
    } catch (error) {
      sample.error = errorText(error);
    }
    samples.push(sample);
    log(`round ${round} ${spec.name} ${scenario}: ${summarize(sample)}`);
  }
}

// ---------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------

function fmtInt(value: number): string {
  return Number.isFinite(value)
    ? Math.round(value).toLocaleString("en-US")
    : "–";
}

type Format = (value: number) => string;

/** `median [min–max]` of a metric over the rounds. */
function spread(values: number[], format: Format): string {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return "–";
  const text = format(median(finite));
  if (finite.length === 1) return text;
  return `${text} [${format(Math.min(...finite))}–${
    format(Math.max(...finite))
  }]`;
}

interface Aggregated {
  server: string;
  scenario: Scenario;
  runs: Sample[];
  failures: Sample[];
}

function aggregate(
  samples: Sample[],
  server: string,
  scenario: Scenario,
): Aggregated {
  const all = samples.filter((s) =>
    s.server === server && s.scenario === scenario
  );
  return {
    server,
    scenario,
    runs: all.filter((s) => s.ok),
    failures: all.filter((s) => !s.ok),
  };
}

/** Per-round ratios `metric(server) / metric(reference)`, same round. */
function ratios(
  samples: Sample[],
  spec: ServerSpec,
  scenario: Scenario,
  metric: (sample: Sample) => number,
): number[] {
  const result: number[] = [];
  for (const sample of samples) {
    if (
      sample.server !== spec.name || sample.scenario !== scenario ||
      !sample.ok
    ) continue;
    const reference = samples.find((s) =>
      s.server === spec.reference && s.scenario === scenario &&
      s.round === sample.round && s.ok
    );
    if (reference === undefined) continue;
    result.push(metric(sample) / metric(reference));
  }
  return result;
}

function table(header: string[], align: string[], rows: string[][]): string {
  return [
    `| ${header.join(" | ")} |`,
    `| ${align.join(" | ")} |`,
    ...rows.map((row) => `| ${row.join(" | ")} |`),
  ].join("\n");
}

interface Environment {
  command: string;
  date: string;
  deno: string;
  bun: string;
  node: string;
  ws: string;
  cpuModel: string;
  nproc: number;
  kernel: string;
  clockTicks: number;
  /**
   * SHA-256 (first 12 hex digits) of wstream's sources (`mod.ts`, `lib/`,
   * `examples/echo.ts`) at the start of every round and at the end: they
   * differ when the code changed during the run.
   */
  wstreamSources: string[];
}

/** A short SHA-256 of the wstream sources the servers run. */
async function sourceFingerprint(): Promise<string> {
  const files: string[] = [`${ROOT}mod.ts`, `${ROOT}examples/echo.ts`];
  const walk = (dir: string) => {
    for (const entry of Deno.readDirSync(dir)) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) walk(path);
      else if (entry.name.endsWith(".ts")) files.push(path);
    }
  };
  walk(`${ROOT}lib`);
  files.sort();
  const encoder = new TextEncoder();
  const parts: Uint8Array[] = [];
  for (const file of files) {
    parts.push(encoder.encode(`${file.slice(ROOT.length)}\0`));
    parts.push(Deno.readFileSync(file));
  }
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    all.set(part, offset);
    offset += part.length;
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return Array.from(
    digest.subarray(0, 6),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}

async function commandOutput(command: string, args: string[]): Promise<string> {
  try {
    const out = await new Deno.Command(command, { args, stderr: "null" })
      .output();
    return new TextDecoder().decode(out.stdout).trim();
  } catch (error) {
    return `unavailable (${errorText(error)})`;
  }
}

async function environment(): Promise<Environment> {
  const cpuinfo = Deno.readTextFileSync("/proc/cpuinfo");
  let ws = "not installed";
  try {
    ws = (JSON.parse(
      Deno.readTextFileSync(
        `${ROOT}tests/interop/node_modules/ws/package.json`,
      ),
    ) as { version: string }).version;
  } catch {
    // Reported as not installed.
  }
  return {
    command: ["deno", "run", "-A", "bench/echo_suite.ts", ...Deno.args]
      .join(" "),
    date: new Date().toISOString(),
    deno: (await commandOutput(Deno.execPath(), ["--version"])).split("\n")
      .join("; "),
    bun: await commandOutput("bun", ["--version"]),
    node: await commandOutput("node", ["--version"]),
    ws,
    cpuModel: /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? "unknown",
    nproc: Number(await commandOutput("nproc", [])),
    kernel: await commandOutput("uname", ["-sr"]),
    clockTicks: CLOCK_TICKS,
    wstreamSources: [],
  };
}

function report(
  env: Environment,
  options: Options,
  samples: Sample[],
  jsonPath: string,
): string {
  const specs = options.servers;
  const has = (scenario: Scenario) => options.scenarios.includes(scenario);
  const specsFor = (scenario: Scenario) =>
    specs.filter((spec) => serverScenarios(spec).includes(scenario));
  const refCell = (
    spec: ServerSpec,
    scenario: Scenario,
    metric: (sample: Sample) => number,
    digits = 2,
  ): string => {
    if (spec.reference === spec.name) return "reference";
    if (!specs.some((s) => s.name === spec.reference)) return "–";
    return spread(
      ratios(samples, spec, scenario, metric),
      (v) => `${v.toFixed(digits)}×`,
    );
  };
  const failedCell = (agg: Aggregated): string =>
    agg.runs.length === 0 ? "**failed**" : "";
  const loadOf = (s: Sample) => s.load!;
  const values = (agg: Aggregated, metric: (sample: Sample) => number) =>
    agg.runs.map(metric);
  const clientCells = (agg: Aggregated): string[] => [
    spread(values(agg, (s) => loadOf(s).clientCpuShare), (v) => v.toFixed(2)),
    spread(values(agg, (s) => s.serverCpu!.background), (v) => v.toFixed(2)),
  ];
  const partial = (agg: Aggregated): string =>
    agg.failures.length > 0 && agg.runs.length > 0
      ? ` (${agg.failures.length} failed)`
      : "";

  /** Per-round ratios of `server` over `other` (any two servers). */
  const versus = (
    server: string,
    other: string,
    scenario: Scenario,
    metric: (sample: Sample) => number,
  ): number[] => {
    const out: number[] = [];
    for (const a of samples) {
      if (a.server !== server || a.scenario !== scenario || !a.ok) continue;
      const b = samples.find((x) =>
        x.server === other && x.scenario === scenario &&
        x.round === a.round && x.ok
      );
      if (b !== undefined) out.push(metric(a) / metric(b));
    }
    return out;
  };
  const ratioCell = (
    server: string,
    other: string,
    scenario: Scenario,
    metric: (sample: Sample) => number,
  ): string => {
    if (server === other) return "reference";
    return spread(
      versus(server, other, scenario, metric),
      (v) => `${v.toFixed(2)}×`,
    );
  };
  const msgPerSec = (s: Sample) => s.load!.msgPerSec;
  // Wire bytes over payload bytes: the servers echo slightly different
  // mixes of the generated messages in their windows.
  const down = (s: Sample) =>
    s.load!.rxWireBytesPerMsg / s.load!.payloadBytesPerMsg;
  const up = (s: Sample) =>
    s.load!.txWireBytesPerMsg / s.load!.payloadBytesPerMsg;
  const idleKiB = (s: Sample) => s.idle!.rssKiBPerConnection;

  const chatReport = (lines: string[]): void => {
    const chatSpecs = specsFor("chat");
    if (has("chat")) {
      lines.push(`## Compression: ${describeScenario("chat", options)}`);
      lines.push("");
      lines.push(
        "*-deflate* servers agree permessage-deflate (the load client fails " +
          "the run if one does not) and the client sends every message " +
          "compressed (zlib level 6, memLevel 8, the window the server " +
          "allows it, context takeover unless agreed otherwise, in which " +
          "case each payload's text is compressed once and sent behind a " +
          "stored block holding its head and id); the other " +
          "rows are the same messages uncompressed. *up* / *down*: " +
          "WebSocket frame bytes per message client → server / server → " +
          "client (header, mask key and payload; not TCP/IP), beside the " +
          "uncompressed payload; *down / payload*: the server's " +
          "compression ratio, framing included; *down compressed*: share " +
          "of the echoes " +
          "that came with RSV1. *vs reference*: per-round msg/s ratio " +
          "against the reference (wstream-node-deflate: ws-node-deflate; " +
          "wstream-bun-deflate: bun-native-deflate; wstream-deno-deflate: " +
          "deno-native, uncompressed, as Deno's own WebSocket cannot " +
          "compress).",
      );
      lines.push("");
      lines.push(table(
        [
          "server",
          "agreed extension",
          "msg/s",
          "vs reference",
          "server µs CPU/msg",
          "payload B/msg",
          "up B/msg",
          "down B/msg",
          "down / payload",
          "down compressed",
          "client CPU",
          "background CPU",
        ],
        [
          "---",
          "---",
          "---:",
          "---:",
          "---:",
          "---:",
          "---:",
          "---:",
          "---:",
          "---:",
          "---:",
          "---:",
        ],
        chatSpecs.map((spec) => {
          const agg = aggregate(samples, spec.name, "chat");
          const first = agg.runs[0]?.load;
          return [
            spec.name + partial(agg),
            first === undefined
              ? "–"
              : first.extensions === ""
              ? "none"
              : "`" + first.extensions + "`",
            failedCell(agg) || spread(values(agg, msgPerSec), fmtInt),
            spec.reference === spec.name ||
              !specs.some((s) => s.name === spec.reference)
              ? (spec.reference === spec.name ? "reference" : "–")
              : ratioCell(spec.name, spec.reference, "chat", msgPerSec),
            spread(
              values(agg, (s) => s.serverUsPerOp ?? NaN),
              (v) => v.toFixed(1),
            ),
            spread(
              values(agg, (s) => loadOf(s).payloadBytesPerMsg),
              (v) => v.toFixed(0),
            ),
            spread(
              values(agg, (s) => loadOf(s).txWireBytesPerMsg),
              (v) => v.toFixed(0),
            ),
            spread(
              values(agg, (s) => loadOf(s).rxWireBytesPerMsg),
              (v) => v.toFixed(0),
            ),
            spread(values(agg, down), (v) => v.toFixed(3)),
            spread(
              values(agg, (s) => loadOf(s).rxCompressedShare),
              (v) => v.toFixed(2),
            ),
            ...clientCells(agg),
          ];
        }),
      ));
      lines.push("");
    }
    const idleSpecs = specsFor("chat-idle");
    if (has("chat-idle")) {
      lines.push(
        `## Compressed idle memory: ${describeScenario("chat-idle", options)}`,
      );
      lines.push("");
      lines.push(
        "`bench/idle_memory.ts --deflate`: the driver offers " +
          "`permessage-deflate; client_max_window_bits`, sends one " +
          "compressed message on each connection and checks its compressed " +
          "echo, then the connections idle; RSS growth per connection after " +
          "garbage collection. *vs ws* is against ws-node-deflate " +
          "(`perMessageDeflate: true`).",
      );
      lines.push("");
      lines.push(table(
        ["server", "idle variant", "RSS KiB/conn", "vs ws", "JS heap KiB/conn"],
        ["---", "---", "---:", "---:", "---:"],
        idleSpecs.map((spec) => {
          const agg = aggregate(samples, spec.name, "chat-idle");
          return [
            spec.name + partial(agg),
            `${spec.runtime} ${spec.deflateIdleVariant} --deflate`,
            failedCell(agg) ||
            spread(values(agg, idleKiB), (v) => v.toFixed(1)),
            specs.some((s) => s.name === CHAT_TARGETS.memoryVs)
              ? ratioCell(
                spec.name,
                CHAT_TARGETS.memoryVs,
                "chat-idle",
                idleKiB,
              )
              : "–",
            spread(
              values(agg, (s) => s.idle!.heapKiBPerConnection),
              (v) => v.toFixed(1),
            ),
          ];
        }),
      ));
      lines.push("");
    }
    // Issue 8's targets, each a per-round ratio, median [min–max].
    const rows: string[][] = [];
    const target = (
      what: string,
      server: string,
      other: string,
      scenario: Scenario,
      metric: (sample: Sample) => number,
      goal: string,
      met: (ratio: number) => boolean,
    ) => {
      if (!has(scenario)) return;
      if (!specs.some((s) => s.name === server)) return;
      if (!specs.some((s) => s.name === other)) return;
      const r = versus(server, other, scenario, metric);
      const finite = r.filter(Number.isFinite);
      rows.push([
        what,
        `${server} / ${other}`,
        goal,
        spread(r, (v) => `${v.toFixed(2)}×`),
        finite.length === 0 ? "–" : met(median(finite)) ? "met" : "**not met**",
      ]);
    };
    const atLeast = (x: number) => (v: number) => v >= x;
    const atMost = (x: number) => (v: number) => v <= x;
    target(
      "msg/s, Node",
      "wstream-node-deflate",
      "ws-node-deflate",
      "chat",
      msgPerSec,
      "≥ 2×",
      atLeast(2),
    );
    target(
      "msg/s, Bun",
      "wstream-bun-deflate",
      "bun-native-deflate",
      "chat",
      msgPerSec,
      "≥ 1×",
      atLeast(1),
    );
    for (const runtime of ["deno", "bun", "node"]) {
      target(
        `down wire bytes / payload byte, ${runtime}`,
        `wstream-${runtime}-deflate`,
        CHAT_TARGETS.bytesVs,
        "chat",
        down,
        "≤ 1×",
        atMost(1),
      );
    }
    target(
      "up wire bytes / payload byte (the client's compression)",
      "wstream-node-deflate",
      CHAT_TARGETS.bytesVs,
      "chat",
      up,
      "≤ 1×",
      atMost(1),
    );
    for (const runtime of ["deno", "bun", "node"]) {
      target(
        `idle KiB/conn, ${runtime}`,
        `wstream-${runtime}-deflate`,
        CHAT_TARGETS.memoryVs,
        "chat-idle",
        idleKiB,
        `≤ ${CHAT_TARGETS.memoryMax}×`,
        atMost(CHAT_TARGETS.memoryMax),
      );
    }
    if (rows.length > 0) {
      lines.push("## Compression targets (issue 8)");
      lines.push("");
      lines.push(
        "Per-round ratios, median [min–max]; *met* judges the median. " +
          "Bytes are compared with `ws` at wstream's settings " +
          `(${CHAT_TARGETS.bytesVs}: windows 12 / 12, memLevel 5, ` +
          "threshold 64); memory with `ws`'s defaults " +
          `(${CHAT_TARGETS.memoryVs}).`,
      );
      lines.push("");
      lines.push(table(
        ["target", "ratio of", "goal", "measured", "status"],
        ["---", "---", "---:", "---:", "---"],
        rows,
      ));
      lines.push("");
    }
  };

  /** The issue's targets that this run measured: a table. */
  const targetReport = (lines: string[]): void => {
    const rows: string[][] = [];
    let met = 0;
    for (const t of issueTargets()) {
      const spec = specs.find((s) => s.name === t.server);
      if (spec === undefined || !has(t.scenario)) continue;
      const ratio = t.kind === "ratio";
      if (ratio && !specs.some((s) => s.name === spec.reference)) continue;
      const figures = ratio
        ? versus(t.server, spec.reference, t.scenario, t.metric)
        : values(aggregate(samples, t.server, t.scenario), t.metric);
      const finite = figures.filter(Number.isFinite);
      const digits = t.unit === " KiB" ? 1 : 2;
      const format = (v: number) => `${v.toFixed(digits)}${t.unit}`;
      const ok = finite.length > 0 &&
        (t.bound === "min"
          ? median(finite) >= t.goal
          : median(finite) <= t.goal);
      if (ok) met++;
      rows.push([
        t.what,
        ratio ? `${t.server} / ${spec.reference}` : t.server,
        `${t.bound === "min" ? "≥" : "≤"} ${t.goal}${t.unit}`,
        spread(finite, format),
        finite.length === 0 ? "–" : ok ? "met" : "**not met**",
      ]);
    }
    if (rows.length === 0) return;
    lines.push("## Targets");
    lines.push("");
    lines.push(
      `${met} of ${rows.length} targets met. Ratios are per round against ` +
        "the native server of the same runtime (Deno: deno-native, Bun: " +
        "bun-native, Node: ws-node), median [min–max] over the rounds; the " +
        "other figures are median [min–max] of the values; *met* judges " +
        "the median. Latency ratios and idle memory: lower is better. " +
        "Targets whose server, reference or scenario was not in this run " +
        "are left out.",
    );
    lines.push("");
    lines.push(table(
      ["target", "server (/ reference)", "goal", "measured", "status"],
      ["---", "---", "---:", "---:", "---"],
      rows,
    ));
    lines.push("");
  };

  const lines: string[] = [];
  lines.push(`# Echo benchmark, ${env.date.slice(0, 10)}`);
  lines.push("");
  if (options.note !== "") {
    lines.push(`**${options.note}**`);
    lines.push("");
  }
  lines.push(
    "wstream's echo servers on Deno, Bun and Node, with the streams API " +
      "(`examples/echo.ts`, `bench/servers/wstream_echo.ts`) and the hooks " +
      "API (`bench/servers/wstream_hooks.ts`), under wstream's `serve()` " +
      "and under `Deno.serve` and `Bun.serve`, against the native servers " +
      "(`bench/servers/`), same machine, same run (`bench/echo_suite.ts`).",
  );
  lines.push("");
  lines.push("```sh");
  lines.push(env.command);
  lines.push("```");
  lines.push("");
  lines.push(`- Date: ${env.date}`);
  lines.push(`- Deno: ${env.deno}`);
  lines.push(`- Bun: ${env.bun}`);
  lines.push(`- Node: ${env.node}; npm \`ws\` ${env.ws}`);
  lines.push(
    `- CPU: ${env.cpuModel}, ${env.nproc} CPUs (\`nproc\`); ${env.kernel}`,
  );
  const sources = env.wstreamSources;
  lines.push(
    `- wstream sources (\`mod.ts\`, \`lib/\`, \`examples/echo.ts\`), ` +
      `SHA-256: ${sources[0] ?? "–"}` +
      (new Set(sources).size > 1
        ? ` — **changed during the run** (per round, then at the end: ${
          sources.join(", ")
        }): the rounds did not all measure the same code`
        : ""),
  );
  lines.push(`- Raw results: \`${jsonPath.split("/").pop()}\``);
  lines.push("");
  lines.push("## Method");
  lines.push("");
  lines.push(
    `- Servers pinned to CPU ${SERVER_CPU} (\`taskset -c ${SERVER_CPU}\`), ` +
      `the load client (\`bench/_load_client.ts\`, a C epoll client) to CPU ` +
      `${CLIENT_CPU}. Servers in this order, interleaved: ` +
      specs.map((s) =>
        `${s.name} (\`${
          Object.entries(s.env ?? {}).map(([k, v]) => `${k}=${v} `).join("")
        }${s.runtime} ${s.script}\`)`
      ).join(", ") + ".",
  );
  lines.push(
    `- ${options.rounds} round(s); in each round every server ` +
      (options.quietWait > 0
        ? `(after waiting up to ${options.quietWait} s for CPUs ` +
          `${SERVER_CPU} and ${CLIENT_CPU} to be idle) `
        : "") +
      "is started, " +
      "runs the load scenarios in turn, and is stopped (SIGTERM); then the " +
      "idle scenario runs `bench/idle_memory.ts --json` with the same server " +
      "code in a fresh process. Cells: median over the rounds " +
      "[min–max]; ratios wstream / reference are computed within each round, " +
      "then the median [min–max] of those is shown.",
  );
  lines.push(
    `- Load scenarios: ${options.seconds} s measured after ${options.warmup} s ` +
      "of warmup each:",
  );
  for (const scenario of options.scenarios) {
    lines.push(`  - ${scenario}: ${describeScenario(scenario, options)}`);
  }
  if (options.scenarios.some(isSaturation)) {
    lines.push(
      "- Saturation rate (sat50, sat90): a server's echo msg/s in the same " +
        `round (closed loop, ${ECHO_CONNS} connections × 16 in flight, ` +
        "measured in the same server process just before), the most it " +
        "echoed with the client keeping it busy. The sat scenarios offer " +
        "that share of it open loop (the client's `rate` mode: message k " +
        "scheduled at k / rate on connection k mod " +
        `${ECHO_CONNS}, latency from the scheduled time), so each server ` +
        "is loaded alike relative to its own capacity; the open loop sends " +
        "one message at a time where the closed loop kept 16 in flight per " +
        "connection, so at 90% a server whose throughput depends on " +
        "batching may fall behind (flagged under warnings).",
    );
  }
  if (has("handshake")) {
    lines.push(
      "- Handshakes: each loop opens a TCP connection, sends the upgrade " +
        "request, checks the 101 and `Sec-WebSocket-Accept`, sends one 32 B " +
        "text message and checks its echo, sends a close frame and waits " +
        "for the server's (or EOF); a cycle counts when its echo arrives " +
        "(`wsload --mode handshake --echo-once`).",
    );
  }
  lines.push(
    "- Server CPU: user + system time of the server process (all threads; " +
      "`/proc/<pid>/stat`; the pid is the runtime itself, `taskset` execs it, " +
      "and it has no child processes), sampled every 250 ms during the load " +
      "client run. *Server CPU* is the median share of one CPU over those " +
      "samples (1.00: the server's core is saturated); *µs CPU/msg* is that " +
      "share divided by the throughput. *Client CPU* is the load client's " +
      "CPU share over its measured window: near 1.00 the client, not the " +
      "server, may be the bottleneck. *Background CPU*: median CPU time per " +
      `second spent on CPUs ${SERVER_CPU} and ${CLIENT_CPU} by anything else ` +
      "(other processes, interrupts, steal; from `/proc/stat`), in CPUs: " +
      "near 0 on a quiet machine; above ~0.1 the figures of that scenario " +
      "are disturbed.",
  );
  lines.push(
    "- Idle: RSS growth of the server process over " +
      `${options.idleCount.toLocaleString("en-US")} connections that ` +
      "completed the handshake and stay silent, after garbage collection, " +
      "divided by the count (`bench/idle_memory.md`); the server on CPU " +
      `${SERVER_CPU}, the connecting driver (Deno, \`node:net\`) on CPU ` +
      `${CLIENT_CPU}.`,
  );
  lines.push("");

  targetReport(lines);

  if (has("echo")) {
    lines.push(`## Throughput: ${describeScenario("echo", options)}`);
    lines.push("");
    lines.push(table(
      [
        "server",
        "msg/s",
        "vs reference",
        "server µs CPU/msg",
        "server CPU",
        "client CPU",
        "background CPU",
      ],
      ["---", "---:", "---:", "---:", "---:", "---:", "---:"],
      specsFor("echo").map((spec) => {
        const agg = aggregate(samples, spec.name, "echo");
        const msg = (s: Sample) => loadOf(s).msgPerSec;
        return [
          spec.name + partial(agg),
          failedCell(agg) || spread(values(agg, msg), fmtInt),
          refCell(spec, "echo", msg),
          spread(
            values(agg, (s) => s.serverUsPerOp ?? NaN),
            (v) => v.toFixed(2),
          ),
          spread(values(agg, (s) => s.serverCpu!.share), (v) => v.toFixed(2)),
          ...clientCells(agg),
        ];
      }),
    ));
    lines.push("");
  }

  if (has("rate")) {
    lines.push(`## Latency: ${describeScenario("rate", options)}`);
    lines.push("");
    lines.push(
      "Round-trip time per message, µs. *achieved*: messages echoed per " +
        "second (should equal the target rate).",
    );
    lines.push("");
    lines.push(table(
      [
        "server",
        "achieved msg/s",
        "p50 µs",
        "p99 µs",
        "p99.9 µs",
        "p99 vs reference",
        "p99.9 vs reference",
        "server µs CPU/msg",
        "client CPU",
        "background CPU",
      ],
      [
        "---",
        "---:",
        "---:",
        "---:",
        "---:",
        "---:",
        "---:",
        "---:",
        "---:",
        "---:",
      ],
      specsFor("rate").map((spec) => {
        const agg = aggregate(samples, spec.name, "rate");
        return [
          spec.name + partial(agg),
          failedCell(agg) ||
          spread(values(agg, (s) => loadOf(s).msgPerSec), fmtInt),
          spread(values(agg, (s) => loadOf(s).p50Us), fmtInt),
          spread(values(agg, (s) => loadOf(s).p99Us), fmtInt),
          spread(values(agg, (s) => loadOf(s).p999Us), fmtInt),
          refCell(spec, "rate", (s) => loadOf(s).p99Us),
          refCell(spec, "rate", (s) => loadOf(s).p999Us),
          spread(
            values(agg, (s) => s.serverUsPerOp ?? NaN),
            (v) => v.toFixed(2),
          ),
          ...clientCells(agg),
        ];
      }),
    ));
    lines.push("");
  }

  for (const scenario of ["sat50", "sat90"] as const) {
    if (!has(scenario)) continue;
    lines.push(
      `## Latency at ${SATURATION_SHARE[scenario] * 100}% of saturation: ` +
        `${ECHO_CONNS} connections, 32 B text, open loop`,
    );
    lines.push("");
    lines.push(
      "Open loop as in the latency scenario, at a rate set per server and " +
        "round: *saturation* is the server's echo msg/s in that round (" +
        `${ECHO_CONNS} connections × 16 in flight, closed loop), *target* ` +
        `${SATURATION_SHARE[scenario] * 100}% of it. Round-trip µs from ` +
        "each message's scheduled send time; *achieved* below the target " +
        "means the server (or the client) could not keep up and the " +
        "latencies include queueing (listed under warnings).",
    );
    lines.push("");
    lines.push(table(
      [
        "server",
        "saturation msg/s",
        "target msg/s",
        "achieved msg/s",
        "p50 µs",
        "p99 µs",
        "p99.9 µs",
        "p99 vs reference",
        "server CPU",
        "client CPU",
        "background CPU",
      ],
      [
        "---",
        "---:",
        "---:",
        "---:",
        "---:",
        "---:",
        "---:",
        "---:",
        "---:",
        "---:",
        "---:",
      ],
      specsFor(scenario).map((spec) => {
        const agg = aggregate(samples, spec.name, scenario);
        return [
          spec.name + partial(agg),
          spread(values(agg, (s) => s.saturationRate ?? NaN), fmtInt),
          spread(values(agg, (s) => s.targetRate ?? NaN), fmtInt),
          failedCell(agg) ||
          spread(values(agg, (s) => loadOf(s).msgPerSec), fmtInt),
          spread(values(agg, (s) => loadOf(s).p50Us), fmtInt),
          spread(values(agg, (s) => loadOf(s).p99Us), fmtInt),
          spread(values(agg, (s) => loadOf(s).p999Us), fmtInt),
          refCell(spec, scenario, (s) => loadOf(s).p99Us),
          spread(values(agg, (s) => s.serverCpu!.share), (v) => v.toFixed(2)),
          ...clientCells(agg),
        ];
      }),
    ));
    lines.push("");
  }

  if (has("bulk")) {
    lines.push(`## Bulk: ${describeScenario("bulk", options)}`);
    lines.push("");
    lines.push("MB/s = 10^6 bytes echoed per second (one direction).");
    lines.push("");
    lines.push(table(
      [
        "server",
        "MB/s",
        "vs reference",
        "server CPU",
        "client CPU",
        "background CPU",
      ],
      ["---", "---:", "---:", "---:", "---:", "---:"],
      specsFor("bulk").map((spec) => {
        const agg = aggregate(samples, spec.name, "bulk");
        const mb = (s: Sample) => loadOf(s).mbPerSec;
        return [
          spec.name + partial(agg),
          failedCell(agg) || spread(values(agg, mb), (v) => v.toFixed(1)),
          refCell(spec, "bulk", mb),
          spread(values(agg, (s) => s.serverCpu!.share), (v) => v.toFixed(2)),
          ...clientCells(agg),
        ];
      }),
    ));
    lines.push("");
  }

  if (has("handshake")) {
    lines.push(`## Handshakes: ${describeScenario("handshake", options)}`);
    lines.push("");
    lines.push(table(
      [
        "server",
        "handshakes/s",
        "vs reference",
        "server µs CPU/handshake",
        "server CPU",
        "client CPU",
        "background CPU",
      ],
      ["---", "---:", "---:", "---:", "---:", "---:", "---:"],
      specsFor("handshake").map((spec) => {
        const agg = aggregate(samples, spec.name, "handshake");
        const rate = (s: Sample) => loadOf(s).handshakesPerSec;
        return [
          spec.name + partial(agg),
          failedCell(agg) || spread(values(agg, rate), fmtInt),
          refCell(spec, "handshake", rate),
          spread(
            values(agg, (s) => s.serverUsPerOp ?? NaN),
            (v) => v.toFixed(1),
          ),
          spread(values(agg, (s) => s.serverCpu!.share), (v) => v.toFixed(2)),
          ...clientCells(agg),
        ];
      }),
    ));
    lines.push("");
  }

  if (has("idle")) {
    lines.push(`## Idle memory: ${describeScenario("idle", options)}`);
    lines.push("");
    lines.push(
      "KiB per connection (lower is better; ratio > 1: wstream uses more).",
    );
    lines.push("");
    lines.push(table(
      [
        "server",
        "idle variant",
        "RSS KiB/conn",
        "vs reference",
        "JS heap KiB/conn",
      ],
      ["---", "---", "---:", "---:", "---:"],
      specsFor("idle").map((spec) => {
        const agg = aggregate(samples, spec.name, "idle");
        const rss = (s: Sample) => s.idle!.rssKiBPerConnection;
        return [
          spec.name + partial(agg),
          `${spec.runtime} ${spec.idleVariant}`,
          failedCell(agg) || spread(values(agg, rss), (v) => v.toFixed(1)),
          refCell(spec, "idle", rss),
          spread(
            values(agg, (s) => s.idle!.heapKiBPerConnection),
            (v) => v.toFixed(1),
          ),
        ];
      }),
    ));
    lines.push("");
  }

  if (has("chat") || has("chat-idle")) chatReport(lines);

  if (options.rounds > 1) {
    lines.push("## Per round");
    lines.push("");
    lines.push(
      "The headline metric of every round (echo and chat msg/s, rate, " +
        "sat50 and sat90 p99 µs, bulk MB/s, handshakes/s, idle KiB/conn), " +
        "to see the noise.",
    );
    lines.push("");
    const rounds = Array.from({ length: options.rounds }, (_, i) => i + 1);
    const headline = (s: Sample): string => {
      if (!s.ok) return "failed";
      switch (s.scenario) {
        case "echo":
          return fmtInt(s.load!.msgPerSec);
        case "rate":
        case "sat50":
        case "sat90":
          return fmtInt(s.load!.p99Us);
        case "bulk":
          return s.load!.mbPerSec.toFixed(1);
        case "handshake":
          return fmtInt(s.load!.handshakesPerSec);
        case "idle":
        case "chat-idle":
          return s.idle!.rssKiBPerConnection.toFixed(1);
        case "chat":
          return fmtInt(s.load!.msgPerSec);
      }
    };
    const rows: string[][] = [];
    for (const scenario of options.scenarios) {
      for (const spec of specsFor(scenario)) {
        rows.push([
          scenario,
          spec.name,
          ...rounds.map((round) => {
            const s = samples.find((x) =>
              x.server === spec.name && x.scenario === scenario &&
              x.round === round
            );
            return s === undefined ? "–" : headline(s);
          }),
        ]);
      }
    }
    lines.push(table(
      ["scenario", "server", ...rounds.map((r) => `round ${r}`)],
      ["---", "---", ...rounds.map(() => "---:")],
      rows,
    ));
    lines.push("");
  }

  const failures = samples.filter((s) => !s.ok);
  const withErrors = samples.filter((s) => s.ok && (s.load?.errors ?? 0) > 0);
  const disturbed = samples.filter((s) =>
    s.ok && (s.serverCpu?.background ?? 0) > BACKGROUND_LIMIT
  );
  const unsustained = samples.filter((s) =>
    s.ok && s.targetRate !== undefined &&
    s.load!.msgPerSec < 0.95 * s.targetRate
  );
  const saturatedClient = samples.filter((s) =>
    s.ok && (s.load?.clientCpuShare ?? 0) > 0.9
  );
  lines.push("## Failures and warnings");
  lines.push("");
  if (
    failures.length + withErrors.length + disturbed.length +
        unsustained.length + saturatedClient.length === 0
  ) {
    lines.push(
      "None: every scenario completed on every server, undisturbed.",
    );
  }
  for (const s of failures) {
    lines.push(
      `- round ${s.round}, ${s.server}, ${s.scenario}: **failed**: ` +
        "`" + (s.error ?? "").replace(/\s+/g, " ").replace(/`/g, "'").slice(
          0,
          600,
        ) + "`",
    );
  }
  for (const s of withErrors) {
    lines.push(
      `- round ${s.round}, ${s.server}, ${s.scenario}: completed with ` +
        `${s.load!.errors} client-side errors`,
    );
  }
  for (const s of unsustained) {
    lines.push(
      `- round ${s.round}, ${s.server}, ${s.scenario}: achieved ${
        fmtInt(s.load!.msgPerSec)
      } msg/s, below the target ${
        fmtInt(s.targetRate!)
      }: its latencies include queueing`,
    );
  }
  for (const s of saturatedClient) {
    lines.push(
      `- round ${s.round}, ${s.server}, ${s.scenario}: client CPU ${
        s.load!.clientCpuShare.toFixed(2)
      }: the load client may be the bottleneck`,
    );
  }
  for (const s of disturbed) {
    lines.push(
      `- round ${s.round}, ${s.server}, ${s.scenario}: background CPU ${
        s.serverCpu!.background.toFixed(2)
      } on the benchmark cores (other processes): disturbed`,
    );
  }
  lines.push("");

  const processes = new Map<string, ProcessInfo>();
  for (const s of samples) {
    if (s.process !== undefined && !processes.has(s.server)) {
      processes.set(s.server, s.process);
    }
  }
  if (processes.size > 0) {
    lines.push("## Server processes (CPU accounting check)");
    lines.push("");
    lines.push(table(
      ["server", "comm", "CPUs allowed", "threads", "child processes"],
      ["---", "---", "---", "---:", "---"],
      [...processes].map(([name, info]) => [
        name,
        info.comm,
        info.cpus,
        String(info.threads),
        info.children.length === 0 ? "none" : info.children.join(", "),
      ]),
    ));
    lines.push("");
  }
  return lines.join("\n");
}

// ---------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------

/**
 * A run's duration on a quiet machine, in seconds, from the costs measured
 * on the 2-CPU test machine: per load scenario its warmup and measured
 * seconds plus ~0.8 s (connections, close, client start), per server ~2 s
 * (start, one second of quiet check), per idle scenario ~1 s plus ~2 s per
 * 1,000 connections (5,000: ~11 s).
 */
function estimateSeconds(options: Options): number {
  let seconds = 0;
  for (const spec of options.servers) {
    const own = serverScenarios(spec).filter((s) =>
      options.scenarios.includes(s)
    );
    if (own.length === 0) continue;
    seconds += 2;
    for (const scenario of own) {
      if (scenario === "idle" || scenario === "chat-idle") {
        const count = scenario === "idle"
          ? options.idleCount
          : options.chatIdleCount;
        seconds += 1 + 2 * count / 1000;
      } else {
        seconds += options.warmup + options.seconds + 0.8;
      }
    }
  }
  return seconds * options.rounds;
}

async function main(): Promise<void> {
  const options = parseOptions(Deno.args);
  const jsonPath = options.out.replace(/\.md$/, "") + ".json";
  const env = await environment();
  if (
    !/^v(\d+)/.test(env.node) || Number(env.node.slice(1).split(".")[0]) < 23
  ) {
    log(
      `warning: node is ${env.node}; Node 23.6+ is needed to run .ts ` +
        "files (put a newer node first in PATH)",
    );
  }
  log(
    `deno ${env.deno.split(";")[0]}, bun ${env.bun}, node ${env.node}, ` +
      `ws ${env.ws}`,
  );
  log(
    `estimated duration on a quiet machine: about ${
      Math.ceil(estimateSeconds(options) / 60)
    } min (more while other processes keep the benchmark cores busy: ` +
      `--quiet-wait ${options.quietWait})`,
  );
  log("building the load client");
  await buildLoadClient();
  const samples: Sample[] = [];
  const started = performance.now();
  for (let round = 1; round <= options.rounds; round++) {
    env.wstreamSources.push(await sourceFingerprint());
    log(`round ${round}/${options.rounds}`);
    for (const spec of options.servers) {
      const own = serverScenarios(spec);
      if (!options.scenarios.some((s) => own.includes(s))) continue;
      await waitQuiet(options.quietWait);
      await runServerScenarios(round, spec, options, samples);
    }
  }
  env.wstreamSources.push(await sourceFingerprint());
  if (new Set(env.wstreamSources).size > 1) {
    log("warning: wstream's sources changed during the run");
  }
  log(`done in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  const markdown = report(env, options, samples, jsonPath);
  const dir = options.out.slice(0, options.out.lastIndexOf("/"));
  if (dir !== "") Deno.mkdirSync(dir, { recursive: true });
  Deno.writeTextFileSync(options.out, markdown);
  Deno.writeTextFileSync(
    jsonPath,
    JSON.stringify(
      {
        environment: env,
        options: { ...options, servers: options.servers.map((s) => s.name) },
        samples,
      },
      null,
      2,
    ) + "\n",
  );
  // The repository's `deno fmt --check` covers bench/results/.
  await commandOutput(Deno.execPath(), ["fmt", "-q", options.out, jsonPath]);
  console.log(Deno.readTextFileSync(options.out));
  log(`wrote ${options.out} and ${jsonPath}`);
}

if (import.meta.main) await main();
