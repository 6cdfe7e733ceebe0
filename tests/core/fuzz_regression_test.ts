/**
 * Regression fixtures from `bench/fuzz.ts` (`deno task fuzz`): wire bytes
 * in hex and the documented outcome, each fed whole and in 1-byte chunks.
 * Masked frames use the key 00000000 so that their payloads read as is.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { WebSocketProtocolError } from "../../lib/core/errors.ts";
import { FrameParser } from "../../lib/core/frame_parser.ts";
import type { Role } from "../../lib/core/frame.ts";
import { Protocol, type ProtocolEvent } from "../../lib/core/protocol.ts";
import { PerMessageDeflate } from "../../lib/extensions/permessage_deflate.ts";
import { concat, hex } from "../_test_utils.ts";

const PARAMS = {
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};

/**
 * 1 MiB of zeros, deflated (RFC 7692 §7.2.1, trailer removed): 1,033 bytes,
 * mostly a run of zero bytes.
 */
const BOMB_1MIB = concat([
  hex("ec c1 31 01 00 00 00 c2 a0 f5 4f 6d 08 5f a0"),
  new Uint8Array(1016),
  hex("3e 03"),
]);

/** The two ways every fixture is fed. */
function chunkings(bytes: Uint8Array): [string, Uint8Array[]][] {
  return [
    ["whole", [bytes.slice()]],
    ["1-byte", Array.from(bytes, (byte) => Uint8Array.of(byte))],
  ];
}

function describeEvent(event: ProtocolEvent): string {
  switch (event.type) {
    case "text":
      return `text ${event.data}`;
    case "close":
      return `close ${event.code} ${event.reason}`;
    default:
      return `${event.type} ${event.data.length}`;
  }
}

interface ProtocolFixture {
  name: string;
  role: Role;
  deflate?: boolean;
  maxMessageSize?: number;
  wire: Uint8Array;
  /** The error code, or `null`; by chunking when chunk boundaries decide it. */
  error: string | null | { whole: string; "1-byte": string };
  events: string[];
}

const PROTOCOL_FIXTURES: ProtocolFixture[] = [
  {
    // Found by the fuzzer: in small chunks the new frame's bytes were
    // UTF-8-checked as if they continued the open message, failing with
    // 1007 instead of 1002.
    name:
      "a new text frame inside a fragmented text message fails with 1002 however it is split",
    role: "server",
    wire: hex("01 82 00000000 e2 82  81 82 00000000 41 41"),
    error: "WS_ERR_EXPECTED_CONTINUATION",
    events: [],
  },
  {
    // Found by the fuzzer: a continuation with RSV1 (allowed by the parser
    // once permessage-deflate is on) was UTF-8-checked before it completed.
    name:
      "a continuation frame with RSV1 inside a text message fails with 1002 however it is split",
    role: "server",
    deflate: true,
    wire: hex("01 82 00000000 61 62  c0 82 00000000 ff ff"),
    error: "WS_ERR_UNEXPECTED_RSV",
    events: [],
  },
  {
    name:
      "a 1 KB message that inflates to 1 MiB fails with 1009 at a 64 KiB limit",
    role: "server",
    deflate: true,
    maxMessageSize: 65536,
    wire: concat([hex("c2 fe 04 09 00000000"), BOMB_1MIB]),
    error: "WS_ERR_MESSAGE_TOO_BIG",
    events: [],
  },
  {
    name:
      "a deflate bomb split into fragments with pings between fails with 1009",
    role: "client",
    deflate: true,
    maxMessageSize: 1000,
    wire: concat([
      hex("42 7e 01 f4"),
      BOMB_1MIB.subarray(0, 500),
      hex("89 01 70"),
      hex("00 7e 02 15"),
      BOMB_1MIB.subarray(500),
      hex("80 00"),
    ]),
    error: "WS_ERR_MESSAGE_TOO_BIG",
    events: ["ping 1"],
  },
  {
    // Chunk boundaries decide which rule is seen first (RFC 6455 §8.1 lets
    // invalid UTF-8 fail fast): both are documented.
    name: "a text fragment that is both over the limit and invalid UTF-8",
    role: "client",
    maxMessageSize: 10,
    wire: hex("01 06 68 65 6c 6c 6f 20  80 06 ff 77 6f 72 6c 64"),
    error: { whole: "WS_ERR_MESSAGE_TOO_BIG", "1-byte": "WS_ERR_INVALID_UTF8" },
    events: [],
  },
  {
    // The fuzzer's drain order: a close frame after a message of the same
    // chunk takes effect at dataToSend(), and only then is its event read.
    name:
      "a close frame after a message reports both events once dataToSend() ran",
    role: "client",
    wire: hex("81 02 68 69  88 04 03 e8 6f 6b"),
    error: null,
    events: ["text hi", "close 1000 ok"],
  },
  {
    name:
      "a ping with a 16-bit length encoding of 5 fails as a control frame over 125 bytes",
    role: "client",
    wire: hex("89 7e 00 05 68 65 6c 6c 6f"),
    error: "WS_ERR_CONTROL_FRAME_TOO_LONG",
    events: [],
  },
  {
    name: "a close frame with code 1005 on the wire fails with 1002",
    role: "server",
    wire: hex("88 82 00000000 03 ed"),
    error: "WS_ERR_INVALID_CLOSE_CODE",
    events: [],
  },
];

