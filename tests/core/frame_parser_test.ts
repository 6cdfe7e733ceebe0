import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { WebSocketProtocolError } from "../../lib/core/errors.ts";
import type { Frame, Role } from "../../lib/core/frame.ts";
import { FrameParser } from "../../lib/core/frame_parser.ts";
import { chunkings, encodeClientFrame, hex, toHex } from "../_test_utils.ts";

function parseAll(
  chunks: Uint8Array[],
  role: Role,
  options: { maxPayload?: number; allowedRsv?: number } = {},
): Frame[] {
  const parser = new FrameParser({ role, ...options });
  const frames: Frame[] = [];
  for (const chunk of chunks) {
    parser.push(chunk);
    for (let frame; (frame = parser.next()) !== null;) {
      frames.push({ ...frame, payload: frame.payload.slice() });
    }
  }
  return frames;
}

/** RFC 6455 §5.7 examples: wire bytes → frames. */
const RFC_EXAMPLES: {
  name: string;
  wire: string;
  role: Role;
  frames: { fin: boolean; opcode: number; payload: string }[];
}[] = [
  {
    name: "a single-frame unmasked text message",
    wire: "81 05 48 65 6c 6c 6f",
    role: "client",
    frames: [{ fin: true, opcode: 1, payload: "48656c6c6f" }],
  },
  {
    name: "a single-frame masked text message",
    wire: "81 85 37 fa 21 3d 7f 9f 4d 51 58",
    role: "server",
    frames: [{ fin: true, opcode: 1, payload: "48656c6c6f" }],
  },
  {
    name: "a fragmented unmasked text message",
    wire: "01 03 48 65 6c 80 02 6c 6f",
    role: "client",
    frames: [
      { fin: false, opcode: 1, payload: "48656c" },
      { fin: true, opcode: 0, payload: "6c6f" },
    ],
  },
  {
    name: "an unmasked ping with a body of Hello",
    wire: "89 05 48 65 6c 6c 6f",
    role: "client",
    frames: [{ fin: true, opcode: 9, payload: "48656c6c6f" }],
  },
  {
    name: "a masked pong with a body of Hello",
    wire: "8a 85 37 fa 21 3d 7f 9f 4d 51 58",
    role: "server",
    frames: [{ fin: true, opcode: 10, payload: "48656c6c6f" }],
  },
];

/** Every header rule: input bytes → error code and close code. */
const VIOLATIONS: {
  rule: string;
  wire: Uint8Array;
  role: Role;
  code: string;
  closeCode: number;
  maxPayload?: number;
}[] = [
  ...[3, 4, 5, 6, 7, 11, 12, 13, 14, 15].map((opcode) => ({
    rule: `reserved opcode ${opcode}`,
    wire: encodeClientFrame({ opcode, payload: "x" }),
    role: "server" as const,
    code: "WS_ERR_RESERVED_OPCODE",
    closeCode: 1002,
  })),
  ...[1, 2, 3, 4, 5, 6, 7].map((rsv) => ({
    rule: `RSV bits ${rsv} without an extension`,
    wire: encodeClientFrame({ opcode: 1, rsv, payload: "x" }),
    role: "server" as const,
    code: "WS_ERR_UNEXPECTED_RSV",
    closeCode: 1002,
  })),
  {
    rule: "a ping with 126 bytes",
    wire: encodeClientFrame({ opcode: 9, payload: new Uint8Array(126) }),
    role: "server",
    code: "WS_ERR_CONTROL_FRAME_TOO_LONG",
    closeCode: 1002,
  },
  {
    rule: "a close frame with a 64-bit length of 0",
    wire: hex("88 ff 00 00 00 00 00 00 00 00 37 fa 21 3d"),
    role: "server",
    code: "WS_ERR_CONTROL_FRAME_TOO_LONG",
    closeCode: 1002,
  },
  {
    rule: "a ping with FIN = 0",
    wire: encodeClientFrame({ opcode: 9, fin: false, payload: "x" }),
    role: "server",
    code: "WS_ERR_FRAGMENTED_CONTROL_FRAME",
    closeCode: 1002,
  },
  {
    rule: "an unmasked frame at a server",
    wire: hex("81 05 48 65 6c 6c 6f"),
    role: "server",
    code: "WS_ERR_EXPECTED_MASK",
    closeCode: 1002,
  },
  {
    rule: "a masked frame at a client",
    wire: hex("81 85 37 fa 21 3d 7f 9f 4d 51 58"),
    role: "client",
    code: "WS_ERR_UNEXPECTED_MASK",
    closeCode: 1002,
  },
  {
    rule: "a 64-bit length with the most significant bit set",
    wire: hex("82 ff 80 00 00 00 00 00 00 01 37 fa 21 3d"),
    role: "server",
    code: "WS_ERR_INVALID_LENGTH",
    closeCode: 1002,
  },
  {
    rule: "a payload over maxPayload (16-bit length)",
    wire: hex("82 fe 01 00 37 fa 21 3d"),
    role: "server",
    code: "WS_ERR_FRAME_TOO_BIG",
    closeCode: 1009,
    maxPayload: 255,
  },
  {
    rule: "a 2^40-byte announcement over the default maxPayload",
    wire: hex("82 ff 00 00 01 00 00 00 00 00 37 fa 21 3d"),
    role: "server",
    code: "WS_ERR_FRAME_TOO_BIG",
    closeCode: 1009,
  },
];

