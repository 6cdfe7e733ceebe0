/**
 * What a fuzz target is, and how a run reports a broken property.
 *
 * @module
 */

import type { Random } from "./_random.ts";

/** A broken property: not one of the documented outcomes. */
export class FuzzFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FuzzFailure";
  }
}

/** Throws a {@linkcode FuzzFailure} unless `condition` holds. */
export function check(
  condition: unknown,
  message: string | (() => string),
): asserts condition {
  if (!condition) {
    throw new FuzzFailure(typeof message === "string" ? message : message());
  }
}

/** What a run records for the crash report. */
export interface RunLog {
  /** The sizes of the chunks pushed, in order (replays need them). */
  chunks: number[];
}

/** One thing to fuzz. */
export interface FuzzTarget {
  /** The name used by `--target`. */
  readonly name: string;
  /** Builds one input from its own random stream. */
  generate(random: Random): Uint8Array;
  /**
   * Feeds the input (not modified) in chunks drawn from `random` and checks
   * every property.
   *
   * @returns The outcome label for the histogram: `"ok"` or a documented
   * error's code or status.
   * @throws {FuzzFailure} On a broken property; anything else thrown is an
   * undocumented exception, also a failure.
   */
  run(input: Uint8Array, random: Random, log: RunLog): string;
}
