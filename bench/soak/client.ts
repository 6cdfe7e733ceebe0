/**
 * The client side of the soak (`bench/soak.ts`, `tests/server/soak_test.ts`):
 * `conns` raw TCP WebSocket clients (`node:net`, frames masked and parsed by
 * hand here, independently of the library) against an echo server.
 *
 * Every client completes the opening handshake (checking
 * `Sec-WebSocket-Accept`) before any sends, so that all `conns` connections
 * are open at once; then each plays its part:
 *
 * - healthy: sends `messages` messages with at most `window` in flight and
 *   checks every echo byte for byte, type included, and in order; then
 *   closes (1000) and expects the server's close frame and end of stream.
 * - killed (`kill`, a fraction): like healthy up to a random message, then
 *   writes part of that message's frames (cut inside a header or a payload,
 *   sometimes in the second fragment of a fragmented message) and destroys
 *   the socket, every other time with a TCP reset.
 * - stalled (`stall`, a fraction): like healthy up to a random message in
 *   the first half, then stops reading (`socket.pause()`) and keeps sending
 *   regardless of the window until TCP holds it back (a write not drained
 *   within 250 ms: the server stopped reading, its echoes having filled the
 *   path) or `stallBytes` were sent; after `stallMs` it reads again,
 *   checks that every echo arrives in order, then finishes as healthy. At
 *   most `stallConcurrency` clients stall at once (the others wait).
 *
 * Messages (`sizes: "mix"`): text (UTF-8 with 1- to 4-byte characters) or
 * binary in equal parts; 2 % empty, 58 % 1-125 B, 30 % 126 B-4 KiB, 9 %
 * 4-64 KiB, 1 % 64-256 KiB. 10 % of them are sent in 2-4 fragments (text
 * split at any byte, inside characters too), a third of those with a ping
 * between two fragments (its pong is checked). Each message is a slice of
 * a fixed random pool chosen from (seed, client, index), so expected
 * echoes cost no memory. Masking keys are random.
 *
 * Uses only `node:` modules: runs on Node, Bun and Deno.
 *
 * @module
 */
import net from "node:net";
import { Buffer } from "node:buffer";
import { createHash, randomBytes } from "node:crypto";
import { setImmediate } from "node:timers";

/**
 * How long a client waits for the server's close frame after its own: the
 * server and this driver share the machine's cores, and at 10,000
 * connections a close frame may wait behind seconds of queued echoes.
 */
const CLOSE_WAIT_MS = 30_000;

/** What a soak run does. */
export interface SoakOptions {
  /** The echo server's port on `host`. */
  port: number;
  /** @default {"127.0.0.1"} */
  host?: string;
  /** Clients, all open at once. */
  conns: number;
  /** Messages each healthy client sends (stalled ones may send more). */
  messages: number;
  /** Fraction of clients killed mid-frame. @default {0.1} */
  kill?: number;
  /** Fraction of clients that stop reading for `stallMs`. @default {0.1} */
  stall?: number;
  /** Messages in flight per client. @default {4} */
  window?: number;
  /** How long stalled clients stop reading, ms. @default {3000} */
  stallMs?: number;
  /** The most bytes a stalled client sends while not reading. @default {16 MiB} */
  stallBytes?: number;
  /**
   * The most clients stalled at once; the others wait for their turn
   * (reading, sending nothing), which bounds the kernel's socket buffers
   * held by stalled connections (up to ~12 MB each on Linux loopback).
   * @default {50}
   */
  stallConcurrency?: number;
  /** `"mix"` (see the module) or a fixed payload size in bytes. @default {"mix"} */
  sizes?: "mix" | number;
  /** Handshakes in progress at once. @default {256} */
  connectBatch?: number;
  /** Seed of the message choice. @default {1} */
  seed?: number;
  /** Give up (counting what is missing as lost) after this long, ms. @default {600000} */
  timeoutMs?: number;
  /** Called when all clients are open, and when all are done. */
  onPhase?: (phase: "open" | "done", stats: SoakStats) => void;
}

