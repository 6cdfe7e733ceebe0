/**
 * Runs the Autobahn|Testsuite compression cases of groups 12 and 13
 * (tests/extensions/_autobahn_deflate_cases.ts) through two sans-I/O
 * `Protocol`s with `PerMessageDeflate`, in both roles:
 *
 * - wstream as the server under test: the Autobahn side is the client
 *   (masked frames, compresses every message, fragments per the case), the
 *   server echoes;
 * - wstream as the client under test: the Autobahn side is the server (the
 *   fuzzingserver sends the same messages the same way), the client echoes.
 *
 * The side under test runs wstream's defaults (threshold 64: shorter echoes
 * go out uncompressed, RSV1 clear); the Autobahn side compresses every
 * message, as AutobahnPython does. Both sides' parameters come from the
 * real negotiation: `negotiateDeflate(parseExtensionHeader(offer))` on the
 * server, `acceptDeflateAnswer(answer)` on the client.
 *
 * Every hop is read by an independent frame reader (not the library's
 * parser) that checks masking, RSV1 only on the first frame of a compressed
 * message, and inflates each compressed message with `node:zlib` using the
 * negotiated window (and, for context takeover, the sender's history as the
 * preset dictionary where the runtime supports raw-deflate dictionaries:
 * Node and Bun; Deno ignores the option, so there only no-context-takeover
 * messages get the independent inflate). An echo must equal the message
 * byte for byte; no side may fail the connection; the case ends with a
 * clean 1000 close.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { constants, deflateRawSync, inflateRawSync } from "node:zlib";
import { FrameEncoder } from "../../lib/core/frame_encoder.ts";
import type { Role } from "../../lib/core/frame.ts";
import { Protocol, type ProtocolEvent } from "../../lib/core/protocol.ts";
import {
  acceptDeflateAnswer,
  type DeflateClientOptions,
  deflateOffer,
  type DeflateParameters,
  type DeflateServerOptions,
  negotiateDeflate,
} from "../../lib/core/deflate_negotiation.ts";
import { parseExtensionHeader } from "../../lib/core/extension_header.ts";
import { PerMessageDeflate } from "../../lib/extensions/permessage_deflate.ts";
import {
  AUTOBAHN_DEFLATE_CASES,
  type AutobahnDeflateCase,
  DEFLATE_SETTINGS,
  MSG_SIZES,
  PAYLOAD_KINDS,
  type PayloadKey,
  type PayloadKind,
  SCALE,
  scaledRepetitions,
  WINDOW_BITS_SWEEP,
} from "./_autobahn_deflate_cases.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const FULL = process.env.WSTREAM_AUTOBAHN_FULL === "1";
/** PerMessageDeflate's default threshold: the side under test keeps it. */
const DEFAULT_THRESHOLD = 64;
const TRAILER = new Uint8Array([0x00, 0x00, 0xff, 0xff]);

// ---------------------------------------------------------------------------
// Synthetic stand-ins for the catalogue's payload files (seeded).

function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

function jsonData(): string {
  const next = random(1);
  const agents = ["AutobahnPython/0.6.0", "wstream/0.1.0", "ws/8", "Deno/2"];
  const behaviors = ["OK", "OK", "OK", "NON-STRICT", "INFORMATIONAL"];
  const report: Record<string, Record<string, unknown>> = {};
  for (const agent of agents) {
    const cases: Record<string, unknown> = {};
    for (let a = 1; a <= 13; a++) {
      for (let b = 1; b <= 8; b++) {
        for (let c = 1; c <= 6; c++) {
          const id = `${a}.${b}.${c}`;
          cases[id] = {
            behavior: behaviors[Math.floor(next() * behaviors.length)],
            behaviorClose: "OK",
            duration: Math.floor(next() * 300),
            remoteCloseCode: 1000,
            reportfile: `${
              agent.toLowerCase().replace(/[^a-z0-9]+/g, "_")
            }_case_${id.replaceAll(".", "_")}.json`,
          };
        }
      }
    }
    report[agent] = cases;
  }
  return JSON.stringify(report, null, 3).slice(0, 194056);
}

