/**
 * Codec micro-benchmarks: wstream's frame parser, `Protocol`, encoder,
 * `applyMask` and `Utf8Validator`, side by side with npm `ws`'s `Receiver`,
 * `Sender.frame`, `mask`/`unmask` and `isValidUTF8` (loaded by file path
 * from `tests/interop/node_modules`, never by bare name: Bun answers
 * `require("ws")` with its own re-implementation).
 *
 * Usage (results: bench/results/2026-11-21-codec.md):
 *
 *   deno bench -A bench/codec_bench.ts      # Deno.bench
 *   bun bench/codec_bench.ts                # the self-timed runner below
 *   bun bench/codec_bench.ts --filter a/ --iterations 50 --warmup 5
 *
 * Without `Deno`, a small runner times each case: `--warmup` untimed
 * iterations, then `--iterations` timed ones (the default depends on the
 * case size); it prints ops/s, frames/s and MB/s (10^6 bytes/s) from the
 * sum of the timed iterations.
 *
 * What is timed. Parsers unmask in place and take ownership of the chunks
 * they are given, so every decode case builds a fresh copy of its input
 * (one `slice()` of the whole wire buffer, then `subarray` chunks) and a
 * fresh parser / `Protocol` / `Receiver` in an untimed setup step before
 * each iteration (`b.start()`/`b.end()` on Deno, `performance.now()`
 * around the run alone in the runner). No copy is inside a timed region.
 * Encode, mask and UTF-8 cases do not need fresh input: encoders never
 * modify their payload (except `ws` with `readOnly: false` and `mask:
 * true`, which masks the payload in place; that only re-XORs the same 32
 * bytes), and masking twice is the identity.
 *
 * Bytes counted for MB/s: wire bytes for decode cases (headers included),
 * output wire bytes for encode cases, payload bytes for mask and UTF-8.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createRequire } from "node:module";
import process from "node:process";
import { applyMask } from "../lib/mask.ts";
import { FrameEncoder } from "../lib/frame_encoder.ts";
import { FrameParser } from "../lib/frame_parser.ts";
import { Protocol } from "../lib/protocol.ts";
import { Utf8Validator } from "../lib/utf8.ts";

// ------------------------------------------------------------- ws peer ----

interface WsReceiver {
  on(
    event: "message",
    listener: (data: Uint8Array | Uint8Array[], isBinary: boolean) => void,
  ): this;
  on(event: "error", listener: (error: Error) => void): this;
  write(chunk: Uint8Array): boolean;
}

interface WsFrameOptions {
  fin: boolean;
  opcode: number;
  mask: boolean;
  readOnly: boolean;
  rsv1: boolean;
}

interface WsModules {
  Receiver: new (
    options: { isServer: boolean; maxPayload: number },
  ) => WsReceiver;
  Sender: { frame(data: Uint8Array, options: WsFrameOptions): Uint8Array[] };
  mask(
    source: Uint8Array,
    mask: Uint8Array,
    output: Uint8Array,
    offset: number,
    length: number,
  ): void;
  unmask(buffer: Uint8Array, mask: Uint8Array): void;
  isValidUTF8(buffer: Uint8Array): boolean;
  version: string;
}

/** `ws` from `tests/interop/node_modules`, by file path; `null` if missing. */
function loadWs(): WsModules | null {
  const require = createRequire(import.meta.url);
  const dir = new URL("../tests/interop/node_modules/ws/", import.meta.url)
    .pathname;
  try {
    const bufferUtil = require(dir + "lib/buffer-util.js");
    const validation = require(dir + "lib/validation.js");
    return {
      Receiver: require(dir + "lib/receiver.js"),
      Sender: require(dir + "lib/sender.js"),
      mask: bufferUtil.mask,
      unmask: bufferUtil.unmask,
      isValidUTF8: validation.isValidUTF8,
      version: require(dir + "package.json").version,
    };
  } catch (error) {
    console.warn(
      `codec_bench: ws cases skipped: ${
        error instanceof Error ? error.message.split("\n")[0] : error
      } (run \`npm ci --prefix tests/interop\`)`,
    );
    return null;
  }
}

const ws = loadWs();

// ------------------------------------------------------------- inputs -----

const CHUNK = 64 * 1024;
const clientEncoder = new FrameEncoder({ role: "client" });

