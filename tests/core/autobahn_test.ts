/**
 * Runs the Autobahn|Testsuite cases of groups 1-7 (tests/_autobahn_cases.ts)
 * against the sans-I/O Protocol acting as an echo server, strictly: every
 * case must reach Autobahn's OK outcome, never NON-STRICT. Each case runs
 * with three deliveries of the client's bytes: as Autobahn sends them (one
 * delivery per step, where fail-fast is checked), all in one chunk, and one
 * byte at a time.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { FrameEncoder } from "../../lib/core/frame_encoder.ts";
import { FrameParser } from "../../lib/core/frame_parser.ts";
import { Protocol } from "../../lib/core/protocol.ts";
import {
  AUTOBAHN_CASES,
  type AutobahnCase,
  type Payload,
} from "./_autobahn_cases.ts";
import { concat, hex } from "../_test_utils.ts";

const encoder = new TextEncoder();

function materialize(payload: Payload | undefined): Uint8Array {
  if (payload === undefined) return new Uint8Array(0);
  if (typeof payload === "string") return encoder.encode(payload);
  if ("hex" in payload) return hex(payload.hex);
  const pattern = typeof payload.repeat === "string"
    ? encoder.encode(payload.repeat)
    : hex(payload.repeat.hex);
  const bytes = new Uint8Array(payload.length);
  for (let i = 0; i < bytes.length; i++) {
    bytes[i] = pattern[i % pattern.length]!;
  }
  return bytes;
}

/** The client's bytes, grouped into the deliveries Autobahn makes. */
function deliveries(testCase: AutobahnCase): Uint8Array[][] {
  const client = new FrameEncoder({ role: "client" });
  const result: Uint8Array[][] = [];
  for (const step of testCase.steps) {
    if ("sync" in step) continue;
    if ("raw" in step) {
      result.push([hex(step.raw.hex)]);
      continue;
    }
    const spec = step.frame;
    const payload = materialize(spec.payload);
    const wire = encodeAnyFrame(client, {
      fin: spec.fin ?? true,
      rsv: spec.rsv ?? 0,
      opcode: spec.opcode,
      payload,
    });
    const headerLength = wire.length - payload.length;
    if (spec.payloadSplits !== undefined) {
      let start = 0;
      for (const split of [...spec.payloadSplits, payload.length]) {
        const end = split === payload.length
          ? wire.length
          : headerLength + split;
        result.push([wire.subarray(start, end)]);
        start = end;
      }
    } else if (spec.chop !== undefined) {
      const pieces: Uint8Array[] = [];
      for (let i = 0; i < wire.length; i += spec.chop) {
        pieces.push(wire.subarray(i, i + spec.chop));
      }
      result.push(pieces);
    } else {
      result.push([wire]);
    }
  }
  return result;
}

/**
 * Encodes frames the encoder refuses on purpose (oversized or fragmented
 * control frames): encode a legal twin, then patch the header bits.
 */
function encodeAnyFrame(
  client: FrameEncoder,
  frame: { fin: boolean; rsv: number; opcode: number; payload: Uint8Array },
): Uint8Array {
  const control = (frame.opcode & 0x8) !== 0;
  if (!control || (frame.payload.length <= 125 && frame.fin)) {
    return client.encode(frame);
  }
  const wire = client.encode({ ...frame, opcode: 0x2, fin: true });
  wire[0] = (frame.fin ? 0x80 : 0) | (frame.rsv << 4) | frame.opcode;
  return wire;
}

interface Outcome {
  messages: (string | Uint8Array)[];
  serverFrames: { opcode: number; payload: Uint8Array }[];
  failedAt: number | null;
  protocol: Protocol;
}

/** Feeds the deliveries to an echo server; `mode` regroups them. */
function runEchoServer(
  groups: Uint8Array[][],
  mode: "as-sent" | "whole" | "1-byte",
): Outcome {
  const protocol = new Protocol({ role: "server" });
  const messages: (string | Uint8Array)[] = [];
  const output: Uint8Array[] = [];
  let failedAt: number | null = null;
  const pump = () => {
    for (const event of protocol.eventsReceived()) {
      if (event.type === "text") {
        messages.push(event.data);
        if (protocol.state === "OPEN") protocol.sendText(event.data);
      } else if (event.type === "binary") {
        messages.push(event.data);
        if (protocol.state === "OPEN") protocol.sendBinary(event.data);
      }
    }
    const bytes = protocol.dataToSend();
    if (bytes !== null) output.push(bytes);
  };
  const flat = groups.flat();
  if (mode === "whole") {
    protocol.receiveData(concat(flat));
    pump();
  } else if (mode === "1-byte") {
    for (const bytes of flat) {
      for (let i = 0; i < bytes.length; i++) {
        protocol.receiveData(bytes.slice(i, i + 1));
        pump();
      }
    }
  } else {
    groups.forEach((pieces, index) => {
      for (const piece of pieces) {
        protocol.receiveData(piece.slice());
        pump();
      }
      if (failedAt === null && protocol.error !== null) failedAt = index;
    });
  }
  const parser = new FrameParser({ role: "client" });
  const serverFrames: { opcode: number; payload: Uint8Array }[] = [];
  for (const bytes of output) {
    parser.push(bytes);
    for (let frame; (frame = parser.next()) !== null;) {
      serverFrames.push({
        opcode: frame.opcode,
        payload: frame.payload.slice(),
      });
    }
  }
  return { messages, serverFrames, failedAt, protocol };
}

