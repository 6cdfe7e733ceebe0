/**
 * permessage-deflate engine candidates on this runtime: µs per message to
 * compress and to inflate, and memory per zlib context pair.
 *
 *   deno run -A bench/deflate_zlib_candidates.ts
 *   bun bench/deflate_zlib_candidates.ts
 *   node bench/deflate_zlib_candidates.ts
 *
 * Candidates (context takeover unless noted):
 * - stream-async: createDeflateRaw/createInflateRaw + flush(Z_SYNC_FLUSH),
 *   awaited per message (what ws does);
 * - oneshot-sync: deflateRawSync/inflateRawSync (no context takeover);
 * - oneshot-dict: the same with `dictionary` = the last 32 KiB sent,
 *   emulating context takeover;
 * - handle-sync: a persistent handle driven by _handle.writeSync
 *   (lib/extensions/_zlib_sync.ts, what PerMessageDeflate uses);
 * - bun-oneshot: Bun.deflateSync/inflateSync (Bun only, no context takeover);
 * - CompressionStream("deflate-raw"): probed for mid-stream flushing.
 *
 * Memory per zlib pair, one configuration per fresh process:
 *
 *   deno run -A bench/deflate_zlib_candidates.ts --memory 15 8 sync   # or streams
 */
import * as zlib from "node:zlib";
import { SyncZlib } from "../lib/extensions/_zlib_sync.ts";

/** The runtime globals this bench reads, when present. */
const runtimeGlobals = globalThis as unknown as {
  Deno?: { version: { deno: string } };
  Bun?: {
    version: string;
    deflateSync(data: Uint8Array): Uint8Array;
    inflateSync(data: Uint8Array): Uint8Array;
  };
  gc?: () => void;
};

const runtime = "Deno" in globalThis
  ? `deno ${runtimeGlobals.Deno!.version.deno}`
  : "Bun" in globalThis
  ? `bun ${runtimeGlobals.Bun!.version}`
  : `node ${process.versions.node}`;
const quick = process.argv.includes("--quick");
const encoder = new TextEncoder();
const TRAILER = new Uint8Array([0, 0, 0xff, 0xff]);
const SYNC = zlib.constants.Z_SYNC_FLUSH;

function chat(count: number, seed = 1): Uint8Array[] {
  let state = seed;
  const next = () => (state = (state * 1103515245 + 12345) >>> 0) / 2 ** 32;
  const words =
    "the quick brown fox jumps over lazy dog hello world ok see you later meeting noon lunch deploy build failed passed review merge"
      .split(" ");
  return Array.from({ length: count }, (_, i) => {
    const length = 100 + Math.floor(next() * 1900);
    let text = "";
    while (text.length < length - 120) {
      text += words[Math.floor(next() * words.length)] + " ";
    }
    return encoder.encode(JSON.stringify({
      type: "message",
      id: 1e6 + i,
      room: `room-${Math.floor(next() * 5)}`,
      user: {
        id: Math.floor(next() * 100),
        name: `user${Math.floor(next() * 100)}`,
      },
      text,
      ts: 1_700_000_000_000 + i * 37,
    }));
  });
}
function big(count: number): Uint8Array[] {
  const messages = chat(400, 9);
  return Array.from({ length: count }, (_, i) => {
    const out = new Uint8Array(64 * 1024);
    let at = 0;
    for (let j = i; at < out.length; j++) {
      const m = messages[j % messages.length]!;
      const n = Math.min(m.length, out.length - at);
      out.set(m.subarray(0, n), at);
      at += n;
    }
    return out;
  });
}

interface Result {
  compressUs: number;
  inflateUs: number;
  ratio: number;
}

async function streamAsync(messages: Uint8Array[]): Promise<Result> {
  const deflate = zlib.createDeflateRaw({ windowBits: 15, memLevel: 8 });
  const inflate = zlib.createInflateRaw({ windowBits: 15 });
  const run = (
    stream: zlib.DeflateRaw | zlib.InflateRaw,
    input: Uint8Array,
    tail: boolean,
  ) =>
    new Promise<Uint8Array>((resolve, reject) => {
      const chunks: Buffer[] = [];
      const onData = (chunk: Buffer) => chunks.push(chunk);
      stream.on("data", onData);
      stream.once("error", reject);
      stream.write(input);
      if (tail) stream.write(TRAILER);
      stream.flush(SYNC, () => {
        stream.off("data", onData);
        stream.off("error", reject);
        resolve(Buffer.concat(chunks));
      });
    });
  const compressed: Uint8Array[] = [];
  let t = performance.now();
  for (const m of messages) {
    const out = await run(deflate, m, false);
    compressed.push(out.subarray(0, out.length - 4));
  }
  const compressUs = (performance.now() - t) * 1000 / messages.length;
  t = performance.now();
  for (const c of compressed) await run(inflate, c, true);
  const inflateUs = (performance.now() - t) * 1000 / messages.length;
  deflate.close();
  inflate.close();
  return { compressUs, inflateUs, ratio: ratio(messages, compressed) };
}

