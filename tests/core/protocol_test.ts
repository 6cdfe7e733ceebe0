import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { MessageExtension } from "../../lib/core/extension.ts";
import { FrameParser } from "../../lib/core/frame_parser.ts";
import { Protocol, type ProtocolEvent } from "../../lib/core/protocol.ts";
import {
  chunkings,
  concat,
  encodeClientFrame,
  encodeServerFrame,
  hex,
} from "../_test_utils.ts";

function closeFrame(code: number | null, reason: Uint8Array | string = "") {
  const reasonBytes = typeof reason === "string"
    ? new TextEncoder().encode(reason)
    : reason;
  const payload = code === null
    ? new Uint8Array(0)
    : concat([new Uint8Array([code >> 8, code & 0xff]), reasonBytes]);
  return encodeClientFrame({ opcode: 8, payload });
}

function run(
  chunks: Uint8Array[],
  protocol = new Protocol({ role: "server" }),
) {
  const events: ProtocolEvent[] = [];
  const sent: Uint8Array[] = [];
  const pending = protocol.dataToSend();
  if (pending !== null) sent.push(pending);
  for (const chunk of chunks) {
    protocol.receiveData(chunk);
    events.push(...protocol.eventsReceived());
    const bytes = protocol.dataToSend();
    if (bytes !== null) sent.push(bytes);
  }
  const parser = new FrameParser({ role: "client" });
  parser.push(concat(sent));
  const frames = [];
  for (let frame; (frame = parser.next()) !== null;) {
    frames.push({ opcode: frame.opcode, payload: frame.payload.slice() });
  }
  return { protocol, events, frames };
}

function sentCloseCode(frames: { opcode: number; payload: Uint8Array }[]) {
  const close = frames.find((frame) => frame.opcode === 8);
  if (close === undefined) return undefined;
  return close.payload.length >= 2
    ? (close.payload[0]! << 8) | close.payload[1]!
    : null;
}

/** Message-level rules: client bytes → the close code the server sends. */
const MESSAGE_RULES: { rule: string; wire: Uint8Array; closeCode: number }[] = [
  {
    rule: "a continuation frame without a message",
    wire: encodeClientFrame({ opcode: 0, payload: "x" }),
    closeCode: 1002,
  },
  {
    rule: "a new text frame while a message is incomplete",
    wire: concat([
      encodeClientFrame({ opcode: 1, fin: false, payload: "a" }),
      encodeClientFrame({ opcode: 1, payload: "b" }),
    ]),
    closeCode: 1002,
  },
  {
    rule: "a new binary frame while a message is incomplete",
    wire: concat([
      encodeClientFrame({ opcode: 2, fin: false, payload: "a" }),
      encodeClientFrame({ opcode: 2, payload: "b" }),
    ]),
    closeCode: 1002,
  },
  {
    rule: "invalid UTF-8 in a single-frame text message",
    wire: encodeClientFrame({ opcode: 1, payload: hex("ce ba ed a0 80") }),
    closeCode: 1007,
  },
  {
    rule: "a text message that ends inside a UTF-8 sequence",
    wire: concat([
      encodeClientFrame({ opcode: 1, fin: false, payload: hex("ce") }),
      encodeClientFrame({ opcode: 0, payload: hex("") }),
    ]),
    closeCode: 1007,
  },
  {
    rule: "a close frame with a 1-byte payload",
    wire: encodeClientFrame({ opcode: 8, payload: hex("03") }),
    closeCode: 1002,
  },
  ...[0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535].map(
    (code) => ({
      rule: `a close frame with invalid code ${code}`,
      wire: closeFrame(code),
      closeCode: 1002,
    }),
  ),
  {
    rule: "a close frame whose reason is invalid UTF-8",
    wire: closeFrame(1000, hex("ce ba e1 bd b9 cf 83 ce bc ce b5 ed a0 80")),
    closeCode: 1007,
  },
];

