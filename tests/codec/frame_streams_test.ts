import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { WebSocketProtocolError } from "../../lib/core/errors.ts";
import type { Frame, Role } from "../../lib/core/frame.ts";
import {
  FrameDecoderStream,
  type FrameDecoderStreamOptions,
  FrameEncoderStream,
} from "../../lib/codec/frame_streams.ts";
import {
  chunkings,
  concat,
  createRandom,
  frame,
  hex,
  randomChunks,
} from "../_test_utils.ts";

/** Decodes `chunks` through a FrameDecoderStream into plain frame objects. */
async function decode(
  chunks: Uint8Array[],
  options: FrameDecoderStreamOptions,
): Promise<Frame[]> {
  const frames = await Array.fromAsync(
    ReadableStream.from(chunks).pipeThrough(new FrameDecoderStream(options)),
  );
  // Copy payloads: they may be views into the input chunks.
  return frames.map((decoded) => ({
    ...decoded,
    payload: decoded.payload.slice(),
  }));
}

interface DecodeCase {
  name: string;
  role: Role;
  wire: Uint8Array;
  frames: Frame[];
}

const RANDOM_256 = createRandom(256).bytes(256);
const RANDOM_64K = createRandom(65536).bytes(65536);

// RFC 6455 §5.7 examples.
const RFC_EXAMPLES: readonly DecodeCase[] = [
  {
    name: 'a masked "Hello" as server',
    role: "server",
    wire: hex("81 85 37 fa 21 3d 7f 9f 4d 51 58"),
    frames: [frame(0x1, "Hello")],
  },
  {
    name: 'a masked pong "Hello" as server',
    role: "server",
    wire: hex("8a 85 37 fa 21 3d 7f 9f 4d 51 58"),
    frames: [frame(0xa, "Hello")],
  },
  {
    name: 'an unmasked "Hello" as client',
    role: "client",
    wire: hex("81 05 48 65 6c 6c 6f"),
    frames: [frame(0x1, "Hello")],
  },
  {
    name: 'a fragmented unmasked "Hel" + "lo" as client',
    role: "client",
    wire: hex("01 03 48 65 6c 80 02 6c 6f"),
    frames: [frame(0x1, "Hel", false), frame(0x0, "lo")],
  },
  {
    name: 'an unmasked ping "Hello" as client',
    role: "client",
    wire: hex("89 05 48 65 6c 6c 6f"),
    frames: [frame(0x9, "Hello")],
  },
  {
    name: "a 256-byte unmasked binary message as client",
    role: "client",
    wire: concat([hex("82 7e 01 00"), RANDOM_256]),
    frames: [frame(0x2, RANDOM_256)],
  },
  {
    name: "a 64 KiB unmasked binary message as client",
    role: "client",
    wire: concat([hex("82 7f 00 00 00 00 00 01 00 00"), RANDOM_64K]),
    frames: [frame(0x2, RANDOM_64K)],
  },
];

describe("FrameDecoderStream", () => {
  for (const { name, role, wire, frames } of RFC_EXAMPLES) {
    for (const [chunking, chunks] of chunkings(wire)) {
      // 65,536 one-byte stream chunks add nothing over 256 of them.
      if (chunking === "1-byte" && wire.length > 1000) continue;
      test(`FrameDecoderStream decodes ${name} (RFC 6455 §5.7), ${chunking}`, async () => {
        assert.deepEqual(await decode(chunks, { role }), frames);
      });
    }
  }

  test("FrameDecoderStream decodes several frames in one chunk and empty chunks", async () => {
    const wire = hex("01 03 48 65 6c 89 00 80 02 6c 6f");
    const frames = await decode(
      [new Uint8Array(0), wire, new Uint8Array(0)],
      { role: "client" },
    );
    assert.deepEqual(frames, [
      frame(0x1, "Hel", false),
      frame(0x9, ""),
      frame(0x0, "lo"),
    ]);
  });

  const ERRORS: readonly {
    name: string;
    options: FrameDecoderStreamOptions;
    wire: string;
    code: string;
    closeCode: number;
  }[] = [
    {
      name: "a reserved opcode 3",
      options: { role: "server" },
      wire: "83 80 37 fa 21 3d",
      code: "WS_ERR_RESERVED_OPCODE",
      closeCode: 1002,
    },
    {
      name: "a reserved control opcode 0xB",
      options: { role: "client" },
      wire: "8b 00",
      code: "WS_ERR_RESERVED_OPCODE",
      closeCode: 1002,
    },
    {
      name: "a frame over maxPayload",
      options: { role: "client", maxPayload: 4 },
      wire: "82 05 01 02 03 04 05",
      code: "WS_ERR_FRAME_TOO_BIG",
      closeCode: 1009,
    },
    {
      name: "a 64-bit length over maxPayload, before its payload arrives",
      options: { role: "server", maxPayload: 65535 },
      wire: "82 ff 00 00 00 00 00 01 00 00 37 fa 21 3d",
      code: "WS_ERR_FRAME_TOO_BIG",
      closeCode: 1009,
    },
    {
      name: "an unmasked frame as server",
      options: { role: "server" },
      wire: "81 05 48 65 6c 6c 6f",
      code: "WS_ERR_EXPECTED_MASK",
      closeCode: 1002,
    },
  ];
  for (const { name, options, wire, code, closeCode } of ERRORS) {
    for (const [chunking, chunks] of chunkings(hex(wire))) {
      test(`FrameDecoderStream errors with ${closeCode} for ${name}, ${chunking}`, async () => {
        await assert.rejects(
          decode(chunks, options),
          (error: unknown) => {
            assert.ok(error instanceof WebSocketProtocolError);
            assert.equal(error.code, code);
            assert.equal(error.closeCode, closeCode);
            return true;
          },
        );
      });
    }
  }

  const TRUNCATED: readonly [string, string][] = [
    ["inside the payload", "81 85 37 fa 21 3d 7f 9f"],
    ["right after the header", "81 85 37 fa 21 3d"],
    ["inside the masking key", "81 85 37 fa"],
    ["inside the extended length", "82 fe 01"],
    ["after the first header byte", "81"],
  ];
  for (const [where, wire] of TRUNCATED) {
    test(`FrameDecoderStream errors at flush when the stream ends ${where}`, async () => {
      await assert.rejects(
        decode([hex(wire)], { role: "server" }),
        SyntaxError,
      );
    });
  }

  test("FrameDecoderStream emits the complete frames before a truncated one errors", async () => {
    const readable = ReadableStream.from([
      hex("81 85 37 fa 21 3d 7f 9f 4d 51 58 81 85 37 fa 21 3d 7f"),
    ])
      .pipeThrough(new FrameDecoderStream({ role: "server" }));
    const reader = readable.getReader();
    const first = await reader.read();
    assert.equal(first.done, false);
    assert.equal(new TextDecoder().decode(first.value!.payload), "Hello");
    await assert.rejects(reader.read(), SyntaxError);
  });

  test("FrameDecoderStream throws RangeError for a negative maxPayload", () => {
    assert.throws(
      () => new FrameDecoderStream({ role: "server", maxPayload: -1 }),
      RangeError,
    );
  });
});

