import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { inflateRawSync } from "node:zlib";
import { WebSocketProtocolError } from "../../lib/core/errors.ts";
import { Protocol } from "../../lib/core/protocol.ts";
import type { DeflateParameters } from "../../lib/core/deflate_negotiation.ts";
import { PerMessageDeflate } from "../../lib/extensions/permessage_deflate.ts";
import { SyncZlib } from "../../lib/extensions/_zlib_sync.ts";

const hex = (text: string) =>
  new Uint8Array(text.split(" ").map((byte) => parseInt(byte, 16)));
const toHex = (bytes: Uint8Array) =>
  [...bytes].map((byte) => byte.toString(16).padStart(2, "0")).join(" ");
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function params(overrides: Partial<DeflateParameters> = {}): DeflateParameters {
  return {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: 15,
    clientMaxWindowBits: 15,
    ...overrides,
  };
}

/** A server and a client extension that agree on `agreed`. */
function pair(agreed: DeflateParameters, threshold = 0) {
  return {
    server: new PerMessageDeflate({
      role: "server",
      params: agreed,
      threshold,
    }),
    client: new PerMessageDeflate({
      role: "client",
      params: agreed,
      threshold,
    }),
  };
}

/** Seeded pseudo-random JSON-ish chat messages (repetitive like real ones). */
function chatMessages(count: number, seed = 1): Uint8Array[] {
  let state = seed;
  const next = () => (state = (state * 1103515245 + 12345) >>> 0) / 2 ** 32;
  const words = [
    "hello",
    "world",
    "ok",
    "see",
    "you",
    "later",
    "lol",
    "the",
    "meeting",
    "is",
    "at",
    "noon",
    "ünïcödé",
    "🙂",
  ];
  return Array.from({ length: count }, (_, i) => {
    const text = Array.from(
      { length: 5 + Math.floor(next() * 200) },
      () => words[Math.floor(next() * words.length)],
    ).join(" ");
    return encoder.encode(
      JSON.stringify({
        id: i,
        user: `user${Math.floor(next() * 50)}`,
        room: "general",
        text,
        ts: 1_700_000_000_000 + i,
      }),
    );
  });
}

describe("PerMessageDeflate: RFC 7692 §7.2.3 examples", () => {
  it('compresses "Hello" to f2 48 cd c9 c9 07 00 with RSV1', () => {
    const { server } = pair(params());
    const { data, rsv } = server.encodeMessage(encoder.encode("Hello"), 1);
    assert.equal(toHex(data), "f2 48 cd c9 c9 07 00");
    assert.equal(rsv, 0b100);
    server.close();
  });

  it('compresses a second "Hello" with context takeover to f2 00 11 00 00', () => {
    const { server } = pair(params());
    server.encodeMessage(encoder.encode("Hello"), 1);
    assert.equal(
      toHex(server.encodeMessage(encoder.encode("Hello"), 1).data),
      "f2 00 11 00 00",
    );
    server.close();
  });

  it('compresses the second "Hello" again from scratch with server_no_context_takeover', () => {
    const { server } = pair(params({ serverNoContextTakeover: true }));
    server.encodeMessage(encoder.encode("Hello"), 1);
    assert.equal(
      toHex(server.encodeMessage(encoder.encode("Hello"), 1).data),
      "f2 48 cd c9 c9 07 00",
    );
    server.close();
  });

  const inflations: [string, string[]][] = [
    ['the compressed "Hello" and the context-takeover one', [
      "f2 48 cd c9 c9 07 00",
      "f2 00 11 00 00",
    ]],
    ["the no-compression (stored) block", ["00 05 00 fa ff 48 65 6c 6c 6f 00"]],
    ["the BFINAL variant", ["f3 48 cd c9 c9 07 00"]],
    ["the two-block variant §7.2.3.5", [
      "f2 48 05 00 00 00 ff ff ca c9 c9 07 00",
    ]],
  ];
  for (const [what, payloads] of inflations) {
    it(`inflates ${what} to "Hello"`, () => {
      const { client } = pair(params());
      for (const payload of payloads) {
        assert.equal(
          decoder.decode(client.decodeMessage(hex(payload), 0b100, 1024)),
          "Hello",
        );
      }
      client.close();
    });
  }
});