describe("Protocol", () => {
  for (const rule of MESSAGE_RULES) {
    for (const [how, chunks] of chunkings(rule.wire)) {
      test(`Protocol fails ${rule.rule} with ${rule.closeCode} (${how})`, () => {
        const { protocol, frames } = run(chunks);
        assert.equal(sentCloseCode(frames), rule.closeCode);
        assert.equal(protocol.state, "CLOSED");
        assert.equal(protocol.closeExpected(), true);
        assert.equal(protocol.error?.closeCode, rule.closeCode);
        assert.deepEqual(protocol.closeInfo.closeCode, rule.closeCode);
      });
    }
  }

  for (
    const code of [
      1000,
      1001,
      1002,
      1003,
      1007,
      1008,
      1009,
      1010,
      1011,
      1012,
      1013,
      1014,
      3000,
      3999,
      4000,
      4999,
    ]
  ) {
    test(`Protocol echoes a close frame with valid code ${code} and reports it`, () => {
      const { protocol, events, frames } = run([closeFrame(code, "bye")]);
      assert.deepEqual(events, [{ type: "close", code, reason: "bye" }]);
      assert.equal(sentCloseCode(frames), code);
      assert.equal(protocol.state, "CLOSED");
      assert.deepEqual(protocol.closeInfo, { closeCode: code, reason: "bye" });
    });
  }

  test("Protocol answers an empty close frame with an empty one and reports 1005", () => {
    const { protocol, frames } = run([closeFrame(null)]);
    assert.equal(sentCloseCode(frames), null);
    assert.deepEqual(protocol.closeInfo, { closeCode: 1005, reason: "" });
  });

  test("Protocol reassembles fragments with pings interleaved and answers each ping", () => {
    const wire = concat([
      encodeClientFrame({ opcode: 1, fin: false, payload: "Hel" }),
      encodeClientFrame({ opcode: 9, payload: "p1" }),
      encodeClientFrame({ opcode: 0, fin: false, payload: "l" }),
      encodeClientFrame({ opcode: 10, payload: "unsolicited" }),
      encodeClientFrame({ opcode: 0, payload: "o" }),
    ]);
    for (const [, chunks] of chunkings(wire)) {
      const { events, frames } = run(chunks);
      assert.deepEqual(events.map((event) => event.type), [
        "ping",
        "pong",
        "text",
      ]);
      assert.deepEqual(events[2], { type: "text", data: "Hello" });
      assert.deepEqual(frames, [{
        opcode: 10,
        payload: new TextEncoder().encode("p1"),
      }]);
    }
  });

  test("Protocol fails invalid UTF-8 at the first impossible byte of an unfinished frame", () => {
    // One text frame of 21 bytes: κόσμε, then F4 90 (> U+10FFFF); the rest never comes.
    const wire = encodeClientFrame({
      opcode: 1,
      payload: hex(
        "ce ba e1 bd b9 cf 83 ce bc ce b5 f4 90 80 80 65 64 69 74 65 64",
      ),
    });
    const protocol = new Protocol({ role: "server" });
    protocol.receiveData(wire.slice(0, 6 + 11));
    assert.equal(protocol.state, "OPEN");
    protocol.receiveData(wire.slice(17, 19)); // F4 90
    assert.equal(protocol.state, "CLOSED");
    assert.equal(protocol.error?.closeCode, 1007);
  });

  test("Protocol keeps the byte order mark in a text message", () => {
    const { events } = run([
      encodeClientFrame({ opcode: 1, payload: hex("ef bb bf 41") }),
    ]);
    assert.deepEqual(events, [{ type: "text", data: "\ufeffA" }]);
  });

  test("Protocol fails a fragmented message over maxMessageSize with 1009 before it ends", () => {
    const protocol = new Protocol({ role: "server", maxMessageSize: 100 });
    const { frames } = run([
      encodeClientFrame({ opcode: 2, fin: false, payload: new Uint8Array(60) }),
      encodeClientFrame({ opcode: 0, fin: false, payload: new Uint8Array(60) }),
    ], protocol);
    assert.equal(sentCloseCode(frames), 1009);
  });

  test("Protocol accepts a message in exactly maxFragments frames and fails one more with 1009", () => {
    const fragments = (count: number) =>
      Array.from({ length: count }, (_, i) =>
        encodeClientFrame({
          opcode: i === 0 ? 1 : 0,
          fin: i === count - 1,
          payload: "ab",
        }));
    for (const [name, chunks] of chunkings(concat(fragments(3)))) {
      const { events, frames } = run(
        chunks,
        new Protocol({ role: "server", maxFragments: 3 }),
      );
      assert.deepEqual(events, [{ type: "text", data: "ababab" }], name);
      assert.equal(sentCloseCode(frames), undefined, name);
    }
    // The count starts again with each message; empty fragments count too.
    const protocol = new Protocol({ role: "server", maxFragments: 3 });
    const { events, frames } = run([
      ...fragments(2),
      encodeClientFrame({ opcode: 2, fin: false, payload: "" }),
      encodeClientFrame({ opcode: 0, fin: false, payload: "" }),
      encodeClientFrame({ opcode: 0, fin: false, payload: "" }),
      encodeClientFrame({ opcode: 0, fin: true, payload: "" }),
    ], protocol);
    assert.deepEqual(events, [{ type: "text", data: "abab" }]);
    assert.equal(sentCloseCode(frames), 1009);
    assert.equal(protocol.error?.code, "WS_ERR_TOO_MANY_FRAGMENTS");
  });

  test("Protocol reassembles a message of 1,000,002 one-byte fragments by default (no fragment limit)", () => {
    const fragment = encodeClientFrame({ opcode: 0, fin: false, payload: "a" });
    const batch = new Uint8Array(fragment.length * 10_000);
    for (let i = 0; i < 10_000; i++) batch.set(fragment, i * fragment.length);
    const protocol = new Protocol({ role: "server" });
    protocol.receiveData(
      encodeClientFrame({ opcode: 2, fin: false, payload: "a" }),
    );
    for (let i = 0; i < 100; i++) protocol.receiveData(batch.slice());
    protocol.receiveData(
      encodeClientFrame({ opcode: 0, fin: true, payload: "a" }),
    );
    const [event] = protocol.eventsReceived();
    assert.equal(event?.type, "binary");
    const data = event?.type === "binary" ? event.data : new Uint8Array();
    assert.equal(data.length, 1_000_002);
    assert.ok(data.every((byte) => byte === 0x61));
    assert.equal(protocol.error, null);
  });

  test("Protocol rejects a negative or fractional maxFragments with RangeError", () => {
    assert.throws(
      () => new Protocol({ role: "server", maxFragments: -1 }),
      RangeError,
    );
    assert.throws(
      () => new Protocol({ role: "server", maxFragments: 1.5 }),
      RangeError,
    );
  });

  test("Protocol ignores everything after a close frame", () => {
    const { events } = run([concat([
      closeFrame(1000),
      encodeClientFrame({ opcode: 1, payload: "late" }),
      encodeClientFrame({ opcode: 9, payload: "late" }),
    ])]);
    assert.deepEqual(events.map((event) => event.type), ["close"]);
  });

  test("Protocol sends replies to messages of a chunk before the close that ends it", () => {
    const protocol = new Protocol({ role: "server" });
    protocol.receiveData(concat([
      encodeClientFrame({ opcode: 1, payload: "hi" }),
      closeFrame(1000),
    ]));
    assert.equal(protocol.closePending, true);
    for (const event of protocol.eventsReceived()) {
      if (event.type === "text") protocol.sendText(event.data);
    }
    const parser = new FrameParser({ role: "client" });
    parser.push(protocol.dataToSend()!);
    assert.equal(parser.next()!.opcode, 1);
    assert.equal(parser.next()!.opcode, 8);
    assert.equal(protocol.state, "CLOSED");
  });

  test("Protocol as a client starts the close handshake and waits for the server to end TCP", () => {
    const protocol = new Protocol({ role: "client" });
    protocol.sendClose(1000, "done");
    assert.equal(protocol.state, "CLOSING");
    const parser = new FrameParser({ role: "server" });
    parser.push(protocol.dataToSend()!);
    const frame = parser.next()!;
    assert.equal(frame.opcode, 8);
    assert.equal(new TextDecoder().decode(frame.payload.subarray(2)), "done");
    protocol.receiveData(
      encodeServerFrame({ opcode: 8, payload: hex("03 e8") }),
    );
    assert.equal(protocol.state, "CLOSED");
    assert.equal(protocol.closeExpected(), false);
    protocol.receiveEof();
    assert.equal(protocol.closeExpected(), true);
    assert.deepEqual(protocol.closeInfo, { closeCode: 1000, reason: "" });
  });

  test("Protocol reports 1006 when the transport ends without a close frame", () => {
    const protocol = new Protocol({ role: "server" });
    protocol.receiveData(
      encodeClientFrame({ opcode: 1, fin: false, payload: "half" }),
    );
    protocol.receiveEof();
    assert.equal(protocol.state, "CLOSED");
    assert.deepEqual(protocol.closeInfo, { closeCode: 1006, reason: "" });
  });

  test("Protocol refuses to send after the close handshake started", () => {
    const protocol = new Protocol({ role: "server" });
    protocol.sendClose(1000);
    assert.throws(() => protocol.sendText("late"), TypeError);
    assert.throws(() => protocol.sendPing(), TypeError);
  });

  test("Protocol refuses unsendable close codes, long reasons and long pings", () => {
    const protocol = new Protocol({ role: "server" });
    for (const code of [0, 999, 1004, 1005, 1006, 1015, 2000, 5000]) {
      assert.throws(() => protocol.sendClose(code), RangeError);
    }
    assert.throws(() => protocol.sendClose(1000, "é".repeat(62)), RangeError);
    assert.throws(() => protocol.sendClose(undefined, "why"), RangeError);
    assert.throws(() => protocol.sendPing(new Uint8Array(126)), RangeError);
    assert.equal(protocol.state, "OPEN");
  });

  test("Protocol fail() sends the given code once and reports it", () => {
    const protocol = new Protocol({ role: "server" });
    protocol.fail(1011, "internal");
    protocol.fail(1002, "again");
    const { frames } = run([], protocol);
    assert.equal(frames.length, 1);
    assert.equal(sentCloseCode(frames), 1011);
    assert.deepEqual(protocol.closeInfo, {
      closeCode: 1011,
      reason: "internal",
    });
    assert.equal(protocol.closeExpected(), true);
  });

  test("Protocol passes messages with an extension's RSV bit through its decoder", () => {
    const reverse: MessageExtension = {
      name: "x-reverse",
      rsv: 0b100,
      decodeMessage: (data) => data.slice().reverse(),
      encodeMessage: (data) => ({ data: data.slice().reverse(), rsv: 0b100 }),
    };
    const server = new Protocol({ role: "server", extensions: [reverse] });
    const { events } = run([
      encodeClientFrame({ opcode: 1, rsv: 4, fin: false, payload: "ol" }),
      encodeClientFrame({ opcode: 0, payload: "leh" }),
    ], server);
    assert.deepEqual(events, [{ type: "text", data: "hello" }]);
    server.sendText("abc");
    const parser = new FrameParser({ role: "client", allowedRsv: 4 });
    parser.push(server.dataToSend()!);
    const frame = parser.next()!;
    assert.equal(frame.rsv, 4);
    assert.equal(new TextDecoder().decode(frame.payload), "cba");
  });

  test("Protocol rejects RSV bits on a continuation frame even with an extension", () => {
    const identity: MessageExtension = {
      name: "x-identity",
      rsv: 0b100,
      decodeMessage: (data) => data,
      encodeMessage: (data) => ({ data, rsv: 0 }),
    };
    const { frames } = run([
      encodeClientFrame({ opcode: 1, rsv: 4, fin: false, payload: "a" }),
      encodeClientFrame({ opcode: 0, rsv: 4, payload: "b" }),
    ], new Protocol({ role: "server", extensions: [identity] }));
    assert.equal(sentCloseCode(frames), 1002);
  });

  test("Protocol delivers binary messages in buffers of their own", () => {
    const { events } = run([concat([
      encodeClientFrame({ opcode: 2, payload: hex("01 02") }),
      encodeClientFrame({ opcode: 2, payload: hex("03") }),
    ])]);
    for (const event of events) {
      assert.equal(event.type, "binary");
      const data = event.data as Uint8Array;
      assert.equal(data.byteOffset, 0);
      assert.equal(data.byteLength, data.buffer.byteLength);
    }
  });

  test("Protocol delivers plain Uint8Arrays even when fed Buffer-like chunks whose slice() is a view", () => {
    class ViewSlicing extends Uint8Array {
      override slice(start?: number, end?: number): Uint8Array<ArrayBuffer> {
        return this.subarray(start, end) as Uint8Array<ArrayBuffer>;
      }
    }
    const wire = concat([
      encodeClientFrame({ opcode: 2, payload: hex("01 02 03") }),
      encodeClientFrame({ opcode: 9, payload: hex("04") }),
    ]);
    const chunk = new ViewSlicing(wire.length);
    chunk.set(wire);
    const { events } = run([chunk]);
    for (const event of events) {
      assert.ok(event.type === "binary" || event.type === "ping");
      const data = event.data;
      assert.equal(data.constructor, Uint8Array);
      assert.equal(data.byteLength, data.buffer.byteLength);
    }
    assert.deepEqual(events.map((event) => event.type), ["binary", "ping"]);
  });
});

