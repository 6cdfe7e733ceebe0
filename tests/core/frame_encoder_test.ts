import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Frame } from "../../lib/core/frame.ts";
import { FrameEncoder } from "../../lib/core/frame_encoder.ts";
import { FrameParser } from "../../lib/core/frame_parser.ts";
import {
  createRandom,
  encodeClientFrame,
  encodeServerFrame,
  frame,
  hex,
  toHex,
} from "../_test_utils.ts";

const encoder = new TextEncoder();

/** Parses all frames from `bytes` with a parser of the given role. */
function parseAll(bytes: Uint8Array, role: "server" | "client"): Frame[] {
  const parser = new FrameParser({ role, allowedRsv: 0b111 });
  parser.push(bytes.slice());
  const frames: Frame[] = [];
  for (let next; (next = parser.next()) !== null;) frames.push(next);
  return frames;
}

interface WireCase {
  name: string;
  frame: Frame;
  /** The whole frame in hex, or just its header when `headerOnly`. */
  wire: string;
  headerOnly?: boolean;
}

// RFC 6455 §5.7 examples, server role (unmasked).
const RFC_EXAMPLES: readonly WireCase[] = [
  {
    name: 'a single-frame unmasked text message "Hello"',
    frame: frame(0x1, "Hello"),
    wire: "81 05 48 65 6c 6c 6f",
  },
  {
    name: 'the first fragment "Hel" of a fragmented text message',
    frame: frame(0x1, "Hel", false),
    wire: "01 03 48 65 6c",
  },
  {
    name: 'the last fragment "lo" of a fragmented text message',
    frame: frame(0x0, "lo"),
    wire: "80 02 6c 6f",
  },
  {
    name: 'an unmasked ping "Hello"',
    frame: frame(0x9, "Hello"),
    wire: "89 05 48 65 6c 6c 6f",
  },
  {
    name: 'an unmasked pong "Hello"',
    frame: frame(0xa, "Hello"),
    wire: "8a 05 48 65 6c 6c 6f",
  },
  {
    name: "a 256-byte binary message with a 16-bit length",
    frame: frame(0x2, new Uint8Array(256)),
    wire: "82 7e 01 00",
    headerOnly: true,
  },
  {
    name: "a 64 KiB binary message with a 64-bit length",
    frame: frame(0x2, new Uint8Array(65536)),
    wire: "82 7f 00 00 00 00 00 01 00 00",
    headerOnly: true,
  },
];

describe("FrameEncoder RFC 6455 §5.7 examples", () => {
  for (const { name, frame, wire, headerOnly } of RFC_EXAMPLES) {
    test(`FrameEncoder as server encodes ${name}`, () => {
      const bytes = new FrameEncoder({ role: "server" }).encode(frame);
      const header = hex(wire);
      if (headerOnly) {
        assert.equal(bytes.length, header.length + frame.payload.length);
        assert.equal(toHex(bytes.subarray(0, header.length)), toHex(header));
        assert.deepEqual(bytes.subarray(header.length), frame.payload);
      } else {
        assert.equal(toHex(bytes), toHex(header));
      }
    });
  }
});