/** What a soak run saw. */
export interface SoakStats {
  conns: number;
  /** Handshakes completed (101 with the right accept key). */
  opened: number;
  /** Connections or handshakes that failed. */
  failedOpen: number;
  healthy: number;
  killed: number;
  stalled: number;
  /** Complete messages sent, all clients. */
  sent: number;
  /** Echoes received and checked equal, all clients. */
  echoed: number;
  /** Healthy and stalled clients' messages never echoed. */
  lost: number;
  /** Echoes that differ from every message in flight. */
  corrupted: number;
  /** Echoes equal to a message in flight, but not the next one. */
  reordered: number;
  /** Killed clients' messages in flight when they were killed. */
  abandoned: number;
  /** Payload bytes of the messages sent. */
  bytesSent: number;
  /** Pings sent between fragments; pongs received with their payload. */
  pings: number;
  pongs: number;
  /** Fragmented messages sent. */
  fragmented: number;
  /** Messages sent larger than 64 KiB. */
  large: number;
  /** Text messages sent with at least one multi-byte character. */
  multibyte: number;
  /** Killed clients reset (RST) rather than closed (FIN). */
  resets: number;
  /** Stalled clients whose sends TCP held back while they did not read. */
  heldBack: number;
  /** Bytes sent and not yet echoed when a stall ended: largest, total. */
  stallInFlightMax: number;
  stallInFlightTotal: number;
  /** Healthy and stalled clients that completed the closing handshake. */
  closedClean: number;
  /** Healthy and stalled clients that failed (error, timeout, bad frame). */
  failed: number;
  /** The first few failures, for the report. */
  errors: string[];
  /** Wall time from the first connect to all opened, and to the end, ms. */
  openMs: number;
  totalMs: number;
}

type Role = "healthy" | "killed" | "stalled";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

// ---------------------------------------------------------------------------
// Deterministic message choice
// ---------------------------------------------------------------------------

/** A 32-bit hash of three integers (murmur3 finalizer style). */
function hash3(a: number, b: number, c: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13) ^ b, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16) ^ c, 0x27d4eb2f);
  h ^= h >>> 15;
  h = Math.imul(h, 0x85ebca6b);
  return (h ^ (h >>> 13)) >>> 0;
}

/** A small PRNG (mulberry32): floats in [0, 1). */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const MAX_MESSAGE = 256 * 1024;
const POOL_SIZE = 2 * MAX_MESSAGE;

/** Random bytes for binary messages (fixed per process: any content does). */
const BINARY_POOL: Buffer = randomBytes(POOL_SIZE);

/** UTF-8 text with 1- to 4-byte characters, and where each character starts. */
const TEXT_POOL: { bytes: Buffer; starts: Uint32Array } = (() => {
  const words = [
    "echo",
    "soak",
    "wstream",
    "naïve",
    "café",
    "Größe",
    "€100",
    "日本語",
    "中文",
    "Ελληνικά",
    "русский",
    "😀",
    "🚀🌍",
    "𝄞",
    "a",
    "tcp",
    "\u00a0",
    "\u{10ffff}",
  ];
  const random = prng(7);
  const parts: string[] = [];
  for (let size = 0; size < POOL_SIZE + 64;) {
    const word = words[Math.floor(random() * words.length)]! + " ";
    parts.push(word);
    size += Buffer.byteLength(word);
  }
  const bytes = Buffer.from(parts.join(""), "utf8");
  const starts: number[] = [];
  for (let i = 0; i < bytes.length; i++) {
    if ((bytes[i]! & 0xc0) !== 0x80) starts.push(i);
  }
  return { bytes, starts: Uint32Array.from(starts) };
})();

