/**
 * Draws the README's charts as SVG files in `bench/charts/`, from the
 * committed benchmark results in `bench/results/` and the Autobahn test
 * tables:
 *
 * - `echo-throughput.svg`: echo msg/s, wstream against the native server of
 *   each runtime (Deno's, Bun's, `ws` on Node);
 * - `echo-cpu.svg`: server CPU µs per message in that echo;
 * - `bulk-throughput.svg`: 1 MiB echo throughput, MB/s;
 * - `idle-memory.svg`: idle memory per connection, KiB RSS;
 * - `compression.svg`: compressed chat msg/s and bytes per message on the
 *   wire, wstream against `ws` and Bun's native server;
 * - `fanout.svg`: fan-out deliveries per second (1 publisher → 1,000
 *   subscribers × 32 B), wstream's `Hub` on Deno, Bun and Node and under
 *   `Bun.serve`, against Bun's native `server.publish` and a `ws` loop, with
 *   issue 9's target ratios;
 * - `conformance.svg`: the Autobahn|Testsuite cases of the test tables
 *   (`tests/core/_autobahn_cases.ts`,
 *   `tests/extensions/_autobahn_deflate_cases.ts`), counted per group.
 *
 * Inputs: the results JSON files `bench/echo_suite.ts` writes,
 * `<YYYY-MM-DD>-echo.json` (a full `deno task bench`) and
 * `<YYYY-MM-DD>-compression.json` (`--scenarios chat,chat-idle`), and the one
 * `bench/fanout_bench.ts --out` writes, `<YYYY-MM-DD>-fanout.json`; quick runs
 * (`-quick`, git-ignored) are never used. Each chart takes the newest file
 * (by its date prefix) whose run covered the chart's scenario and servers.
 * Every value drawn is the median over the run's rounds of the measured
 * samples, with the min–max as a whisker, and the ratios are the median of
 * the per-round ratios, as in the Markdown report. A missing, unreadable or
 * malformed input fails the script with the file and the field at fault.
 *
 * Usage (no dependencies; part of `deno task bench` and `bench:quick`):
 *
 * ```sh
 * deno run -A bench/charts.ts                       # bench/results → bench/charts
 * deno run -A bench/charts.ts --results dir --out dir
 * ```
 *
 * @module
 */

const ROOT = new URL("../", import.meta.url).pathname;

// ---------------------------------------------------------------------------
// Results files
// ---------------------------------------------------------------------------

/** The results kinds `bench/echo_suite.ts` writes, newest first within each. */
const KINDS = ["echo", "compression"] as const;
const RESULTS_NAME = /^(\d{4}-\d{2}-\d{2})-(echo|compression)\.json$/;

interface LoadResult {
  conns: number;
  inflight: number;
  size: number;
  msgPerSec: number;
  mbPerSec: number;
  payloadBytesPerMsg?: number;
  rxWireBytesPerMsg?: number;
  extensions?: string;
}

interface Sample {
  round: number;
  server: string;
  scenario: string;
  ok: boolean;
  load?: LoadResult;
  serverUsPerOp?: number;
  idle?: { count: number; rssKiBPerConnection: number };
}

interface Results {
  /** Path relative to the repository root, for the chart's caption. */
  file: string;
  /** The date prefix of the file name. */
  date: string;
  command: string;
  rounds: number;
  seconds: number;
  deno: string;
  bun: string;
  node: string;
  ws: string;
  cpu: string;
  servers: string[];
  scenarios: string[];
  samples: Sample[];
}

/** Fails the script: a chart must not be drawn from a broken input. */
function fail(message: string): never {
  throw new Error(`bench/charts.ts: ${message}`);
}

