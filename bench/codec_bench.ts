/**
 * Codec micro-benchmarks: wstream's `Protocol`, `FrameParser`,
 * `FrameEncoder`, `applyMask` and `Utf8Validator`, side by side with npm
 * `ws`'s `Receiver`, `Sender.frame`, `unmask` and `isValidUTF8` in the same
 * process (loaded by file path from `tests/interop/node_modules`, never by
 * bare name: Bun answers `require("ws")` with its own re-implementation).
 *
 * Usage (results: bench/results/2026-11-22-codec.md):
 *
 *   deno bench -A bench/codec_bench.ts                # Deno.bench table
 *   deno run -A bench/codec_bench.ts --table          # markdown table
 *   bun bench/codec_bench.ts --table                  # markdown table
 *   bun bench/codec_bench.ts                          # ops/s listing
 *   deno run -A bench/codec_bench.ts --table --quick  # ~10x less work
 *   deno bench -A bench/codec_bench.ts -- --quick
 *
 * Options: `--table` prints markdown tables (below); `--quick` cuts frame
 * counts and message sizes ~10x (and the repetitions of the mask and UTF-8
 * cases) for development; `--filter TEXT` keeps the cases whose name
 * contains TEXT; `--samples N` (table, default 7, at least 5) and `--warmup
 * N` (table: untimed samples, default 3; listing: untimed iterations,
 * default 5); `--iterations N` (listing) overrides the per-case iteration
 * count.
 *
 * Cases. Every decode case is fed masked client frames, as a server
 * receives them, cut into 64 KiB chunks (b2: one whole frame per chunk):
 *
 * - a: 100k masked 32-byte text frames; encode: the same frames.
 * - b: 1k masked 64 KiB binary frames (in 64 KiB chunks every frame
 *   straddles two chunks, so parsers copy); b2: the same wire, one frame per
 *   chunk (wstream's zero-copy view path); encode: the same frames.
 * - c: one 16 MiB binary message in 16 masked 1 MiB fragments; encode: the
 *   same fragments.
 * - e: `applyMask` in place over 64 KiB, 1 MiB and 16 MiB.
 * - f: UTF-8 validation of 1 MiB of mixed text (ASCII, 2-, 3-, 4-byte).
 *
 * "Decode" is wire bytes to delivered messages: wstream `Protocol`
 * (`receiveData` + `eventsReceived`: unmask, reassemble, UTF-8 check and
 * decode text to a string), bare wstream `FrameParser` (`push` + `next`:
 * frames unmasked, no UTF-8, no reassembly) and `ws` `Receiver` (`write`,
 * `"message"` events with `Buffer`s, text UTF-8 validated but not decoded).
 * "Encode": `FrameEncoder.encode` as server (unmasked) and client (masked,
 * random key per frame), `Protocol.sendText` / `sendBinary` + `dataToSend`
 * (one write per message) and the static `ws` `Sender.frame`. Note that
 * `Sender.frame` returns `[header, payload]` without copying the payload
 * when it does not mask, or masks with `readOnly: false` (then it XORs the
 * caller's buffer in place); with `mask` and `readOnly: true` it copies
 * into one buffer, like `FrameEncoder` always does.
 *
 * What is timed. Parsers unmask in place and take ownership of the chunks
 * they are given, so every decode run gets a fresh copy of the wire bytes
 * (one `slice()` of the whole wire buffer, then `Buffer` views of 64 KiB
 * for every library) and a fresh `Protocol` / `FrameParser` / `Receiver`,
 * made in an untimed setup step (`b.start()`/`b.end()` on Deno.bench,
 * `performance.now()` around the run alone elsewhere): no decode run ever
 * sees already-unmasked bytes, and no copy is inside a timed region.
 * Encode, mask and UTF-8 cases reuse their input: encoders do not modify
 * their payload (except `ws` with `readOnly: false` and `mask: true`, which
 * masks its own copy in place), and masking twice is the identity. Every
 * case checks its frame / message / byte counts, and runs once before
 * anything is timed.
 *
 * Units: MB = 10^6 bytes. Bytes are wire bytes for decode (headers
 * included), output wire bytes for encode, and payload bytes for mask and
 * UTF-8. Frames are wire frames (for c: the 1 MiB fragments); mask and
 * UTF-8 cases report MB/s only.
 *
 * `--table`: each case runs `warmup` untimed samples, then `samples` timed
 * ones; a sample is a fixed number of runs of the case (decode: each run
 * timed alone after its untimed setup; others: one timed loop), and the
 * result is the median sample. The cases of one group are sampled in turn
 * (round robin) so that drift on a noisy machine hits them alike. The first
 * table is `case | wstream | ws | ratio (wstream/ws) | unit` (ratio > 1:
 * wstream is faster), one row per unit; the second lists every case with
 * its median time per run and the spread of the samples.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { loadavg } from "node:os";
import process from "node:process";
import { applyMask } from "../lib/core/mask.ts";
import { FrameEncoder } from "../lib/core/frame_encoder.ts";
import { FrameParser } from "../lib/core/frame_parser.ts";
import { Protocol } from "../lib/core/protocol.ts";
import { Utf8Validator } from "../lib/core/utf8.ts";

declare const Bun: { version: string } | undefined;

// ------------------------------------------------------------ options -----

const args: readonly string[] = typeof Deno !== "undefined"
  ? Deno.args
  : process.argv.slice(2);

function flag(name: string): boolean {
  return args.includes(`--${name}`);
}

function option(name: string): string | undefined {
  const index = args.indexOf(`--${name}`);
  return index === -1 ? undefined : args[index + 1];
}

function numberOption(name: string, fallback: number, minimum: number): number {
  const text = option(name);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < minimum) {
    throw new RangeError(`--${name} ${text}: use an integer >= ${minimum}`);
  }
  return value;
}

/** Taken before anything runs: lib/ may be edited while this runs. */
const LIB_FINGERPRINT = libFingerprint();
const TABLE = flag("table");
const QUICK = flag("quick");
const FILTER = option("filter") ?? "";

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
  Sender: {
    frame(data: Uint8Array | string, options: WsFrameOptions): Uint8Array[];
  };
  unmask(buffer: Uint8Array, mask: Uint8Array): void;
  isValidUTF8(buffer: Uint8Array): boolean;
  version: string;
  /** Which masking code `ws` picked: native, `bufferutil` or its JS loop. */
  maskKind: string;
  /** Which UTF-8 check `ws` picked (for buffers of 24 bytes and more). */
  utf8Kind: string;
}

