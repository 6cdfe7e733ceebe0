/**
 * Seeded, structure-aware fuzzing of every parser that reads bytes from a
 * peer: the HTTP request head reader (server), the response head reader
 * (client), the `Sec-WebSocket-Extensions` parser, `FrameParser` and
 * `Protocol` in both roles, with and without permessage-deflate.
 *
 * Usage (Deno; Bun and Node run it too):
 *
 *   deno run -A bench/fuzz.ts                       # 10^6 inputs per target
 *   deno run -A bench/fuzz.ts --seconds 30          # CI smoke: 30 s in all
 *   deno run -A bench/fuzz.ts --seed 42 --target protocol-deflate-server
 *   deno run -A bench/fuzz.ts --replay bench/.build/fuzz-crashes/<file>.json
 *   deno run -A bench/fuzz.ts --seed 42 --target request-head --index 1234 --verbose
 *
 * Options: `--seed N` (32-bit; printed, random by default), `--inputs N`
 * per target (default 1,000,000), `--seconds S` (a time budget for the
 * whole run, split evenly across the targets), `--target NAME` (repeat or
 * comma-separate; `--list` names them), `--jobs N` (targets run side by
 * side, default 1), `--start I` (first input index), `--slow-ms MS`
 * (default 250), `--hang-ms MS` (default 20000), `--heap-mb MB` (allowed
 * heap growth, default 512), `--out DIR` (default bench/.build/fuzz-crashes),
 * `--index I` (run that one input and print it), `--replay FILE`,
 * `--no-worker` (run in this thread: no hang detection).
 *
 * Each input is generated from its own seed, derived from (seed, target,
 * index): mutations of valid heads, extension offers and frame sequences
 * (bit flips, interesting bytes, grammar tokens, runs of one byte up to
 * 20,000 long, deleted, duplicated and spliced ranges, truncation), frames
 * with reserved opcodes, RSV bits, wrong masks, non-minimal and lying 16-
 * and 64-bit lengths, fragmented messages with control frames between
 * fragments, permessage-deflate messages from a peer's compressor and
 * decompression bombs (64 KiB to 64 MiB of zeros). The first byte (two for
 * deflate) of an input selects the options (limits, RSV bits, auto-pong,
 * window bits), so a saved input replays from its hex and chunking alone.
 * Every input is fed in random chunks (whole, 1-byte, random cuts, small
 * pieces; `FrameParser` also through `payloadTarget()`).
 *
 * A failure is: an exception that is not a documented error
 * (`HttpHeadError` 400/414/431/501/505; `SyntaxError` and the too-large
 * `RangeError` of the response reader; `SyntaxError` of the extensions
 * parser; `WebSocketProtocolError` from `FrameParser`; nothing at all from
 * `Protocol`, which turns peer errors into `error` and a close frame); a
 * broken property (frames differ from a reference parser; a payload buffer
 * over 8x what arrived; an event or inflated message over `maxMessageSize`;
 * written bytes that are not valid frames, pongs that do not match pings, a
 * close code that is not the error's; a different outcome when the same
 * bytes come in one chunk; results that are not tokens or do not survive
 * format-then-parse); an input slower than `--slow-ms` twice; heap growth
 * over `--heap-mb`; a hang (no progress for `--hang-ms`: the worker is
 * terminated). The failing input is printed (seed, index, hex, chunks) and
 * saved as JSON in `--out`; the run exits 1.
 *
 * @module
 */

import process from "node:process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { Worker } from "node:worker_threads";
import {
  type EngineReport,
  type Failure,
  runEngine,
  runOne,
} from "./fuzz/_engine.ts";
import { TARGETS } from "./fuzz/_targets.ts";
import { createRandom, inputSeed } from "./fuzz/_random.ts";
import { fromHex, toHex } from "./fuzz/_mutate.ts";
import type { FuzzTarget, RunLog } from "./fuzz/_target.ts";

interface Options {
  seed: number;
  inputs: number;
  seconds: number;
  targets: FuzzTarget[];
  jobs: number;
  start: number;
  slowMs: number;
  hangMs: number;
  heapMb: number;
  out: string;
  index: number | null;
  replay: string | null;
  worker: boolean;
  verbose: boolean;
}