describe("FrameEncoder header fields", () => {
  const LENGTHS: readonly [number, string][] = [
    [0, "82 00"],
    [1, "82 01"],
    [125, "82 7d"],
    [126, "82 7e 00 7e"],
    [127, "82 7e 00 7f"],
    [65535, "82 7e ff ff"],
    [65536, "82 7f 00 00 00 00 00 01 00 00"],
    [70000, "82 7f 00 00 00 00 00 01 11 70"],
  ];
  for (const [length, header] of LENGTHS) {
    test(`FrameEncoder encodes a ${length}-byte payload with header ${header}`, () => {
      const payload = createRandom(length).bytes(length);
      const bytes = new FrameEncoder({ role: "server" }).encode(
        frame(0x2, payload),
      );
      const expected = hex(header);
      assert.equal(toHex(bytes.subarray(0, expected.length)), header);
      assert.equal(bytes.length, expected.length + length);
      assert.deepEqual(bytes.subarray(expected.length), payload);
    });

    test(`FrameEncoder as client encodes a ${length}-byte payload with a masked header`, () => {
      const payload = createRandom(length).bytes(length);
      const bytes = new FrameEncoder({ role: "client" }).encode(
        frame(0x2, payload),
      );
      const expected = hex(header);
      expected[1] = expected[1]! | 0x80;
      assert.equal(toHex(bytes.subarray(0, expected.length)), toHex(expected));
      assert.equal(bytes.length, expected.length + 4 + length);
    });
  }

  test("FrameEncoder sets FIN, RSV bits and opcode in the first byte", () => {
    const server = new FrameEncoder({ role: "server" });
    const empty = new Uint8Array(0);
    assert.equal(server.encode(frame(0x1, empty, true, 0b100))[0], 0xc1);
    assert.equal(server.encode(frame(0x2, empty, false, 0b010))[0], 0x22);
    assert.equal(server.encode(frame(0x0, empty, false, 0b001))[0], 0x10);
    assert.equal(server.encode(frame(0x0, empty, true, 0b111))[0], 0xf0);
    assert.equal(server.encode(frame(0x8, empty))[0], 0x88);
    assert.equal(server.encode(frame(0xf, empty))[0], 0x8f);
  });

  test("FrameEncoder encodes a control frame of exactly 125 bytes", () => {
    const payload = new Uint8Array(125).fill(0x61);
    const bytes = new FrameEncoder({ role: "server" }).encode(
      frame(0x9, payload),
    );
    assert.equal(toHex(bytes.subarray(0, 2)), "89 7d");
    assert.equal(bytes.length, 127);
  });
});

describe("FrameEncoder client role", () => {
  test("FrameEncoder as client sets the mask bit and masks Hello with the 4-byte key it sends", () => {
    const bytes = new FrameEncoder({ role: "client" }).encode(
      frame(0x1, "Hello"),
    );
    assert.equal(bytes.length, 2 + 4 + 5);
    assert.equal(bytes[0], 0x81);
    assert.equal(bytes[1], 0x85);
    const key = bytes.subarray(2, 6);
    const unmasked = bytes.subarray(6).map((byte, i) => byte ^ key[i & 3]!);
    assert.equal(new TextDecoder().decode(unmasked), "Hello");
  });

  test("FrameEncoder as client output round-trips through a server-role FrameParser", () => {
    const random = createRandom(0xc11e);
    const client = new FrameEncoder({ role: "client" });
    const frames: Frame[] = [
      frame(0x1, "Hello"),
      frame(0x1, "Hel", false),
      frame(0x0, "lo"),
      frame(0x9, "Hello"),
      frame(0xa, new Uint8Array(0)),
      frame(0x8, hex("03 e8 62 79 65")),
      frame(0x2, random.bytes(125)),
      frame(0x2, random.bytes(126)),
      frame(0x2, random.bytes(65535)),
      frame(0x2, random.bytes(65536), false),
      frame(0x0, random.bytes(70001), true),
      frame(0x1, "κόσμε \u{1F600}", true, 0b100),
    ];
    for (const original of frames) {
      const parsed = parseAll(client.encode(original), "server");
      assert.equal(parsed.length, 1);
      assert.deepEqual({ ...parsed[0]!, payload: parsed[0]!.payload.slice() }, {
        ...original,
        payload: original.payload,
      });
    }
  });

  test("FrameEncoder as server output round-trips through a client-role FrameParser", () => {
    const random = createRandom(0x5e4e);
    const server = new FrameEncoder({ role: "server" });
    for (const length of [0, 5, 125, 126, 65535, 65536, 70001]) {
      const original = frame(0x2, random.bytes(length));
      const parsed = parseAll(server.encode(original), "client");
      assert.equal(parsed.length, 1);
      assert.deepEqual(parsed[0]!.payload, original.payload);
    }
  });

  test("FrameEncoder as client uses a different key for each frame", () => {
    const client = new FrameEncoder({ role: "client" });
    const hello = frame(0x1, "Hello");
    const first = client.encode(hello);
    const second = client.encode(hello);
    assert.notEqual(toHex(first.subarray(2, 6)), toHex(second.subarray(2, 6)));
    assert.notEqual(toHex(first.subarray(6)), toHex(second.subarray(6)));
  });

  test("FrameEncoder as client keeps drawing fresh keys past its 4 KiB key pool", () => {
    const client = new FrameEncoder({ role: "client" });
    const empty = frame(0x2, new Uint8Array(0));
    let previous = "";
    const seen = new Set<string>();
    for (let i = 0; i < 2_500; i++) {
      const key = toHex(client.encode(empty).subarray(2, 6));
      assert.notEqual(
        key,
        previous,
        `frame ${i} reused the key of frame ${i - 1}`,
      );
      previous = key;
      seen.add(key);
    }
    // 2,500 random 32-bit keys: a handful of collisions at most.
    assert.ok(seen.size > 2_490, `${seen.size} distinct keys`);
  });

  test("FrameEncoder does not modify the payload it is given", () => {
    const random = createRandom(0xfeed);
    for (const role of ["client", "server"] as const) {
      const encoderOfRole = new FrameEncoder({ role });
      for (const length of [5, 200, 70000]) {
        const buffer = random.bytes(length + 8);
        const original = buffer.slice();
        const payload = buffer.subarray(3, 3 + length);
        encoderOfRole.encode(frame(0x2, payload));
        assert.deepEqual(buffer, original, `${role}, ${length} bytes`);
      }
    }
  });

  test("FrameEncoder returns a new buffer, not a view of the payload", () => {
    const payload = encoder.encode("Hello");
    const bytes = new FrameEncoder({ role: "server" }).encode(
      frame(0x1, payload),
    );
    assert.notEqual(bytes.buffer, payload.buffer);
  });
});