describe("Protocol output", () => {
  const TEXTS: readonly [string, string][] = [
    ["empty text", ""],
    ["short ASCII", "hello"],
    ["125 ASCII characters", "a".repeat(125)],
    ["126 ASCII characters", "b".repeat(126)],
    ["short text with a 2-byte character at the end", "caf\u00e9"],
    ["short text with a 4-byte character first", "\u{1F600} ok"],
    [
      "ASCII up to a non-ASCII character at index 124",
      "x".repeat(124) + "\u00e9",
    ],
    ["a lone surrogate (sent as U+FFFD)", "a\ud800b"],
    ["long non-ASCII text", "\u00fc".repeat(70_000)],
  ];
  for (const role of ["server", "client"] as const) {
    test(`Protocol as ${role} sends every kind of text as one valid frame each, in order, in one buffer`, () => {
      const protocol = new Protocol({ role });
      for (const [, text] of TEXTS) protocol.sendText(text);
      protocol.sendBinary(new Uint8Array([1, 2, 3]));
      const bytes = protocol.dataToSend();
      assert.ok(bytes !== null);
      assert.equal(protocol.dataToSend(), null, "drained");
      assert.equal(protocol.bufferedAmount, 0);
      const peer = new Protocol({
        role: role === "server" ? "client" : "server",
      });
      peer.receiveData(bytes.slice());
      const events = peer.eventsReceived();
      assert.deepEqual(
        events.map((event) => "data" in event ? event.data : event.type),
        [
          ...TEXTS.map(([, text]) =>
            new TextDecoder().decode(new TextEncoder().encode(text))
          ),
          new Uint8Array([1, 2, 3]),
        ],
      );
    });
  }

  test("Protocol counts queued bytes in bufferedAmount and hands out a fresh buffer each time", () => {
    const protocol = new Protocol({ role: "server" });
    protocol.sendText("hi");
    protocol.sendBinary(new Uint8Array(300));
    assert.equal(protocol.bufferedAmount, 4 + 304);
    const first = protocol.dataToSend()!;
    assert.equal(first.length, 308);
    protocol.sendText("again");
    const second = protocol.dataToSend()!;
    assert.notEqual(second.buffer, first.buffer);
    assert.deepEqual([...second], [
      0x81,
      5,
      ...new TextEncoder().encode("again"),
    ]);
    assert.deepEqual([...first.subarray(0, 4)], [0x81, 2, 0x68, 0x69]);
  });

  test("Protocol decodes short ASCII and non-ASCII text alike and fails invalid UTF-8 with 1007", () => {
    const messages = [
      "plain ascii",
      "\u00e9t\u00e9",
      "x".repeat(256),
      "y".repeat(257),
    ];
    const protocol = new Protocol({ role: "server" });
    protocol.receiveData(
      concat(
        messages.map((payload) => encodeClientFrame({ opcode: 1, payload })),
      ),
    );
    assert.deepEqual(
      protocol.eventsReceived().map((event) =>
        "data" in event ? event.data : event.type
      ),
      messages,
    );
    const failing = new Protocol({ role: "server" });
    failing.receiveData(
      encodeClientFrame({ opcode: 1, payload: hex("61 62 ff") }),
    );
    failing.eventsReceived();
    failing.dataToSend();
    assert.equal(failing.closeInfo.closeCode, 1007);
  });
});