describe("PerMessageDeflate round trips", () => {
  for (let bits = 8; bits <= 15; bits++) {
    for (const noContextTakeover of [false, true]) {
      it(`carries 60 chat messages and a 100 KB one both ways, window ${bits}, ${noContextTakeover ? "no " : ""}context takeover`, () => {
        const agreed = params({
          serverMaxWindowBits: bits,
          clientMaxWindowBits: bits,
          serverNoContextTakeover: noContextTakeover,
          clientNoContextTakeover: noContextTakeover,
        });
        const { server, client } = pair(agreed);
        const messages = chatMessages(60, bits);
        const big = new Uint8Array(100_000).map((_, i) => (i * 31) % 97);
        messages.splice(30, 0, big, new Uint8Array(0));
        let compressed = 0;
        let plain = 0;
        for (
          const [from, to] of [[server, client], [client, server]] as const
        ) {
          for (const message of messages) {
            const { data, rsv } = from.encodeMessage(message, 2);
            assert.equal(rsv, 0b100);
            compressed += data.length;
            plain += message.length;
            assert.deepEqual(to.decodeMessage(data, rsv, 1 << 20), message);
          }
        }
        assert.ok(compressed < plain / 2, `${compressed} of ${plain}`);
        server.close();
        client.close();
      });
    }
  }

  it("compresses better with context takeover (the state is carried across messages)", () => {
    const sizes = [false, true].map((reset) => {
      const { server, client } = pair(
        params({ serverNoContextTakeover: reset }),
      );
      let total = 0;
      for (const message of chatMessages(200, 7)) {
        const { data } = server.encodeMessage(message, 1);
        total += data.length;
        assert.deepEqual(client.decodeMessage(data, 0b100, 1 << 20), message);
      }
      return total;
    });
    assert.ok(
      sizes[0]! < sizes[1]! * 0.8,
      `takeover ${sizes[0]} vs reset ${sizes[1]}`,
    );
  });

  it("keeps each direction's history apart while messages interleave", () => {
    const { server, client } = pair(params());
    const messages = chatMessages(400, 3);
    for (let i = 0; i < messages.length; i += 2) {
      const down = server.encodeMessage(messages[i]!, 1);
      const up = client.encodeMessage(messages[i + 1]!, 1);
      assert.deepEqual(
        server.decodeMessage(up.data, 0b100, 1 << 20),
        messages[i + 1],
      );
      assert.deepEqual(
        client.decodeMessage(down.data, 0b100, 1 << 20),
        messages[i],
      );
    }
  });

  it("interoperates with a plain zlib inflater given the same stream", () => {
    const { server } = pair(params());
    const messages = chatMessages(50, 11);
    const stream: Uint8Array[] = [];
    for (const message of messages) {
      stream.push(server.encodeMessage(message, 1).data, hex("00 00 ff ff"));
    }
    const joined = new Uint8Array(
      stream.reduce((n, part) => n + part.length, 0),
    );
    let at = 0;
    for (const part of stream) joined.set(part, at), at += part.length;
    const inflated = inflateRawSync(joined, { finishFlush: 2 });
    assert.equal(inflated.length, messages.reduce((n, m) => n + m.length, 0));
  });

  it("works inside Protocol, both roles, text and binary", () => {
    const agreed = params({ clientMaxWindowBits: 10 });
    const { server, client } = pair(agreed);
    const serverSide = new Protocol({ role: "server", extensions: [server] });
    const clientSide = new Protocol({ role: "client", extensions: [client] });
    const text = "héllo ".repeat(100);
    clientSide.sendText(text);
    clientSide.sendBinary(new Uint8Array(3000).fill(7));
    const wire = clientSide.dataToSend()!;
    assert.ok(wire.length < 200, `${wire.length} bytes on the wire`);
    assert.equal(wire[0]! & 0x40, 0x40, "RSV1 set");
    serverSide.receiveData(wire);
    const events = serverSide.eventsReceived();
    assert.deepEqual(events[0], { type: "text", data: text });
    assert.deepEqual(events[1], {
      type: "binary",
      data: new Uint8Array(3000).fill(7),
    });
    serverSide.sendText(text);
    clientSide.receiveData(serverSide.dataToSend()!);
    assert.deepEqual(clientSide.eventsReceived(), [{
      type: "text",
      data: text,
    }]);
  });
});

