/**
 * The write-stall timeout (issue 13, defect 3): a peer that stops reading
 * but keeps sending is told 1008 behind the stuck bytes and dropped, instead
 * of being taken for dead by keepalive (whose pings it cannot receive); a
 * slow peer that keeps reading a large message is not. Codec placements
 * only: under Deno.serve and Bun.serve the runtime owns the writes.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { serve, upgrade } from "../../mod.ts";
import type {
  ServeOptions,
  ServerUpgradeOptions,
  WebSocketStreamLike,
} from "../../mod.ts";
import { FrameParser } from "../../lib/core/frame_parser.ts";
import type { Frame } from "../../lib/core/frame.ts";
import {
  closeFrameInfo,
  dial,
  OPCODE_CLOSE,
  RawWebSocket,
  UPGRADE_HEAD,
} from "../_raw_client.ts";
import { delay, encodeClientFrame, latin1, timeout } from "../_test_utils.ts";

const OPCODE_BINARY = 0x2;
const STALL_CLOSE = {
  closeCode: 1008,
  reason: "Write stalled: the peer is not reading",
};

/** serve() with an echo (or `send`) handler; `sockets` collects sockets. */
async function start(
  options: ServeOptions,
  upgradeOptions: ServerUpgradeOptions,
  sockets: WebSocketStreamLike[],
  send?: (writer: WritableStreamDefaultWriter<unknown>) => Promise<void>,
) {
  const server = serve(
    { port: 0, hostname: "127.0.0.1", ...options },
    async (request) => {
      const { response, socket } = await upgrade(request, {
        compression: false,
        ...upgradeOptions,
      });
      if (socket !== null) {
        sockets.push(socket);
        socket.opened.then(async ({ readable, writable }) => {
          const writer = writable.getWriter();
          if (send !== undefined) return await send(writer);
          for await (const message of readable) await writer.write(message);
        }).catch(() => {});
      }
      return response;
    },
  );
  await timeout(server.listening, 5000, "listening");
  return server;
}

/** Sends 256 KiB messages without reading until the writes back up. */
async function sendUntilBlocked(client: RawWebSocket): Promise<void> {
  const frame = encodeClientFrame({
    opcode: OPCODE_BINARY,
    payload: new Uint8Array(256 * 1024).fill(7),
  });
  for (let sent = 0; sent < 256; sent++) {
    const written = client.write(frame).then(() => true, () => true);
    const blocked = await Promise.race([
      written.then(() => false),
      delay(300).then(() => true),
    ]);
    if (blocked) return;
  }
  assert.fail("the server never stopped reading");
}

describe("write-stall timeout", { timeout: 30_000 }, () => {
  it("sends 1008 behind the stuck bytes to a peer that stopped reading, before keepalive could call it dead", async () => {
    const sockets: WebSocketStreamLike[] = [];
    // The peer neither reads nor answers pings. Keepalive would call it
    // dead within ~200 ms (1011) if a missing pong counted while our writes
    // are stuck; the stall timeout is 400 ms.
    const server = await start(
      { writeStallTimeout: 400, pingInterval: 100, pongTimeout: 100 },
      { writableHighWaterMark: 64 * 1024, closeTimeout: 4000 },
      sockets,
      async (writer) => {
        const message = new Uint8Array(256 * 1024).fill(3);
        for (let i = 0; i < 400; i++) await writer.write(message);
      },
    );
    const client = await RawWebSocket.open(server.addr.port);
    try {
      await delay(1500); // Not reading: the stall is detected meanwhile.
      // The peer reads again: the messages, then the server's close frame.
      let received = 0;
      let frame: Frame | null;
      while ((frame = await client.next()) !== null) {
        if (frame.opcode === OPCODE_CLOSE) break;
        received++;
      }
      assert.ok(received > 0 && received < 400, `${received} messages`);
      assert.deepEqual(closeFrameInfo(frame), STALL_CLOSE);
      await client.answerClose(frame!);
      const info = await timeout(sockets[0]!.closed, 3000, "closed");
      assert.deepEqual(info, STALL_CLOSE);
    } finally {
      client.close();
      await server.shutdown();
    }
  });

  it("drops a peer that keeps sending but never reads once closeTimeout passed", async () => {
    const sockets: WebSocketStreamLike[] = [];
    const server = await start(
      { writeStallTimeout: 300, pingInterval: 0 },
      { writableHighWaterMark: 64 * 1024, closeTimeout: 300 },
      sockets,
    );
    const client = await RawWebSocket.open(server.addr.port);
    try {
      await sendUntilBlocked(client);
      const started = Date.now();
      const info = await timeout(sockets[0]!.closed, 5000, "closed");
      assert.deepEqual(info, STALL_CLOSE);
      // 300 ms stall (checked every 150 ms), then the 300 ms close timeout.
      assert.ok(Date.now() - started < 3000);
    } finally {
      client.close();
      await server.shutdown();
    }
  });

  it("keeps a slow peer that reads a 16 MiB message for longer than the timeout", async () => {
    const sockets: WebSocketStreamLike[] = [];
    const big = new Uint8Array(16 * 1024 * 1024).fill(9);
    const server = await start(
      { writeStallTimeout: 300, pingInterval: 0 },
      { maxMessageSize: 32 * 1024 * 1024 },
      sockets,
      async (writer) => {
        await writer.write(big);
        await writer.write("done");
      },
    );
    const connection = await dial(server.addr.port);
    try {
      const writer = connection.writable.getWriter();
      await writer.write(latin1(UPGRADE_HEAD));
      const reader = connection.readable.getReader();
      const parser = new FrameParser({
        role: "client",
        maxPayload: 32 * 1024 * 1024,
      });
      let head = true;
      const frames: Frame[] = [];
      const started = Date.now();
      let sinceDelay = 0;
      while (frames.length < 2) {
        const { done, value } = await timeout(reader.read(), 5000, "bytes");
        if (done) break;
        let chunk = value;
        if (head) {
          const end = new TextDecoder("latin1").decode(chunk).indexOf(
            "\r\n\r\n",
          );
          assert.ok(end >= 0, "the 101 head comes in one chunk");
          chunk = chunk.subarray(end + 4);
          head = false;
        }
        parser.push(chunk);
        for (let frame; (frame = parser.next()) !== null;) frames.push(frame);
        // About 8 MB/s: the 16 MiB take about 2 s, the timeout is 300 ms.
        sinceDelay += value.length;
        if (sinceDelay >= 256 * 1024) {
          sinceDelay = 0;
          await delay(30);
        }
      }
      assert.ok(Date.now() - started > 600, "the read was slow");
      assert.equal(frames.length, 2);
      assert.equal(frames[0]!.opcode, OPCODE_BINARY);
      assert.equal(frames[0]!.payload.length, big.length);
      assert.equal(new TextDecoder().decode(frames[1]!.payload), "done");
      reader.releaseLock();
      writer.releaseLock();
    } finally {
      connection.close();
      await server.shutdown();
    }
  });
});
