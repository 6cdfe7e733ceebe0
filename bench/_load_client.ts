/**
 * Driver for `bench/load/wsload.c`, a single-threaded epoll WebSocket load
 * client written in C so that the client is clearly not the bottleneck of
 * an echo benchmark (it reports its own CPU share to prove it). See the
 * header comment of `wsload.c` for the modes and what each figure means.
 *
 * ```ts
 * import { runLoadClient } from "./_load_client.ts";
 * const result = await runLoadClient(
 *   { port: 9401, mode: "echo", conns: 64, inflight: 16, size: 32 },
 *   { cpu: 1 },
 * );
 * console.log(result.msgPerSec, result.clientCpuShare);
 * ```
 *
 * Uses only `node:` modules, so it runs on Deno, Bun and Node. Linux only
 * (epoll); needs a C compiler (`cc`) on the PATH.
 *
 * @module
 */

import { execFile, spawn } from "node:child_process";
import {
  accessSync,
  constants,
  mkdirSync,
  renameSync,
  statSync,
} from "node:fs";
import { delimiter, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const SOURCE = fileURLToPath(new URL("./load/wsload.c", import.meta.url));
const BUILD_DIR = fileURLToPath(new URL("./.build/", import.meta.url));
const BINARY = join(BUILD_DIR, "wsload");

/** One run of `wsload`: the JSON line it prints on success. */
export interface LoadResult {
  /** The mode that ran. */
  mode: "echo" | "rate" | "bulk" | "handshake";
  /** Connections (echo, rate, bulk) or concurrent workers (handshake). */
  conns: number;
  /** Messages kept outstanding per connection (echo; 1 in bulk; else 0). */
  inflight: number;
  /** Payload bytes per message (0 in handshake mode). */
  size: number;
  /** Length of the measured window as actually timed, in seconds. */
  seconds: number;
  /** Echoes received and verified in the measured window. */
  messages: number;
  /** `messages / seconds`. */
  msgPerSec: number;
  /** Echoed payload, one direction, in MB (10^6 bytes) per second. */
  mbPerSec: number;
  /**
   * Median latency in µs: round trip from the send (echo, bulk), from the
   * scheduled send time (rate), or connect to verified 101 (handshake;
   * with `echoOnce`, connect to the verified echo).
   */
  p50Us: number;
  /** 99th percentile latency in µs (see `p50Us`). */
  p99Us: number;
  /** 99.9th percentile latency in µs (see `p50Us`). */
  p999Us: number;
  /**
   * Verified 101 responses in the measured window (handshake mode); with
   * `echoOnce`, verified echoes of the one message after the 101.
   */
  handshakes: number;
  /** `handshakes / seconds`. */
  handshakesPerSec: number;
  /** User + system CPU time of the client during the measured window. */
  clientCpuSeconds: number;
  /**
   * `clientCpuSeconds / seconds`: 1.0 means the client's core was
   * saturated, i.e. the client, not the server, was the bottleneck.
   */
  clientCpuShare: number;
  /** Problems while closing after the measured window (not fatal). */
  errors: number;
  /** Whether permessage-deflate was offered (and, the run succeeding, agreed). */
  deflate: boolean;
  /** The first connection's `Sec-WebSocket-Extensions` answer ("" if none). */
  extensions: string;
  /** `chat`, a payload file, or "" for the fixed pattern. */
  payloads: string;
  /** Mean uncompressed payload bytes per echoed message. */
  payloadBytesPerMsg: number;
  /** Mean WebSocket frame bytes (header, mask key, payload) per message sent. */
  txWireBytesPerMsg: number;
  /** Mean WebSocket frame bytes (header, payload) per echo received. */
  rxWireBytesPerMsg: number;
  /** Fraction of the echoes that came compressed (RSV1). */
  rxCompressedShare: number;
}

/** What to run: see the modes in `bench/load/wsload.c`. */
export interface LoadArgs {
  /** Port of the echo server on 127.0.0.1. */
  port: number;
  /** `echo` (closed loop), `rate` (open loop), `bulk` or `handshake`. */
  mode: "echo" | "rate" | "bulk" | "handshake";
  /** Connections or workers (defaults: echo 64, rate 16, bulk 4, handshake 16). */
  conns?: number;
  /** Messages outstanding per connection in echo mode (default 16). */
  inflight?: number;
  /** Payload bytes (default 32; bulk 1048576). */
  size?: number;
  /** Measured seconds (default 5). */
  seconds?: number;
  /** Unmeasured seconds before the measured window (default 1). */
  warmup?: number;
  /** Total messages per second in rate mode (default 20000). */
  rate?: number;
  /** Binary instead of text messages (bulk is always binary). */
  binary?: boolean;
  /**
   * `"chat"`: the built-in chat/event JSON messages (100-2,000 bytes), or a
   * file of one message per line (see `wsload.c`); echo and rate modes.
   */
  payloads?: string;
  /** How many built-in chat messages to generate (default 1000). */
  payloadCount?: number;
  /**
   * Offer permessage-deflate and compress every message; the run fails if
   * the server does not agree.
   */
  deflate?: boolean;
  /** Offer `client_max_window_bits=N` (default: offered without a value). */
  windowBits?: number;
  /** Also offer `server_max_window_bits=N`. */
  serverWindowBits?: number;
  /** Offer client_ and server_no_context_takeover. */
  noContextTakeover?: boolean;
  /**
   * Handshake mode: after the 101, send one message of `size` bytes
   * (default 32) and wait for its echo before closing; a handshake counts
   * when the echo arrives (connect + upgrade + one echo + close cycles).
   */
  echoOnce?: boolean;
}

/** How to run the client. */
export interface LoadOptions {
  /** Pin the client to this CPU with `taskset -c` (when taskset exists). */
  cpu?: number;
}

function findExecutable(name: string): string | null {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir === "") continue;
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // Not in this directory.
    }
  }
  return null;
}