function field<T>(
  file: string,
  object: unknown,
  path: string,
  check: (value: unknown) => value is T,
  what: string,
): T {
  let value: unknown = object;
  for (const key of path.split(".")) {
    value = typeof value === "object" && value !== null
      ? (value as Record<string, unknown>)[key]
      : undefined;
  }
  if (!check(value)) {
    fail(
      `${file}: \`${path}\` should be ${what}, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

const isString = (v: unknown): v is string => typeof v === "string";
const isNumber = (v: unknown): v is number =>
  typeof v === "number" && Number.isFinite(v);
const isStrings = (v: unknown): v is string[] =>
  Array.isArray(v) && v.every(isString);
const isArray = (v: unknown): v is unknown[] => Array.isArray(v);
const isBoolean = (v: unknown): v is boolean => typeof v === "boolean";

/** Reads and checks one results file (the fields the charts use). */
function readResults(dir: string, name: string): Results {
  const path = `${dir}/${name}`;
  const file = path.startsWith(ROOT) ? path.slice(ROOT.length) : path;
  let json: unknown;
  try {
    json = JSON.parse(Deno.readTextFileSync(path));
  } catch (error) {
    fail(`${file}: cannot read it as JSON (${(error as Error).message})`);
  }
  const env = (key: string) =>
    field(file, json, `environment.${key}`, isString, "a string");
  const samples = field(file, json, "samples", isArray, "an array").map(
    (raw, i): Sample => {
      const at = `samples.${i}`;
      const sample: Sample = {
        round: field(file, json, `${at}.round`, isNumber, "a number"),
        server: field(file, json, `${at}.server`, isString, "a string"),
        scenario: field(file, json, `${at}.scenario`, isString, "a string"),
        ok: field(file, json, `${at}.ok`, isBoolean, "a boolean"),
      };
      const s = raw as Record<string, unknown>;
      if (s.load !== undefined) sample.load = s.load as LoadResult;
      if (s.serverUsPerOp !== undefined) {
        sample.serverUsPerOp = s.serverUsPerOp as number;
      }
      if (s.idle !== undefined) {
        sample.idle = s.idle as { count: number; rssKiBPerConnection: number };
      }
      return sample;
    },
  );
  if (samples.length === 0) fail(`${file}: \`samples\` is empty`);
  return {
    file,
    date: name.slice(0, 10),
    command: env("command"),
    rounds: field(file, json, "options.rounds", isNumber, "a number"),
    seconds: field(file, json, "options.seconds", isNumber, "a number"),
    deno: env("deno").split(/[ ;(]/)[1] ?? env("deno"),
    bun: env("bun"),
    node: env("node").replace(/^v/, ""),
    ws: env("ws"),
    cpu: `${env("cpuModel")}, ${
      field(file, json, "environment.nproc", isNumber, "a number")
    } CPUs`,
    servers: field(file, json, "options.servers", isStrings, "strings"),
    scenarios: field(file, json, "options.scenarios", isStrings, "strings"),
    samples,
  };
}

/** The committed results files, newest first (both kinds together). */
function resultsFiles(dir: string): string[] {
  let names: string[];
  try {
    names = [...Deno.readDirSync(dir)].filter((e) => e.isFile).map((e) =>
      e.name
    );
  } catch (error) {
    fail(`cannot list ${dir} (${(error as Error).message})`);
  }
  const found = names.filter((n) => RESULTS_NAME.test(n)).sort().reverse();
  if (found.length === 0) {
    fail(
      `no results in ${dir}: expected <YYYY-MM-DD>-{${
        KINDS.join(",")
      }}.json from bench/echo_suite.ts (run deno task bench)`,
    );
  }
  return found;
}

class ResultsIndex {
  #dir: string;
  #names: string[];
  #cache = new Map<string, Results>();

  constructor(dir: string) {
    this.#dir = dir;
    this.#names = resultsFiles(dir);
  }

  /**
   * The newest results file whose run covered `scenario` on every server of
   * `servers` (read and checked; a malformed newer file fails, it is never
   * skipped).
   */
  newest(scenario: string, servers: readonly string[]): Results {
    for (const name of this.#names) {
      let results = this.#cache.get(name);
      if (results === undefined) {
        results = readResults(this.#dir, name);
        this.#cache.set(name, results);
      }
      if (
        results.scenarios.includes(scenario) &&
        servers.every((s) => results.servers.includes(s))
      ) return results;
    }
    fail(
      `no results file in ${this.#dir} has the ${scenario} scenario for ${
        servers.join(", ")
      } (looked at ${this.#names.join(", ")})`,
    );
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? sorted[middle]!
    : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

type Metric = (sample: Sample, file: string) => number;

function metric(name: string, get: (s: Sample) => unknown): Metric {
  return (sample, file) => {
    const value = get(sample);
    if (!isNumber(value)) {
      fail(
        `${file}: round ${sample.round}, ${sample.server}, ${sample.scenario}: ` +
          `\`${name}\` should be a number, got ${JSON.stringify(value)}`,
      );
    }
    return value;
  };
}

const MSG_PER_SEC = metric("load.msgPerSec", (s) => s.load?.msgPerSec);
const MB_PER_SEC = metric("load.mbPerSec", (s) => s.load?.mbPerSec);
const CPU_US = metric("serverUsPerOp", (s) => s.serverUsPerOp);
const IDLE_KIB = metric(
  "idle.rssKiBPerConnection",
  (s) => s.idle?.rssKiBPerConnection,
);
const WIRE_DOWN = metric(
  "load.rxWireBytesPerMsg",
  (s) => s.load?.rxWireBytesPerMsg,
);
const PAYLOAD = metric(
  "load.payloadBytesPerMsg",
  (s) => s.load?.payloadBytesPerMsg,
);

const CONNS = metric("load.conns", (s) => s.load?.conns);
const INFLIGHT = metric("load.inflight", (s) => s.load?.inflight);
const SIZE = metric("load.size", (s) => s.load?.size);
const IDLE_COUNT = metric("idle.count", (s) => s.idle?.count);

/**
 * A parameter of the runs (connections, message size, …), which must be the
 * same in every sample of the scenario.
 */
function parameter(results: Results, scenario: string, get: Metric): number {
  const all = results.samples.filter((s) => s.scenario === scenario && s.ok)
    .map((s) => get(s, results.file));
  const first = all[0];
  if (first === undefined || all.some((v) => v !== first)) {
    fail(`${results.file}: ${scenario} samples differ in their parameters`);
  }
  return first;
}

/** The successful samples of a server in a scenario; fails if there is none. */
function runs(results: Results, server: string, scenario: string): Sample[] {
  const ok = results.samples.filter((s) =>
    s.server === server && s.scenario === scenario && s.ok
  );
  if (ok.length === 0) {
    fail(`${results.file}: no successful ${scenario} sample for ${server}`);
  }
  return ok;
}

function values(
  results: Results,
  server: string,
  scenario: string,
  get: Metric,
): number[] {
  return runs(results, server, scenario).map((s) => get(s, results.file));
}

/** Median of the per-round ratios `server / other` (as the report). */
function ratio(
  results: Results,
  server: string,
  other: string,
  scenario: string,
  get: Metric,
): number {
  const out: number[] = [];
  for (const a of runs(results, server, scenario)) {
    const b = results.samples.find((s) =>
      s.server === other && s.scenario === scenario && s.round === a.round &&
      s.ok
    );
    if (b !== undefined) out.push(get(a, results.file) / get(b, results.file));
  }
  if (out.length === 0) {
    fail(`${results.file}: no round with both ${server} and ${other}`);
  }
  return median(out);
}

// ---------------------------------------------------------------------------
// SVG
// ---------------------------------------------------------------------------

const WIDTH = 800;
const FONT =
  "-apple-system, BlinkMacSystemFont, 'Segoe UI', Helvetica, Arial, sans-serif";
const INK = "#1f2328";
const MUTED = "#59636e";
const GRID = "#e4e7eb";
/** Okabe–Ito blue and orange: distinct for colour-blind readers too. */
const COLORS = {
  wstream: "#0072b2",
  wstreamHooks: "#56b4e9",
  reference: "#e69f00",
  alternative: "#f4cf7a",
} as const;
type BarKind = keyof typeof COLORS;

/** A rough width of a label in the widest common sans-serif (DejaVu Sans). */
function approxWidth(label: string, size: number): number {
  return label.length * size * 0.6;
}

function escape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(
    />/g,
    "&gt;",
  ).replace(/"/g, "&quot;");
}

function text(
  x: number,
  y: number,
  content: string,
  attrs: Record<string, string | number> = {},
): string {
  const extra = Object.entries(attrs).map(([k, v]) => ` ${k}="${v}"`).join(
    "",
  );
  return `<text x="${r(x)}" y="${r(y)}"${extra}>${escape(content)}</text>`;
}

/** Rounds a coordinate to 0.1 px (smaller files, stable output). */
function r(n: number): string {
  return String(Math.round(n * 10) / 10);
}

/** A "nice" axis step (1, 2, 2.5 or 5 × 10^n) for about `count` ticks. */
function niceStep(max: number, count: number): number {
  const raw = max / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) {
    if (m * power >= raw) return m * power;
  }
  return 10 * power;
}

/** Text lines of a caption, wrapped at about `chars` characters. */
function wrap(line: string, chars: number): string[] {
  const out: string[] = [];
  let current = "";
  for (const word of line.split(" ")) {
    if (current !== "" && current.length + 1 + word.length > chars) {
      out.push(current);
      current = word;
    } else {
      current = current === "" ? word : `${current} ${word}`;
    }
  }
  if (current !== "") out.push(current);
  return out;
}

interface Bar {
  label: string;
  kind: BarKind;
  /** Per panel: the per-round values, or `null` for no bar (with a note). */
  values: (number[] | null)[];
  /** Shown instead of a bar where `values[panel]` is `null`. */
  missing?: string;
}

interface Group {
  label: string;
  /** Right-aligned on the group's heading line (e.g. the ratio). */
  note?: string;
  bars: Bar[];
}

interface Panel {
  heading: string;
  /** A muted line under the heading (several panels only). */
  subheading?: string;
  format: (value: number) => string;
  /** Format of the axis ticks (default: `format`). */
  tick?: (value: number) => string;
  /** A dashed vertical line, e.g. the uncompressed payload size. */
  marker?: { value: number; label: string };
}

interface Chart {
  title: string;
  /** What was measured, the command, the source file and its date. */
  caption: string[];
  legend: { kind: BarKind; label: string }[];
  panels: Panel[];
  groups: Group[];
  footer: string;
}

/** Horizontal grouped bars, one or more panels side by side. */
function barChart(chart: Chart): string {
  const out: string[] = [];
  const left = 24;
  const labelWidth = chart.panels.length > 1 ? 232 : 220;
  const plotLeft = left + labelWidth;
  const plotRight = WIDTH - 24;
  const gap = 28;
  const panelWidth = (plotRight - plotLeft - gap * (chart.panels.length - 1)) /
    chart.panels.length;
  // Room for the value label right of the longest bar.
  const valueRoom = chart.panels.length > 1 ? 62 : 78;

  let y = 38;
  out.push(text(left, y, chart.title, {
    "font-size": 20,
    "font-weight": 700,
    fill: INK,
  }));
  y += 8;
  for (const line of chart.caption.flatMap((l) => wrap(l, 108))) {
    y += 18;
    out.push(text(left, y, line, { "font-size": 12.5, fill: MUTED }));
  }
  y += chart.legend.length > 0 ? 26 : 0;
  let x = left;
  for (const item of chart.legend) {
    const width = 20 + approxWidth(item.label, 13) + 24;
    if (x > left && x + width > WIDTH - 24) {
      x = left;
      y += 22;
    }
    out.push(
      `<rect x="${x}" y="${y - 11}" width="14" height="14" rx="2" fill="${
        COLORS[item.kind]
      }"/>`,
    );
    out.push(text(x + 20, y, item.label, { "font-size": 13, fill: INK }));
    x += width;
  }
  y += 14;

  // Panel headings (only with more than one panel).
  const panelX = (i: number) => plotLeft + i * (panelWidth + gap);
  if (chart.panels.length > 1) {
    y += 22;
    chart.panels.forEach((panel, i) => {
      out.push(text(panelX(i), y, panel.heading, {
        "font-size": 13.5,
        "font-weight": 700,
        fill: INK,
      }));
      if (panel.subheading !== undefined) {
        out.push(text(panelX(i), y + 16, panel.subheading, {
          "font-size": 12,
          fill: MUTED,
        }));
      }
    });
    y += chart.panels.some((p) => p.subheading !== undefined) ? 20 : 4;
  }
  // Room for marker labels above the plot.
  if (chart.panels.some((p) => p.marker !== undefined)) y += 16;

  const barHeight = 22;
  const barGap = 7;
  const headingHeight = 28;
  const groupGap = 10;
  const plotTop = y + 6;
  const height = chart.groups.reduce(
    (h, g) => h + headingHeight + g.bars.length * (barHeight + barGap),
    0,
  ) + groupGap * (chart.groups.length - 1);
  const plotBottom = plotTop + height;

  // Scales and grid per panel.
  const scales = chart.panels.map((panel, i) => {
    const all = chart.groups.flatMap((g) =>
      g.bars.flatMap((b) => b.values[i] ?? [])
    );
    const max = Math.max(...all, panel.marker?.value ?? 0);
    const width = panelWidth - valueRoom;
    const step = niceStep(max, chart.panels.length > 1 ? 3 : 5);
    const top = Math.ceil(max / step) * step;
    const scale = (v: number) => panelX(i) + (v / top) * width;
    for (let t = 0; t <= top + step / 1e6; t += step) {
      out.push(
        `<line x1="${r(scale(t))}" y1="${r(plotTop)}" x2="${r(scale(t))}" y2="${
          r(plotBottom)
        }" stroke="${GRID}" stroke-width="1"/>`,
      );
      out.push(
        text(scale(t), plotBottom + 16, (panel.tick ?? panel.format)(t), {
          "font-size": 11.5,
          fill: MUTED,
          "text-anchor": "middle",
        }),
      );
    }
    return scale;
  });

  y = plotTop;
  chart.groups.forEach((group, gi) => {
    if (gi > 0) {
      y += groupGap;
      out.push(
        `<line x1="${left}" y1="${r(y - groupGap / 2)}" x2="${plotRight}" y2="${
          r(y - groupGap / 2)
        }" stroke="${GRID}" stroke-width="1"/>`,
      );
    }
    out.push(text(left, y + 19, group.label, {
      "font-size": 14.5,
      "font-weight": 700,
      fill: INK,
    }));
    if (group.note !== undefined) {
      // One panel: at the right edge; several: over the first panel, whose
      // metric the note is about.
      const single = chart.panels.length === 1;
      out.push(text(single ? plotRight : panelX(0), y + 19, group.note, {
        "font-size": 13,
        "font-weight": 700,
        fill: single ? INK : MUTED,
        ...(single ? { "text-anchor": "end" } : {}),
      }));
    }
    y += headingHeight;
    for (const bar of group.bars) {
      const mid = y + barHeight / 2;
      out.push(text(left + 12, mid + 4.5, bar.label, {
        "font-size": 13,
        fill: INK,
      }));
      chart.panels.forEach((panel, i) => {
        const scale = scales[i]!;
        const vals = bar.values[i];
        if (vals === null || vals === undefined) {
          out.push(text(panelX(i) + 4, mid + 4.5, bar.missing ?? "–", {
            "font-size": 12,
            "font-style": "italic",
            fill: MUTED,
          }));
          return;
        }
        const m = median(vals);
        const lo = Math.min(...vals);
        const hi = Math.max(...vals);
        const x0 = panelX(i);
        out.push(
          `<rect x="${r(x0)}" y="${r(y)}" width="${
            r(Math.max(1.5, scale(m) - x0))
          }" height="${barHeight}" rx="2" fill="${COLORS[bar.kind]}"/>`,
        );
        if (vals.length > 1 && hi > lo) {
          const w = `stroke="${INK}" stroke-opacity="0.55" stroke-width="1.3"`;
          out.push(
            `<line x1="${r(scale(lo))}" y1="${r(mid)}" x2="${
              r(scale(hi))
            }" y2="${r(mid)}" ${w}/>`,
            `<line x1="${r(scale(lo))}" y1="${r(mid - 5)}" x2="${
              r(scale(lo))
            }" y2="${r(mid + 5)}" ${w}/>`,
            `<line x1="${r(scale(hi))}" y1="${r(mid - 5)}" x2="${
              r(scale(hi))
            }" y2="${r(mid + 5)}" ${w}/>`,
          );
        }
        out.push(
          text(Math.max(scale(m), scale(hi)) + 6, mid + 4.5, panel.format(m), {
            "font-size": 13,
            "font-weight": 600,
            fill: INK,
          }),
        );
      });
      y += barHeight + barGap;
    }
  });

  // Markers over the bars.
  chart.panels.forEach((panel, i) => {
    if (panel.marker === undefined) return;
    const mx = scales[i]!(panel.marker.value);
    out.push(
      `<line x1="${r(mx)}" y1="${r(plotTop - 4)}" x2="${r(mx)}" y2="${
        r(plotBottom)
      }" stroke="${INK}" stroke-width="1.3" stroke-dasharray="4 3"/>`,
    );
    out.push(text(mx + 4, plotTop - 8, panel.marker.label, {
      "font-size": 11.5,
      fill: INK,
      "text-anchor": "end",
    }));
  });

  y = plotBottom + 40;
  for (const line of wrap(chart.footer, 112)) {
    out.push(text(left, y, line, { "font-size": 12, fill: MUTED }));
    y += 16;
  }
  const total = Math.ceil(y + 4);
  return svg(total, chart.title, out);
}

function svg(height: number, title: string, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="${FONT}" role="img" aria-label="${
      escape(title)
    }">`,
    `<title>${escape(title)}</title>`,
    `<rect width="${WIDTH}" height="${height}" rx="8" fill="#ffffff"/>`,
    ...body,
    "</svg>",
    "",
  ].join("\n");
}

// ---------------------------------------------------------------------------
// The charts
// ---------------------------------------------------------------------------

const int = (v: number) => Math.round(v).toLocaleString("en-US");
const thousands = (v: number) =>
  v === 0
    ? "0"
    : v >= 1e6
    ? `${(v / 1e6).toLocaleString("en-US")}M`
    : `${(v / 1000).toLocaleString("en-US")}k`;
const times = (v: number) => `${v.toFixed(2)}×`;
/** A message size: `1 MiB`, `64 KiB`, `32 B`. */
const bytes = (v: number) =>
  v >= 1 << 20 && v % (1 << 20) === 0
    ? `${v / (1 << 20)} MiB`
    : v >= 1024 && v % 1024 === 0
    ? `${v / 1024} KiB`
    : `${int(v)} B`;

/** The runtimes of the echo suite: wstream's server and its reference. */
const RUNTIMES = [
  {
    label: "Deno",
    wstream: "wstream-deno",
    hooks: "wstream-hooks-deno",
    ref: "deno-native",
    refLabel: "Deno native",
    short: "native",
  },
  {
    label: "Bun",
    wstream: "wstream-bun",
    hooks: "wstream-hooks-bun",
    ref: "bun-native",
    refLabel: "Bun native",
    short: "native",
  },
  {
    label: "Node",
    wstream: "wstream-node",
    hooks: "wstream-hooks-node",
    ref: "ws-node",
    refLabel: "ws",
    short: "ws",
  },
] as const;

function source(results: Results): string {
  return `Source: ${results.file} (run ${results.date}; Deno ${results.deno}, ` +
    `Bun ${results.bun}, Node ${results.node}, ws ${results.ws}; ${results.cpu}). ` +
    `Command: ${results.command.replace(/ --out \S+/, "")}.`;
}

function rounds(results: Results): string {
  return `Bars: median of ${results.rounds} interleaved rounds of ` +
    `${results.seconds} s; whiskers: min–max.`;
}

/** One echo-suite metric per runtime, wstream against the reference. */
function echoChart(
  index: ResultsIndex,
  options: {
    scenario: string;
    get: Metric;
    title: string;
    measured: (results: Results) => string;
    panel: Panel;
    better: "higher" | "lower";
    /** The ratio's wording on each group heading. */
    ratioLabel: (short: string) => string;
  },
): string {
  const servers = RUNTIMES.flatMap((rt) => [rt.wstream, rt.ref]);
  const results = index.newest(options.scenario, servers);
  const idle = options.scenario === "idle";
  // The hooks API's bars where the run has them (runs before it did not).
  const hooks = (rt: typeof RUNTIMES[number]): boolean =>
    results.samples.some((s) =>
      s.server === rt.hooks && s.scenario === options.scenario && s.ok
    );
  const withHooks = RUNTIMES.some(hooks);
  const ratioOf = (server: string, rt: typeof RUNTIMES[number]): string =>
    times(ratio(results, server, rt.ref, options.scenario, options.get));
  return barChart({
    title: options.title,
    caption: [options.measured(results), source(results)],
    legend: [
      {
        kind: "wstream",
        label: "wstream streams: serve() + upgrade() (examples/echo.ts)",
      },
      ...(withHooks
        ? [{
          kind: "wstreamHooks" as const,
          label: "wstream hooks: serve() + upgrade(req, { hooks })",
        }]
        : []),
      { kind: "reference", label: "Deno.upgradeWebSocket / Bun.serve / ws" },
    ],
    panels: [options.panel],
    groups: RUNTIMES.map((rt) => ({
      label: rt.label,
      note: hooks(rt)
        ? `${options.ratioLabel(rt.short)}: streams ${
          ratioOf(rt.wstream, rt)
        }, hooks ${ratioOf(rt.hooks, rt)}`
        : `${options.ratioLabel(rt.short)} ${ratioOf(rt.wstream, rt)}`,
      bars: [
        {
          label: "wstream streams",
          kind: "wstream",
          values: [values(results, rt.wstream, options.scenario, options.get)],
        },
        ...(hooks(rt)
          ? [{
            label: "wstream hooks",
            kind: "wstreamHooks" as const,
            values: [values(results, rt.hooks, options.scenario, options.get)],
          }]
          : []),
        {
          label: rt.refLabel,
          kind: "reference",
          values: [values(results, rt.ref, options.scenario, options.get)],
        },
      ],
    })),
    footer: `${
      idle
        ? `Bars: median of ${results.rounds} rounds (each a fresh process); whiskers: min–max.`
        : rounds(results)
    } ${options.better === "higher" ? "Higher" : "Lower"} is better. ` +
      "Ratios: median of the per-round ratios wstream ÷ reference. " +
      (idle
        ? "Server pinned to one core, the connecting driver on the other."
        : "Server pinned to one core, the C load client (bench/load/wsload.c) on the other."),
  });
}

function compressionChart(index: ResultsIndex): string {
  const rows = {
    wstreamNode: "wstream-node-deflate",
    ws: "ws-node-deflate",
    wsW12: "ws-node-deflate-w12",
    wstreamBun: "wstream-bun-deflate",
    bun: "bun-native-deflate",
    wstreamDeno: "wstream-deno-deflate",
  };
  const results = index.newest("chat", Object.values(rows));
  const both = (server: string) => [
    values(results, server, "chat", MSG_PER_SEC),
    values(results, server, "chat", WIRE_DOWN),
  ];
  const payload = median(
    Object.values(rows).flatMap((s) => values(results, s, "chat", PAYLOAD)),
  );
  return barChart({
    title: "Compressed chat: messages per second and bytes on the wire",
    caption: [
      `${int(parameter(results, "chat", CONNS))} connections × ${
        int(parameter(results, "chat", INFLIGHT))
      } in flight echoing chat/event JSON messages (mean ${
        int(payload)
      } B) with permessage-deflate agreed; the load ` +
      "client compresses every message and checks every echo. Right: " +
      "WebSocket bytes per echoed message, server → client (frame header + " +
      "compressed payload).",
      source(results),
    ],
    legend: [
      { kind: "wstream", label: "wstream serve() (compression on by default)" },
      { kind: "reference", label: "ws / Bun native, their defaults" },
      {
        kind: "alternative",
        label: "ws at wstream's windows (12/12, memLevel 5)",
      },
    ],
    panels: [
      {
        heading: "messages / s",
        subheading: "higher is better",
        format: int,
        tick: thousands,
      },
      {
        heading: "bytes / message on the wire",
        subheading: "lower is better",
        format: (v) => `${int(v)} B`,
        tick: int,
        marker: { value: payload, label: `uncompressed ${int(payload)} B` },
      },
    ],
    groups: [
      {
        label: "Node",
        note: `wstream ÷ ws: ${
          times(ratio(results, rows.wstreamNode, rows.ws, "chat", MSG_PER_SEC))
        } msg/s`,
        bars: [
          {
            label: "wstream serve()",
            kind: "wstream",
            values: both(rows.wstreamNode),
          },
          {
            label: "ws (perMessageDeflate)",
            kind: "reference",
            values: both(rows.ws),
          },
          {
            label: "ws (windows 12, memLevel 5)",
            kind: "alternative",
            values: both(rows.wsW12),
          },
        ],
      },
      {
        label: "Bun",
        note: `wstream ÷ native: ${
          times(ratio(results, rows.wstreamBun, rows.bun, "chat", MSG_PER_SEC))
        } msg/s`,
        bars: [
          {
            label: "wstream serve()",
            kind: "wstream",
            values: both(rows.wstreamBun),
          },
          { label: "Bun native", kind: "reference", values: both(rows.bun) },
        ],
      },
      {
        label: "Deno",
        note: "(Deno.serve: no compression)",
        bars: [
          {
            label: "wstream serve()",
            kind: "wstream",
            values: both(rows.wstreamDeno),
          },
        ],
      },
    ],
    footer:
      `${rounds(results)} wstream's defaults: windows 12/12, memLevel 5, ` +
      "level 6, context takeover. Bun's native server compresses through one " +
      "shared zlib stream without context takeover.",
  });
}

// ---------------------------------------------------------------------------
// Fan-out (bench/fanout_bench.ts)
// ---------------------------------------------------------------------------

const FANOUT_NAME = /^(\d{4}-\d{2}-\d{2})-fanout\.json$/;

interface FanoutSample {
  round: number;
  server: string;
  ok: boolean;
  deliveriesPerSec?: number;
}

interface Fanout {
  file: string;
  date: string;
  command: string;
  rounds: number;
  conns: number;
  messages: number;
  messageBytes: number;
  versions: string;
  servers: string[];
  samples: FanoutSample[];
  /** The Markdown report the file was transcribed from, if it was. */
  transcribedFrom?: string;
}

/** The newest `<YYYY-MM-DD>-fanout.json` (read and checked). */
function newestFanout(dir: string): Fanout {
  let names: string[];
  try {
    names = [...Deno.readDirSync(dir)].filter((e) => e.isFile).map((e) =>
      e.name
    );
  } catch (error) {
    fail(`cannot list ${dir} (${(error as Error).message})`);
  }
  const name = names.filter((n) => FANOUT_NAME.test(n)).sort().reverse()[0];
  if (name === undefined) {
    fail(
      `no fan-out results in ${dir}: expected <YYYY-MM-DD>-fanout.json from ` +
        "bench/fanout_bench.ts --out (run deno task bench)",
    );
  }
  const path = `${dir}/${name}`;
  const file = path.startsWith(ROOT) ? path.slice(ROOT.length) : path;
  let json: unknown;
  try {
    json = JSON.parse(Deno.readTextFileSync(path));
  } catch (error) {
    fail(`${file}: cannot read it as JSON (${(error as Error).message})`);
  }
  const env = (key: string) =>
    field(file, json, `environment.${key}`, isString, "a string");
  const option = (key: string) =>
    field(file, json, `options.${key}`, isNumber, "a number");
  const samples = field(file, json, "samples", isArray, "an array").map(
    (_, i): FanoutSample => {
      const at = `samples.${i}`;
      const sample: FanoutSample = {
        round: field(file, json, `${at}.round`, isNumber, "a number"),
        server: field(file, json, `${at}.server`, isString, "a string"),
        ok: field(file, json, `${at}.ok`, isBoolean, "a boolean"),
      };
      if (sample.ok) {
        sample.deliveriesPerSec = field(
          file,
          json,
          `${at}.deliveriesPerSec`,
          isNumber,
          "a number",
        );
      }
      return sample;
    },
  );
  const transcribed = (json as { transcribedFrom?: { file?: unknown } })
    .transcribedFrom?.file;
  return {
    file,
    date: name.slice(0, 10),
    command: env("command"),
    rounds: option("rounds"),
    conns: option("conns"),
    messages: option("messages"),
    messageBytes: option("messageBytes"),
    versions: `Deno ${env("deno")}, Bun ${env("bun")}, Node ${
      env("node").replace(/^v/, "")
    }, ws ${env("ws")}; ${env("cpuModel")}, ${
      field(file, json, "environment.nproc", isNumber, "a number")
    } CPUs`,
    servers: field(file, json, "options.servers", isStrings, "strings"),
    samples,
    ...(isString(transcribed) ? { transcribedFrom: transcribed } : {}),
  };
}

function fanoutValues(results: Fanout, server: string): number[] {
  const ok = results.samples.filter((s) => s.server === server && s.ok);
  if (ok.length === 0) {
    fail(`${results.file}: no successful fan-out sample for ${server}`);
  }
  return ok.map((s) => s.deliveriesPerSec!);
}

/** Median of the per-round ratios `server / other` of deliveries/s. */
function fanoutRatio(results: Fanout, server: string, other: string): number {
  const out: number[] = [];
  for (const a of results.samples) {
    if (a.server !== server || !a.ok) continue;
    const b = results.samples.find((s) =>
      s.server === other && s.round === a.round && s.ok
    );
    if (b !== undefined) out.push(a.deliveriesPerSec! / b.deliveriesPerSec!);
  }
  if (out.length === 0) {
    fail(`${results.file}: no round with both ${server} and ${other}`);
  }
  return median(out);
}

function fanoutChart(dir: string): string {
  const results = newestFanout(dir);
  for (
    const server of [
      "wstream-deno",
      "wstream-bun",
      "wstream-bun-serve",
      "bun-native",
      "wstream-node",
      "ws-node",
    ]
  ) {
    if (!results.servers.includes(server)) {
      fail(`${results.file}: the run did not cover ${server}`);
    }
  }
  const bar = (label: string, kind: BarKind, server: string): Bar => ({
    label,
    kind,
    values: [fanoutValues(results, server)],
  });
  const transcribed = results.transcribedFrom === undefined
    ? ""
    : `, transcribed from ${results.transcribedFrom}`;
  return barChart({
    title: "Fan-out: deliveries per second",
    caption: [
      `1 publisher → ${int(results.conns)} subscribed connections × ${
        int(results.messages)
      } messages of ${
        bytes(results.messageBytes)
      } text (bench/servers/fanout_server.ts); deliveries = messages × ` +
      "subscribers over the time from the first byte received to the last, " +
      "counted by one Node process of raw TCP connections " +
      "(bench/load/fanout_subscribers.mjs).",
      `Source: ${results.file} (run ${results.date}${transcribed}; ` +
      `${results.versions}). Command: ${
        results.command.replace(/ --out( [^-]\S*)?/, "")
      }.`,
    ],
    legend: [
      { kind: "wstream", label: "wstream: Hub.publish()" },
      {
        kind: "reference",
        label: "Bun native server.publish / ws loop over wss.clients",
      },
    ],
    panels: [{ heading: "deliveries/s", format: int, tick: thousands }],
    groups: [
      {
        label: "Deno",
        bars: [bar("wstream serve() + Hub", "wstream", "wstream-deno")],
      },
      {
        label: "Bun",
        note: `Bun.serve + Hub ÷ native: ${
          times(fanoutRatio(results, "wstream-bun-serve", "bun-native"))
        } (target ≥ 0.5×)`,
        bars: [
          bar("wstream serve() + Hub", "wstream", "wstream-bun"),
          bar("wstream Bun.serve + Hub", "wstream", "wstream-bun-serve"),
          bar("Bun native server.publish", "reference", "bun-native"),
        ],
      },
      {
        label: "Node",
        note: `wstream ÷ ws loop: ${
          times(fanoutRatio(results, "wstream-node", "ws-node"))
        } (target ≥ 3×)`,
        bars: [
          bar("wstream serve() + Hub", "wstream", "wstream-node"),
          bar("ws loop over wss.clients", "reference", "ws-node"),
        ],
      },
    ],
    footer: `Bars: median of ${results.rounds} rounds, the servers ` +
      "interleaved in each; whiskers: min–max. Higher is better. Ratios " +
      "(issue 9's targets): median of the per-round ratios. wstream " +
      "Bun.serve + Hub: bunServeOptions(), Hub.publish() on Bun's native " +
      "topics. Not pinned to cores.",
  });
}

/** The Autobahn groups and their catalogue names. */
const AUTOBAHN_GROUPS: Record<string, string> = {
  "1": "Framing",
  "2": "Pings/Pongs",
  "3": "Reserved bits",
  "4": "Opcodes",
  "5": "Fragmentation",
  "6": "UTF-8 handling",
  "7": "Close handling",
  "12": "Compression, payloads",
  "13": "Compression, parameters",
};

async function caseTable(
  path: string,
  name: string,
): Promise<
  { ids: string[]; cases: unknown[]; module: Record<string, unknown> }
> {
  let module: Record<string, unknown>;
  try {
    module = await import(new URL(`../${path}`, import.meta.url).href);
  } catch (error) {
    fail(`cannot import ${path} (${(error as Error).message})`);
  }
  const cases = module[name];
  if (!Array.isArray(cases) || cases.length === 0) {
    fail(`${path}: \`${name}\` should be a non-empty array of cases`);
  }
  const ids = cases.map((c, i) => {
    const id = (c as { id?: unknown }).id;
    if (typeof id !== "string" || !/^\d+(\.\d+)+$/.test(id)) {
      fail(
        `${path}: ${name}[${i}].id should be like "1.1.1", got ${
          JSON.stringify(id)
        }`,
      );
    }
    return id;
  });
  return { ids, cases, module };
}

/** The fewest and most messages a deflate case sends in the test run. */
function deflateRepetitions(
  path: string,
  table: { cases: unknown[]; module: Record<string, unknown> },
): [number, number] {
  const scaled = table.module.scaledRepetitions;
  if (typeof scaled !== "function") {
    fail(`${path}: \`scaledRepetitions\` should be a function`);
  }
  const counts = table.cases.map((c) =>
    scaled((c as { size: unknown }).size) as unknown
  );
  if (!counts.every(isNumber)) {
    fail(`${path}: scaledRepetitions() should return numbers`);
  }
  return [Math.min(...counts), Math.max(...counts)];
}

/** The last commit date of a file (YYYY-MM-DD), or its mtime without git. */
async function fileDate(path: string): Promise<string> {
  try {
    const out = await new Deno.Command("git", {
      args: ["log", "-1", "--format=%cs", "--", path],
      cwd: ROOT,
      stdout: "piped",
      stderr: "null",
    }).output();
    const date = new TextDecoder().decode(out.stdout).trim();
    if (out.success && /^\d{4}-\d{2}-\d{2}$/.test(date)) return date;
  } catch {
    // No git: the file's own date.
  }
  const mtime = Deno.statSync(`${ROOT}${path}`).mtime;
  if (mtime === null) fail(`${path}: no modification time`);
  return mtime.toISOString().slice(0, 10);
}

async function conformanceChart(): Promise<string> {
  const core = "tests/core/_autobahn_cases.ts";
  const deflate = "tests/extensions/_autobahn_deflate_cases.ts";
  const coreTable = await caseTable(core, "AUTOBAHN_CASES");
  const deflateTable = await caseTable(deflate, "AUTOBAHN_DEFLATE_CASES");
  const [fewest, most] = deflateRepetitions(deflate, deflateTable);
  const catalogue = deflateTable.cases.map((c) =>
    (c as { size?: { count?: unknown } }).size?.count
  );
  if (!catalogue.every(isNumber)) {
    fail(`${deflate}: every case should have a numeric size.count`);
  }
  const suites = [
    {
      label: "Protocol (groups 1-7)",
      ids: coreTable.ids,
      how: "strictly, each delivered as Autobahn sends it, in one chunk " +
        "and 1 byte at a time",
      date: await fileDate(core),
    },
    {
      label: "permessage-deflate (12-13)",
      ids: deflateTable.ids,
      how:
        `as the server and as the client (each case sends ${fewest}-${most} ` +
        `of the catalogue's ${int(Math.max(...catalogue))} messages; ` +
        "WSTREAM_AUTOBAHN_FULL=1 sends all)",
      date: await fileDate(deflate),
    },
  ];
  const ids = suites.flatMap((s) => s.ids);
  if (new Set(ids).size !== ids.length) fail("duplicate Autobahn case ids");
  return barChart({
    title: "Autobahn|Testsuite cases in the test tables",
    caption: [
      "Cases of the Autobahn|Testsuite catalogue re-expressed as data, " +
      "counted per group from " + `${core} (${suites[0]!.ids.length} cases) ` +
      `and ${deflate} (${suites[1]!.ids.length}). Each case is a test of ` +
      "deno task test (and bun test): groups 1-7 " +
      `${suites[0]!.how}; 12-13 ${suites[1]!.how}.`,
      `Tables as of ${
        [...new Set(suites.map((s) => s.date))].join(" and ")
      } (the last commit of each file).`,
    ],
    legend: [],
    panels: [{ heading: "cases", format: int }],
    groups: suites.map((suite) => {
      const groups = [...new Set(suite.ids.map((id) => id.split(".")[0]!))];
      return {
        label: suite.label,
        note: `${suite.ids.length} cases`,
        bars: groups.map((g) => {
          const name = AUTOBAHN_GROUPS[g];
          if (name === undefined) fail(`unknown Autobahn group ${g}`);
          return {
            label: `${g}. ${name}`,
            kind: "wstream" as const,
            values: [[suite.ids.filter((id) => id.split(".")[0] === g).length]],
          };
        }),
      };
    }),
    footer: "Not the Autobahn fuzzing client itself: the same frames, byte " +
      "for byte, and the same expectations, run against the sans-I/O " +
      "Protocol, with PerMessageDeflate for 12-13 (tests/core/autobahn_test.ts, " +
      "tests/extensions/autobahn_deflate_test.ts).",
  });
}

// ---------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------

function parseArgs(args: string[]): { results: string; out: string } {
  const options = {
    results: `${ROOT}bench/results`,
    out: `${ROOT}bench/charts`,
  };
  for (let i = 0; i < args.length; i += 2) {
    const value = args[i + 1];
    if (value === undefined) fail(`${args[i]} needs a value`);
    if (args[i] === "--results") options.results = value;
    else if (args[i] === "--out") options.out = value;
    else fail(`unknown argument ${args[i]} (--results dir, --out dir)`);
  }
  return options;
}

async function main(): Promise<void> {
  const options = parseArgs(Deno.args);
  const index = new ResultsIndex(options.results);
  const charts: [string, string][] = [
    [
      "echo-throughput.svg",
      echoChart(index, {
        scenario: "echo",
        get: MSG_PER_SEC,
        title: "Echo throughput: messages per second",
        measured: (res) =>
          `${int(parameter(res, "echo", CONNS))} connections × ${
            int(parameter(res, "echo", INFLIGHT))
          } messages in flight × ${
            int(parameter(res, "echo", SIZE))
          } B text, echoed and checked byte for byte by the load client.`,
        panel: { heading: "msg/s", format: int, tick: thousands },
        better: "higher",
        ratioLabel: (short) => `wstream ÷ ${short}:`,
      }),
    ],
    [
      "echo-cpu.svg",
      echoChart(index, {
        scenario: "echo",
        get: CPU_US,
        title: "Server CPU time per echoed message",
        measured: (res) =>
          `The echo run (${int(parameter(res, "echo", CONNS))} connections × ${
            int(parameter(res, "echo", INFLIGHT))
          } in flight × ${
            int(parameter(res, "echo", SIZE))
          } B text): the server process's user + system CPU time (all ` +
          "threads, /proc/<pid>/stat) divided by the messages it echoed.",
        panel: {
          heading: "µs",
          format: (v) => `${v.toFixed(1)} µs`,
          tick: (v) => String(v),
        },
        better: "lower",
        ratioLabel: (short) => `wstream ÷ ${short}:`,
      }),
    ],
    [
      "bulk-throughput.svg",
      echoChart(index, {
        scenario: "bulk",
        get: MB_PER_SEC,
        title: "1 MiB message echo throughput",
        measured: (res) =>
          `${int(parameter(res, "bulk", CONNS))} connections, each echoing ${
            bytes(parameter(res, "bulk", SIZE))
          } binary messages, ${
            int(parameter(res, "bulk", INFLIGHT))
          } in flight; MB/s (10^6 bytes) echoed.`,
        panel: { heading: "MB/s", format: (v) => `${int(v)} MB/s`, tick: int },
        better: "higher",
        ratioLabel: (short) => `wstream ÷ ${short}:`,
      }),
    ],
    [
      "idle-memory.svg",
      echoChart(index, {
        scenario: "idle",
        get: IDLE_KIB,
        title: "Memory per idle connection",
        measured: (res) =>
          "RSS growth of the server process over " +
          `${int(parameter(res, "idle", IDLE_COUNT))} open, silent ` +
          "connections after garbage collection, divided by the count " +
          "(bench/idle_memory.ts), KiB.",
        panel: {
          heading: "KiB",
          format: (v) => `${v.toFixed(1)} KiB`,
          tick: int,
        },
        better: "lower",
        ratioLabel: (short) => `wstream ÷ ${short}:`,
      }),
    ],
    ["compression.svg", compressionChart(index)],
    ["fanout.svg", fanoutChart(options.results)],
    ["conformance.svg", await conformanceChart()],
  ];
  Deno.mkdirSync(options.out, { recursive: true });
  for (const [name, content] of charts) {
    Deno.writeTextFileSync(`${options.out}/${name}`, content);
    console.log(`wrote ${options.out}/${name}`);
  }
}

if (import.meta.main) await main();