/** Concatenates masked client frames into one wire buffer. */
function wire(
  count: number,
  frame: (i: number) => { fin: boolean; opcode: number; payload: Uint8Array },
): Uint8Array {
  const frames: Uint8Array[] = [];
  let total = 0;
  for (let i = 0; i < count; i++) {
    const { fin, opcode, payload } = frame(i);
    const bytes = clientEncoder.encode({ fin, rsv: 0, opcode, payload });
    frames.push(bytes);
    total += bytes.length;
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const bytes of frames) {
    out.set(bytes, offset);
    offset += bytes.length;
  }
  return out;
}

/** A fresh copy of `bytes`, cut into `size`-byte chunks (Buffers for ws). */
function freshChunks(bytes: Uint8Array, size: number): Buffer[] {
  const copy = bytes.slice();
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < copy.length; offset += size) {
    const length = Math.min(size, copy.length - offset);
    chunks.push(Buffer.from(copy.buffer, offset, length));
  }
  return chunks;
}

const TEXT_32 = new TextEncoder().encode("wstream codec bench: 32B text ok");
if (TEXT_32.length !== 32) throw new Error("TEXT_32 must be 32 bytes");

function randomBytes(length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let offset = 0; offset < length; offset += 65536) {
    crypto.getRandomValues(
      out.subarray(offset, Math.min(length, offset + 65536)),
    );
  }
  return out;
}

const SMALL_COUNT = 100_000;
const SMALL_WIRE = wire(
  SMALL_COUNT,
  () => ({ fin: true, opcode: 1, payload: TEXT_32 }),
);
const LARGE_COUNT = 1000;
const LARGE_PAYLOAD = randomBytes(64 * 1024);
const LARGE_WIRE = wire(
  LARGE_COUNT,
  () => ({ fin: true, opcode: 2, payload: LARGE_PAYLOAD }),
);
const LARGE_FRAME = LARGE_WIRE.length / LARGE_COUNT; // 65550: 14 B header
const FRAGMENT = 1024 * 1024;
const FRAGMENTS = 16;
const FRAGMENT_PAYLOAD = randomBytes(FRAGMENT);
const FRAGMENTED_WIRE = wire(FRAGMENTS, (i) => ({
  fin: i === FRAGMENTS - 1,
  opcode: i === 0 ? 2 : 0,
  payload: FRAGMENT_PAYLOAD,
}));

/** 1 MiB of UTF-8: ASCII with 2-, 3- and 4-byte sequences, whole characters. */
function mixedText(size: number): Uint8Array {
  const unit = new TextEncoder().encode(
    "Hello, world! κόσμε Ελληνικά, русский текст, 日本語のテキスト, 한국어, " +
      "emoji 🎉🚀✨ and plain ASCII filler to keep it mostly ASCII. ",
  );
  const out = new Uint8Array(size);
  let offset = 0;
  while (offset + unit.length <= size) {
    out.set(unit, offset);
    offset += unit.length;
  }
  out.fill(0x20, offset); // pad with spaces: still valid UTF-8
  return out;
}
const TEXT_1M = mixedText(1024 * 1024);

// -------------------------------------------------------------- cases -----

interface Case {
  /** Deno.bench group. */
  group: string;
  name: string;
  baseline?: boolean;
  /** Frames (or messages, or calls) per iteration. */
  frames: number;
  /** Bytes per iteration, for MB/s. */
  bytes: number;
  /** Default timed iterations in the runner. */
  iterations: number;
  /** Untimed setup; returns the timed run. */
  prepare(): () => void;
}

const cases: Case[] = [];

function check(actual: number, expected: number, what: string): void {
  if (actual !== expected) {
    throw new Error(`${what}: got ${actual}, expected ${expected}`);
  }
}