/** One message a client sends: what the echo must equal. */
interface Message {
  opcode: 1 | 2;
  payload: Buffer;
  /** Fragment boundaries inside `payload` (empty: one frame). */
  splits: number[];
  /** Ping between the first two fragments. */
  ping: boolean;
}

function pickSize(random: () => number, sizes: "mix" | number): number {
  if (sizes !== "mix") return sizes;
  const r = random();
  const between = (low: number, high: number) =>
    low + Math.floor(random() * (high - low + 1));
  if (r < 0.02) return 0;
  if (r < 0.60) return between(1, 125);
  if (r < 0.90) return between(126, 4096);
  if (r < 0.99) return between(4097, 65535);
  return between(65536, MAX_MESSAGE);
}

/** The message `index` of client `client`. */
function messageFor(
  seed: number,
  client: number,
  index: number,
  sizes: "mix" | number,
): Message {
  const random = prng(hash3(seed, client, index));
  const size = pickSize(random, sizes);
  const text = random() < 0.5;
  let payload: Buffer;
  if (text) {
    const { bytes, starts } = TEXT_POOL;
    const first = Math.floor(random() * (starts.length / 2));
    const begin = starts[first]!;
    // The last character start at or before begin + size (whole characters).
    let low = first;
    let high = starts.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >>> 1;
      if (starts[middle]! <= begin + size) low = middle;
      else high = middle - 1;
    }
    payload = bytes.subarray(begin, starts[low]!);
  } else {
    const begin = Math.floor(random() * (POOL_SIZE - size));
    payload = BINARY_POOL.subarray(begin, begin + size);
  }
  const splits: number[] = [];
  let ping = false;
  if (payload.length >= 2 && random() < 0.1) {
    const pieces = 2 + Math.floor(random() * 3);
    const points = new Set<number>();
    for (let i = 1; i < pieces; i++) {
      points.add(1 + Math.floor(random() * (payload.length - 1)));
    }
    splits.push(...[...points].sort((a, b) => a - b));
    ping = random() < 1 / 3;
  }
  return { opcode: text ? 1 : 2, payload, splits, ping };
}

// ---------------------------------------------------------------------------
// Frames
// ---------------------------------------------------------------------------

/** Mask keys: a fast PRNG seeded from the system's random source. */
const maskRandom = prng(randomBytes(4).readUInt32LE(0));

/** One masked client frame. */
function clientFrame(
  opcode: number,
  fin: boolean,
  payload: Uint8Array,
): Buffer {
  const n = payload.length;
  const header = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(header + 4 + n);
  frame[0] = (fin ? 0x80 : 0) | opcode;
  if (n < 126) {
    frame[1] = 0x80 | n;
  } else if (n < 65536) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(n, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeUInt32BE(0, 2);
    frame.writeUInt32BE(n, 6);
  }
  const key = (maskRandom() * 4294967296) >>> 0;
  frame.writeUInt32BE(key, header);
  const k0 = key >>> 24, k1 = (key >>> 16) & 0xff;
  const k2 = (key >>> 8) & 0xff, k3 = key & 0xff;
  const start = header + 4;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    frame[start + i] = payload[i]! ^ k0;
    frame[start + i + 1] = payload[i + 1]! ^ k1;
    frame[start + i + 2] = payload[i + 2]! ^ k2;
    frame[start + i + 3] = payload[i + 3]! ^ k3;
  }
  const keys = [k0, k1, k2, k3];
  for (; i < n; i++) frame[start + i] = payload[i]! ^ keys[i & 3]!;
  return frame;
}

/** The frames of a message (with its ping between fragments), in order. */
function messageFrames(message: Message, pingPayload: Buffer): Buffer[] {
  const { payload, splits, opcode } = message;
  if (splits.length === 0) return [clientFrame(opcode, true, payload)];
  const frames: Buffer[] = [];
  const bounds = [0, ...splits, payload.length];
  for (let i = 0; i + 1 < bounds.length; i++) {
    const last = i + 2 === bounds.length;
    frames.push(
      clientFrame(
        i === 0 ? opcode : 0,
        last,
        payload.subarray(bounds[i], bounds[i + 1]),
      ),
    );
    if (i === 0 && message.ping) {
      frames.push(clientFrame(0x9, true, pingPayload));
    }
  }
  return frames;
}