function closeCodeOf(payload: Uint8Array): number | null {
  return payload.length >= 2 ? (payload[0]! << 8) | payload[1]! : null;
}

function expectedMessages(testCase: AutobahnCase): (string | Uint8Array)[] {
  return testCase.expect.messages.map((message) =>
    "text" in message
      ? new TextDecoder().decode(materialize(message.text))
      : materialize(message.binary)
  );
}

function checkCase(
  testCase: AutobahnCase,
  mode: "as-sent" | "whole" | "1-byte",
) {
  const outcome = runEchoServer(deliveries(testCase), mode);
  const { protocol, serverFrames } = outcome;
  const expected = expectedMessages(testCase);
  assert.deepEqual(outcome.messages, expected, "messages delivered to the app");
  const echoes = serverFrames.filter((frame) =>
    frame.opcode === 1 || frame.opcode === 2
  );
  assert.deepEqual(
    echoes.map((frame) =>
      frame.opcode === 1
        ? new TextDecoder().decode(frame.payload)
        : frame.payload
    ),
    expected,
    "messages echoed",
  );
  if (testCase.expect.pongs !== undefined) {
    assert.deepEqual(
      serverFrames.filter((frame) => frame.opcode === 10).map((frame) =>
        frame.payload
      ),
      testCase.expect.pongs.map(materialize),
      "pongs sent",
    );
  }
  const close = testCase.expect.close;
  let closes = serverFrames.filter((frame) => frame.opcode === 8);
  if (close.kind === "open") {
    assert.equal(closes.length, 0, "no close frame while the case runs");
    assert.equal(protocol.state, "OPEN");
    // Autobahn then closes normally, and the server must answer cleanly.
    const client = new FrameEncoder({ role: "client" });
    protocol.receiveData(
      client.encode({
        fin: true,
        rsv: 0,
        opcode: 8,
        payload: new Uint8Array([0x03, 0xe8]),
      }),
    );
    const answer = new FrameParser({ role: "client" });
    answer.push(protocol.dataToSend()!);
    const frame = answer.next()!;
    closes = [{ opcode: frame.opcode, payload: frame.payload }];
    assert.equal(closeCodeOf(closes[0]!.payload), 1000);
    assert.equal(protocol.closeExpected(), true);
    return;
  }
  assert.equal(closes.length, 1, "exactly one close frame sent");
  assert.equal(protocol.state, "CLOSED");
  assert.equal(protocol.closeExpected(), true, "server closes TCP");
  const code = closeCodeOf(closes[0]!.payload);
  if (close.kind === "echo") {
    assert.equal(code, close.code, "close code echoed");
    assert.equal(protocol.error, null);
  } else {
    assert.ok(
      code !== null && close.codes.includes(code),
      `close code ${code} in ${close.codes}`,
    );
    assert.notEqual(protocol.error, null, "failed with a protocol error");
    if (
      mode === "as-sent" && testCase.expect.failFastAfterDelivery !== undefined
    ) {
      assert.equal(
        outcome.failedAt,
        testCase.expect.failFastAfterDelivery,
        "failed fast, at the delivery with the invalid octet",
      );
    }
  }
}

const groupNames: Record<string, string> = {
  "1": "Framing",
  "2": "Pings/Pongs",
  "3": "Reserved Bits",
  "4": "Opcodes",
  "5": "Fragmentation",
  "6": "UTF-8 Handling",
  "7": "Close Handling",
};

for (const [group, name] of Object.entries(groupNames)) {
  describe(`Autobahn ${group} ${name}`, () => {
    for (const testCase of AUTOBAHN_CASES) {
      if (testCase.id.split(".")[0] !== group) continue;
      test(`Protocol passes Autobahn case ${testCase.id} strictly: ${testCase.description}`, () => {
        checkCase(testCase, "as-sent");
        checkCase(testCase, "whole");
        checkCase(testCase, "1-byte");
      });
    }
  });
}

test("the Autobahn table covers groups 1-7 with unique ids", () => {
  const ids = AUTOBAHN_CASES.map((testCase) => testCase.id);
  assert.equal(new Set(ids).size, ids.length);
  assert.ok(ids.length >= 240, `${ids.length} cases`);
  for (const group of Object.keys(groupNames)) {
    assert.ok(ids.some((id) => id.startsWith(`${group}.`)), `group ${group}`);
  }
});
