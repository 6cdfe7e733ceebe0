/**
 * The fuzz loop for one target: input `i` is generated from its own seed,
 * run, timed and classified; the heap is sampled as it goes. Runs in a
 * worker (see `bench/fuzz.ts`), which publishes the index of the input in
 * flight so that the main thread can name the input of a hang.
 *
 * @module
 */

import process from "node:process";
import { createRandom, inputSeed } from "./_random.ts";
import type { FuzzTarget, RunLog } from "./_target.ts";
import { toHex } from "./_mutate.ts";

/** What to run. */
export interface EngineOptions {
  target: FuzzTarget;
  seed: number;
  /** The first input index. */
  start: number;
  /** How many inputs at most. */
  inputs: number;
  /** Stop after this many seconds (Infinity: no budget). */
  seconds: number;
  /** An input that takes longer than this twice in a row is a failure. */
  slowMs: number;
  /** Fail when the heap stays this far above its level after warm-up. */
  maxHeapGrowthMb: number;
  /** Called with the index of the input about to run. */
  progress?: (index: number) => void;
}

/** A failing input. */
export interface Failure {
  target: string;
  seed: number;
  index: number;
  kind: "exception" | "property" | "slow" | "heap" | "hang";
  error: string;
  hex: string;
  chunks: number[];
}

/** What a target's run produced. */
export interface EngineReport {
  target: string;
  inputs: number;
  seconds: number;
  histogram: Record<string, number>;
  /** The largest `heapUsed + external`, in bytes. */
  peakHeap: number;
  /** The slowest input's time and index. */
  slowestMs: number;
  slowestIndex: number;
  /** The largest input and its index. */
  largestInput: number;
  failure: Failure | null;
}

/** `heapUsed + external` (array buffers and zlib count as external). */
function heapNow(): number {
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.external;
}

/**
 * Runs input `index` once.
 *
 * @returns The outcome and its time, or the error thrown.
 */
export function runOne(
  target: FuzzTarget,
  seed: number,
  index: number,
): {
  outcome: string | null;
  error: unknown;
  ms: number;
  input: Uint8Array;
  log: RunLog;
} {
  const s = inputSeed(seed, target.name, index);
  const input = target.generate(createRandom(s, 1));
  const pristine = input.slice();
  const log: RunLog = { chunks: [] };
  const start = performance.now();
  try {
    const outcome = target.run(input, createRandom(s, 2), log);
    return {
      outcome,
      error: null,
      ms: performance.now() - start,
      input: pristine,
      log,
    };
  } catch (error) {
    return {
      outcome: null,
      error,
      ms: performance.now() - start,
      input: pristine,
      log,
    };
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    return error.stack ?? `${error.name}: ${error.message}`;
  }
  return String(error);
}

/** Runs a target's inputs until the count, the time budget or a failure. */
export function runEngine(options: EngineOptions): EngineReport {
  const { target, seed } = options;
  const histogram: Record<string, number> = {};
  const started = performance.now();
  const deadline = started + options.seconds * 1000;
  let baseline = -1;
  let peakHeap = heapNow();
  let overBound = 0;
  let slowestMs = 0;
  let slowestIndex = -1;
  let largestInput = 0;
  let failure: Failure | null = null;
  let count = 0;
  const end = options.start + options.inputs;
  const fail = (
    index: number,
    kind: Failure["kind"],
    error: string,
    input: Uint8Array,
    chunks: number[],
  ): void => {
    failure = {
      target: target.name,
      seed,
      index,
      kind,
      error,
      hex: toHex(input),
      chunks,
    };
  };
  for (let index = options.start; index < end; index++) {
    if ((count & 255) === 0) {
      if (performance.now() > deadline) break;
      if ((count & 4095) === 0) {
        const heap = heapNow();
        if (heap > peakHeap) peakHeap = heap;
        if (count === 4096 * 4) baseline = heap;
        if (
          baseline >= 0 &&
          heap > baseline + options.maxHeapGrowthMb * 1024 * 1024
        ) {
          // Garbage may lag: fail only when it stays over the bound.
          if (++overBound >= 8) {
            const last = runOne(target, seed, index - 1);
            fail(
              index - 1,
              "heap",
              `heap ${(heap / 2 ** 20).toFixed(0)} MiB stayed over ${
                (baseline / 2 ** 20).toFixed(0)
              } + ${options.maxHeapGrowthMb} MiB`,
              last.input,
              last.log.chunks,
            );
            break;
          }
        } else {
          overBound = 0;
        }
      }
    }
    options.progress?.(index);
    let result = runOne(target, seed, index);
    count++;
    if (result.input.length > largestInput) largestInput = result.input.length;
    // Slow: over slowMs plus 10 µs a chunk and 2 µs a byte (what feeding
    // 70 KB in 1-byte chunks costs a busy machine), three times in a row (a
    // GC pause or another process can stall one run).
    const limit = (run: typeof result): number =>
      options.slowMs + 0.01 * run.log.chunks.length + 0.002 * run.input.length;
    for (
      let again = 0;
      again < 2 && result.error === null && result.ms > limit(result);
      again++
    ) {
      result = runOne(target, seed, index);
      if (again === 1 && result.error === null && result.ms > limit(result)) {
        fail(
          index,
          "slow",
          `took ${result.ms.toFixed(1)} ms three times (limit ${
            limit(result).toFixed(0)
          } ms)`,
          result.input,
          result.log.chunks,
        );
      }
    }
    if (failure !== null) break;
    if (result.error !== null) {
      const error = result.error;
      const kind = error instanceof Error && error.name === "FuzzFailure"
        ? "property"
        : "exception";
      fail(index, kind, describe(error), result.input, result.log.chunks);
      break;
    }
    if (result.ms > slowestMs) {
      slowestMs = result.ms;
      slowestIndex = index;
    }
    const outcome = result.outcome!;
    histogram[outcome] = (histogram[outcome] ?? 0) + 1;
  }
  const heap = heapNow();
  if (heap > peakHeap) peakHeap = heap;
  return {
    target: target.name,
    inputs: count,
    seconds: (performance.now() - started) / 1000,
    histogram,
    peakHeap,
    slowestMs,
    slowestIndex,
    largestInput,
    failure,
  };
}