describe("FrameParser", () => {
  for (const example of RFC_EXAMPLES) {
    for (const [how, chunks] of chunkings(hex(example.wire))) {
      test(`FrameParser decodes the RFC 6455 §5.7 example of ${example.name} (${how})`, () => {
        const frames = parseAll(chunks, example.role);
        assert.deepEqual(
          frames.map((frame) => ({
            fin: frame.fin,
            opcode: frame.opcode,
            payload: toHex(frame.payload).replace(/\s/g, ""),
          })),
          example.frames,
        );
      });
    }
  }

  for (
    const [length, header] of [[256, "82 7e 01 00"], [
      65536,
      "82 7f 00 00 00 00 00 01 00 00",
    ]] as const
  ) {
    test(`FrameParser decodes the RFC 6455 §5.7 ${length}-byte binary header ${header}`, () => {
      const payload = new Uint8Array(length).map((_, i) => i & 0xff);
      const wire = new Uint8Array([...hex(header), ...payload]);
      for (const [, chunks] of chunkings(wire)) {
        const [frame] = parseAll(chunks, "client");
        assert.equal(frame!.opcode, 2);
        assert.deepEqual(frame!.payload, payload);
      }
    });
  }

  for (const violation of VIOLATIONS) {
    for (const [how, chunks] of chunkings(violation.wire)) {
      test(`FrameParser rejects ${violation.rule} with ${violation.closeCode} (${how})`, () => {
        const options = violation.maxPayload === undefined
          ? {}
          : { maxPayload: violation.maxPayload };
        assert.throws(
          () => parseAll(chunks, violation.role, options),
          (error: unknown) =>
            error instanceof WebSocketProtocolError &&
            error.code === violation.code &&
            error.closeCode === violation.closeCode,
        );
      });
    }
  }

  test("FrameParser rejects a header as soon as its first two bytes break a rule", () => {
    const parser = new FrameParser({ role: "server" });
    parser.push(hex("83"));
    assert.equal(parser.next(), null);
    parser.push(hex("85"));
    assert.throws(() => parser.next(), WebSocketProtocolError);
  });

  test("FrameParser allocates nothing for a 2^40-byte announcement until its bytes arrive", () => {
    const parser = new FrameParser({
      role: "server",
      maxPayload: Number.MAX_SAFE_INTEGER,
    });
    parser.push(hex("82 ff 00 00 01 00 00 00 00 00 37 fa 21 3d"));
    assert.equal(parser.next(), null);
    assert.equal(parser.partialFrame()!.received.length, 0);
    parser.push(new Uint8Array(10));
    assert.equal(parser.next(), null);
    const { received } = parser.partialFrame()!;
    assert.equal(received.length, 10);
    assert.ok(received.buffer.byteLength <= 4096, "buffer sized by arrival");
  });

  test("FrameParser holds at most 8 times the payload bytes that arrived, and a 1 MiB frame in 64 KiB reads whole", () => {
    const parser = new FrameParser({
      role: "server",
      maxPayload: Number.MAX_SAFE_INTEGER,
    });
    parser.push(hex("82 ff 00 00 00 01 00 00 00 00 00 00 00 00"));
    assert.equal(parser.next(), null);
    for (const arrived of [10_000, 100_000, 1_000_000]) {
      const total = parser.partialFrame()!.received.length;
      parser.push(new Uint8Array(arrived - total));
      assert.equal(parser.next(), null);
      const { received } = parser.partialFrame()!;
      assert.equal(received.length, arrived);
      assert.ok(
        received.buffer.byteLength <= 8 * arrived,
        `${received.buffer.byteLength} bytes held for ${arrived} received`,
      );
    }
    const payload = new Uint8Array(1024 * 1024).map((_, i) => i * 7);
    const wire = encodeClientFrame({ opcode: 2, payload });
    const reads = new FrameParser({ role: "server" });
    let frame = null;
    for (let at = 0; at < wire.length; at += 65536) {
      reads.push(wire.slice(at, at + 65536));
      frame = reads.next() ?? frame;
    }
    assert.deepEqual(frame!.payload, payload);
  });

  test("FrameParser.payloadTarget lets reads land in the payload of a masked frame, in pieces, with the same result", () => {
    const payload = new Uint8Array(300_000).map((_, i) => (i * 31) >> 3);
    const wire = encodeClientFrame({ opcode: 2, payload });
    const parser = new FrameParser({ role: "server" });
    assert.equal(parser.payloadTarget(1), null, "not inside a payload");
    let at = 70_000;
    parser.push(wire.slice(0, at));
    assert.equal(parser.next(), null);
    assert.equal(parser.payloadTarget(100_000), null, "too little received");
    let reads = 0;
    while (at < wire.length) {
      const target = parser.payloadTarget(16_384);
      if (target === null) {
        parser.push(wire.slice(at));
        at = wire.length;
      } else {
        // A short read: fill part of the target, as a socket read would.
        const n = Math.min(target.length, 40_000, wire.length - at);
        target.set(wire.subarray(at, at + n));
        parser.push(target.subarray(0, n));
        at += n;
        reads++;
      }
      const frame = parser.next();
      if (frame !== null) {
        assert.equal(at, wire.length);
        assert.deepEqual(frame.payload, payload);
      }
    }
    assert.ok(reads >= 5, `${reads} reads went into the payload`);
  });

  test("FrameParser.payloadTarget is null while pushed bytes wait, and a copied chunk still works", () => {
    const payload = new Uint8Array(200_000).fill(7);
    const wire = encodeClientFrame({ opcode: 2, payload });
    const parser = new FrameParser({ role: "server" });
    parser.push(wire.slice(0, 100_000));
    parser.push(wire.slice(100_000, 120_000));
    assert.equal(parser.payloadTarget(16_384), null, "a chunk is queued");
    assert.equal(parser.next(), null);
    const target = parser.payloadTarget(16_384);
    assert.ok(target !== null);
    // Ignore the target: push an ordinary chunk instead.
    parser.push(wire.slice(120_000));
    assert.deepEqual(parser.next()!.payload, payload);
  });

  test("FrameParser accepts RSV bits that a negotiated extension allows", () => {
    const wire = encodeClientFrame({ opcode: 1, rsv: 4, payload: "x" });
    const [frame] = parseAll([wire], "server", { allowedRsv: 4 });
    assert.equal(frame!.rsv, 4);
  });

  test("FrameParser returns a frame at exactly maxPayload", () => {
    const wire = encodeClientFrame({ opcode: 2, payload: new Uint8Array(300) });
    const [frame] = parseAll([wire], "server", { maxPayload: 300 });
    assert.equal(frame!.payload.length, 300);
  });

  test("FrameParser parses every frame of a chunk in one pass, as views into the chunk", () => {
    const one = encodeClientFrame({ opcode: 1, payload: "a" });
    const wire = new Uint8Array(one.length * 200);
    for (let i = 0; i < 200; i++) wire.set(one, i * one.length);
    const parser = new FrameParser({ role: "server" });
    parser.push(wire);
    let count = 0;
    for (let frame; (frame = parser.next()) !== null;) {
      assert.equal(frame.payload.buffer, wire.buffer);
      count++;
    }
    assert.equal(count, 200);
  });

  test("FrameParser rejects a negative or fractional maxPayload with RangeError", () => {
    assert.throws(
      () => new FrameParser({ role: "server", maxPayload: -1 }),
      RangeError,
    );
    assert.throws(
      () => new FrameParser({ role: "server", maxPayload: 1.5 }),
      RangeError,
    );
  });

  test("FrameParser raises only documented errors on arbitrary bytes (seeded fuzz)", () => {
    let seed = 42;
    const next = () =>
      (seed = (seed * 1103515245 + 12345) >>> 0) / 0x1_0000_0000;
    for (let round = 0; round < 2000; round++) {
      const bytes = new Uint8Array(1 + Math.floor(next() * 64)).map(() =>
        Math.floor(next() * 256)
      );
      for (const role of ["server", "client"] as const) {
        const parser = new FrameParser({ role, maxPayload: 1 << 20 });
        try {
          parser.push(bytes.slice());
          while (parser.next() !== null) { /* drain */ }
        } catch (error) {
          assert.ok(
            error instanceof WebSocketProtocolError,
            `round ${round}: ${error}`,
          );
          assert.ok([1002, 1009].includes(error.closeCode));
        }
      }
    }
  });
});