// ---------------------------------------------------------------------------
// One client
// ---------------------------------------------------------------------------

class Client {
  readonly id: number;
  readonly role: Role;
  readonly #run: Run;
  #socket: net.Socket | null = null;
  /** Messages sent, echo pending, oldest first (from `#head`). */
  #inflight: (Message | undefined)[] = [];
  #head = 0;
  #inflightBytes = 0;
  #nextSend = 0;
  /** Messages to send in all (stalled clients may raise it). */
  #total: number;
  /** Killed: the message cut; stalled: the message the stall starts at. */
  readonly #turn: number;
  #pings: Buffer[] = [];
  #stalling = false;
  #closing = false;
  #done = false;
  #finish: () => void = () => {};
  /** Receive buffer. */
  #buffer: Buffer = Buffer.alloc(0);
  /** Fragments of the echo being received. */
  #parts: Buffer[] = [];
  #partsOpcode = 0;

  constructor(id: number, role: Role, run: Run) {
    this.id = id;
    this.role = role;
    this.#run = run;
    this.#total = run.messages;
    const random = prng(hash3(run.seed, id, 0x7fffffff));
    this.#turn = role === "killed"
      ? Math.floor(random() * run.messages)
      : role === "stalled"
      ? Math.floor(random() * Math.max(1, Math.ceil(run.messages / 2)))
      : -1;
  }