function parseArgs(args: string[]): Options {
  const options: Options = {
    seed: crypto.getRandomValues(new Uint32Array(1))[0]!,
    inputs: 1_000_000,
    seconds: Infinity,
    targets: [],
    jobs: 1,
    start: 0,
    slowMs: 250,
    hangMs: 20_000,
    heapMb: 512,
    out: "bench/.build/fuzz-crashes",
    index: null,
    replay: null,
    worker: true,
    verbose: false,
  };
  const number = (value: string | undefined, name: string): number => {
    const n = Number(value);
    if (value === undefined || !Number.isFinite(n) || n < 0) {
      throw new RangeError(
        `Invalid ${name} ${JSON.stringify(value)}: use a non-negative number`,
      );
    }
    return n;
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const value = (): string | undefined => args[++i];
    switch (arg) {
      case "--seed":
        options.seed = number(value(), "--seed") >>> 0;
        break;
      case "--inputs":
        options.inputs = Math.floor(number(value(), "--inputs"));
        break;
      case "--seconds":
        options.seconds = number(value(), "--seconds");
        break;
      case "--target":
        for (const name of (value() ?? "").split(",")) {
          const target = TARGETS.find((t) => t.name === name);
          if (target === undefined) {
            throw new RangeError(
              `Unknown target ${JSON.stringify(name)}: use one of ${
                TARGETS.map((t) => t.name).join(", ")
              }`,
            );
          }
          options.targets.push(target);
        }
        break;
      case "--jobs":
        options.jobs = Math.max(1, Math.floor(number(value(), "--jobs")));
        break;
      case "--start":
        options.start = Math.floor(number(value(), "--start"));
        break;
      case "--slow-ms":
        options.slowMs = number(value(), "--slow-ms");
        break;
      case "--hang-ms":
        options.hangMs = number(value(), "--hang-ms");
        break;
      case "--heap-mb":
        options.heapMb = number(value(), "--heap-mb");
        break;
      case "--out":
        options.out = value() ?? options.out;
        break;
      case "--index":
        options.index = Math.floor(number(value(), "--index"));
        break;
      case "--replay":
        options.replay = value() ?? null;
        break;
      case "--no-worker":
        options.worker = false;
        break;
      case "--verbose":
        options.verbose = true;
        break;
      case "--list":
        console.log(TARGETS.map((t) => t.name).join("\n"));
        process.exit(0);
        break;
      default:
        throw new RangeError(
          `Unknown option ${
            JSON.stringify(arg)
          }: see the usage at the top of bench/fuzz.ts`,
        );
    }
  }
  if (options.targets.length === 0) options.targets = [...TARGETS];
  return options;
}

/** Prints and saves a failure; returns the file. */
function report(failure: Failure, out: string): string {
  mkdirSync(out, { recursive: true });
  const file = `${out}/${failure.target}-${failure.seed}-${failure.index}.json`;
  writeFileSync(file, JSON.stringify(failure, null, 2) + "\n");
  console.log(
    `\nFAIL ${failure.target} (${failure.kind}) seed ${failure.seed} index ${failure.index}`,
  );
  console.log(failure.error.split("\n").slice(0, 8).join("\n"));
  const hex = failure.hex.length > 2000
    ? `${failure.hex.slice(0, 2000)}… (${failure.hex.length / 2} bytes)`
    : failure.hex;
  console.log(`input: ${hex}`);
  console.log(
    `chunks: ${JSON.stringify(failure.chunks.slice(0, 64))}${
      failure.chunks.length > 64 ? "…" : ""
    }`,
  );
  console.log(`saved: ${file}`);
  console.log(
    `replay: deno run -A bench/fuzz.ts --seed ${failure.seed} --target ${failure.target} --index ${failure.index} --verbose`,
  );
  return file;
}

/** Replays a saved failure: its hex and chunking, in this thread. */
function replay(file: string): number {
  const failure = JSON.parse(readFileSync(file, "utf8")) as Failure;
  const target = TARGETS.find((t) => t.name === failure.target);
  if (target === undefined) {
    throw new RangeError(`Unknown target ${failure.target}`);
  }
  // The runner draws its chunking from the input's seed: the same seed and
  // index give the same chunks.
  const s = inputSeed(failure.seed, target.name, failure.index);
  const input = fromHex(failure.hex);
  const log: RunLog = { chunks: [] };
  const start = performance.now();
  try {
    const outcome = target.run(input, createRandom(s, 2), log);
    console.log(
      `${target.name}: ${outcome} in ${
        (performance.now() - start).toFixed(1)
      } ms (the failure does not reproduce)`,
    );
    return 0;
  } catch (error) {
    console.log(
      `${target.name}: failed again after ${
        (performance.now() - start).toFixed(1)
      } ms`,
    );
    console.log(error);
    return 1;
  }
}

function runInThread(
  target: FuzzTarget,
  options: Options,
  seconds: number,
): EngineReport {
  return runEngine({
    target,
    seed: options.seed,
    start: options.start,
    inputs: options.inputs,
    seconds,
    slowMs: options.slowMs,
    maxHeapGrowthMb: options.heapMb,
  });
}