function runProtocol(fixture: ProtocolFixture, chunks: Uint8Array[]) {
  const deflate = fixture.deflate === true
    ? new PerMessageDeflate({ role: fixture.role, params: PARAMS })
    : null;
  const protocol = new Protocol({
    role: fixture.role,
    ...(fixture.maxMessageSize === undefined
      ? {}
      : { maxMessageSize: fixture.maxMessageSize }),
    ...(deflate === null ? {} : { extensions: [deflate] }),
  });
  const events: string[] = [];
  const written: Uint8Array[] = [];
  try {
    for (const chunk of chunks) {
      protocol.receiveData(chunk);
      events.push(...protocol.eventsReceived().map(describeEvent));
      const bytes = protocol.dataToSend();
      if (bytes !== null) written.push(bytes.slice());
      events.push(...protocol.eventsReceived().map(describeEvent));
    }
  } finally {
    deflate?.close();
  }
  return { protocol, events, written: concat(written) };
}

describe("Protocol fuzz regressions", () => {
  for (const fixture of PROTOCOL_FIXTURES) {
    for (const [how, chunks] of chunkings(fixture.wire)) {
      test(`${fixture.name} (${fixture.role}, ${how})`, () => {
        const { protocol, events, written } = runProtocol(fixture, chunks);
        const error =
          typeof fixture.error === "object" && fixture.error !== null
            ? fixture.error[how as "whole" | "1-byte"]
            : fixture.error;
        assert.equal(protocol.error?.code ?? null, error);
        assert.deepEqual(events, fixture.events);
        if (protocol.error !== null) {
          assert.equal(protocol.state, "CLOSED");
          // The close frame we wrote carries the error's close code.
          const peer = new FrameParser({
            role: fixture.role === "server" ? "client" : "server",
          });
          peer.push(written);
          let close = null;
          for (let frame; (frame = peer.next()) !== null;) {
            if (frame.opcode === 8) close = frame;
          }
          assert.ok(close !== null);
          assert.equal(
            (close.payload[0]! << 8) | close.payload[1]!,
            protocol.error.closeCode,
          );
        }
      });
    }
  }

  test("the bomb fixture inflates to 1 MiB without a limit", () => {
    const deflate = new PerMessageDeflate({ role: "server", params: PARAMS });
    try {
      const out = deflate.decodeMessage(BOMB_1MIB, 4, 2 << 20);
      assert.equal(out.length, 1 << 20);
      assert.ok(out.every((byte) => byte === 0));
    } finally {
      deflate.close();
    }
  });
});

interface ParserFixture {
  name: string;
  role: Role;
  allowedRsv?: number;
  wire: Uint8Array;
  /** The frames parsed, as `opcode:payload hex`, before any error. */
  frames: string[];
  error: string | null;
}

const PARSER_FIXTURES: ParserFixture[] = [
  {
    name: "a 64-bit length with the top bit set fails with 1002",
    role: "client",
    wire: hex("82 7f 80 00 00 00 00 00 00 00"),
    frames: [],
    error: "WS_ERR_INVALID_LENGTH",
  },
  {
    name: "a 64-bit length of 2^53 fails with 1009 before anything is buffered",
    role: "client",
    wire: hex("82 7f 00 20 00 00 00 00 00 00 41"),
    frames: [],
    error: "WS_ERR_FRAME_TOO_BIG",
  },
  {
    name: "a non-minimal 64-bit length of 5 is a frame",
    role: "client",
    wire: hex("82 7f 00 00 00 00 00 00 00 05 68 65 6c 6c 6f"),
    frames: ["2:68656c6c6f"],
    error: null,
  },
  {
    name: "a reserved opcode fails before a wrong mask",
    role: "client",
    wire: hex("81 00 83 80 00000000"),
    frames: ["1:"],
    error: "WS_ERR_RESERVED_OPCODE",
  },
  {
    name: "RSV2 and RSV3 fail when only RSV1 is allowed",
    role: "server",
    allowedRsv: 4,
    wire: hex("c1 80 00000000 f1 80 00000000"),
    frames: ["1:"],
    error: "WS_ERR_UNEXPECTED_RSV",
  },
  {
    name: "a ping with FIN clear fails with 1002",
    role: "server",
    wire: hex("09 80 00000000"),
    frames: [],
    error: "WS_ERR_FRAGMENTED_CONTROL_FRAME",
  },
];

describe("FrameParser fuzz regressions", () => {
  for (const fixture of PARSER_FIXTURES) {
    for (const [how, chunks] of chunkings(fixture.wire)) {
      test(`${fixture.name} (${fixture.role}, ${how})`, () => {
        const parser = new FrameParser({
          role: fixture.role,
          allowedRsv: fixture.allowedRsv ?? 0,
        });
        const frames: string[] = [];
        let error: string | null = null;
        try {
          for (const chunk of chunks) {
            parser.push(chunk);
            for (let frame; (frame = parser.next()) !== null;) {
              const payload = Array.from(
                frame.payload,
                (byte) => byte.toString(16).padStart(2, "0"),
              ).join("");
              frames.push(`${frame.opcode}:${payload}`);
            }
          }
        } catch (caught) {
          assert.ok(caught instanceof WebSocketProtocolError);
          error = caught.code;
        }
        assert.deepEqual(frames, fixture.frames);
        assert.equal(error, fixture.error);
      });
    }
  }

  test("FrameParser holds at most 4 KiB for 100 bytes of a frame announcing 64 MiB", () => {
    for (
      const [how, chunks] of chunkings(
        concat([hex("82 7f 00 00 00 00 03 ff ff ff"), new Uint8Array(100)]),
      )
    ) {
      const parser = new FrameParser({ role: "client" });
      for (const chunk of chunks) {
        parser.push(chunk);
        assert.equal(parser.next(), null);
      }
      const partial = parser.partialFrame();
      assert.equal(partial?.received.length, 100, how);
      assert.ok(partial.received.buffer.byteLength <= 4096, how);
    }
  });
});