describe("Protocol.beginDirectMessage", () => {
  test("Protocol.beginDirectMessage returns a server's header; header, payload and later frames parse back in order", () => {
    const protocol = new Protocol({ role: "server" });
    protocol.sendText("before");
    const before = protocol.dataToSend()!;
    const payload = new Uint8Array(70_000).map((_, i) => i & 0xff);
    const header = protocol.beginDirectMessage(0x2, payload.length);
    assert.ok(header !== null);
    protocol.sendText("after");
    const parser = new FrameParser({ role: "client" });
    parser.push(concat([before, header, payload, protocol.dataToSend()!]));
    const frames = [parser.next(), parser.next(), parser.next()];
    assert.deepEqual(frames.map((f) => f?.opcode), [1, 2, 1]);
    assert.deepEqual(frames[1]?.payload, payload);
    assert.equal(new TextDecoder().decode(frames[2]?.payload), "after");
  });

  test("Protocol.beginDirectMessage returns null for a client and with an extension, and throws once closing", () => {
    assert.equal(
      new Protocol({ role: "client" }).beginDirectMessage(0x2, 100_000),
      null,
    );
    const identity: MessageExtension = {
      name: "x-identity",
      rsv: 0b100,
      decodeMessage: (data) => data,
      encodeMessage: (data) => ({ data, rsv: 0 }),
    };
    const withExtension = new Protocol({
      role: "server",
      extensions: [identity],
    });
    assert.equal(withExtension.beginDirectMessage(0x2, 100_000), null);
    assert.equal(withExtension.bufferedAmount, 0, "nothing sent");
    const closing = new Protocol({ role: "server" });
    closing.sendClose(1000, "");
    assert.throws(() => closing.beginDirectMessage(0x2, 100_000), TypeError);
  });
});