function bitmap(): Uint8Array {
  const next = random(2);
  const width = 512;
  const height = 512;
  const bytes = new Uint8Array(14 + 40 + 1024 + width * height); // 263222
  const view = new DataView(bytes.buffer);
  bytes[0] = 0x42; // "BM"
  bytes[1] = 0x4d;
  view.setUint32(2, bytes.length, true);
  view.setUint32(10, 14 + 40 + 1024, true);
  view.setUint32(14, 40, true);
  view.setInt32(18, width, true);
  view.setInt32(22, height, true);
  view.setUint16(26, 1, true);
  view.setUint16(28, 8, true);
  view.setUint32(34, width * height, true);
  view.setUint32(46, 256, true);
  for (let i = 0; i < 256; i++) {
    bytes.set([i, i, i, 0], 54 + 4 * i);
  }
  let at = 54 + 1024;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const shade = 128 + 60 * Math.sin(x / 37) * Math.cos(y / 23) +
        40 * Math.sin((x + y) / 91) + (next() - 0.5) * 24;
      bytes[at++] = Math.max(0, Math.min(255, Math.round(shade)));
    }
  }
  return bytes;
}

function germanVerse(): Uint8Array {
  const next = random(3);
  const words = (
    "Habe nun ach Philosophie Juristerei und Medizin und leider auch " +
    "Theologie durchaus studiert mit heißem Bemühn da steh ich nun ich " +
    "armer Tor und bin so klug als wie zuvor heiße Magister heiße Doktor " +
    "gar Gönner Nähe Schmerzen Entzückung Bühne Götter Müh Tränen Frühling " +
    "fällt könnt größer Flüsse über"
  ).split(" ");
  const lines: string[] = [];
  let length = 0;
  while (length < 222218) {
    const count = 4 + Math.floor(next() * 6);
    const line = "  " + Array.from(
      { length: count },
      () => words[Math.floor(next() * words.length)]!,
    ).join(" ") + (next() < 0.3 ? "!" : ",");
    lines.push(line);
    length += encoder.encode(line).length + 1;
  }
  return encoder.encode(lines.join("\n")).slice(0, 222218);
}

function htmlData(): string {
  const next = random(4);
  const parts = [
    '<!DOCTYPE html>\n<html>\n   <head>\n      <meta charset="utf-8" />\n',
    '      <style lang="css">\nbody {\n   background-color: #F4F4F4;\n   color: #333;\n}\n',
    "      </style>\n   </head>\n   <body>\n      <table>\n",
  ];
  let length = parts.join("").length;
  for (let row = 0; length < 263647; row++) {
    const ok = next() < 0.9;
    const line = `         <tr><td class="case_${ok ? "ok" : "failed"}">` +
      `<a href="#case_${row}">${row % 13 + 1}.${row % 7 + 1}.${
        row % 18 + 1
      }</a></td><td>${ok ? "✓ Pass" : "✗ Fail – über"}</td><td>${
        Math.floor(next() * 1000)
      } ms</td></tr>\n`;
    parts.push(line);
    length += line.length;
  }
  return parts.join("").slice(0, 263647);
}

function pdfLike(): Uint8Array {
  const next = random(5);
  const size = 262144;
  const bytes = new Uint8Array(size);
  let at = 0;
  const put = (text: string) => {
    const encoded = encoder.encode(text);
    bytes.set(encoded.subarray(0, size - at), at);
    at = Math.min(size, at + encoded.length);
  };
  put("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n");
  for (let object = 1; at < size; object++) {
    const length = 2000 + Math.floor(next() * 18000);
    put(
      `${object} 0 obj\n<< /Length ${length} /Filter /FlateDecode >>\nstream\n`,
    );
    for (let i = 0; i < length && at < size; i++) {
      bytes[at++] = Math.floor(next() * 256);
    }
    put("\nendstream\nendobj\n");
  }
  return bytes;
}

const corpora = new Map<PayloadKey, string | Uint8Array>();

function corpus(kind: PayloadKind): string | Uint8Array {
  let data = corpora.get(kind.key);
  if (data === undefined) {
    const make = {
      json_data1: jsonData,
      lena512: bitmap,
      gutenberg_faust: germanVerse,
      html_data1: htmlData,
      ooms: pdfLike,
    }[kind.key];
    data = make();
    assert.equal(typeof data === "string", !kind.binary);
    corpora.set(kind.key, data);
  }
  return data;
}

/** Autobahn's `sendOne`: a sliding window of `length` units that wraps around. */
function messageSource(
  kind: PayloadKind,
  length: number,
): () => string | Uint8Array {
  const data = corpus(kind);
  let pointer = 0;
  return () => {
    const from = pointer;
    const to = (pointer + length) % data.length;
    pointer = to;
    if (typeof data === "string") {
      return to > from
        ? data.slice(from, to)
        : data.slice(from) + data.slice(0, to);
    }
    if (to > from) return data.slice(from, to);
    const message = new Uint8Array(data.length - from + to);
    message.set(data.subarray(from));
    message.set(data.subarray(0, to), data.length - from);
    return message;
  };
}