  /** Connects and completes the handshake. */
  open(): Promise<void> {
    const { port, host } = this.#run;
    return new Promise<void>((resolve, reject) => {
      const socket = net.connect({ port, host });
      socket.setNoDelay(true);
      const key = randomBytes(16).toString("base64");
      const accept = createHash("sha1").update(key + GUID).digest("base64");
      let head: Buffer = Buffer.alloc(0);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error("handshake timeout (30 s)"));
      }, 30_000);
      const fail = (error: Error) => {
        clearTimeout(timer);
        socket.destroy();
        reject(error);
      };
      socket.once("error", fail);
      socket.once("connect", () => {
        socket.write(
          `GET /soak/${this.id} HTTP/1.1\r\nHost: ${host}:${port}\r\n` +
            "Upgrade: websocket\r\nConnection: Upgrade\r\n" +
            `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        );
      });
      const onHead = (chunk: Buffer) => {
        head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
        const end = head.indexOf("\r\n\r\n");
        if (end < 0) {
          if (head.length > 16384) fail(new Error("response head too long"));
          return;
        }
        socket.off("data", onHead);
        socket.off("error", fail);
        socket.pause();
        const text = head.subarray(0, end).toString("latin1");
        if (!text.startsWith("HTTP/1.1 101 ")) {
          return fail(new Error(`no 101: ${text.split("\r\n")[0]}`));
        }
        const got = /\r\nsec-websocket-accept:\s*(\S+)/i.exec(text)?.[1];
        if (got !== accept) return fail(new Error("bad Sec-WebSocket-Accept"));
        if (/\r\nsec-websocket-extensions:/i.test(text)) {
          return fail(new Error("an extension was agreed unasked"));
        }
        clearTimeout(timer);
        this.#socket = socket;
        this.#buffer = head.subarray(end + 4);
        resolve();
      };
      socket.on("data", onHead);
    });
  }

  /** Plays the client's part; resolves when it is over, whatever happened. */
  play(): Promise<void> {
    const socket = this.#socket!;
    const done = new Promise<void>((resolve) => {
      this.#finish = resolve;
    });
    socket.on("data", (chunk: Buffer) => this.#receive(chunk));
    socket.on("error", (error) => this.#fail(`socket error: ${error.message}`));
    socket.on("close", () => {
      if (!this.#done) {
        this.#fail(
          this.#closing
            ? "closed before the server's close frame"
            : "closed by the server",
        );
      }
    });
    socket.resume();
    if (this.#buffer.length > 0) this.#receive(Buffer.alloc(0));
    this.#pump();
    return done;
  }

  /** Sends while the window allows; the role's turn when it comes. */
  #pump(): void {
    if (this.#done || this.#stalling || this.#closing) return;
    const { window } = this.#run;
    while (
      this.#nextSend < this.#total &&
      this.#inflight.length - this.#head < window
    ) {
      if (this.#nextSend === this.#turn) {
        if (this.role === "killed") return this.#kill();
        if (this.role === "stalled") return void this.#stall();
      }
      this.#send(this.#nextSend++);
    }
    if (this.#nextSend === this.#turn && this.role === "killed") {
      return this.#kill();
    }
    if (
      this.#nextSend >= this.#total && this.#inflight.length === this.#head
    ) {
      this.#close();
    }
  }

  #message(index: number): Message {
    return messageFor(this.#run.seed, this.id, index, this.#run.sizes);
  }

  /** Sends message `index`; returns what `write()` returned. */
  #send(index: number): boolean {
    const message = this.#message(index);
    const stats = this.#run.stats;
    const ping = Buffer.from(`ping ${this.id}/${index}`);
    const frames = messageFrames(message, ping);
    if (message.ping) this.#pings.push(ping);
    this.#inflight.push(message);
    this.#inflightBytes += message.payload.length;
    stats.sent++;
    stats.bytesSent += message.payload.length;
    if (message.splits.length > 0) stats.fragmented++;
    if (message.ping) stats.pings++;
    if (message.payload.length > 65536) stats.large++;
    if (message.opcode === 1 && hasMultibyte(message.payload)) {
      stats.multibyte++;
    }
    const bytes = frames.length === 1 ? frames[0]! : Buffer.concat(frames);
    return this.#socket!.write(bytes);
  }

  /** Writes part of the next message's frames, then destroys the socket. */
  #kill(): void {
    const stats = this.#run.stats;
    const message = this.#message(this.#nextSend);
    const frames = messageFrames(message, Buffer.from("ping"));
    const random = prng(hash3(this.#run.seed, this.id, 0x7ffffffe));
    // In the second fragment (of a fragmented message) half of the time.
    const whole = frames.length > 1 && random() < 0.5 ? frames[0]! : null;
    const cut = whole === null ? frames[0]! : frames[1]!;
    const at = 1 + Math.floor(random() * (cut.length - 1));
    const partial = whole === null
      ? cut.subarray(0, Math.max(1, at))
      : Buffer.concat([whole, cut.subarray(0, Math.max(1, at))]);
    this.#done = true;
    stats.abandoned += this.#inflight.length - this.#head;
    const socket = this.#socket!;
    const reset = this.id % 2 === 0 &&
      typeof socket.resetAndDestroy === "function";
    if (reset) stats.resets++;
    socket.write(partial, () => {
      if (reset) socket.resetAndDestroy();
      else socket.destroy();
      this.#finish();
    });
    // A write that never completes (the server reset first) ends it too.
    socket.once("close", () => this.#finish());
  }

  /** Stops reading, sends until TCP holds back, reads again later. */
  async #stall(): Promise<void> {
    const run = this.#run;
    const socket = this.#socket!;
    this.#stalling = true;
    await run.stallSlots.acquire();
    try {
      await this.#stalled();
    } finally {
      run.stallSlots.release();
    }
    if (this.#done) return;
    this.#stalling = false;
    socket.resume();
    this.#pump();
  }

  async #stalled(): Promise<void> {
    const run = this.#run;
    const stats = run.stats;
    const socket = this.#socket!;
    if (this.#done) return;
    socket.pause();
    const until = performance.now() + run.stallMs;
    let bytes = 0;
    let blocked = false;
    let index = this.#nextSend;
    let turn = 0;
    while (!this.#done && bytes < run.stallBytes && performance.now() < until) {
      if (bytes >= turn) {
        // Let the other clients run.
        turn = bytes + 256 * 1024;
        await new Promise((resolve) => setImmediate(resolve));
        if (this.#done) break;
      }
      const size = this.#message(index).payload.length;
      const flushed = this.#send(index++);
      this.#total = Math.max(this.#total, index);
      bytes += size + 14;
      if (!flushed) {
        const drained = await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => {
            socket.off("drain", onDrain);
            resolve(false);
          }, 250);
          const onDrain = () => {
            clearTimeout(timer);
            resolve(true);
          };
          socket.once("drain", onDrain);
        });
        if (!drained) {
          blocked = true;
          break;
        }
      }
    }
    this.#nextSend = index;
    const rest = until - performance.now();
    if (rest > 0) await new Promise((resolve) => setTimeout(resolve, rest));
    if (this.#done) return;
    if (blocked && socket.writableLength > 0) stats.heldBack++;
    stats.stallInFlightMax = Math.max(
      stats.stallInFlightMax,
      this.#inflightBytes,
    );
    stats.stallInFlightTotal += this.#inflightBytes;
  }

  /** Sends a close frame (1000); the server's close frame ends it. */
  #close(): void {
    if (this.#closing) return;
    this.#closing = true;
    const payload = Buffer.from([0x03, 0xe8]);
    this.#socket!.write(clientFrame(0x8, true, payload));
    this.#timer = setTimeout(() => {
      this.#fail(
        `no close frame from the server within ${CLOSE_WAIT_MS / 1000} s`,
      );
    }, CLOSE_WAIT_MS);
  }

  #timer: ReturnType<typeof setTimeout> | undefined;

  #fail(reason: string): void {
    if (this.#done) return;
    this.#done = true;
    clearTimeout(this.#timer);
    const stats = this.#run.stats;
    if (this.role !== "killed") {
      stats.failed++;
      stats.lost += this.#inflight.length - this.#head;
      if (stats.errors.length < 10) {
        stats.errors.push(`client ${this.id} (${this.role}): ${reason}`);
      }
    } else {
      stats.abandoned += this.#inflight.length - this.#head;
    }
    this.#socket?.destroy();
    this.#finish();
  }

  /** Ends a client at the run's deadline. */
  abort(): void {
    this.#fail("timed out (the run's deadline)");
  }

  #receive(chunk: Buffer): void {
    if (this.#done) return;
    let buffer = this.#buffer.length === 0
      ? chunk
      : chunk.length === 0
      ? this.#buffer
      : Buffer.concat([this.#buffer, chunk]);
    while (!this.#done && buffer.length >= 2) {
      const first = buffer[0]!;
      const second = buffer[1]!;
      if ((second & 0x80) !== 0) return this.#fail("masked server frame");
      if ((first & 0x70) !== 0) return this.#fail("RSV bits set");
      let length = second & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (buffer.length < 4) break;
        length = buffer.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (buffer.length < 10) break;
        length = buffer.readUInt32BE(2) * 4294967296 + buffer.readUInt32BE(6);
        offset = 10;
      }
      if (buffer.length < offset + length) break;
      const payload = buffer.subarray(offset, offset + length);
      buffer = buffer.subarray(offset + length);
      this.#frame((first & 0x80) !== 0, first & 0x0f, payload);
    }
    // Keep no reference to a large chunk for a few bytes.
    this.#buffer = buffer.length > 0 && buffer.length < 4096 &&
        buffer.buffer.byteLength > 65536
      ? Buffer.from(buffer)
      : buffer;
  }

  #frame(fin: boolean, opcode: number, payload: Buffer): void {
    const stats = this.#run.stats;
    if (opcode === 0x9) {
      // A keepalive ping from the server: answer it.
      this.#socket!.write(clientFrame(0xa, true, payload));
      return;
    }
    if (opcode === 0xa) {
      const expected = this.#pings.shift();
      if (expected === undefined || !expected.equals(payload)) {
        return this.#fail("unexpected pong");
      }
      stats.pongs++;
      return;
    }
    if (opcode === 0x8) {
      if (!this.#closing) {
        return this.#fail(
          `close frame from the server: ${
            payload.length >= 2 ? payload.readUInt16BE(0) : "no code"
          } ${payload.subarray(2).toString()}`,
        );
      }
      const code = payload.length >= 2 ? payload.readUInt16BE(0) : 0;
      if (code !== 1000) return this.#fail(`close code ${code}, not 1000`);
      if (this.#inflight.length !== this.#head) {
        return this.#fail("close frame before every echo");
      }
      this.#done = true;
      clearTimeout(this.#timer);
      stats.closedClean++;
      // The server closes TCP after its close frame (RFC 6455 §7.1.1): wait
      // for its FIN, so that TIME_WAIT lands on the server's side.
      const socket = this.#socket!;
      const fallback = setTimeout(() => socket.destroy(), 5000);
      socket.once("close", () => {
        clearTimeout(fallback);
        this.#finish();
      });
      socket.end();
      return;
    }
    if (opcode === 0x0) {
      if (this.#partsOpcode === 0) return this.#fail("stray continuation");
      this.#parts.push(payload);
    } else if (opcode === 0x1 || opcode === 0x2) {
      if (this.#partsOpcode !== 0) return this.#fail("interleaved message");
      this.#partsOpcode = opcode;
      this.#parts = [payload];
    } else {
      return this.#fail(`unknown opcode ${opcode}`);
    }
    if (!fin) return;
    const received = this.#parts.length === 1
      ? this.#parts[0]!
      : Buffer.concat(this.#parts);
    const receivedOpcode = this.#partsOpcode;
    this.#parts = [];
    this.#partsOpcode = 0;
    this.#echo(receivedOpcode, received);
  }

  #echo(opcode: number, payload: Buffer): void {
    const stats = this.#run.stats;
    const expected = this.#inflight[this.#head];
    if (expected === undefined) {
      return this.#fail("an echo nothing was sent for");
    }
    if (expected.opcode === opcode && expected.payload.equals(payload)) {
      this.#inflight[this.#head++] = undefined;
      this.#inflightBytes -= expected.payload.length;
      if (this.#head > 1024 && this.#head * 2 > this.#inflight.length) {
        this.#inflight = this.#inflight.slice(this.#head);
        this.#head = 0;
      }
      stats.echoed++;
      if (!this.#stalling) this.#pump();
      return;
    }
    const later = this.#inflight.slice(this.#head + 1).some((m) =>
      m !== undefined && m.opcode === opcode && m.payload.equals(payload)
    );
    if (later) stats.reordered++;
    else stats.corrupted++;
    this.#fail(
      later
        ? "echo out of order"
        : `echo differs from the message sent (${payload.length} B, ` +
          `opcode ${opcode}; expected ${expected.payload.length} B, ` +
          `opcode ${expected.opcode})`,
    );
  }
}

function hasMultibyte(bytes: Buffer): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i]! >= 0x80) return true;
  return false;
}

// ---------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------

interface Run {
  port: number;
  host: string;
  messages: number;
  window: number;
  stallMs: number;
  stallBytes: number;
  sizes: "mix" | number;
  seed: number;
  stats: SoakStats;
  stallSlots: Semaphore;
}

/** A counting semaphore. */
class Semaphore {
  #free: number;
  #waiting: (() => void)[] = [];
  constructor(count: number) {
    this.#free = count;
  }
  async acquire(): Promise<void> {
    if (this.#free > 0) {
      this.#free--;
      return;
    }
    await new Promise<void>((resolve) => this.#waiting.push(resolve));
  }
  release(): void {
    const next = this.#waiting.shift();
    if (next !== undefined) next();
    else this.#free++;
  }
}

/** A fresh, all-zero `SoakStats`. */
export function emptyStats(conns: number): SoakStats {
  return {
    conns,
    opened: 0,
    failedOpen: 0,
    healthy: 0,
    killed: 0,
    stalled: 0,
    sent: 0,
    echoed: 0,
    lost: 0,
    corrupted: 0,
    reordered: 0,
    abandoned: 0,
    bytesSent: 0,
    pings: 0,
    pongs: 0,
    fragmented: 0,
    large: 0,
    multibyte: 0,
    resets: 0,
    heldBack: 0,
    stallInFlightMax: 0,
    stallInFlightTotal: 0,
    closedClean: 0,
    failed: 0,
    errors: [],
    openMs: 0,
    totalMs: 0,
  };
}

/** The role of client `id`: spread evenly, in a fixed pseudo-random order. */
function roleOf(id: number, seed: number, kill: number, stall: number): Role {
  const r = hash3(seed, id, 0x5eed) / 4294967296;
  return r < kill ? "killed" : r < kill + stall ? "stalled" : "healthy";
}

/** Runs the soak's clients against an echo server; see the module. */
export async function runSoak(options: SoakOptions): Promise<SoakStats> {
  const stats = emptyStats(options.conns);
  const run: Run = {
    port: options.port,
    host: options.host ?? "127.0.0.1",
    messages: options.messages,
    window: Math.max(1, options.window ?? 4),
    stallMs: options.stallMs ?? 3000,
    stallBytes: options.stallBytes ?? 16 * 1024 * 1024,
    sizes: options.sizes ?? "mix",
    seed: options.seed ?? 1,
    stats,
    stallSlots: new Semaphore(Math.max(1, options.stallConcurrency ?? 50)),
  };
  const kill = options.kill ?? 0.1;
  const stall = options.stall ?? 0.1;
  const started = performance.now();
  const clients: Client[] = [];
  for (let id = 0; id < options.conns; id++) {
    const role = roleOf(id, run.seed, kill, stall);
    stats[role]++;
    clients.push(new Client(id, role, run));
  }
  // Open every connection, `connectBatch` handshakes at a time.
  const opened: Client[] = [];
  let next = 0;
  const opener = async () => {
    while (next < clients.length) {
      const client = clients[next++]!;
      try {
        await client.open();
        opened.push(client);
        stats.opened++;
      } catch (error) {
        stats.failedOpen++;
        if (client.role !== "killed") stats.failed++;
        if (stats.errors.length < 10) {
          stats.errors.push(
            `client ${client.id}: ${(error as Error).message}`,
          );
        }
      }
    }
  };
  await Promise.all(
    Array.from(
      { length: Math.min(options.connectBatch ?? 256, clients.length) },
      opener,
    ),
  );
  stats.openMs = performance.now() - started;
  options.onPhase?.("open", stats);
  const deadline = options.timeoutMs ?? 600_000;
  const timer = setTimeout(() => {
    for (const client of opened) client.abort();
  }, Math.max(0, deadline - (performance.now() - started)));
  try {
    await Promise.all(opened.map((client) => client.play()));
  } finally {
    clearTimeout(timer);
  }
  stats.totalMs = performance.now() - started;
  options.onPhase?.("done", stats);
  return stats;
}

/** Whether a run lost, corrupted or reordered nothing and every client ended as planned. */
export function soakPassed(stats: SoakStats): boolean {
  return stats.lost === 0 && stats.corrupted === 0 &&
    stats.reordered === 0 && stats.failed === 0 && stats.failedOpen === 0 &&
    stats.closedClean === stats.healthy + stats.stalled;
}