function mtime(path: string): number | null {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return null;
  }
}

/**
 * Compiles `bench/load/wsload.c` to `bench/.build/wsload` (`cc -O2`, linked
 * with zlib and libm: `-lz -lm`) unless
 * the binary exists and is newer than the source.
 *
 * @returns The path of the binary.
 * @throws {Error} When `cc` is not on the PATH or the compilation fails
 * (with the compiler's output).
 */
export async function buildLoadClient(): Promise<string> {
  const source = mtime(SOURCE);
  if (source === null) throw new Error(`load client source missing: ${SOURCE}`);
  const binary = mtime(BINARY);
  if (binary !== null && binary >= source) return BINARY;
  const cc = findExecutable("cc");
  if (cc === null) {
    throw new Error(
      "cannot build the load client: no C compiler `cc` on the PATH " +
        "(install gcc or clang, e.g. `apt-get install build-essential`)",
    );
  }
  mkdirSync(BUILD_DIR, { recursive: true });
  // Build to a temporary name, then rename: concurrent builds never run a
  // half-written binary.
  const temporary = `${BINARY}.${process.pid}.tmp`;
  await new Promise<void>((resolve, reject) => {
    execFile(
      cc,
      ["-O2", "-Wall", "-Wextra", "-o", temporary, SOURCE, "-lz", "-lm"],
      (error, stdout, stderr) => {
        if (error) {
          reject(
            new Error(
              `cannot build the load client: \`cc -O2 ${SOURCE} -lz -lm\` ` +
                `failed (zlib.h is in zlib1g-dev / zlib-devel): ${
                  (String(stderr) + String(stdout)).trim() || error.message
                }`,
            ),
          );
        } else {
          resolve();
        }
      },
    );
  });
  renameSync(temporary, BINARY);
  return BINARY;
}

function cliArgs(args: LoadArgs): string[] {
  const out = ["--port", String(args.port), "--mode", args.mode];
  const numeric: [string, number | undefined][] = [
    ["--conns", args.conns],
    ["--inflight", args.inflight],
    ["--size", args.size],
    ["--seconds", args.seconds],
    ["--warmup", args.warmup],
    ["--rate", args.rate],
    ["--count", args.payloadCount],
    ["--window-bits", args.windowBits],
    ["--server-window-bits", args.serverWindowBits],
  ];
  for (const [flag, value] of numeric) {
    if (value !== undefined) out.push(flag, String(value));
  }
  if (args.binary === true) out.push("--binary");
  if (args.payloads !== undefined) out.push("--payloads", args.payloads);
  if (args.deflate === true) out.push("--deflate");
  if (args.noContextTakeover === true) out.push("--no-context-takeover");
  if (args.echoOnce === true) out.push("--echo-once");
  return out;
}

/**
 * Runs the load client once (building it first if needed) against an echo
 * server on 127.0.0.1, under `taskset -c <cpu>` when `options.cpu` is
 * given and `taskset` exists.
 *
 * @returns The figures the client printed.
 * @throws {Error} When the client exits with a non-zero status (a handshake,
 * protocol, echo-verification or connection failure; the message holds the
 * client's stderr), or when its output cannot be parsed.
 */
export async function runLoadClient(
  args: LoadArgs,
  options: LoadOptions = {},
): Promise<LoadResult> {
  const binary = await buildLoadClient();
  let command = binary;
  let argv = cliArgs(args);
  if (options.cpu !== undefined) {
    const taskset = findExecutable("taskset");
    if (taskset !== null) {
      command = taskset;
      argv = ["-c", String(options.cpu), binary, ...argv];
    }
  }
  // The client ends by itself (setup <= 10 s, shutdown <= 1 s); this is a
  // safety net only.
  const limitMs = ((args.warmup ?? 1) + (args.seconds ?? 5) + 30) * 1000;
  const { code, stdout, stderr } = await new Promise<
    { code: number | null; stdout: string; stderr: string }
  >((resolve, reject) => {
    const child = spawn(command, argv, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => out += chunk);
    child.stderr.on("data", (chunk: string) => err += chunk);
    const timer = setTimeout(() => {
      err += `\n(killed after ${limitMs} ms)`;
      child.kill("SIGKILL");
    }, limitMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(new Error(`cannot start the load client: ${error.message}`));
    });
    child.on("close", (exitCode) => {
      clearTimeout(timer);
      resolve({ code: exitCode, stdout: out, stderr: err });
    });
  });
  if (code !== 0) {
    throw new Error(
      `load client failed (exit code ${code}): ${stderr.trim() || "no output"}`,
    );
  }
  const line = stdout.trim().split("\n").pop() ?? "";
  let result: LoadResult;
  try {
    result = JSON.parse(line) as LoadResult;
  } catch {
    throw new Error(`load client printed no JSON result: ${stdout.trim()}`);
  }
  if (typeof result.msgPerSec !== "number") {
    throw new Error(`unexpected load client output: ${line}`);
  }
  return result;
}