// ---------------------------------------------------------------------------
// An independent wire reader (no library code): frames, masks, messages.

interface WireFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  payload: Uint8Array;
}

/** Reads whole frames from `bytes`, checking the masking rule of the sender. */
function readFrames(bytes: Uint8Array, sender: Role): WireFrame[] {
  const frames: WireFrame[] = [];
  let at = 0;
  while (at < bytes.length) {
    assert.ok(at + 2 <= bytes.length, "truncated frame header");
    const b0 = bytes[at]!;
    const b1 = bytes[at + 1]!;
    at += 2;
    let length = b1 & 0x7f;
    if (length === 126) {
      length = (bytes[at]! << 8) | bytes[at + 1]!;
      at += 2;
    } else if (length === 127) {
      length = Number(
        new DataView(bytes.buffer, bytes.byteOffset + at, 8).getBigUint64(0),
      );
      at += 8;
    }
    const masked = (b1 & 0x80) !== 0;
    assert.equal(masked, sender === "client", `a ${sender} frame's MASK bit`);
    let key: Uint8Array | null = null;
    if (masked) {
      key = bytes.subarray(at, at + 4);
      at += 4;
    }
    assert.ok(at + length <= bytes.length, "truncated frame payload");
    const payload = bytes.slice(at, at + length);
    if (key !== null) {
      for (let i = 0; i < payload.length; i++) payload[i]! ^= key[i & 3]!;
    }
    at += length;
    frames.push({
      fin: (b0 & 0x80) !== 0,
      rsv: (b0 >> 4) & 0x7,
      opcode: b0 & 0x0f,
      payload,
    });
  }
  return frames;
}

interface WireMessage {
  opcode: number;
  compressed: boolean;
  frames: number;
  /** The payload as on the wire (compressed when `compressed`). */
  payload: Uint8Array;
}

/**
 * Groups frames into data messages, checking RFC 7692 §6.1: RSV1 only on a
 * message's first frame, never on continuation or control frames.
 */
