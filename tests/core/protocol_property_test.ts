/**
 * Seeded property test of the receive path: whatever the fragmentation,
 * interleaved control frames and chunk boundaries, `Protocol` delivers
 * exactly the messages that were sent, in order, and answers every ping.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Frame, Role } from "../../lib/core/frame.ts";
import { FrameEncoder } from "../../lib/core/frame_encoder.ts";
import { FrameParser } from "../../lib/core/frame_parser.ts";
import { Protocol, type ProtocolEvent } from "../../lib/core/protocol.ts";
import { concat, createRandom, type Random } from "../_test_utils.ts";

const MESSAGES_PER_RUN = 40;
const MAX_FRAGMENTS = 8;
const SEEDS = [1, 2, 3, 4, 0x5eed, 0xdecafbad] as const;

const textEncoder = new TextEncoder();

/** A message size in bytes, 0..70,000, biased toward the length boundaries. */
function randomSize(random: Random): number {
  switch (random.int(6)) {
    case 0:
      return random.pick([0, 1, 125, 126, 127, 65535, 65536, 65537]);
    case 1:
      return random.int(70_001);
    default:
      return random.int(300);
  }
}

/** A random code point: ASCII, 2-byte, 3-byte (no surrogates) or astral. */
function randomCodePoint(random: Random): number {
  switch (random.int(8)) {
    case 0:
      return 0x80 + random.int(0x800 - 0x80);
    case 1: {
      const codePoint = 0x800 + random.int(0x10000 - 0x800);
      return codePoint >= 0xd800 && codePoint <= 0xdfff ? 0xfeff : codePoint;
    }
    case 2:
      return 0x10000 + random.int(0x110000 - 0x10000);
    case 3:
      return random.pick([
        0x00,
        0x7f,
        0x80,
        0x7ff,
        0x800,
        0xfeff,
        0xffff,
        0x10000,
        0x10ffff,
      ]);
    default:
      return 0x20 + random.int(0x5f);
  }
}

/** A string of about `size` UTF-8 bytes (a little more, to end on a character). */
function randomText(random: Random, size: number): string {
  const parts: string[] = [];
  let codePoints: number[] = [];
  let bytes = 0;
  // A leading BOM must survive: it is content, not a signature (RFC 6455 §5.6).
  if (size > 0 && random.int(10) === 0) {
    codePoints.push(0xfeff);
    bytes += 3;
  }
  while (bytes < size) {
    const codePoint = randomCodePoint(random);
    codePoints.push(codePoint);
    bytes += codePoint < 0x80
      ? 1
      : codePoint < 0x800
      ? 2
      : codePoint < 0x10000
      ? 3
      : 4;
    if (codePoints.length === 4096) {
      parts.push(String.fromCodePoint(...codePoints));
      codePoints = [];
    }
  }
  parts.push(String.fromCodePoint(...codePoints));
  return parts.join("");
}

/** Splits `bytes` into 1..MAX_FRAGMENTS pieces at random (possibly equal) cuts. */
function fragment(random: Random, bytes: Uint8Array): Uint8Array[] {
  const count = 1 + random.int(MAX_FRAGMENTS);
  const cuts = [0];
  for (let i = 1; i < count; i++) cuts.push(random.int(bytes.length + 1));
  cuts.push(bytes.length);
  cuts.sort((a, b) => a - b);
  const pieces: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    pieces.push(bytes.subarray(cuts[i], cuts[i + 1]));
  }
  return pieces;
}

interface Scenario {
  /** Every frame's wire bytes, concatenated. */
  wire: Uint8Array;
  /** The events the receiver must report, in order. */
  events: ProtocolEvent[];
  /** The payloads of the pings, in order: each must be answered by a pong. */
  pings: Uint8Array[];
  /** The number of data frames, for the record. */
  dataFrames: number;
}

/** Builds random messages, fragmented, with pings and pongs between frames. */
function buildScenario(random: Random, peerRole: Role): Scenario {
  const encoder = new FrameEncoder({ role: peerRole });
  const frames: Uint8Array[] = [];
  const events: ProtocolEvent[] = [];
  const pings: Uint8Array[] = [];
  let dataFrames = 0;
  const maybeControlFrames = (): void => {
    while (random.int(3) === 0) {
      const ping = random.int(4) !== 0;
      const payload = random.bytes(random.pick([0, 125, random.int(126)]));
      frames.push(
        encoder.encode({
          fin: true,
          rsv: 0,
          opcode: ping ? 0x9 : 0xa,
          payload,
        }),
      );
      events.push({ type: ping ? "ping" : "pong", data: payload });
      if (ping) pings.push(payload);
    }
  };
  for (let m = 0; m < MESSAGES_PER_RUN; m++) {
    maybeControlFrames();
    const size = randomSize(random);
    let message: ProtocolEvent;
    let bytes: Uint8Array<ArrayBuffer>;
    if (random.int(2) === 0) {
      const data = randomText(random, size);
      message = { type: "text", data };
      bytes = textEncoder.encode(data);
    } else {
      bytes = random.bytes(size);
      message = { type: "binary", data: bytes };
    }
    const opcode = message.type === "text" ? 0x1 : 0x2;
    const pieces = fragment(random, bytes);
    pieces.forEach((payload, i) => {
      if (i > 0) maybeControlFrames();
      const frame: Frame = {
        fin: i === pieces.length - 1,
        rsv: 0,
        opcode: i === 0 ? opcode : 0x0,
        payload,
      };
      frames.push(encoder.encode(frame));
      dataFrames++;
    });
    // Delivered with its last frame, after the control frames between its fragments.
    events.push(message);
  }
  maybeControlFrames();
  return { wire: concat(frames), events, pings, dataFrames };
}