function runInWorker(
  target: FuzzTarget,
  options: Options,
  seconds: number,
): Promise<EngineReport> {
  const heartbeat = new SharedArrayBuffer(4);
  const progress = new Int32Array(heartbeat);
  Atomics.store(progress, 0, -1);
  const worker = new Worker(new URL("./fuzz/_worker.ts", import.meta.url), {
    workerData: {
      target: target.name,
      seed: options.seed,
      start: options.start,
      inputs: options.inputs,
      seconds,
      slowMs: options.slowMs,
      maxHeapGrowthMb: options.heapMb,
      heartbeat,
    },
  });
  return new Promise((resolve, reject) => {
    let last = -2;
    let lastChange = performance.now();
    const started = performance.now();
    let lastReport = started;
    const timer = setInterval(() => {
      const now = Atomics.load(progress, 0);
      if (performance.now() - lastReport >= 60_000) {
        lastReport = performance.now();
        const done = now - options.start + 1;
        const elapsed = (lastReport - started) / 1000;
        console.log(
          `  ${target.name}: ${done} inputs in ${elapsed.toFixed(0)} s (${
            (done / elapsed).toFixed(0)
          }/s)`,
        );
      }
      if (now !== last) {
        last = now;
        lastChange = performance.now();
        return;
      }
      if (performance.now() - lastChange < options.hangMs) return;
      clearInterval(timer);
      void worker.terminate();
      const index = now < 0 ? options.start : now;
      const input = target.generate(
        createRandom(inputSeed(options.seed, target.name, index), 1),
      );
      resolve({
        target: target.name,
        inputs: Math.max(0, index - options.start),
        seconds: (performance.now() - started) / 1000,
        histogram: {},
        peakHeap: 0,
        slowestMs: 0,
        slowestIndex: -1,
        largestInput: 0,
        failure: {
          target: target.name,
          seed: options.seed,
          index,
          kind: "hang",
          error: `no progress for ${options.hangMs} ms`,
          hex: toHex(input),
          chunks: [],
        },
      });
    }, 250);
    worker.once("message", (message: EngineReport) => {
      clearInterval(timer);
      void worker.terminate();
      resolve(message);
    });
    worker.once("error", (error) => {
      clearInterval(timer);
      reject(error);
    });
  });
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(0)} MiB`;
}

function summary(result: EngineReport): string {
  const rate = result.inputs / Math.max(result.seconds, 1e-9);
  const outcomes = Object.entries(result.histogram)
    .sort((a, b) => b[1] - a[1])
    .map(([label, n]) => `${label} ${n}`)
    .join(", ");
  return `${result.target.padEnd(24)} ${
    String(result.inputs).padStart(8)
  } inputs ${result.seconds.toFixed(1).padStart(7)} s ` +
    `${rate.toFixed(0).padStart(7)}/s  peak heap ${
      mib(result.peakHeap)
    }  slowest ${result.slowestMs.toFixed(1)} ms (#${result.slowestIndex})` +
    `  largest ${result.largestInput} B${
      result.failure === null ? "" : "  FAILED"
    }\n    ${outcomes}`;
}

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2));
  if (options.replay !== null) return replay(options.replay);
  const runtime = "Deno" in globalThis
    ? "deno"
    : "Bun" in globalThis
    ? "bun"
    : "node";
  if (options.index !== null) {
    let failed = 0;
    for (const target of options.targets) {
      const result = runOne(target, options.seed, options.index);
      console.log(
        `${target.name} seed ${options.seed} index ${options.index}: ${
          result.outcome ?? "FAILED"
        } in ${result.ms.toFixed(1)} ms`,
      );
      if (options.verbose) {
        console.log(
          `input (${result.input.length} bytes): ${toHex(result.input)}`,
        );
        console.log(`chunks: ${JSON.stringify(result.log.chunks)}`);
      }
      if (result.error !== null) {
        console.log(result.error);
        failed = 1;
      }
    }
    return failed;
  }
  const perTarget = options.seconds === Infinity
    ? Infinity
    : options.seconds * Math.min(options.jobs, options.targets.length) /
      options.targets.length;
  console.log(
    `fuzz on ${runtime}: seed ${options.seed}, ${options.inputs} inputs per target` +
      (perTarget === Infinity
        ? ""
        : `, at most ${perTarget.toFixed(1)} s per target`) +
      `, ${options.targets.length} targets, ${options.jobs} at a time`,
  );
  console.log(`replay: deno run -A bench/fuzz.ts --seed ${options.seed}`);
  const started = performance.now();
  const results: EngineReport[] = [];
  const queue = [...options.targets];
  const runNext = async (): Promise<void> => {
    for (let target; (target = queue.shift()) !== undefined;) {
      const result = options.worker
        ? await runInWorker(target, options, perTarget)
        : runInThread(target, options, perTarget);
      results.push(result);
      console.log(summary(result));
      if (result.failure !== null) report(result.failure, options.out);
    }
  };
  await Promise.all(
    Array.from(
      { length: Math.min(options.jobs, options.targets.length) },
      runNext,
    ),
  );
  const total = results.reduce((n, r) => n + r.inputs, 0);
  const failures = results.filter((r) => r.failure !== null).length;
  console.log(
    `\n${total} inputs in ${
      ((performance.now() - started) / 1000).toFixed(1)
    } s, ` +
      `${
        failures === 0 ? "no failures" : `${failures} failing target(s)`
      } (seed ${options.seed})`,
  );
  return failures === 0 ? 0 : 1;
}

process.exitCode = await main();