describe("FrameEncoder against the reference encoder", () => {
  test("encodeClientFrame builds the RFC 6455 §5.7 masked Hello", () => {
    assert.equal(
      toHex(encodeClientFrame({ opcode: 0x1, payload: "Hello" })),
      "81 85 37 fa 21 3d 7f 9f 4d 51 58",
    );
  });

  test("FrameEncoder output equals the reference encoder byte for byte, both roles", () => {
    const random = createRandom(0x2ef);
    const server = new FrameEncoder({ role: "server" });
    const client = new FrameEncoder({ role: "client" });
    for (let i = 0; i < 200; i++) {
      const opcode = random.pick([0x0, 0x1, 0x2, 0x8, 0x9, 0xa]);
      const control = opcode >= 0x8;
      const length = control
        ? random.int(126)
        : random.pick([random.int(300), 65535, 65536, random.int(70_000)]);
      const original = frame(
        opcode,
        random.bytes(length),
        control || random.int(2) === 0,
        control ? 0 : random.int(8),
      );
      const where = `frame ${i}: opcode ${opcode}, ${length} bytes`;
      assert.deepEqual(
        server.encode(original),
        encodeServerFrame(original),
        where,
      );
      const masked = client.encode(original);
      const keyOffset = length < 126 ? 2 : length < 0x10000 ? 4 : 10;
      const mask = masked.slice(keyOffset, keyOffset + 4);
      assert.deepEqual(masked, encodeClientFrame({ ...original, mask }), where);
    }
  });
});

describe("FrameEncoder argument checks", () => {
  const INVALID: readonly [string, Frame][] = [
    ["a ping of 126 bytes", frame(0x9, new Uint8Array(126))],
    ["a pong of 126 bytes", frame(0xa, new Uint8Array(126))],
    ["a close frame of 65536 bytes", frame(0x8, new Uint8Array(65536))],
    [
      "a reserved control opcode 0xB of 126 bytes",
      frame(0xb, new Uint8Array(126)),
    ],
    ["a ping with FIN = 0", frame(0x9, new Uint8Array(0), false)],
    ["a close frame with FIN = 0", frame(0x8, hex("03 e8"), false)],
    ["opcode 16", frame(16, new Uint8Array(0))],
    ["opcode -1", frame(-1, new Uint8Array(0))],
    ["RSV 8", frame(0x1, new Uint8Array(0), true, 8)],
    ["RSV -1", frame(0x1, new Uint8Array(0), true, -1)],
    ["opcode NaN", frame(NaN, new Uint8Array(0))],
    ["opcode 1.5", frame(1.5, new Uint8Array(0))],
    ["RSV 0.5", frame(0x1, new Uint8Array(0), true, 0.5)],
  ];
  for (const role of ["server", "client"] as const) {
    for (const [name, invalid] of INVALID) {
      test(`FrameEncoder as ${role} throws RangeError for ${name}`, () => {
        assert.throws(
          () => new FrameEncoder({ role }).encode(invalid),
          RangeError,
        );
      });
    }
  }
});