describe("FrameParser decodeAscii", () => {
  const decoder = new TextDecoder();
  const calls: [number, number][] = [];
  const decodeAscii = (bytes: Uint8Array, start: number, end: number) => {
    calls.push([start, end]);
    return decoder.decode(bytes.subarray(start, end));
  };
  const parse = (wire: Uint8Array, role: Role = "server"): Frame[] => {
    const parser = new FrameParser({ role, decodeAscii });
    parser.push(wire);
    const frames: Frame[] = [];
    for (let frame; (frame = parser.next()) !== null;) frames.push(frame);
    return frames;
  };
  const concat = (...parts: Uint8Array[]): Uint8Array => {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const part of parts) out.set(part, (at += part.length) - part.length);
    return out;
  };

  // Payload lengths around the 4-byte unmasking loop and its tail.
  for (const text of ["", "a", "ab", "abc", "abcd", "Hello", "x".repeat(256)]) {
    test(`FrameParser decodes a whole masked ASCII text frame of ${text.length} bytes with decodeAscii`, () => {
      calls.length = 0;
      const frames = parse(
        concat(
          encodeClientFrame({ opcode: 2, payload: "bin" }),
          encodeClientFrame({ opcode: 1, payload: text }),
        ),
      );
      assert.equal(frames.length, 2);
      assert.equal(frames[1]!.text, text);
      assert.equal(frames[1]!.payload.length, 0);
      assert.equal(frames[1]!.opcode, 1);
      assert.equal(frames[1]!.fin, true);
      assert.equal(frames[0]!.text, undefined); // Binary keeps its payload.
      assert.deepEqual(calls.length, 1);
    });
  }

  test("FrameParser decodes an unmasked ASCII text frame as a client with decodeAscii", () => {
    const frames = parse(
      encodeClientFrame({ opcode: 1, payload: "Hi there", mask: null }),
      "client",
    );
    assert.equal(frames[0]!.text, "Hi there");
  });

  const payloadCases: [string, TestFrameLike][] = [
    ["non-ASCII text", { opcode: 1, payload: "héllo wörld" }],
    ["a text frame without FIN", { opcode: 1, payload: "part", fin: false }],
    ["text over 256 bytes", { opcode: 1, payload: "y".repeat(257) }],
    ["text with an RSV bit", { opcode: 1, payload: "abc", rsv: 4 }],
    ["a continuation frame", { opcode: 0, payload: "abc" }],
  ];
  for (const [name, frame] of payloadCases) {
    test(`FrameParser keeps the unmasked payload of ${name} with decodeAscii`, () => {
      const parser = new FrameParser({
        role: "server",
        decodeAscii,
        allowedRsv: 4,
      });
      parser.push(encodeClientFrame(frame));
      const parsed = parser.next()!;
      assert.equal(parsed.text, undefined);
      assert.equal(decoder.decode(parsed.payload), frame.payload);
    });
  }

  test("FrameParser keeps the payload of a text frame split across chunks with decodeAscii", () => {
    const wire = encodeClientFrame({ opcode: 1, payload: "split me" });
    const parser = new FrameParser({ role: "server", decodeAscii });
    parser.push(wire.slice(0, 9));
    assert.equal(parser.next(), null);
    parser.push(wire.slice(9));
    const frame = parser.next()!;
    assert.equal(frame.text, undefined);
    assert.equal(decoder.decode(frame.payload), "split me");
  });
});

type TestFrameLike = {
  opcode: number;
  payload: string;
  fin?: boolean;
  rsv?: number;
};