function readMessages(bytes: Uint8Array, sender: Role): WireMessage[] {
  const messages: WireMessage[] = [];
  let current: { opcode: number; rsv: number; parts: Uint8Array[] } | null =
    null;
  for (const frame of readFrames(bytes, sender)) {
    if ((frame.opcode & 0x8) !== 0) {
      assert.equal(frame.rsv, 0, "no RSV bit on a control frame");
      continue;
    }
    if (frame.opcode === 0) {
      assert.notEqual(current, null, "continuation without a message");
      assert.equal(frame.rsv, 0, "no RSV bit on a continuation frame");
      current!.parts.push(frame.payload);
    } else {
      assert.equal(current, null, "new message inside a fragmented one");
      assert.ok(frame.rsv === 0 || frame.rsv === 4, `RSV bits ${frame.rsv}`);
      current = {
        opcode: frame.opcode,
        rsv: frame.rsv,
        parts: [frame.payload],
      };
    }
    if (frame.fin) {
      messages.push({
        opcode: current!.opcode,
        compressed: current!.rsv === 4,
        frames: current!.parts.length,
        payload: concat(current!.parts),
      });
      current = null;
    }
  }
  assert.equal(current, null, "a message left unfinished in one write");
  return messages;
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Whether `inflateRawSync` honours `dictionary` (Node, Bun: yes; Deno 2.9: no). */
const RAW_DICTIONARY = (() => {
  const history = encoder.encode("permessage-deflate context ".repeat(8));
  const message = encoder.encode("permessage-deflate context takeover");
  // Compressed by node:zlib elsewhere with `history` as the dictionary: a
  // back-reference into it, then literals.
  const deflated = new Uint8Array([
    0xc3,
    0x23,
    0x55,
    0x92,
    0x98,
    0x9d,
    0x9a,
    0x5f,
    0x96,
    0x5a,
    0x04,
    0x00,
  ]);
  try {
    const out = inflateRawSync(deflated, {
      dictionary: history,
      finishFlush: constants.Z_SYNC_FLUSH,
    });
    return sameBytes(new Uint8Array(out), message);
  } catch {
    return false;
  }
})();

/**
 * One direction's independent inflater: inflates each compressed message
 * with node:zlib, a window of the negotiated size and the sender's history
 * (the plaintext of its earlier compressed messages) as the dictionary.
 */
class Oracle {
  readonly #bits: number;
  readonly #reset: boolean;
  #history = new Uint8Array(0);
  /** Messages inflated independently. */
  checked = 0;

  constructor(bits: number, reset: boolean) {
    this.#bits = bits;
    this.#reset = reset;
  }

  check(wire: WireMessage, plain: Uint8Array): void {
    if (!wire.compressed) return;
    const tail = wire.payload.subarray(wire.payload.length - 4);
    assert.ok(
      !sameBytes(tail, TRAILER),
      "the sender removed the sync flush's 00 00 ff ff (RFC 7692 §7.2.1)",
    );
    const input = concat([wire.payload, TRAILER]);
    if (this.#reset || this.#history.length === 0) {
      const out = inflateRawSync(input, {
        windowBits: this.#bits,
        finishFlush: constants.Z_SYNC_FLUSH,
      });
      assert.ok(sameBytes(new Uint8Array(out), plain), "inflates standalone");
      this.checked++;
    } else if (RAW_DICTIONARY) {
      const out = inflateRawSync(input, {
        windowBits: this.#bits,
        finishFlush: constants.Z_SYNC_FLUSH,
        dictionary: this.#history,
      });
      assert.ok(sameBytes(new Uint8Array(out), plain), "inflates with history");
      this.checked++;
    }
    if (!this.#reset) {
      const window = 1 << this.#bits;
      const joined = concat([this.#history, plain]);
      this.#history = joined.slice(Math.max(0, joined.length - window));
    }
  }
}

// ---------------------------------------------------------------------------
// The harness.

/** Client side of multiple offers: the answer must fit one of them, in order. */
function acceptForOffers(
  answer: string,
  offers: readonly DeflateClientOptions[],
): DeflateParameters {
  let lastError: unknown = null;
  for (const options of offers) {
    try {
      const params = acceptDeflateAnswer(answer, options);
      if (params !== null) return params;
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError ?? new Error(`No offer accepts ${JSON.stringify(answer)}`);
}

interface Negotiated {
  server: DeflateParameters;
  client: DeflateParameters;
  answer: string;
}

function negotiate(
  offer: string,
  clientOptions: readonly DeflateClientOptions[],
  serverOptions: DeflateServerOptions,
): Negotiated {
  const agreement = negotiateDeflate(
    parseExtensionHeader(offer),
    serverOptions,
  );
  assert.notEqual(agreement, null, `the server accepts ${offer}`);
  const client = acceptForOffers(agreement!.header, clientOptions);
  return { server: agreement!.params, client, answer: agreement!.header };
}

interface Side {
  role: Role;
  protocol: Protocol;
  deflate: PerMessageDeflate;
}

function side(role: Role, params: DeflateParameters, underTest: boolean): Side {
  const deflate = new PerMessageDeflate(
    underTest ? { role, params } : { role, params, threshold: 0 },
  );
  return {
    role,
    deflate,
    protocol: new Protocol({ role, extensions: [deflate] }),
  };
}

/** AutobahnPython's `sendMessage` with `autoFragmentSize`, from one whole frame. */
function fragment(
  wire: Uint8Array,
  sender: Role,
  size: number,
): Uint8Array[] {
  const [frame, ...rest] = readFrames(wire, sender);
  assert.ok(frame !== undefined && rest.length === 0 && frame.fin);
  const encoderOf = new FrameEncoder({ role: sender });
  const pieces: Uint8Array[] = [];
  const n = frame.payload.length;
  for (let i = 0, first = true, done = false; !done; i += size) {
    let j = i + size;
    if (j > n) {
      done = true;
      j = n;
    }
    pieces.push(encoderOf.encode({
      fin: done,
      rsv: first ? frame.rsv : 0,
      opcode: first ? frame.opcode : 0,
      payload: frame.payload.subarray(i, j),
    }));
    first = false;
  }
  return pieces;
}

function messageOf(events: ProtocolEvent[]): string | Uint8Array {
  assert.equal(events.length, 1, "exactly one event");
  const event = events[0]!;
  assert.ok(
    event.type === "text" || event.type === "binary",
    `a message, not ${event.type}`,
  );
  return event.data;
}

function bytesOf(message: string | Uint8Array): Uint8Array {
  return typeof message === "string" ? encoder.encode(message) : message;
}

function assertOpen(...sides: Side[]): void {
  for (const { role, protocol } of sides) {
    assert.equal(protocol.error, null, `${role} did not fail`);
    assert.equal(protocol.state, "OPEN", `${role} is open`);
  }
}

interface EchoRun {
  /** Which wstream side is under test; the other plays Autobahn. */
  underTest: Role;
  params: { server: DeflateParameters; client: DeflateParameters };
  kind: PayloadKind;
  length: number;
  repetitions: number;
  autoFragmentSize: number;
}

interface Traffic {
  payloadBytes: number;
  wireBytes: number;
  compressedMessages: number;
  oracleChecked: number;
}

/** One direction's traffic: Autobahn's sends and the echoes under test. */
interface EchoStats {
  sent: Traffic;
  echoed: Traffic;
}

function traffic(): Traffic {
  return {
    payloadBytes: 0,
    wireBytes: 0,
    compressedMessages: 0,
    oracleChecked: 0,
  };
}

/** Sends `repetitions` messages from the Autobahn side, each echoed by the side under test. */
function runEcho(run: EchoRun): EchoStats {
  const server = side("server", run.params.server, run.underTest === "server");
  const client = side("client", run.params.client, run.underTest === "client");
  const [tested, autobahn] = run.underTest === "server"
    ? [server, client]
    : [client, server];
  // Oracles for each direction: the sender's window and reset rule.
  const oracleOf = (sender: Side) => {
    const p = sender.role === "server" ? run.params.client : run.params.server;
    return sender.role === "server"
      ? new Oracle(p.serverMaxWindowBits, p.serverNoContextTakeover)
      : new Oracle(p.clientMaxWindowBits, p.clientNoContextTakeover);
  };
  const sentOracle = oracleOf(autobahn);
  const echoOracle = oracleOf(tested);
  const stats: EchoStats = { sent: traffic(), echoed: traffic() };
  const next = messageSource(run.kind, run.length);
  try {
    for (let n = 0; n < run.repetitions; n++) {
      const message = next();
      const plain = bytesOf(message);
      // Autobahn sends (compressing every message, fragmenting per the case).
      if (typeof message === "string") autobahn.protocol.sendText(message);
      else autobahn.protocol.sendBinary(message);
      const frame = autobahn.protocol.dataToSend()!;
      const writes = run.autoFragmentSize > 0
        ? fragment(frame, autobahn.role, run.autoFragmentSize)
        : [frame];
      const [sent] = readMessages(concat(writes), autobahn.role);
      assert.ok(sent !== undefined);
      assert.equal(sent.compressed, true, "Autobahn compresses every message");
      assert.equal(sent.opcode, run.kind.binary ? 2 : 1);
      if (run.autoFragmentSize > 0) {
        assert.equal(
          sent.frames,
          Math.floor(sent.payload.length / run.autoFragmentSize) + 1,
          "fragmented per autoFragmentSize",
        );
      }
      sentOracle.check(sent, plain);
      stats.sent.payloadBytes += plain.length;
      stats.sent.wireBytes += sent.payload.length;
      stats.sent.compressedMessages++;
      for (const write of writes) tested.protocol.receiveData(write);
      // The side under test echoes it.
      const received = messageOf(tested.protocol.eventsReceived());
      assertOpen(tested);
      assert.equal(typeof received, typeof message, "message type");
      if (typeof received === "string") {
        assert.ok(received === message, `message ${n} arrives intact`);
        tested.protocol.sendText(received);
      } else {
        assert.ok(sameBytes(received, plain), `message ${n} arrives intact`);
        tested.protocol.sendBinary(received);
      }
      const echo = tested.protocol.dataToSend()!;
      const echoed = readMessages(echo, tested.role);
      assert.equal(echoed.length, 1);
      const wire = echoed[0]!;
      assert.equal(wire.frames, 1);
      assert.equal(wire.opcode, sent.opcode);
      assert.equal(
        wire.compressed,
        plain.length >= DEFAULT_THRESHOLD,
        `RSV1 on the echo iff it is at least ${DEFAULT_THRESHOLD} bytes`,
      );
      if (!wire.compressed) {
        assert.ok(sameBytes(wire.payload, plain), "uncompressed echo as is");
      }
      echoOracle.check(wire, plain);
      stats.echoed.payloadBytes += plain.length;
      stats.echoed.wireBytes += wire.payload.length;
      if (wire.compressed) stats.echoed.compressedMessages++;
      autobahn.protocol.receiveData(echo);
      const back = messageOf(autobahn.protocol.eventsReceived());
      assertOpen(autobahn);
      if (typeof back === "string") {
        assert.ok(back === message, `echo ${n} equals message ${n}`);
      } else {
        assert.ok(sameBytes(back, plain), `echo ${n} equals message ${n}`);
      }
    }
    // Autobahn closes with 1000 and requires a clean close.
    autobahn.protocol.sendClose(1000);
    tested.protocol.receiveData(autobahn.protocol.dataToSend()!);
    autobahn.protocol.receiveData(tested.protocol.dataToSend()!);
    for (const { role, protocol } of [tested, autobahn]) {
      assert.equal(protocol.state, "CLOSED", `${role} closed`);
      assert.equal(protocol.error, null, `${role} did not fail`);
      assert.equal(protocol.closeInfo.closeCode, 1000, `${role} saw 1000`);
    }
  } finally {
    server.deflate.close();
    client.deflate.close();
  }
  stats.sent.oracleChecked = sentOracle.checked;
  stats.echoed.oracleChecked = echoOracle.checked;
  return stats;
}

/** The wire must be smaller than the payload (each direction, whole case). */
function assertCompression(
  kind: PayloadKind,
  length: number,
  stats: EchoStats,
): void {
  for (const [what, t] of Object.entries(stats)) {
    if (t.compressedMessages === 0) continue;
    if (kind.compressibleFrom !== null && length >= kind.compressibleFrom) {
      assert.ok(
        t.wireBytes < t.payloadBytes,
        `${what}: ${t.wireBytes} compressed bytes < ${t.payloadBytes} payload bytes`,
      );
    } else {
      // Incompressible data: stored blocks, a few bytes a message.
      assert.ok(
        t.wireBytes <= t.payloadBytes * 1.01 + 16 * t.compressedMessages,
        `${what}: ${t.wireBytes} bytes for ${t.payloadBytes}`,
      );
    }
  }
}

function negotiateCase(testCase: AutobahnDeflateCase): Negotiated {
  const { setting } = testCase;
  const negotiated = negotiate(
    setting.offer,
    setting.clientOptions,
    setting.serverOptions,
  );
  assert.deepEqual(negotiated.server, setting.params, "server's parameters");
  assert.deepEqual(negotiated.client, setting.params, "client's parameters");
  return negotiated;
}

function runCase(testCase: AutobahnDeflateCase, underTest: Role): EchoStats {
  const negotiated = negotiateCase(testCase);
  const stats = runEcho({
    underTest,
    params: negotiated,
    kind: testCase.payload,
    length: testCase.size.length,
    repetitions: scaledRepetitions(testCase.size, FULL),
    autoFragmentSize: testCase.size.autoFragmentSize,
  });
  assertCompression(testCase.payload, testCase.size.length, stats);
  return stats;
}

// ---------------------------------------------------------------------------
// The cases.

for (const group of ["12", "13"]) {
  describe(
    `Autobahn ${group} WebSocket Compression (different ${
      group === "12" ? "payloads" : "parameters"
    })`,
    () => {
      for (const testCase of AUTOBAHN_DEFLATE_CASES) {
        if (!testCase.id.startsWith(`${group}.`)) continue;
        const repetitions = scaledRepetitions(testCase.size, FULL);
        test(
          `PerMessageDeflate passes Autobahn case ${testCase.id} as server and as client (${repetitions} of ${testCase.size.count} messages): ${testCase.description}`,
          () => {
            runCase(testCase, "server");
            runCase(testCase, "client");
          },
        );
      }
    },
  );
}

describe("Autobahn 13.x negotiation", () => {
  DEFLATE_SETTINGS.forEach((setting, j) => {
    test(
      `negotiateDeflate and acceptDeflateAnswer agree with Autobahn on 13.${
        j + 1
      }: ${setting.clientOffersDescription} / ${setting.serverAcceptDescription}`,
      () => {
        // wstream as the client can make the catalogue's offers.
        const ours = setting.clientOptions.map((options) =>
          deflateOffer(options)
        )
          .join(", ");
        const paramsOf = (header: string) =>
          parseExtensionHeader(header).map((element) => ({
            name: element.name,
            params: element.params.map((p) => `${p.name}=${p.value}`).sort(),
          }));
        assert.deepEqual(paramsOf(ours), paramsOf(setting.offer));
        // wstream as the server picks what Autobahn's accept function picks.
        const negotiated = negotiate(
          setting.offer,
          setting.clientOptions,
          setting.serverOptions,
        );
        assert.deepEqual(negotiated.server, setting.params);
        // wstream as the client accepts Autobahn's literal answer, to the same effect.
        assert.deepEqual(
          acceptForOffers(setting.autobahnAnswer, setting.clientOptions),
          setting.params,
        );
      },
    );
  });
});

describe("permessage-deflate window bits 8..15 (beyond the catalogue)", () => {
  const kind = PAYLOAD_KINDS[0]!;
  const sizes = MSG_SIZES.filter((size) =>
    size.length <= 16384 && (size.autoFragmentSize === 0 ||
      size.length === 8192)
  );
  for (const setting of WINDOW_BITS_SWEEP) {
    test(`PerMessageDeflate echoes json_data1 with ${setting.name}, as server and as client`, () => {
      const negotiated = negotiate(
        deflateOffer(setting.clientOptions),
        [setting.clientOptions],
        setting.serverOptions,
      );
      assert.deepEqual(negotiated.server, setting.params);
      assert.deepEqual(negotiated.client, setting.params);
      for (const size of sizes) {
        for (const underTest of ["server", "client"] as const) {
          const stats = runEcho({
            underTest,
            params: negotiated,
            kind,
            length: size.length,
            repetitions: Math.min(scaledRepetitions(size, FULL), 64),
            autoFragmentSize: size.autoFragmentSize,
          });
          assertCompression(kind, size.length, stats);
          if (RAW_DICTIONARY) {
            // Context takeover both ways: every compressed message was
            // inflated by node:zlib with exactly the negotiated window.
            assert.equal(
              stats.sent.oracleChecked,
              stats.sent.compressedMessages,
            );
            assert.equal(
              stats.echoed.oracleChecked,
              stats.echoed.compressedMessages,
            );
          }
        }
      }
    });
  }
});

// ---------------------------------------------------------------------------
// RFC 7692 rules the cases rely on.

const DEFAULT_PARAMS: DeflateParameters = {
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};

/** Raw deflate with a sync flush, minus `00 00 ff ff` (RFC 7692 §7.2.1), by node:zlib. */
function compress(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(
    deflateRawSync(data, { finishFlush: constants.Z_SYNC_FLUSH }),
  );
  assert.deepEqual([...out.subarray(out.length - 4)], [...TRAILER]);
  return out.subarray(0, out.length - 4);
}

/** A receiver of `role` with permessage-deflate negotiated (or not). */
function receiver(role: Role, deflate = true): Protocol {
  return new Protocol({
    role,
    extensions: deflate
      ? [new PerMessageDeflate({ role, params: DEFAULT_PARAMS })]
      : [],
  });
}

/** Frames as the peer of `role` writes them. */
function peerFrames(
  role: Role,
  frames: {
    fin?: boolean;
    rsv?: number;
    opcode: number;
    payload: Uint8Array;
  }[],
): Uint8Array {
  const peer = new FrameEncoder({
    role: role === "server" ? "client" : "server",
  });
  return concat(frames.map((frame) =>
    peer.encode({
      fin: frame.fin ?? true,
      rsv: frame.rsv ?? 0,
      opcode: frame.opcode,
      payload: frame.payload,
    })
  ));
}

/** Delivers `bytes` whole, or one byte at a time. */
function deliver(protocol: Protocol, bytes: Uint8Array, bytewise: boolean) {
  if (!bytewise) {
    protocol.receiveData(bytes.slice());
    return;
  }
  for (let i = 0; i < bytes.length; i++) {
    protocol.receiveData(bytes.slice(i, i + 1));
  }
}

function assertFailed(protocol: Protocol, code: number): void {
  assert.equal(protocol.state, "CLOSED");
  assert.equal(protocol.error?.closeCode, code, protocol.error?.message);
  const role = protocol.role;
  const frames = readFrames(protocol.dataToSend()!, role);
  const close = frames.at(-1)!;
  assert.equal(close.opcode, 8);
  assert.equal((close.payload[0]! << 8) | close.payload[1]!, code);
}

/** Ends in U+D800 encoded as ED A0 80 (case 6.x's invalid sample) after valid text. */
const INVALID_AFTER_INFLATE = new Uint8Array([
  0xce,
  0xba,
  0xe1,
  0xbd,
  0xb9,
  0xcf,
  0x83,
  0xce,
  0xbc,
  0xce,
  0xb5,
  0xed,
  0xa0,
  0x80,
  0x65,
  0x64,
  0x69,
  0x74,
  0x65,
  0x64,
]);

const VALID_TEXT = "κόσμε – Ünïcödé straße 🙂 ".repeat(4);

function isValidUtf8(bytes: Uint8Array): boolean {
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

describe("RFC 7692 rules behind Autobahn 12 and 13", () => {
  for (const role of ["server", "client"] as const) {
    for (const bytewise of [false, true]) {
      const how = bytewise ? "one byte at a time" : "whole";
      const compressed = compress(encoder.encode(VALID_TEXT));

      test(`Protocol as ${role} fails RSV1 on a continuation frame with 1002 (${how})`, () => {
        const protocol = receiver(role);
        deliver(
          protocol,
          peerFrames(role, [
            {
              fin: false,
              rsv: 4,
              opcode: 1,
              payload: compressed.subarray(0, 8),
            },
            { rsv: 4, opcode: 0, payload: compressed.subarray(8) },
          ]),
          bytewise,
        );
        assertFailed(protocol, 1002);
      });

      test(`Protocol as ${role} fails RSV1 on a control frame with 1002 (${how})`, () => {
        for (const opcode of [8, 9, 10]) {
          const protocol = receiver(role);
          deliver(
            protocol,
            peerFrames(role, [{ rsv: 4, opcode, payload: new Uint8Array(0) }]),
            bytewise,
          );
          assertFailed(protocol, 1002);
        }
      });

      test(`Protocol as ${role} fails RSV1 without permessage-deflate negotiated with 1002 (${how})`, () => {
        for (const opcode of [1, 2]) {
          const protocol = receiver(role, false);
          deliver(
            protocol,
            peerFrames(role, [{ rsv: 4, opcode, payload: compressed }]),
            bytewise,
          );
          assertFailed(protocol, 1002);
        }
      });

      test(`Protocol as ${role} accepts compressed text that is valid UTF-8 only after inflating (${how})`, () => {
        assert.equal(isValidUtf8(compressed), false, "precondition");
        for (const fragments of [1, 2, compressed.length]) {
          const protocol = receiver(role);
          const step = Math.ceil(compressed.length / fragments);
          const frames = [];
          for (let i = 0; i < compressed.length; i += step) {
            frames.push({
              fin: i + step >= compressed.length,
              rsv: i === 0 ? 4 : 0,
              opcode: i === 0 ? 1 : 0,
              payload: compressed.subarray(i, i + step),
            });
          }
          deliver(protocol, peerFrames(role, frames), bytewise);
          assert.equal(protocol.error, null, protocol.error?.message);
          assert.deepEqual(protocol.eventsReceived(), [
            { type: "text", data: VALID_TEXT },
          ]);
        }
      });

      test(`Protocol as ${role} fails compressed text that is invalid UTF-8 after inflating with 1007 (${how})`, () => {
        const invalid = compress(INVALID_AFTER_INFLATE);
        for (const fragments of [1, 3]) {
          const protocol = receiver(role);
          const step = Math.ceil(invalid.length / fragments);
          const frames = [];
          for (let i = 0; i < invalid.length; i += step) {
            frames.push({
              fin: i + step >= invalid.length,
              rsv: i === 0 ? 4 : 0,
              opcode: i === 0 ? 1 : 0,
              payload: invalid.subarray(i, i + step),
            });
          }
          deliver(protocol, peerFrames(role, frames), bytewise);
          assert.deepEqual(protocol.eventsReceived(), []);
          assertFailed(protocol, 1007);
        }
      });
    }
  }
});

test("the independent inflater runs with history where the runtime allows", () => {
  // Deno 2.9's node:zlib ignores `dictionary` for raw inflate.
  assert.equal(RAW_DICTIONARY, !("Deno" in globalThis));
});

test("the Autobahn 12/13 table has the catalogue's 216 cases, in order", () => {
  const ids = AUTOBAHN_DEFLATE_CASES.map((testCase) => testCase.id);
  const expected: string[] = [];
  for (let j = 1; j <= 5; j++) {
    for (let i = 1; i <= 18; i++) expected.push(`12.${j}.${i}`);
  }
  for (let j = 1; j <= 7; j++) {
    for (let i = 1; i <= 18; i++) expected.push(`13.${j}.${i}`);
  }
  assert.deepEqual(ids, expected);
  assert.equal(
    AUTOBAHN_DEFLATE_CASES[0]!.description,
    "Send 1000 compressed messages each of payload size 16, auto-fragment to 0 octets. Use default permessage-deflate offer.",
  );
  assert.equal(
    AUTOBAHN_DEFLATE_CASES.at(-1)!.description,
    "Send 1000 compressed messages each of payload size 131072, auto-fragment to 32768 octets. Use permessage-deflate client offers (requestNoContextTakeover, requestMaxWindowBits): [(True, 9), (True, 0), (False, 0)]",
  );
  assert.ok(SCALE.minRepetitions >= 2, "context takeover needs two messages");
  for (const testCase of AUTOBAHN_DEFLATE_CASES) {
    const corpusData = corpus(testCase.payload);
    assert.ok(corpusData.length > testCase.size.length);
  }
  // Decoding sanity of the synthetic text corpora.
  for (const kind of PAYLOAD_KINDS) {
    const data = corpus(kind);
    if (data instanceof Uint8Array && kind.key === "gutenberg_faust") {
      assert.ok(decoder.decode(data).includes("ö"));
    }
  }
});