describe("FrameEncoder.encodeInto", () => {
  test("FrameEncoder.encodeInto writes frames back to back, equal to encode() for both roles", () => {
    const random = createRandom(0x51d);
    for (const role of ["server", "client"] as const) {
      const frameEncoder = new FrameEncoder({ role });
      const frames = Array.from(
        { length: 50 },
        () =>
          frame(
            random.pick([0x1, 0x2, 0x9]),
            random.bytes(random.pick([0, 5, 125, 126, 65535, 65536])),
          ),
      ).map((f) =>
        f.opcode === 0x9 ? frame(0x9, f.payload.subarray(0, 125)) : f
      );
      const total = frames.reduce(
        (sum, f) => sum + frameEncoder.encodedLength(f.payload.length),
        0,
      );
      const buffer = new Uint8Array(total + 3);
      let offset = 3;
      buffer.fill(0xee);
      const buffer2 = buffer.subarray(0, 3).slice();
      for (const f of frames) {
        offset = frameEncoder.encodeInto(f, buffer, offset);
      }
      assert.equal(offset, total + 3);
      assert.deepEqual(
        buffer.subarray(0, 3),
        buffer2,
        "bytes before the offset untouched",
      );
      assert.deepEqual(
        parseAll(buffer.subarray(3), role === "server" ? "client" : "server"),
        frames,
      );
    }
  });

  test("FrameEncoder.encodeInto masks a payload already in place without copying it", () => {
    const client = new FrameEncoder({ role: "client" });
    const buffer = new Uint8Array(client.encodedLength(5));
    const payload = buffer.subarray(client.headerLength(5));
    payload.set(encoder.encode("Hello"));
    assert.equal(client.encodeInto(frame(0x1, payload), buffer, 0), 11);
    const key = buffer.subarray(2, 6);
    const unmasked = buffer.slice(6).map((byte, i) => byte ^ key[i % 4]!);
    assert.deepEqual(unmasked, encoder.encode("Hello"));
    assert.deepEqual(parseAll(buffer, "server"), [frame(0x1, "Hello")]);
  });

  test("FrameEncoder.encodeInto throws RangeError when the frame does not fit", () => {
    const server = new FrameEncoder({ role: "server" });
    assert.throws(
      () => server.encodeInto(frame(0x1, "Hello"), new Uint8Array(6), 0),
      RangeError,
    );
    assert.throws(
      () => server.encodeInto(frame(0x1, "Hello"), new Uint8Array(10), 4),
      RangeError,
    );
  });

  test("FrameEncoder.headerLength grows at 126 and 65536 bytes and with the masking key", () => {
    const server = new FrameEncoder({ role: "server" });
    const client = new FrameEncoder({ role: "client" });
    for (
      const [length, header] of [[0, 2], [125, 2], [126, 4], [65535, 4], [
        65536,
        10,
      ]] as const
    ) {
      assert.equal(server.headerLength(length), header, `server, ${length}`);
      assert.equal(
        client.headerLength(length),
        header + 4,
        `client, ${length}`,
      );
    }
  });
});

describe("FrameEncoder.encodeHeader", () => {
  test("FrameEncoder.encodeHeader equals the header encode() writes, at each length boundary", () => {
    const server = new FrameEncoder({ role: "server" });
    for (const length of [0, 125, 126, 65535, 65536, 70_000]) {
      for (const opcode of [0x1, 0x2] as const) {
        const whole = server.encode(frame(opcode, new Uint8Array(length)));
        assert.deepEqual(
          server.encodeHeader(true, 0, opcode, length),
          whole.subarray(0, server.headerLength(length)),
          `opcode ${opcode}, ${length} bytes`,
        );
      }
    }
  });

  test("FrameEncoder.encodeHeader refuses a client's (masked) header and bad fields", () => {
    assert.throws(
      () => new FrameEncoder({ role: "client" }).encodeHeader(true, 0, 2, 5),
      TypeError,
    );
    const server = new FrameEncoder({ role: "server" });
    assert.throws(() => server.encodeHeader(true, 0, 16, 5), RangeError);
    assert.throws(() => server.encodeHeader(true, 0, 9, 126), RangeError);
  });
});