/** `ws` from `tests/interop/node_modules`, by file path; `null` if missing. */
function loadWs(): WsModules | null {
  const require = createRequire(import.meta.url);
  const dir = new URL("../tests/interop/node_modules/ws/", import.meta.url)
    .pathname;
  try {
    const bufferUtil = require(dir + "lib/buffer-util.js");
    const validation = require(dir + "lib/validation.js");
    // The same probes as ws/lib/buffer-util.js and ws/lib/validation.js.
    const resolvable = (name: string): boolean => {
      try {
        createRequire(dir + "lib/")(name);
        return true;
      } catch {
        return false;
      }
    };
    const maskKind = typeof require("node:http").websocketMask === "function"
      ? "http.websocketMask"
      : !process.env.WS_NO_BUFFER_UTIL && resolvable("bufferutil")
      ? "bufferutil"
      : "JS loop";
    const utf8Kind = typeof require("node:buffer").isUtf8 === "function"
      ? "buffer.isUtf8"
      : !process.env.WS_NO_UTF_8_VALIDATE && resolvable("utf-8-validate")
      ? "utf-8-validate"
      : "JS loop";
    return {
      Receiver: require(dir + "lib/receiver.js"),
      Sender: require(dir + "lib/sender.js"),
      unmask: bufferUtil.unmask,
      isValidUTF8: validation.isValidUTF8,
      version: require(dir + "package.json").version,
      maskKind,
      utf8Kind,
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

const KiB = 1024;
const MiB = 1024 * KiB;
const CHUNK = 64 * KiB;

/** Sizes: full, or ~10x less with `--quick`. */
const SMALL_COUNT = QUICK ? 10_000 : 100_000;
const LARGE_COUNT = QUICK ? 100 : 1000;
const LARGE_SIZE = 64 * KiB;
const FRAGMENTS = 16;
const FRAGMENT = QUICK ? 128 * KiB : MiB;
const MASK_SIZES = [64 * KiB, MiB, 16 * MiB];
const UTF8_SIZE = MiB;
/** Repetitions of the mask and UTF-8 cases (their sizes stay). */
const REPEAT = QUICK ? 0.1 : 1;

function count(n: number): string {
  return n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : String(n);
}

function size(bytes: number): string {
  return bytes >= MiB && bytes % MiB === 0
    ? `${bytes / MiB}MiB`
    : bytes >= KiB && bytes % KiB === 0
    ? `${bytes / KiB}KiB`
    : `${bytes}B`;
}

const clientEncoder = new FrameEncoder({ role: "client" });

interface WireFrame {
  fin: boolean;
  opcode: number;
  payload: Uint8Array;
}

/** Concatenates masked client frames into one wire buffer. */
function wire(frames: number, frame: (i: number) => WireFrame): Uint8Array {
  const encoded: Uint8Array[] = [];
  let total = 0;
  for (let i = 0; i < frames; i++) {
    const { fin, opcode, payload } = frame(i);
    const bytes = clientEncoder.encode({ fin, rsv: 0, opcode, payload });
    encoded.push(bytes);
    total += bytes.length;
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const bytes of encoded) {
    out.set(bytes, offset);
    offset += bytes.length;
  }
  return out;
}

/**
 * A fresh copy of `bytes`, cut into `chunkSize`-byte chunks: `Buffer` views
 * (what Node sockets deliver; `ws` needs them, wstream takes any
 * `Uint8Array`, and plain ones made no clear difference on either runtime).
 */
function freshChunks(bytes: Uint8Array, chunkSize: number): Buffer[] {
  const copy = bytes.slice();
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < copy.length; offset += chunkSize) {
    const length = Math.min(chunkSize, copy.length - offset);
    chunks.push(Buffer.from(copy.buffer, offset, length));
  }
  return chunks;
}

const TEXT_32_STRING = "wstream codec bench: 32B text ok";
const TEXT_32 = new TextEncoder().encode(TEXT_32_STRING);
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

const SMALL_WIRE = wire(
  SMALL_COUNT,
  () => ({ fin: true, opcode: 1, payload: TEXT_32 }),
);
const LARGE_PAYLOAD = randomBytes(LARGE_SIZE);
const LARGE_WIRE = wire(
  LARGE_COUNT,
  () => ({ fin: true, opcode: 2, payload: LARGE_PAYLOAD }),
);
const LARGE_FRAME = LARGE_WIRE.length / LARGE_COUNT; // 65550: 14 B header
const FRAGMENT_PAYLOAD = randomBytes(FRAGMENT);
const fragment = (i: number): WireFrame => ({
  fin: i === FRAGMENTS - 1,
  opcode: i === 0 ? 2 : 0,
  payload: FRAGMENT_PAYLOAD,
});
const FRAGMENTED_WIRE = wire(FRAGMENTS, fragment);

/** UTF-8: ASCII with 2-, 3- and 4-byte sequences, whole characters. */
function mixedText(length: number): Uint8Array {
  const unit = new TextEncoder().encode(
    "Hello, world! κόσμε Ελληνικά, русский текст, 日本語のテキスト, 한국어, " +
      "emoji 🎉🚀✨ and plain ASCII filler to keep it mostly ASCII. ",
  );
  const out = new Uint8Array(length);
  let offset = 0;
  while (offset + unit.length <= length) {
    out.set(unit, offset);
    offset += unit.length;
  }
  out.fill(0x20, offset); // pad with spaces: still valid UTF-8
  return out;
}
const TEXT_MIXED = mixedText(UTF8_SIZE);

// -------------------------------------------------------------- cases -----

type Unit = "frames/s" | "MB/s";

interface Case {
  /** Deno.bench group. */
  group: string;
  /** The implementation, within the group. */
  label: string;
  /** Frames (or calls) per run. */
  frames: number;
  /** Bytes per run, for MB/s. */
  bytes: number;
  /** Deno.bench `n`, and timed iterations of the listing runner. */
  iterations: number;
  /** Runs per `--table` sample. */
  reps: number;
  /** `true` when every run needs its own `prepare()` (fresh input). */
  fresh: boolean;
  /** Untimed setup; returns the timed run. */
  prepare(): () => void;
}

/** One row pair of the `--table` output. */
interface Comparison {
  title: string;
  wstream: Case;
  other: Case;
  units: readonly Unit[];
}

const cases: Case[] = [];
const comparisons: Comparison[] = [];
const BOTH: readonly Unit[] = ["frames/s", "MB/s"];
const MB_ONLY: readonly Unit[] = ["MB/s"];
const FRAMES_ONLY: readonly Unit[] = ["frames/s"];

type CaseSpec =
  & Omit<Case, "fresh" | "reps">
  & { fresh?: boolean; reps?: number };

function add(spec: CaseSpec): Case {
  const c: Case = { ...spec, fresh: spec.fresh ?? false, reps: spec.reps ?? 1 };
  cases.push(c);
  return c;
}

function compare(
  title: string,
  wstream: Case,
  other: Case | null,
  units: readonly Unit[] = BOTH,
): void {
  if (other !== null) comparisons.push({ title, wstream, other, units });
}

function check(actual: number, expected: number, what: string): void {
  if (actual !== expected) {
    throw new Error(`${what}: got ${actual}, expected ${expected}`);
  }
}

/** The decode cases for one wire buffer: Protocol, FrameParser and ws. */
function decodeCases(
  group: string,
  title: string,
  bytes: Uint8Array,
  chunkSize: number,
  frames: number,
  messages: number,
  messageBytes: number,
  payload: Uint8Array,
  iterations: number,
  reps: number,
): void {
  // Every frame carries `payload`: delivered bytes are checked at both ends,
  // so a run that saw masked (or twice-unmasked) bytes fails.
  const first = payload[0]!;
  const last = payload[payload.length - 1]!;
  const unmasked = (data: Uint8Array) =>
    data[0] === first && data[data.length - 1] === last;
  const common = {
    group,
    frames,
    bytes: bytes.length,
    iterations,
    reps,
    fresh: true,
  };
  const protocol = add({
    ...common,
    label: "wstream Protocol(server)",
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
            if (event.type === "binary") {
              size += event.data.length;
              if (!unmasked(event.data)) size = NaN;
            }
          }
        }
        check(count, messages, `${group} Protocol messages`);
        if (size !== 0) check(size, messageBytes, `${group} Protocol bytes`);
      };
    },
  });
  const parser = add({
    ...common,
    label: "wstream FrameParser(server)",
    prepare() {
      const chunks = freshChunks(bytes, chunkSize);
      const parser = new FrameParser({ role: "server" });
      return () => {
        let count = 0;
        for (const chunk of chunks) {
          parser.push(chunk);
          for (let frame; (frame = parser.next()) !== null;) {
            count += unmasked(frame.payload) ? 1 : NaN;
          }
        }
        check(count, frames, `${group} FrameParser frames`);
      };
    },
  });
  if (ws === null) return;
  const { Receiver } = ws;
  const receiver = add({
    ...common,
    label: "ws Receiver(isServer)",
    prepare() {
      const chunks = freshChunks(bytes, chunkSize);
      const receiver = new Receiver({ isServer: true, maxPayload: 0 });
      let count = 0;
      let size = 0;
      receiver.on("message", (data) => {
        count++;
        size += Array.isArray(data) || !unmasked(data) ? NaN : data.length;
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
  compare(`${title}: Protocol vs Receiver`, protocol, receiver);
  compare(`${title}: FrameParser vs Receiver`, parser, receiver);
}

// (a) masked 32-byte text frames, 64 KiB chunks.
decodeCases(
  `a/decode ${count(SMALL_COUNT)} x 32B text`,
  `a decode ${count(SMALL_COUNT)} x 32 B text`,
  SMALL_WIRE,
  CHUNK,
  SMALL_COUNT,
  SMALL_COUNT,
  SMALL_COUNT * 32,
  TEXT_32,
  30,
  1,
);
// (b) masked 64 KiB binary frames, 64 KiB chunks (every frame straddles
// chunks), and (b2) one frame per chunk (wstream's zero-copy path).
decodeCases(
  `b/decode ${count(LARGE_COUNT)} x 64KiB binary, 64KiB chunks`,
  `b decode ${count(LARGE_COUNT)} x 64 KiB binary, 64 KiB chunks`,
  LARGE_WIRE,
  CHUNK,
  LARGE_COUNT,
  LARGE_COUNT,
  LARGE_COUNT * LARGE_SIZE,
  LARGE_PAYLOAD,
  20,
  1,
);
decodeCases(
  `b2/decode ${count(LARGE_COUNT)} x 64KiB binary, 1 frame per chunk`,
  `b2 decode ${count(LARGE_COUNT)} x 64 KiB binary, frame per chunk`,
  LARGE_WIRE,
  LARGE_FRAME,
  LARGE_COUNT,
  LARGE_COUNT,
  LARGE_COUNT * LARGE_SIZE,
  LARGE_PAYLOAD,
  20,
  1,
);
// (c) one binary message in 16 fragments, 64 KiB chunks.
decodeCases(
  `c/decode ${size(FRAGMENTS * FRAGMENT)} message in ${
    size(FRAGMENT)
  } fragments`,
  `c decode ${size(FRAGMENTS * FRAGMENT)} in ${size(FRAGMENT)} fragments`,
  FRAGMENTED_WIRE,
  CHUNK,
  FRAGMENTS,
  1,
  FRAGMENTS * FRAGMENT,
  FRAGMENT_PAYLOAD,
  20,
  2,
);

/** Wire size of one frame of `length` payload bytes. */
function frameSize(length: number, masked: boolean): number {
  const extended = length < 126 ? 0 : length < 0x10000 ? 2 : 8;
  return 2 + extended + (masked ? 4 : 0) + length;
}

interface EncodeSpec {
  /** Group prefix, e.g. `a/encode 100k x 32B text`. */
  group: string;
  /** Table title prefix. */
  title: string;
  frames: number;
  frame(i: number): WireFrame;
  /** Payload as a string for the text-message variants, if any. */
  text?: string;
  /** Whole messages (one frame each) for the `Protocol` variants. */
  messages: boolean;
  iterations: number;
  reps: number;
  /** Runs per sample of `ws` cases that do not copy the payload. */
  zeroCopyReps: number;
}

/** Encode cases: FrameEncoder, Protocol and ws, as server and client. */
function encodeCases(spec: EncodeSpec): void {
  const { frames, frame } = spec;
  const payloads = Array.from({ length: frames }, (_, i) => frame(i));
  for (const role of ["server", "client"] as const) {
    const masked = role === "client";
    const group = `${spec.group}, ${role}${masked ? " (masked)" : ""}`;
    const title = `${spec.title}, ${role}${masked ? " (masked)" : ""}`;
    let bytes = 0;
    for (const { payload } of payloads) {
      bytes += frameSize(payload.length, masked);
    }
    const common = { group, frames, bytes, iterations: spec.iterations };
    const encoder = add({
      ...common,
      label: "wstream FrameEncoder",
      reps: spec.reps,
      prepare() {
        const encoder = new FrameEncoder({ role });
        const input = payloads.map(({ fin, opcode, payload }) => ({
          fin,
          rsv: 0,
          opcode,
          payload,
        }));
        return () => {
          let total = 0;
          for (const frame of input) total += encoder.encode(frame).length;
          check(total, bytes, `${group} FrameEncoder bytes`);
        };
      },
    });
    let protocol: Case | null = null;
    if (spec.messages) {
      const text = spec.text;
      protocol = add({
        ...common,
        label: `wstream Protocol.${
          text === undefined ? "sendBinary" : "sendText"
        }+dataToSend`,
        reps: spec.reps,
        prepare() {
          const protocol = new Protocol({ role });
          const data = payloads.map(({ payload }) => payload);
          return () => {
            let total = 0;
            if (text !== undefined) {
              for (let i = 0; i < frames; i++) {
                protocol.sendText(text);
                total += protocol.dataToSend()!.length;
              }
            } else {
              for (const payload of data) {
                protocol.sendBinary(payload);
                total += protocol.dataToSend()!.length;
              }
            }
            check(total, bytes, `${group} Protocol bytes`);
          };
        },
      });
    }
    if (ws === null) continue;
    const { Sender } = ws;
    const wsCase = (
      readOnly: boolean,
      useText: boolean,
      reps: number,
    ): Case =>
      add({
        ...common,
        label: `ws Sender.frame(${useText ? "string" : "Buffer"}${
          masked ? `, readOnly:${readOnly}` : ""
        })`,
        reps,
        prepare() {
          // Own copies: readOnly:false masks the payload in place.
          const input = payloads.map(({ fin, opcode, payload }) => ({
            data: useText ? spec.text! : Buffer.from(payload),
            options: { fin, opcode, mask: masked, readOnly, rsv1: false },
          }));
          return () => {
            let total = 0;
            for (const { data, options } of input) {
              for (const part of Sender.frame(data, options)) {
                total += part.length;
              }
            }
            check(total, bytes, `${group} ws bytes`);
          };
        },
      });
    if (!masked) {
      // ws does no payload work here: for large payloads only frames/s is
      // worth a row (its MB/s would count bytes it never touched).
      const plain = wsCase(false, false, spec.zeroCopyReps);
      const units = spec.zeroCopyReps > 1 ? FRAMES_ONLY : BOTH;
      compare(
        `${title}: FrameEncoder vs Sender.frame (no payload copy)`,
        encoder,
        plain,
        units,
      );
      if (protocol !== null) {
        if (spec.text !== undefined) {
          compare(
            `${title}: Protocol.sendText vs Sender.frame(string)`,
            protocol,
            wsCase(false, true, spec.reps),
          );
        } else {
          compare(
            `${title}: Protocol.sendBinary vs Sender.frame (no payload copy)`,
            protocol,
            plain,
            units,
          );
        }
      }
    } else {
      const merged = wsCase(true, false, spec.reps);
      compare(
        `${title}: FrameEncoder vs Sender.frame readOnly:true (copies)`,
        encoder,
        merged,
      );
      if (spec.text !== undefined) {
        compare(
          `${title}: FrameEncoder vs Sender.frame readOnly:false (in place)`,
          encoder,
          wsCase(false, false, spec.reps),
        );
      }
      if (protocol !== null) {
        if (spec.text !== undefined) {
          compare(
            `${title}: Protocol.sendText vs Sender.frame(string)`,
            protocol,
            wsCase(false, true, spec.reps),
          );
        } else {
          compare(
            `${title}: Protocol.sendBinary vs Sender.frame readOnly:true`,
            protocol,
            merged,
          );
        }
      }
    }
  }
}

// (a) 32-byte text frames.
encodeCases({
  group: `a/encode ${count(SMALL_COUNT)} x 32B text`,
  title: `a encode ${count(SMALL_COUNT)} x 32 B text`,
  frames: SMALL_COUNT,
  frame: () => ({ fin: true, opcode: 1, payload: TEXT_32 }),
  text: TEXT_32_STRING,
  messages: true,
  iterations: 30,
  reps: 1,
  zeroCopyReps: 1,
});
// (b) 64 KiB binary frames.
encodeCases({
  group: `b/encode ${count(LARGE_COUNT)} x 64KiB binary`,
  title: `b encode ${count(LARGE_COUNT)} x 64 KiB binary`,
  frames: LARGE_COUNT,
  frame: () => ({ fin: true, opcode: 2, payload: LARGE_PAYLOAD }),
  messages: true,
  iterations: 20,
  reps: 1,
  zeroCopyReps: 100,
});
// (c) one message in 16 fragments.
encodeCases({
  group: `c/encode ${size(FRAGMENTS * FRAGMENT)} in ${
    size(FRAGMENT)
  } fragments`,
  title: `c encode ${size(FRAGMENTS * FRAGMENT)} in ${
    size(FRAGMENT)
  } fragments`,
  frames: FRAGMENTS,
  frame: fragment,
  messages: false,
  iterations: 20,
  reps: 2,
  zeroCopyReps: 1000,
});

// (e) applyMask in place.
for (const length of MASK_SIZES) {
  const group = `e/mask ${size(length)}`;
  const key = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);
  const iterations = Math.max(10, Math.round(64 * MiB / length / 5));
  const reps = Math.max(1, Math.round(128 * MiB / length * REPEAT));
  const common = { group, frames: 1, bytes: length, iterations, reps };
  const mine = add({
    ...common,
    label: "wstream applyMask",
    prepare() {
      const data = randomBytes(length);
      return () => applyMask(data, key);
    },
  });
  if (ws === null) continue;
  const { unmask } = ws;
  const theirs = add({
    ...common,
    label: `ws unmask (${ws.maskKind})`,
    prepare() {
      const data = Buffer.from(randomBytes(length));
      const wsKey = Buffer.from(key);
      return () => unmask(data, wsKey);
    },
  });
  compare(`e mask ${size(length)}: applyMask vs unmask`, mine, theirs, MB_ONLY);
}

// (f) UTF-8 validation of mixed text.
{
  const group = `f/utf8 validate ${size(UTF8_SIZE)} mixed`;
  const title = `f utf8 ${size(UTF8_SIZE)} mixed`;
  const common = {
    group,
    frames: 1,
    bytes: TEXT_MIXED.length,
    iterations: 300,
    reps: Math.max(1, Math.round(20 * REPEAT)),
  };
  const validator = add({
    ...common,
    label: "wstream Utf8Validator",
    prepare() {
      const validator = new Utf8Validator();
      return () => {
        validator.reset();
        if (!validator.push(TEXT_MIXED) || !validator.complete) {
          throw new Error("Utf8Validator rejected valid text");
        }
      };
    },
  });
  const textDecoder = add({
    ...common,
    label: "TextDecoder fatal (decodes too)",
    prepare() {
      const decoder = new TextDecoder("utf-8", { fatal: true });
      return () => {
        if (decoder.decode(TEXT_MIXED).length === 0) throw new Error("empty");
      };
    },
  });
  if (ws !== null) {
    const { isValidUTF8 } = ws;
    const wsValidate = add({
      ...common,
      label: `ws isValidUTF8 (${ws.utf8Kind})`,
      prepare() {
        const text = Buffer.from(TEXT_MIXED);
        return () => {
          if (!isValidUTF8(text)) throw new Error("ws rejected valid text");
        };
      },
    });
    compare(
      `${title}: Utf8Validator vs isValidUTF8`,
      validator,
      wsValidate,
      MB_ONLY,
    );
  }
  compare(
    `${title}: Utf8Validator vs TextDecoder fatal (not ws; runtime's decoder)`,
    validator,
    textDecoder,
    MB_ONLY,
  );
}

const selected = cases.filter((c) => name(c).includes(FILTER));

function name(c: Case): string {
  return `${c.group} ${c.label}`;
}

// Sanity: every selected case runs once, with its checks, before timing.
for (const c of selected) c.prepare()();

// ------------------------------------------------------------- runners ----

function runtimeName(): string {
  if (typeof Deno !== "undefined") {
    return `deno ${Deno.version.deno} (V8 ${Deno.version.v8})`;
  }
  if (typeof Bun !== "undefined") return `bun ${Bun.version}`;
  return `node ${process.versions.node} (V8 ${process.versions.v8})`;
}

function wsName(): string {
  return ws === null
    ? "ws missing"
    : `ws ${ws.version} (masking: ${ws.maskKind}, UTF-8: ${ws.utf8Kind})`;
}

/** The lib/core/ sources measured (they change often): a short SHA-256 each. */
function libFingerprint(): string {
  return [
    "frame_parser",
    "frame_encoder",
    "protocol",
    "mask",
    "utf8",
    "_byte_accumulator",
  ].map((file) => {
    const url = new URL(`../lib/core/${file}.ts`, import.meta.url);
    const hash = createHash("sha256").update(readFileSync(url)).digest("hex");
    return `${file} ${hash.slice(0, 8)}`;
  }).join(", ");
}

/** Deno.bench cases; a case without fresh input is prepared once. */
function registerDenoBench(): void {
  const baselines = new Set<string>();
  for (const c of selected) {
    const baseline = !baselines.has(c.group);
    baselines.add(c.group);
    let prepared: (() => void) | null = null;
    Deno.bench({
      name: c.label,
      group: c.group,
      baseline,
      n: c.iterations,
      warmup: 5,
      fn(b) {
        const run = c.fresh ? c.prepare() : (prepared ??= c.prepare());
        b.start();
        run();
        b.end();
      },
    });
  }
}

/** The ops/s listing (no Deno.bench): iterations timed one by one. */
function runListing(): void {
  const iterationsOption = option("iterations");
  const warmup = numberOption("warmup", 5, 0);
  console.log(
    `codec_bench on ${runtimeName()}, ${wsName()}; ${
      QUICK ? "quick sizes; " : ""
    }warmup ${warmup}, MB = 10^6 bytes`,
  );
  let group = "";
  for (const c of selected) {
    if (c.group !== group) {
      group = c.group;
      console.log(`\n${group}`);
    }
    const iterations = iterationsOption === undefined
      ? c.iterations
      : numberOption("iterations", c.iterations, 1);
    let prepared: (() => void) | null = null;
    const prepare = () => c.fresh ? c.prepare() : (prepared ??= c.prepare());
    for (let i = 0; i < warmup; i++) prepare()();
    let total = 0;
    for (let i = 0; i < iterations; i++) {
      const run = prepare();
      const start = performance.now();
      run();
      total += performance.now() - start;
    }
    const seconds = total / 1000;
    const ops = iterations / seconds;
    console.log(
      `  ${c.label.padEnd(44)} ` +
        `${(seconds / iterations * 1e3).toFixed(3).padStart(10)} ms/iter ` +
        `${ops.toFixed(1).padStart(10)} ops/s ` +
        `${(ops * c.frames).toExponential(3).padStart(10)} frames/s ` +
        `${(ops * c.bytes / 1e6).toFixed(1).padStart(9)} MB/s`,
    );
  }
}

interface Measurement {
  /** Milliseconds per run, one entry per sample. */
  samples: number[];
  /** Median of `samples`. */
  median: number;
}

/** One sample: `c.reps` runs; returns milliseconds per run. */
function sample(c: Case): number {
  if (c.fresh) {
    let total = 0;
    for (let i = 0; i < c.reps; i++) {
      const run = c.prepare();
      const start = performance.now();
      run();
      total += performance.now() - start;
    }
    return total / c.reps;
  }
  const run = c.prepare();
  const start = performance.now();
  for (let i = 0; i < c.reps; i++) run();
  return (performance.now() - start) / c.reps;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? sorted[middle]!
    : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Measures every selected case, group by group, sampling in turn. */
function measureAll(
  samples: number,
  warmup: number,
): Map<Case, Measurement> {
  const results = new Map<Case, Measurement>();
  const groups = new Map<string, Case[]>();
  for (const c of selected) {
    const members = groups.get(c.group) ?? [];
    members.push(c);
    groups.set(c.group, members);
  }
  for (const [group, members] of groups) {
    const started = performance.now();
    for (let i = 0; i < warmup; i++) for (const c of members) sample(c);
    const times = members.map(() => [] as number[]);
    for (let i = 0; i < samples; i++) {
      members.forEach((c, index) => times[index]!.push(sample(c)));
    }
    members.forEach((c, index) => {
      const values = times[index]!;
      results.set(c, { samples: values, median: median(values) });
    });
    console.error(
      `codec_bench: ${group}: ${
        ((performance.now() - started) / 1000).toFixed(1)
      } s`,
    );
  }
  return results;
}

function perSecond(c: Case, m: Measurement, unit: Unit): number {
  return (unit === "frames/s" ? c.frames : c.bytes / 1e6) / (m.median / 1e3);
}

function formatRate(value: number, unit: Unit): string {
  if (unit === "MB/s") {
    return value >= 1000 ? value.toFixed(0) : value.toPrecision(3);
  }
  return value >= 1e6
    ? `${(value / 1e6).toPrecision(3)} M`
    : value >= 1e3
    ? `${(value / 1e3).toPrecision(3)} k`
    : value.toPrecision(3);
}

function markdownTable(
  header: readonly string[],
  align: readonly ("l" | "r")[],
  rows: readonly (readonly string[])[],
): string {
  const widths = header.map((cell, i) =>
    Math.max(cell.length, ...rows.map((row) => row[i]!.length))
  );
  const line = (cells: readonly string[]) =>
    `| ${
      cells.map((cell, i) =>
        align[i] === "r" ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)
      ).join(" | ")
    } |`;
  const rule = `| ${
    widths.map((width, i) =>
      align[i] === "r" ? "-".repeat(width - 1) + ":" : "-".repeat(width)
    ).join(" | ")
  } |`;
  return [line(header), rule, ...rows.map(line)].join("\n");
}

/** `--table`: fixed runs, median of samples, markdown tables on stdout. */
function runTable(): void {
  const samples = numberOption("samples", 7, 5);
  const warmup = numberOption("warmup", 3, 0);
  const loadBefore = loadavg()[0]!;
  const started = new Date();
  const results = measureAll(samples, warmup);
  const seconds = (Date.now() - started.getTime()) / 1000;
  const lines: string[] = [];
  lines.push(
    `codec_bench --table on ${runtimeName()}, ${wsName()}; ${
      QUICK ? "QUICK sizes (--quick)" : "full sizes"
    }; ${warmup} warmup + ${samples} timed samples per case, median; ` +
      `MB = 10^6 bytes; ratio = wstream / ws throughput (> 1: wstream faster)`,
    `started ${started.toISOString()}, ${seconds.toFixed(0)} s; ` +
      `1-min load average ${loadBefore.toFixed(2)} before, ` +
      `${loadavg()[0]!.toFixed(2)} after`,
    `lib/ sha256 (at start): ${LIB_FINGERPRINT}`,
    "",
  );
  const rows: string[][] = [];
  for (const { title, wstream, other, units } of comparisons) {
    const mine = results.get(wstream);
    const theirs = results.get(other);
    if (mine === undefined || theirs === undefined) continue;
    for (const unit of units) {
      const a = perSecond(wstream, mine, unit);
      const b = perSecond(other, theirs, unit);
      rows.push([
        title,
        formatRate(a, unit),
        formatRate(b, unit),
        `${(a / b).toFixed(2)}x`,
        unit,
      ]);
    }
  }
  lines.push(
    markdownTable(
      ["case", "wstream", "ws", "ratio (wstream/ws)", "unit"],
      ["l", "r", "r", "r", "l"],
      rows,
    ),
    "",
  );
  const details: string[][] = [];
  for (const c of selected) {
    const m = results.get(c)!;
    const low = Math.min(...m.samples);
    const high = Math.max(...m.samples);
    details.push([
      c.group,
      c.label,
      m.median.toPrecision(4),
      `${low.toPrecision(3)} … ${high.toPrecision(3)}`,
      `${m.samples.length} x ${c.reps}`,
      formatRate(perSecond(c, m, "frames/s"), "frames/s"),
      formatRate(perSecond(c, m, "MB/s"), "MB/s"),
    ]);
  }
  lines.push(
    markdownTable(
      [
        "group",
        "implementation",
        "ms/run (median)",
        "min … max",
        "samples x runs",
        "frames/s",
        "MB/s",
      ],
      ["l", "l", "r", "r", "r", "r", "r"],
      details,
    ),
  );
  console.log(lines.join("\n"));
}

if (TABLE) {
  runTable();
} else if (typeof Deno !== "undefined" && !import.meta.main) {
  registerDenoBench(); // under `deno bench`
} else {
  runListing();
}