/** Re-chunks a byte stream at seeded random boundaries. */
function rechunk(seed: number): TransformStream<Uint8Array, Uint8Array> {
  const random = createRandom(seed);
  return new TransformStream({
    transform(chunk, controller) {
      // Tiny pieces only for small frames, to keep stream overhead low.
      const maxChunk = chunk.length <= 200
        ? random.pick([1, 7, 1000])
        : random.pick([100, 5000, 100_000]);
      for (const piece of randomChunks(chunk, random, maxChunk)) {
        controller.enqueue(piece);
      }
    },
  });
}

describe("FrameEncoderStream", () => {
  const random = createRandom(0x57e4);
  const FRAMES: readonly Frame[] = [
    frame(0x1, "Hello"),
    frame(0x1, "Hel", false),
    frame(0x9, "ping"),
    frame(0x0, "lo"),
    frame(0x2, new Uint8Array(0)),
    frame(0x2, random.bytes(125)),
    frame(0x2, random.bytes(126), false),
    frame(0x0, random.bytes(65535), false),
    frame(0x0, random.bytes(65536)),
    frame(0x1, "κόσμε \u{1F600}"),
    frame(0xa, random.bytes(125)),
    frame(0x2, random.bytes(70_000)),
    frame(0x8, hex("03 e8 62 79 65")),
  ];

  for (
    const [encoderRole, decoderRole] of [
      ["client", "server"],
      ["server", "client"],
    ] as const
  ) {
    test(`FrameEncoderStream as ${encoderRole} round-trips through FrameDecoderStream as ${decoderRole}`, async () => {
      const decoded = await Array.fromAsync(
        ReadableStream.from(FRAMES)
          .pipeThrough(new FrameEncoderStream({ role: encoderRole }))
          .pipeThrough(rechunk(encoderRole === "client" ? 1 : 2))
          .pipeThrough(new FrameDecoderStream({ role: decoderRole })),
      );
      assert.equal(decoded.length, FRAMES.length);
      for (let i = 0; i < FRAMES.length; i++) {
        assert.deepEqual(
          { ...decoded[i]!, payload: decoded[i]!.payload.slice() },
          FRAMES[i],
          `frame ${i}`,
        );
      }
    });
  }

  test("FrameEncoderStream emits one chunk per frame, masked as client", async () => {
    const chunks = await Array.fromAsync(
      ReadableStream.from([frame(0x1, "Hello"), frame(0x9, "")])
        .pipeThrough(new FrameEncoderStream({ role: "client" })),
    );
    assert.equal(chunks.length, 2);
    assert.equal(chunks[0]!.length, 11);
    assert.equal(chunks[0]![1], 0x85);
    assert.equal(chunks[1]!.length, 6);
    assert.equal(chunks[1]![1], 0x80);
  });

  test("FrameEncoderStream errors with RangeError for a ping longer than 125 bytes", async () => {
    await assert.rejects(
      Array.fromAsync(
        ReadableStream.from([frame(0x9, new Uint8Array(126))])
          .pipeThrough(new FrameEncoderStream({ role: "server" })),
      ),
      RangeError,
    );
  });
});