/** The decode cases for one wire buffer: Protocol, FrameParser and ws. */
function decodeCases(
  group: string,
  bytes: Uint8Array,
  chunkSize: number,
  frames: number,
  messages: number,
  messageBytes: number,
  iterations: number,
): void {
  cases.push({
    group,
    name: `${group} wstream Protocol(server)`,
    baseline: true,
    frames,
    bytes: bytes.length,
    iterations,
    prepare() {
      const chunks = freshChunks(bytes, chunkSize);
      const protocol = new Protocol({ role: "server" });
      return () => {
        let count = 0;
        let size = 0;
        for (const chunk of chunks) {
          protocol.receiveData(chunk);
          for (const event of protocol.eventsReceived()) {
            count++;
            size += event.type === "binary" ? event.data.length : 0;
          }
        }
        check(count, messages, `${group} Protocol messages`);
        if (size !== 0) check(size, messageBytes, `${group} Protocol bytes`);
      };
    },
  });
  cases.push({
    group,
    name: `${group} wstream FrameParser(server)`,
    frames,
    bytes: bytes.length,
    iterations,
    prepare() {
      const chunks = freshChunks(bytes, chunkSize);
      const parser = new FrameParser({ role: "server" });
      return () => {
        let count = 0;
        for (const chunk of chunks) {
          parser.push(chunk);
          while (parser.next() !== null) count++;
        }
        check(count, frames, `${group} FrameParser frames`);
      };
    },
  });
  if (ws === null) return;
  const { Receiver } = ws;
  cases.push({
    group,
    name: `${group} ws Receiver(isServer)`,
    frames,
    bytes: bytes.length,
    iterations,
    prepare() {
      const chunks = freshChunks(bytes, chunkSize);
      const receiver = new Receiver({ isServer: true, maxPayload: 0 });
      let count = 0;
      let size = 0;
      receiver.on("message", (data) => {
        count++;
        size += Array.isArray(data) ? 0 : data.length;
      });
      receiver.on("error", (error) => {
        throw error;
      });
      return () => {
        for (const chunk of chunks) receiver.write(chunk);
        check(count, messages, `${group} ws messages`);
        check(size, messageBytes, `${group} ws bytes`);
      };
    },
  });
}

// (a) 100k masked 32-byte text frames, 64 KiB chunks.
decodeCases(
  "a/decode 100k x 32B text",
  SMALL_WIRE,
  CHUNK,
  SMALL_COUNT,
  SMALL_COUNT,
  SMALL_COUNT * 32,
  30,
);
// (b) 1k masked 64 KiB binary frames, 64 KiB chunks (every frame straddles
// chunks), and (b2) one frame per chunk (wstream's zero-copy path).
decodeCases(
  "b/decode 1k x 64KiB binary, 64KiB chunks",
  LARGE_WIRE,
  CHUNK,
  LARGE_COUNT,
  LARGE_COUNT,
  LARGE_COUNT * LARGE_PAYLOAD.length,
  20,
);
decodeCases(
  "b2/decode 1k x 64KiB binary, 1 frame per chunk",
  LARGE_WIRE,
  LARGE_FRAME,
  LARGE_COUNT,
  LARGE_COUNT,
  LARGE_COUNT * LARGE_PAYLOAD.length,
  20,
);
// (c) one 16 MiB binary message in 16 x 1 MiB fragments, 64 KiB chunks.
decodeCases(
  "c/decode 16MiB message in 1MiB fragments",
  FRAGMENTED_WIRE,
  CHUNK,
  FRAGMENTS,
  1,
  FRAGMENTS * FRAGMENT,
  20,
);

// (d) encode 100k 32-byte text frames.
{
  const serverFrameBytes = 2 + 32;
  const clientFrameBytes = 6 + 32;
  const frame = { fin: true, rsv: 0, opcode: 1, payload: TEXT_32 };
  for (const role of ["server", "client"] as const) {
    const group = `d/encode 100k x 32B text, ${role}${
      role === "client" ? " (masked)" : ""
    }`;
    const frameBytes = role === "server" ? serverFrameBytes : clientFrameBytes;
    cases.push({
      group,
      name: `${group} wstream FrameEncoder`,
      baseline: true,
      frames: SMALL_COUNT,
      bytes: SMALL_COUNT * frameBytes,
      iterations: 30,
      prepare() {
        const encoder = new FrameEncoder({ role });
        return () => {
          let size = 0;
          for (let i = 0; i < SMALL_COUNT; i++) {
            size += encoder.encode(frame).length;
          }
          check(size, SMALL_COUNT * frameBytes, `${group} wstream bytes`);
        };
      },
    });
    if (ws === null) continue;
    const { Sender } = ws;
    const readOnlyVariants = role === "client" ? [false, true] : [false];
    for (const readOnly of readOnlyVariants) {
      cases.push({
        group,
        name: `${group} ws Sender.frame readOnly:${readOnly}`,
        frames: SMALL_COUNT,
        bytes: SMALL_COUNT * frameBytes,
        iterations: 30,
        prepare() {
          const payload = Buffer.from(TEXT_32);
          const options = {
            fin: true,
            opcode: 1,
            mask: role === "client",
            readOnly,
            rsv1: false,
          };
          return () => {
            let size = 0;
            for (let i = 0; i < SMALL_COUNT; i++) {
              for (const part of Sender.frame(payload, options)) {
                size += part.length;
              }
            }
            check(size, SMALL_COUNT * frameBytes, `${group} ws bytes`);
          };
        },
      });
    }
  }
}