/** Chunk styles as [largest chunk, longest run of such chunks]. */
const CHUNK_STYLES: readonly (readonly [number, number])[] = [
  [1, 128],
  [1, 16],
  [8, 64],
  [200, 16],
  [5000, 4],
  [100_000, 1],
];

/**
 * Cuts `wire` into chunks in runs of one style each: 1-byte chunks, tiny,
 * medium or large ones. Returns views into `wire`.
 */
function randomBoundaries(random: Random, wire: Uint8Array): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  let offset = 0;
  while (offset < wire.length) {
    const [maxChunk, maxRun] = random.pick(CHUNK_STYLES);
    const runLength = 1 + random.int(maxRun);
    for (let r = 0; r < runLength && offset < wire.length; r++) {
      const size = 1 + random.int(maxChunk);
      chunks.push(wire.subarray(offset, offset + size));
      offset += size;
    }
  }
  return chunks;
}

function describeEvent(event: ProtocolEvent | undefined): string {
  if (event === undefined) return "nothing";
  if (event.type === "close") return `close ${event.code}`;
  return `${event.type} of ${event.data.length} ${
    event.type === "text" ? "chars" : "bytes"
  }`;
}

function run(seed: number, ourRole: Role): void {
  const peerRole: Role = ourRole === "server" ? "client" : "server";
  const random = createRandom(seed);
  const scenario = buildScenario(random, peerRole);
  // The protocol may unmask in place: feed it a copy.
  const chunks = randomBoundaries(random, scenario.wire.slice());

  const protocol = new Protocol({ role: ourRole });
  // What the protocol sends is decoded as its peer would decode it.
  const output = new FrameParser({ role: peerRole });
  const events: ProtocolEvent[] = [];
  const sent: Frame[] = [];
  for (let c = 0; c < chunks.length; c++) {
    protocol.receiveData(chunks[c]!);
    for (const event of protocol.eventsReceived()) events.push(event);
    const bytes = protocol.dataToSend();
    if (bytes !== null) {
      output.push(bytes);
      for (let frame; (frame = output.next()) !== null;) {
        sent.push({ ...frame, payload: frame.payload.slice() });
      }
    }
    if (protocol.state !== "OPEN" || protocol.error !== null) {
      assert.fail(
        `state ${protocol.state} after chunk ${c} of ${chunks.length}: ${protocol.error?.message}`,
      );
    }
  }
  assert.equal(
    output.partialFrame(),
    null,
    "the protocol sent a partial frame",
  );

  const expected = scenario.events;
  for (let i = 0; i < Math.max(events.length, expected.length); i++) {
    const where = `event ${i}: got ${describeEvent(events[i])}, expected ${
      describeEvent(expected[i])
    }`;
    assert.deepEqual(events[i], expected[i], where);
  }

  assert.equal(sent.length, scenario.pings.length, "one pong per ping");
  sent.forEach((frame, i) => {
    assert.equal(frame.opcode, 0xa, `frame ${i} sent is a pong`);
    assert.equal(frame.fin, true);
    assert.equal(frame.rsv, 0);
    assert.deepEqual(
      frame.payload,
      scenario.pings[i],
      `pong ${i} echoes ping ${i}`,
    );
  });
  assert.equal(protocol.state, "OPEN");
}

describe("Protocol receive path property", () => {
  for (const ourRole of ["server", "client"] as const) {
    const peer = ourRole === "server" ? "masked client" : "unmasked server";
    for (const seed of SEEDS) {
      test(`Protocol as ${ourRole} delivers random fragmented messages from ${peer} frames exactly, answering interleaved pings (seed ${seed})`, () => {
        run(seed, ourRole);
      });
    }
  }

  test("Protocol property scenarios cover fragmentation, control frames and 1-byte chunks", () => {
    // Guards the generator: a refactor must not quietly stop exercising these.
    const random = createRandom(SEEDS[0]);
    const scenario = buildScenario(random, "client");
    const chunks = randomBoundaries(random, scenario.wire);
    assert.ok(
      scenario.dataFrames > MESSAGES_PER_RUN,
      "some messages are fragmented",
    );
    assert.ok(scenario.pings.length > 3, "pings are interleaved");
    assert.ok(
      chunks.some((chunk) => chunk.length === 1),
      "1-byte chunks occur",
    );
    assert.ok(
      chunks.some((chunk) => chunk.length > 1000),
      "large chunks occur",
    );
    assert.ok(
      scenario.events.some((event) =>
        event.type === "text" && /[\u{10000}-\u{10FFFF}]/u.test(event.data)
      ),
      "astral characters occur",
    );
  });
});