describe("PerMessageDeflate threshold, memory and errors", () => {
  it("sends messages below threshold uncompressed with RSV1 clear", () => {
    const agreed = params();
    const server = new PerMessageDeflate({
      role: "server",
      params: agreed,
      threshold: 100,
    });
    const small = new Uint8Array(99).fill(1);
    assert.deepEqual(server.encodeMessage(small, 2), { data: small, rsv: 0 });
    assert.equal(
      server.allocated.deflate,
      false,
      "no zlib for uncompressed messages",
    );
    const large = new Uint8Array(100).fill(1);
    const encoded = server.encodeMessage(large, 2);
    assert.equal(encoded.rsv, 0b100);
    assert.ok(encoded.data.length < 100);
    assert.equal(server.allocated.deflate, true);
    // The default threshold is 64 bytes.
    const byDefault = new PerMessageDeflate({ role: "server", params: agreed });
    assert.equal(byDefault.encodeMessage(new Uint8Array(63), 2).rsv, 0);
    assert.equal(byDefault.encodeMessage(new Uint8Array(64), 2).rsv, 0b100);
    server.close();
    byDefault.close();
  });

  it("allocates zlib lazily per direction and frees it on close", () => {
    const { server, client } = pair(params());
    assert.deepEqual(server.allocated, { deflate: false, inflate: false });
    const { data } = client.encodeMessage(encoder.encode("Hello"), 1);
    assert.deepEqual(client.allocated, { deflate: true, inflate: false });
    server.decodeMessage(data, 0b100, 100);
    assert.deepEqual(server.allocated, { deflate: false, inflate: true });
    server.close();
    server.close(); // idempotent
    assert.deepEqual(server.allocated, { deflate: false, inflate: false });
    assert.throws(
      () => server.encodeMessage(encoder.encode("Hello"), 1),
      TypeError,
    );
    assert.throws(() => server.decodeMessage(data, 0b100, 100), TypeError);
    client.close();
  });

  it("fails corrupt data with WS_ERR_INVALID_COMPRESSED_DATA (1007)", () => {
    const { client } = pair(params());
    assert.throws(
      () => client.decodeMessage(hex("ff ff ff ff"), 0b100, 1024),
      (error: unknown) =>
        error instanceof WebSocketProtocolError &&
        error.code === "WS_ERR_INVALID_COMPRESSED_DATA" &&
        error.closeCode === 1007,
    );
  });

  it("fails a message that inflates past maxSize with 1009, at the limit", () => {
    const { server, client } = pair(params());
    const message = new Uint8Array(1025).fill(0x61);
    const { data } = server.encodeMessage(message, 2);
    assert.deepEqual(client.decodeMessage(data, 0b100, 1025), message);
    const again = server.encodeMessage(message, 2).data;
    assert.throws(
      () => client.decodeMessage(again, 0b100, 1024),
      (error: unknown) =>
        error instanceof WebSocketProtocolError &&
        error.code === "WS_ERR_MESSAGE_TOO_BIG" && error.closeCode === 1009,
    );
  });

  it("stops a 1 GiB zip bomb after producing at most the 16 KiB limit", () => {
    // Built without inflating anything big: with context takeover, every
    // 1 MiB of zeros after the first compresses to the same bytes.
    const deflate = new SyncZlib("deflate", { windowBits: 15 });
    const zeros = new Uint8Array(1 << 20);
    const first = deflate.write(zeros);
    const next = deflate.write(zeros);
    assert.deepEqual(deflate.write(zeros), next);
    deflate.close();
    const build = (mebibytes: number) => {
      const bomb = new Uint8Array(first.length + next.length * (mebibytes - 1));
      bomb.set(first);
      for (let i = 1; i < mebibytes; i++) {
        bomb.set(next, first.length + next.length * (i - 1));
      }
      return bomb.subarray(0, bomb.length - 4); // without the last 00 00 ff ff, as on the wire
    };
    // The construction is right: 4 of them inflate to 4 MiB of zeros.
    const small = build(4);
    const check = new SyncZlib("inflate", { windowBits: 15 });
    const inflated = check.write(small, hex("00 00 ff ff"));
    assert.equal(inflated.length, 4 << 20);
    assert.ok(inflated.every((byte) => byte === 0));
    check.close();

    const bomb = build(1024);
    assert.ok(
      bomb.length < 1100 * 1024,
      `${bomb.length} bytes inflate to 1 GiB`,
    );
    const limit = 16 * 1024;
    const inflate = new SyncZlib("inflate", { windowBits: 15 });
    assert.throws(
      () => inflate.write(bomb, hex("00 00 ff ff"), limit),
      RangeError,
    );
    assert.equal(inflate.lastOutputLength, limit + 1);
    assert.ok(
      inflate.lastAllocation <= limit + 1,
      `allocated ${inflate.lastAllocation}`,
    );
    inflate.close();

    const { client } = pair(params());
    assert.throws(
      () => client.decodeMessage(bomb, 0b100, limit),
      (error: unknown) =>
        error instanceof WebSocketProtocolError && error.closeCode === 1009,
    );
  });

  it("rejects out-of-range settings with a RangeError", () => {
    for (
      const init of [
        { params: params({ serverMaxWindowBits: 7 }) },
        { params: params({ clientMaxWindowBits: 16 }) },
        { params: params(), level: 10 },
        { params: params(), memLevel: 0 },
        { params: params(), threshold: -1 },
      ]
    ) {
      assert.throws(
        () => new PerMessageDeflate({ role: "server", ...init }),
        RangeError,
      );
    }
  });
});