function oneshot(messages: Uint8Array[]): Result {
  const compressed: Uint8Array[] = [];
  let t = performance.now();
  for (const m of messages) {
    const out = zlib.deflateRawSync(m, { finishFlush: SYNC });
    compressed.push(out.subarray(0, out.length - 4));
  }
  const compressUs = (performance.now() - t) * 1000 / messages.length;
  t = performance.now();
  for (const c of compressed) {
    zlib.inflateRawSync(concat(c, TRAILER), { finishFlush: SYNC });
  }
  const inflateUs = (performance.now() - t) * 1000 / messages.length;
  return { compressUs, inflateUs, ratio: ratio(messages, compressed) };
}

function oneshotDictionary(
  messages: Uint8Array[],
): Result & { honoured: boolean } {
  const compressed: Uint8Array[] = [];
  const windowOf = (history: Uint8Array) =>
    history.subarray(Math.max(0, history.length - 32768));
  let history = new Uint8Array(0);
  let t = performance.now();
  for (const m of messages) {
    const options = history.length === 0
      ? { finishFlush: SYNC }
      : { finishFlush: SYNC, dictionary: windowOf(history) };
    const out = zlib.deflateRawSync(m, options);
    compressed.push(out.subarray(0, out.length - 4));
    history = windowOf(concat(history, m)).slice();
  }
  const compressUs = (performance.now() - t) * 1000 / messages.length;
  history = new Uint8Array(0);
  let honoured = true;
  t = performance.now();
  for (let i = 0; i < compressed.length; i++) {
    const options = history.length === 0
      ? { finishFlush: SYNC }
      : { finishFlush: SYNC, dictionary: windowOf(history) };
    try {
      const out = zlib.inflateRawSync(concat(compressed[i]!, TRAILER), options);
      if (out.length !== messages[i]!.length) honoured = false;
    } catch {
      honoured = false;
    }
    history = windowOf(concat(history, messages[i]!)).slice();
  }
  const inflateUs = (performance.now() - t) * 1000 / messages.length;
  const plain = ratio(messages, messages.map((m) => zlib.deflateRawSync(m)));
  const withDict = ratio(messages, compressed);
  if (withDict >= plain * 0.98) honoured = false; // dictionary ignored
  return { compressUs, inflateUs, ratio: withDict, honoured };
}

function handleSync(
  messages: Uint8Array[],
  windowBits = 15,
  memLevel = 8,
): Result {
  const deflate = new SyncZlib("deflate", { windowBits, memLevel });
  const inflate = new SyncZlib("inflate", { windowBits });
  const compressed: Uint8Array[] = [];
  let t = performance.now();
  for (const m of messages) {
    const out = deflate.write(m);
    compressed.push(out.subarray(0, out.length - 4));
  }
  const compressUs = (performance.now() - t) * 1000 / messages.length;
  t = performance.now();
  for (const c of compressed) inflate.write(c, TRAILER);
  const inflateUs = (performance.now() - t) * 1000 / messages.length;
  deflate.close();
  inflate.close();
  return { compressUs, inflateUs, ratio: ratio(messages, compressed) };
}

function bunOneshot(messages: Uint8Array[]): Result | null {
  const bun = runtimeGlobals.Bun;
  if (bun === undefined) return null;
  const compressed: Uint8Array[] = [];
  let t = performance.now();
  for (const m of messages) compressed.push(bun.deflateSync(m));
  const compressUs = (performance.now() - t) * 1000 / messages.length;
  t = performance.now();
  for (const c of compressed) bun.inflateSync(c);
  const inflateUs = (performance.now() - t) * 1000 / messages.length;
  return { compressUs, inflateUs, ratio: ratio(messages, compressed) };
}