// (e) applyMask in place on 64 KiB and 1 MiB.
for (const size of [64 * 1024, 1024 * 1024]) {
  const label = size === 65536 ? "64KiB" : "1MiB";
  const group = `e/mask ${label}`;
  const key = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);
  const iterations = size === 65536 ? 20_000 : 1000;
  cases.push({
    group,
    name: `${group} wstream applyMask`,
    baseline: true,
    frames: 1,
    bytes: size,
    iterations,
    prepare() {
      const data = randomBytes(size);
      return () => applyMask(data, key);
    },
  });
  if (ws === null) continue;
  const { unmask } = ws;
  cases.push({
    group,
    name: `${group} ws unmask (JS, no bufferutil)`,
    frames: 1,
    bytes: size,
    iterations,
    prepare() {
      const data = Buffer.from(randomBytes(size));
      const wsKey = Buffer.from(key);
      return () => unmask(data, wsKey);
    },
  });
}

// (f) UTF-8 validation of 1 MiB of mixed text.
{
  const group = "f/utf8 validate 1MiB mixed";
  cases.push({
    group,
    name: `${group} wstream Utf8Validator`,
    baseline: true,
    frames: 1,
    bytes: TEXT_1M.length,
    iterations: 300,
    prepare() {
      const validator = new Utf8Validator();
      return () => {
        validator.reset();
        if (!validator.push(TEXT_1M) || !validator.complete) {
          throw new Error("Utf8Validator rejected valid text");
        }
      };
    },
  });
  cases.push({
    group,
    name: `${group} TextDecoder fatal (decodes too)`,
    frames: 1,
    bytes: TEXT_1M.length,
    iterations: 300,
    prepare() {
      const decoder = new TextDecoder("utf-8", { fatal: true });
      return () => {
        if (decoder.decode(TEXT_1M).length === 0) throw new Error("empty");
      };
    },
  });
  if (ws !== null) {
    const { isValidUTF8 } = ws;
    cases.push({
      group,
      name: `${group} ws isValidUTF8 (buffer.isUtf8)`,
      frames: 1,
      bytes: TEXT_1M.length,
      iterations: 300,
      prepare() {
        const text = Buffer.from(TEXT_1M);
        return () => {
          if (!isValidUTF8(text)) throw new Error("ws rejected valid text");
        };
      },
    });
  }
}

// Sanity: every case runs once, with its checks, before anything is timed.
for (const c of cases) c.prepare()();

// ------------------------------------------------------------- runners ----

if (typeof Deno !== "undefined" && typeof Deno.bench === "function") {
  for (const c of cases) {
    Deno.bench({
      name: c.name.slice(c.group.length + 1),
      group: c.group,
      baseline: c.baseline ?? false,
      n: c.iterations,
      warmup: 5,
      fn(b) {
        const run = c.prepare();
        b.start();
        run();
        b.end();
      },
    });
  }
} else {
  runSelfTimed();
}

function option(name: string): string | undefined {
  const index = process.argv.indexOf(`--${name}`);
  return index === -1 ? undefined : process.argv[index + 1];
}

function runSelfTimed(): void {
  const filter = option("filter") ?? "";
  const iterationsOption = option("iterations");
  const warmup = Number(option("warmup") ?? "5");
  const runtime = typeof Bun !== "undefined"
    ? `bun ${Bun.version}`
    : `node ${process.versions.node}`;
  console.log(
    `codec_bench on ${runtime}, ws ${ws?.version ?? "missing"}; ` +
      `warmup ${warmup}, MB = 10^6 bytes`,
  );
  let group = "";
  for (const c of cases) {
    if (!c.name.includes(filter)) continue;
    if (c.group !== group) {
      group = c.group;
      console.log(`\n${group}`);
    }
    const iterations = iterationsOption === undefined
      ? c.iterations
      : Number(iterationsOption);
    for (let i = 0; i < warmup; i++) c.prepare()();
    let total = 0;
    for (let i = 0; i < iterations; i++) {
      const run = c.prepare();
      const start = performance.now();
      run();
      total += performance.now() - start;
    }
    const seconds = total / 1000;
    const ops = iterations / seconds;
    console.log(
      `  ${c.name.slice(c.group.length + 1).padEnd(40)} ` +
        `${(seconds / iterations * 1e3).toFixed(3).padStart(10)} ms/iter ` +
        `${ops.toFixed(1).padStart(10)} ops/s ` +
        `${(ops * c.frames).toExponential(3).padStart(10)} frames/s ` +
        `${(ops * c.bytes / 1e6).toFixed(1).padStart(9)} MB/s`,
    );
  }
}

declare const Bun: { version: string } | undefined;