describe("Protocol decodeAscii and in-place output", () => {
  const decoder = new TextDecoder();
  const decodeAscii = (bytes: Uint8Array, start: number, end: number) =>
    decoder.decode(bytes.subarray(start, end));

  test("Protocol with decodeAscii delivers short ASCII and non-ASCII text alike", () => {
    const protocol = new Protocol({ role: "server", decodeAscii });
    protocol.receiveData(encodeClientFrame({ opcode: 1, payload: "plain" }));
    protocol.receiveData(encodeClientFrame({ opcode: 1, payload: "pläin" }));
    assert.deepEqual(protocol.eventsReceived(), [
      { type: "text", data: "plain" },
      { type: "text", data: "pläin" },
    ]);
  });

  test("Protocol with decodeAscii fails a short text frame inside a fragmented message with 1002", () => {
    const protocol = new Protocol({ role: "server", decodeAscii });
    protocol.receiveData(
      encodeClientFrame({ opcode: 1, payload: "a", fin: false }),
    );
    protocol.receiveData(encodeClientFrame({ opcode: 1, payload: "b" }));
    assert.equal(protocol.error?.code, "WS_ERR_EXPECTED_CONTINUATION");
    assert.equal(protocol.error?.closeCode, 1002);
  });

  test("Protocol with decodeAscii fails a short text message over maxMessageSize with 1009", () => {
    const protocol = new Protocol({
      role: "server",
      decodeAscii,
      maxMessageSize: 4,
    });
    protocol.receiveData(encodeClientFrame({ opcode: 1, payload: "abcd" }));
    protocol.receiveData(encodeClientFrame({ opcode: 1, payload: "abcde" }));
    assert.deepEqual(protocol.eventsReceived()[0], {
      type: "text",
      data: "abcd",
    });
    assert.equal(protocol.error?.closeCode, 1009);
  });

  test("Protocol peekOutput and outputWritten hand out the frames in place and keep a partial rest", () => {
    const protocol = new Protocol({ role: "server" });
    protocol.sendText("one");
    protocol.sendText("two");
    const length = protocol.bufferedAmount;
    assert.equal(length, 10);
    const buffer = protocol.peekOutput()!;
    assert.deepEqual(
      [...buffer.subarray(0, length)],
      [0x81, 3, 111, 110, 101, 0x81, 3, 116, 119, 111],
    );
    protocol.outputWritten(4);
    assert.equal(protocol.bufferedAmount, 6);
    assert.deepEqual([...protocol.dataToSend()!], [
      101,
      0x81,
      3,
      116,
      119,
      111,
    ]);
    assert.equal(protocol.peekOutput(), null);
    assert.throws(() => protocol.outputWritten(1), RangeError);
  });

  test("Protocol reuses a written-out buffer for any connection without mixing their frames", () => {
    const a = new Protocol({ role: "server" });
    const b = new Protocol({ role: "server" });
    a.sendText("from a");
    a.outputWritten(a.bufferedAmount); // Back to the shared pool.
    b.sendText("from b");
    a.sendBinary(new Uint8Array([1, 2]));
    assert.deepEqual([...b.dataToSend()!], [
      0x81,
      6,
      ...new TextEncoder().encode("from b"),
    ]);
    assert.deepEqual([...a.dataToSend()!], [0x82, 2, 1, 2]);
  });
});