async function compressionStreamFlushes(): Promise<string> {
  if (typeof CompressionStream !== "function") return "absent";
  const stream = new CompressionStream("deflate-raw");
  const writer = stream.writable.getWriter();
  const reader = stream.readable.getReader();
  void writer.write(encoder.encode("Hello ".repeat(100)));
  const first = await Promise.race([
    reader.read().then((r) => r.value?.length ?? 0),
    new Promise<number>((resolve) => setTimeout(() => resolve(-1), 200)),
  ]);
  void writer.close().catch(() => {});
  void reader.cancel().catch(() => {});
  return first <= 0
    ? "no output until close (no flush): unusable for context takeover"
    : `emitted ${first} bytes before close`;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
function ratio(messages: Uint8Array[], compressed: Uint8Array[]): number {
  const sum = (list: Uint8Array[]) => list.reduce((n, m) => n + m.length, 0);
  return sum(compressed) / sum(messages);
}

async function memoryPerPair(
  windowBits: number,
  memLevel: number,
  streams: boolean,
): Promise<number> {
  const count = 1000;
  const message = chat(1, 3)[0]!;
  runtimeGlobals.gc?.();
  const before = process.memoryUsage().rss;
  const keep: unknown[] = [];
  for (let i = 0; i < count; i++) {
    if (streams) {
      const d = zlib.createDeflateRaw({ windowBits, memLevel });
      const n = zlib.createInflateRaw({ windowBits });
      const c = await new Promise<Buffer>((resolve) => {
        const chunks: Buffer[] = [];
        d.on("data", (x: Buffer) => chunks.push(x));
        d.write(message);
        d.flush(SYNC, () => resolve(Buffer.concat(chunks)));
      });
      await new Promise<void>((resolve) => {
        n.on("data", () => {});
        n.write(c);
        n.flush(SYNC, () => resolve());
      });
      keep.push(d, n);
    } else {
      const d = new SyncZlib("deflate", { windowBits, memLevel });
      const n = new SyncZlib("inflate", { windowBits });
      n.write(d.write(message));
      keep.push(d, n);
    }
  }
  const after = process.memoryUsage().rss;
  for (const z of keep) (z as { close(): void }).close();
  return (after - before) / count / 1024;
}

const fmt = (n: number) => n.toFixed(n < 10 ? 2 : 1);
const memoryAt = process.argv.indexOf("--memory");
if (memoryAt !== -1) {
  // One configuration per fresh process: `--memory 15 8 sync|streams`.
  const [w, m, kind] = process.argv.slice(memoryAt + 1);
  const kib = await memoryPerPair(Number(w), Number(m), kind === "streams");
  console.log(
    `${runtime} windowBits ${w} memLevel ${m} ${kind}: ${
      kib.toFixed(1)
    } KiB RSS per pair`,
  );
} else {
  const chatMessages = chat(quick ? 500 : 2000);
  const bigMessages = big(quick ? 16 : 64);
  console.log(`## ${runtime}\n`);
  console.log(
    "| workload | candidate | compress µs/msg | inflate µs/msg | size ratio |",
  );
  console.log("| --- | --- | ---: | ---: | ---: |");
  for (
    const [name, messages] of [["chat 100-2000 B", chatMessages], [
      "64 KiB",
      bigMessages,
    ]] as const
  ) {
    // Warm up each once, then measure.
    await streamAsync(messages.slice(0, 20));
    handleSync(messages.slice(0, 20));
    oneshot(messages.slice(0, 20));
    const rows: [string, Result | null][] = [
      ["stream-async (ws)", await streamAsync(messages)],
      ["handle-sync (wstream)", handleSync(messages)],
      ["handle-sync w12 m5", handleSync(messages, 12, 5)],
      ["oneshot-sync, no takeover", oneshot(messages)],
      ["bun-oneshot, no takeover", bunOneshot(messages)],
    ];
    const dict = oneshotDictionary(messages);
    rows.push([
      `oneshot-dict${dict.honoured ? "" : " (dictionary IGNORED)"}`,
      dict,
    ]);
    for (const [candidate, r] of rows) {
      if (r === null) continue;
      console.log(
        `| ${name} | ${candidate} | ${fmt(r.compressUs)} | ${
          fmt(r.inflateUs)
        } | ${r.ratio.toFixed(3)} |`,
      );
    }
  }
  console.log(
    `\nCompressionStream("deflate-raw"): ${await compressionStreamFlushes()}\n`,
  );
}
