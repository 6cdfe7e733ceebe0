/**
 * The RFC 7692 data-path rules as the Protocol enforces them with
 * PerMessageDeflate, and the connection's ownership of the extension
 * (lazy zlib state, close() at the end).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { deflateRawSync } from "node:zlib";
import { Protocol } from "../../lib/core/protocol.ts";
import type { DeflateParameters } from "../../lib/core/deflate_negotiation.ts";
import type { MessageExtension } from "../../lib/core/extension.ts";
import { PerMessageDeflate } from "../../lib/extensions/permessage_deflate.ts";
import { WebSocketConnection } from "../../lib/connection/websocket_connection.ts";
import { encodeClientFrame } from "../_test_utils.ts";
import { transportPair } from "../connection/_transport_pair.ts";

const PARAMS: DeflateParameters = {
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};
const RSV1 = 0b100;

/** Raw deflate with a sync flush, minus the 00 00 ff ff trailer. */
function compress(data: Uint8Array | string): Uint8Array {
  const bytes = typeof data === "string"
    ? new TextEncoder().encode(data)
    : data;
  const out = deflateRawSync(bytes, { finishFlush: 2 });
  return out.subarray(0, out.length - 4);
}

function server(maxMessageSize?: number): Protocol {
  return new Protocol({
    role: "server",
    extensions: [new PerMessageDeflate({ role: "server", params: PARAMS })],
    ...(maxMessageSize === undefined ? {} : { maxMessageSize }),
  });
}

describe("Protocol with permessage-deflate: RFC 7692 §6 rules", () => {
  it("inflates a message fragmented over 3 frames with RSV1 on the first only", () => {
    const text = "fragmented ".repeat(200);
    const wire = compress(text);
    const third = Math.floor(wire.length / 3);
    const protocol = server();
    protocol.receiveData(encodeClientFrame({
      fin: false,
      rsv: RSV1,
      opcode: 1,
      payload: wire.subarray(0, third),
    }));
    protocol.receiveData(encodeClientFrame({
      fin: false,
      opcode: 0,
      payload: wire.subarray(third, 2 * third),
    }));
    protocol.receiveData(encodeClientFrame({
      opcode: 0,
      payload: wire.subarray(2 * third),
    }));
    assert.deepEqual(protocol.eventsReceived(), [{ type: "text", data: text }]);
  });

  const failures: [string, Uint8Array[], number][] = [
    ["RSV1 on a continuation frame", [
      encodeClientFrame({
        fin: false,
        rsv: RSV1,
        opcode: 1,
        payload: compress("ab"),
      }),
      encodeClientFrame({ rsv: RSV1, opcode: 0, payload: "" }),
    ], 1002],
    ["RSV1 on a ping", [
      encodeClientFrame({ rsv: RSV1, opcode: 9, payload: "" }),
    ], 1002],
    ["RSV1 on a close frame", [
      encodeClientFrame({ rsv: RSV1, opcode: 8, payload: "" }),
    ], 1002],
    ["RSV2 (not permessage-deflate's)", [
      encodeClientFrame({ rsv: 0b010, opcode: 1, payload: "a" }),
    ], 1002],
    ["invalid UTF-8 after inflating", [encodeClientFrame({
      rsv: RSV1,
      opcode: 1,
      payload: compress(new Uint8Array([0x61, 0xff, 0x62])),
    })], 1007],
    ["corrupt compressed data", [encodeClientFrame({
      rsv: RSV1,
      opcode: 2,
      payload: new Uint8Array([0xff, 0xff, 0xff]),
    })], 1007],
  ];
  for (const [what, frames, code] of failures) {
    it(`fails ${what} with ${code}`, () => {
      const protocol = server();
      for (const frame of frames) protocol.receiveData(frame);
      assert.equal(protocol.error?.closeCode, code, protocol.error?.message);
      assert.equal(protocol.state, "CLOSED");
    });
  }

  it("fails RSV1 without the extension with 1002", () => {
    const protocol = new Protocol({ role: "server" });
    protocol.receiveData(
      encodeClientFrame({ rsv: RSV1, opcode: 1, payload: compress("hi") }),
    );
    assert.equal(protocol.error?.code, "WS_ERR_UNEXPECTED_RSV");
    assert.equal(protocol.error?.closeCode, 1002);
  });

  it("applies maxMessageSize to the inflated size (1009), not the compressed one", () => {
    const big = new Uint8Array(100_000); // compresses to ~100 bytes
    const protocol = server(50_000);
    protocol.receiveData(
      encodeClientFrame({ rsv: RSV1, opcode: 2, payload: compress(big) }),
    );
    assert.equal(protocol.error?.code, "WS_ERR_MESSAGE_TOO_BIG");
    assert.equal(protocol.error?.closeCode, 1009);
    const fits = server(100_000);
    fits.receiveData(
      encodeClientFrame({ rsv: RSV1, opcode: 2, payload: compress(big) }),
    );
    const [event] = fits.eventsReceived();
    assert.equal(event?.type, "binary");
    assert.equal((event as { data: Uint8Array }).data.length, 100_000);
  });

  it("sends a compressed message as one frame with RSV1, and control frames without", () => {
    const protocol = server();
    protocol.sendText("x".repeat(1000));
    protocol.sendPing(new Uint8Array([1]));
    const out = protocol.dataToSend()!;
    assert.equal(out[0], 0x80 | 0x40 | 0x01); // FIN, RSV1, text
    const length = out[1]!;
    assert.ok(length < 126, "1000 x compress to a short frame");
    assert.equal(out[2 + length], 0x89); // FIN, ping, no RSV
  });
});

describe("WebSocketConnection owns its message extensions", () => {
  it("allocates no zlib state for messages below the threshold and closes the extension at the end", async () => {
    const deflate = new PerMessageDeflate({ role: "server", params: PARAMS });
    let closes = 0;
    const spy: MessageExtension = {
      name: deflate.name,
      rsv: deflate.rsv,
      decodeMessage: (data, rsv, max) => deflate.decodeMessage(data, rsv, max),
      encodeMessage: (data, opcode) => deflate.encodeMessage(data, opcode),
      close: () => {
        closes++;
        deflate.close();
      },
    };
    const [serverEnd, clientEnd] = transportPair();
    const serverSocket = new WebSocketConnection(serverEnd, {
      role: "server",
      extensions: "permessage-deflate",
      messageExtensions: [spy],
    });
    const clientSocket = new WebSocketConnection(clientEnd, { role: "client" });
    try {
      const { readable, writable, extensions } = await serverSocket.opened;
      assert.equal(extensions, "permessage-deflate");
      const client = await clientSocket.opened;
      const writer = writable.getWriter();
      await writer.write("short"); // below the 64-byte threshold
      const reader = client.readable.getReader();
      assert.equal((await reader.read()).value, "short");
      const clientWriter = client.writable.getWriter();
      await clientWriter.write("hi"); // uncompressed from the peer
      assert.equal((await readable.getReader().read()).value, "hi");
      assert.deepEqual(deflate.allocated, { deflate: false, inflate: false });
      assert.equal(closes, 0);
      serverSocket.close({ closeCode: 1000 });
      await serverSocket.closed;
      assert.equal(closes, 1);
      assert.throws(
        () => deflate.encodeMessage(new Uint8Array(100), 2),
        TypeError,
      );
    } finally {
      serverSocket.close();
      clientSocket.close();
      await Promise.all([serverSocket.closed, clientSocket.closed]);
    }
  });
});
