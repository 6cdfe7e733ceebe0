/**
 * The worker side of `bench/fuzz.ts`: runs one target's inputs and posts
 * the report. The index of the input in flight is kept in a shared
 * Int32Array so that the main thread can name the input of a hang.
 *
 * @module
 */

import { parentPort, workerData } from "node:worker_threads";
import { runEngine } from "./_engine.ts";
import { TARGETS } from "./_targets.ts";

interface WorkerData {
  target: string;
  seed: number;
  start: number;
  inputs: number;
  seconds: number;
  slowMs: number;
  maxHeapGrowthMb: number;
  heartbeat: SharedArrayBuffer;
}

const data = workerData as WorkerData;
const target = TARGETS.find((t) => t.name === data.target);
if (target === undefined) throw new Error(`Unknown target ${data.target}`);
const heartbeat = new Int32Array(data.heartbeat);
const report = runEngine({
  target,
  seed: data.seed,
  start: data.start,
  inputs: data.inputs,
  seconds: data.seconds,
  slowMs: data.slowMs,
  maxHeapGrowthMb: data.maxHeapGrowthMb,
  progress: (index) => Atomics.store(heartbeat, 0, index),
});
parentPort!.postMessage(report);
