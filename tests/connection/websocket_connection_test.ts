import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { FrameEncoder } from "../../lib/core/frame_encoder.ts";
import { FrameParser } from "../../lib/core/frame_parser.ts";
import type { Frame } from "../../lib/core/frame.ts";
import { WebSocketError } from "../../lib/core/errors.ts";
import { WebSocketConnection } from "../../lib/connection/websocket_connection.ts";
import type { WebSocketMessage } from "../../lib/connection/websocket_stream_like.ts";
import { delay, frame } from "../_test_utils.ts";
import { readAll, transportPair } from "./_transport_pair.ts";

function connectedPair(
  serverOptions: Partial<ConstructorParameters<typeof WebSocketConnection>[1]> =
    {},
): { server: WebSocketConnection; client: WebSocketConnection } {
  const [a, b] = transportPair();
  const server = new WebSocketConnection(a, {
    ...serverOptions,
    role: "server",
  });
  const client = new WebSocketConnection(b, { role: "client" });
  return { server, client };
}

async function collect(
  readable: ReadableStream<WebSocketMessage>,
): Promise<WebSocketMessage[]> {
  const messages: WebSocketMessage[] = [];
  for await (const message of readable) messages.push(message);
  return messages;
}

function decodeFrames(bytes: Uint8Array, role: "client" | "server"): Frame[] {
  const parser = new FrameParser({ role });
  parser.push(bytes);
  const frames: Frame[] = [];
  for (let frame; (frame = parser.next()) !== null;) {
    frames.push({ ...frame, payload: frame.payload.slice() });
  }
  return frames;
}

const clientEncoder = new FrameEncoder({ role: "client" });
function clientFrame(opcode: number, payload: Uint8Array | string, fin = true) {
  return clientEncoder.encode(frame(opcode, payload, fin));
}

describe("WebSocketConnection", () => {
  test("WebSocketConnection exchanges text, binary and empty messages both ways and closes cleanly", async () => {
    const { server, client } = connectedPair();
    const serverSide = await server.opened;
    const clientSide = await client.opened;
    const received = collect(serverSide.readable);
    const writer = clientSide.writable.getWriter();
    await writer.write("héllo 🌍");
    await writer.write(new Uint8Array([1, 2, 3]));
    await writer.write("");
    await writer.write(new Uint8Array(0));
    await writer.write(new Uint16Array([0x0201]).buffer);
    client.close({ closeCode: 4000, reason: "bye" });
    assert.deepEqual(await received, [
      "héllo 🌍",
      new Uint8Array([1, 2, 3]),
      "",
      new Uint8Array(0),
      new Uint8Array([1, 2]),
    ]);
    assert.deepEqual(await server.closed, { closeCode: 4000, reason: "bye" });
    assert.deepEqual(await client.closed, { closeCode: 4000, reason: "bye" });
    assert.deepEqual(await collect(clientSide.readable), []);
  });

  test("WebSocketConnection delivers every message written before close()", async () => {
    const { server, client } = connectedPair();
    const serverSide = await server.opened;
    const clientSide = await client.opened;
    const received = collect(clientSide.readable);
    const writer = serverSide.writable.getWriter();
    for (let i = 0; i < 200; i++) writer.write(`message ${i}`);
    server.close({ closeCode: 1001, reason: "going away" });
    const messages = await received;
    assert.equal(messages.length, 200);
    assert.equal(messages[199], "message 199");
    assert.deepEqual(await client.closed, {
      closeCode: 1001,
      reason: "going away",
    });
    assert.deepEqual(await server.closed, {
      closeCode: 1001,
      reason: "going away",
    });
  });

  test("WebSocketConnection processes head bytes before transport bytes", async () => {
    const [a, b] = transportPair();
    const server = new WebSocketConnection(a, {
      role: "server",
      head: clientFrame(1, "first"),
    });
    const peer = b.writable.getWriter();
    const { readable } = await server.opened;
    const reader = readable.getReader();
    peer.write(clientFrame(1, "second"));
    assert.equal((await reader.read()).value, "first");
    assert.equal((await reader.read()).value, "second");
    await peer.close();
    assert.deepEqual(await server.closed, { closeCode: 1006, reason: "" });
  });

  test("WebSocketConnection reports 1006 and errors readable when the transport ends without a close frame", async () => {
    const [a, b] = transportPair();
    const server = new WebSocketConnection(a, { role: "server" });
    const { readable } = await server.opened;
    await b.writable.getWriter().close();
    await assert.rejects(
      collect(readable),
      (error: unknown) =>
        error instanceof WebSocketError && error.closeCode === 1006,
    );
    assert.deepEqual(await server.closed, { closeCode: 1006, reason: "" });
  });

  test("WebSocketConnection fails a protocol error with 1002 and sends the close frame", async () => {
    const [a, b] = transportPair();
    const server = new WebSocketConnection(a, { role: "server" });
    await server.opened;
    const peer = b.writable.getWriter();
    const answer = readAll(b.readable);
    await peer.write(new Uint8Array([0x83, 0x80, 0, 0, 0, 0])); // opcode 3
    const frames = decodeFrames(await answer, "client");
    assert.equal(frames.length, 1);
    assert.equal(frames[0]!.opcode, 8);
    assert.equal((frames[0]!.payload[0]! << 8) | frames[0]!.payload[1]!, 1002);
    const closed = await server.closed;
    assert.equal(closed.closeCode, 1002);
    assert.match(closed.reason, /reserved opcode 3/);
  });

  test("WebSocketConnection fails invalid UTF-8 with 1007 before the message ends", async () => {
    const [a, b] = transportPair();
    const server = new WebSocketConnection(a, { role: "server" });
    await server.opened;
    const peer = b.writable.getWriter();
    const answer = readAll(b.readable);
    // First fragment of a text message, then an impossible byte; no FIN ever.
    await peer.write(clientFrame(1, "valid", false));
    await peer.write(clientFrame(0, new Uint8Array([0xf4, 0x90]), false));
    const frames = decodeFrames(await answer, "client");
    assert.equal((frames[0]!.payload[0]! << 8) | frames[0]!.payload[1]!, 1007);
    assert.equal((await server.closed).closeCode, 1007);
  });

  test("WebSocketConnection lets the application answer messages that arrived in the same chunk as a protocol error", async () => {
    const [a, b] = transportPair();
    const server = new WebSocketConnection(a, { role: "server" });
    const { readable, writable } = await server.opened;
    (async () => {
      const writer = writable.getWriter();
      for await (const message of readable) await writer.write(message);
    })().catch(() => {});
    const answer = readAll(b.readable);
    const hello = clientFrame(1, "hello");
    const bad = new Uint8Array([0x85, 0x80, 0, 0, 0, 0]); // reserved opcode 5
    const chunk = new Uint8Array(hello.length + bad.length);
    chunk.set(hello);
    chunk.set(bad, hello.length);
    await b.writable.getWriter().write(chunk);
    const frames = decodeFrames(await answer, "client");
    assert.deepEqual(frames.map((frame) => frame.opcode), [1, 8]);
    assert.equal(new TextDecoder().decode(frames[0]!.payload), "hello");
    assert.equal((await server.closed).closeCode, 1002);
  });

  test("WebSocketConnection answers pings with pongs carrying the same payload", async () => {
    const [a, b] = transportPair();
    const server = new WebSocketConnection(a, { role: "server" });
    const { readable } = await server.opened;
    collect(readable).catch(() => {});
    const peer = b.writable.getWriter();
    const reader = b.readable.getReader();
    await peer.write(clientFrame(9, "are you there"));
    const { value } = await reader.read();
    const [pong] = decodeFrames(value!, "client");
    assert.equal(pong!.opcode, 10);
    assert.equal(new TextDecoder().decode(pong!.payload), "are you there");
    reader.releaseLock();
    readAll(b.readable);
    server.close();
    await peer.write(clientFrame(8, new Uint8Array([0x03, 0xe8])));
    assert.deepEqual(await server.closed, { closeCode: 1000, reason: "" });
  });

  test("WebSocketConnection stops reading the transport while the application does not read", async () => {
    const [a, b] = transportPair();
    const server = new WebSocketConnection(a, {
      role: "server",
      readableHighWaterMark: 64 * 1024,
    });
    const { readable } = await server.opened;
    const peer = b.writable.getWriter();
    const message = clientFrame(2, new Uint8Array(16 * 1024));
    // The peer tries to send 4 MiB while nobody reads messages.
    let written = 0;
    const writing = (async () => {
      for (let i = 0; i < 256; i++) {
        await peer.write(message);
        written++;
      }
    })();
    await delay(200);
    assert.ok(
      a.bytesRead() < 256 * 1024,
      `read ${a.bytesRead()} bytes from the transport with no reader`,
    );
    assert.ok(written < 256, "the peer's writes were not held back");
    // Reading resumes the flow.
    const reader = readable.getReader();
    for (let i = 0; i < 256; i++) {
      const { value } = await reader.read();
      assert.equal((value as Uint8Array).length, 16 * 1024);
    }
    await writing;
    await peer.close();
    await server.closed;
  });

  test("WebSocketConnection holds writes back while the transport does not drain", async () => {
    const [a] = transportPair(); // nobody ever reads the other end
    const server = new WebSocketConnection(a, {
      role: "server",
      writableHighWaterMark: 64 * 1024,
      closeTimeout: 50,
    });
    const { writable } = await server.opened;
    const writer = writable.getWriter();
    const chunk = new Uint8Array(16 * 1024);
    let accepted = 0;
    for (let i = 0; i < 64; i++) {
      const ready = await Promise.race([
        writer.ready.then(() => true),
        delay(50).then(() => false),
      ]);
      if (!ready) break;
      writer.write(chunk).catch(() => {});
      accepted++;
    }
    assert.ok(
      accepted < 64,
      `accepted ${accepted} writes into a stuck transport`,
    );
    writer.releaseLock();
    server.close();
    assert.equal((await server.closed).closeCode, 1006);
  });

  test("WebSocketConnection holds back a write loop that never yields to the event loop", async () => {
    const [a] = transportPair(); // nobody ever reads the other end
    const server = new WebSocketConnection(a, {
      role: "server",
      writableHighWaterMark: 64 * 1024,
      closeTimeout: 50,
    });
    const { writable } = await server.opened;
    const writer = writable.getWriter();
    let accepted = 0;
    (async () => {
      for (let i = 0; i < 1000; i++) {
        await writer.write(new Uint8Array(16 * 1024));
        accepted++;
      }
    })().catch(() => {});
    await delay(100);
    assert.ok(
      accepted < 20,
      `accepted ${accepted} x 16 KiB into a stuck transport`,
    );
    server.close();
    assert.equal((await server.closed).closeCode, 1006);
  });

  test("WebSocketConnection closes with 1006 when the peer never answers the close frame", async () => {
    const [a, b] = transportPair();
    const server = new WebSocketConnection(a, {
      role: "server",
      closeTimeout: 100,
    });
    await server.opened;
    readAll(b.readable, 1000);
    const started = Date.now();
    server.close({ closeCode: 1000 });
    assert.deepEqual(await server.closed, { closeCode: 1006, reason: "" });
    assert.ok(Date.now() - started >= 90);
  });

  test("WebSocketConnection client waits for the server to end TCP after the close handshake", async () => {
    const [a, b] = transportPair();
    const client = new WebSocketConnection(b, {
      role: "client",
      closeTimeout: 2000,
    });
    await client.opened;
    const serverReader = a.readable.getReader();
    const serverWriter = a.writable.getWriter();
    client.close({ closeCode: 1000 });
    await serverReader.read(); // the client's close frame
    await serverWriter.write(new Uint8Array([0x88, 0x02, 0x03, 0xe8]));
    let settled = false;
    client.closed.then(() => settled = true);
    await delay(50);
    assert.equal(settled, false, "client closed before the server ended TCP");
    await serverWriter.close();
    assert.deepEqual(await client.closed, { closeCode: 1000, reason: "" });
  });

  test("WebSocketConnection refuses close codes and reasons it cannot send", async () => {
    const { server, client } = connectedPair();
    await server.opened;
    assert.throws(() => server.close({ closeCode: 1005 }), RangeError);
    assert.throws(() => server.close({ closeCode: 999 }), RangeError);
    assert.throws(
      () => server.close({ closeCode: 1000, reason: "x".repeat(124) }),
      RangeError,
    );
    server.close({ closeCode: 1000, reason: "x".repeat(123) });
    assert.equal((await client.closed).reason, "x".repeat(123));
    await server.closed;
  });

  test("WebSocketConnection rejects writes after close()", async () => {
    const { server, client } = connectedPair();
    const { writable } = await server.opened;
    const writer = writable.getWriter();
    server.close();
    await assert.rejects(writer.write("late"));
    await client.closed;
    assert.deepEqual(await server.closed, { closeCode: 1005, reason: "" });
  });

  test("WebSocketConnection sends a close requested before its transport arrived", async () => {
    const [a, b] = transportPair();
    const arrival = Promise.withResolvers<typeof a>();
    const server = new WebSocketConnection(arrival.promise, { role: "server" });
    server.close({ closeCode: 4003, reason: "early" });
    arrival.resolve(a);
    const client = new WebSocketConnection(b, { role: "client" });
    assert.deepEqual(await client.closed, { closeCode: 4003, reason: "early" });
    assert.equal((await server.closed).closeCode, 4003);
  });

  test("WebSocketConnection rejects opened when its transport promise rejects", async () => {
    const socket = new WebSocketConnection(
      Promise.reject(new Error("handshake refused")),
      { role: "server" },
    );
    await assert.rejects(socket.opened, /handshake refused/);
    assert.deepEqual(await socket.closed, { closeCode: 1006, reason: "" });
  });

  test("WebSocketConnection fails a message over maxMessageSize with 1009", async () => {
    const [a, b] = transportPair();
    const server = new WebSocketConnection(a, {
      role: "server",
      maxMessageSize: 1000,
    });
    await server.opened;
    const answer = readAll(b.readable);
    const peer = b.writable.getWriter();
    await peer.write(clientFrame(2, new Uint8Array(600), false));
    await peer.write(clientFrame(0, new Uint8Array(600), true)).catch(() => {});
    const frames = decodeFrames(await answer, "client");
    assert.equal((frames[0]!.payload[0]! << 8) | frames[0]!.payload[1]!, 1009);
    assert.equal((await server.closed).closeCode, 1009);
  });

  test("WebSocketConnection keepalive drops a peer that never answers pings and reports 1006", async () => {
    const [a, b] = transportPair();
    const server = new WebSocketConnection(a, {
      role: "server",
      pingInterval: 20,
      pongTimeout: 40,
    });
    await server.opened;
    const seen = readAll(b.readable, 1000);
    const started = Date.now();
    assert.deepEqual(await server.closed, { closeCode: 1006, reason: "" });
    assert.ok(Date.now() - started < 500, "dead peer dropped promptly");
    const frames = decodeFrames(await seen, "client");
    assert.equal(frames[0]!.opcode, 9, "pinged first");
    const close = frames.find((frame) => frame.opcode === 8);
    assert.equal((close!.payload[0]! << 8) | close!.payload[1]!, 1011);
  });

  test("WebSocketConnection keepalive keeps a responsive peer connected", async () => {
    const [a, b] = transportPair();
    const server = new WebSocketConnection(a, {
      role: "server",
      pingInterval: 10,
      pongTimeout: 30,
    });
    const client = new WebSocketConnection(b, { role: "client" });
    await server.opened;
    await client.opened;
    await delay(200);
    server.close({ closeCode: 1000, reason: "still alive" });
    assert.deepEqual(await client.closed, {
      closeCode: 1000,
      reason: "still alive",
    });
  });

  test("WebSocketConnection idleTimeout closes a silent connection with 1001", async () => {
    const [a, b] = transportPair();
    const server = new WebSocketConnection(a, {
      role: "server",
      idleTimeout: 50,
    });
    const client = new WebSocketConnection(b, { role: "client" });
    await client.opened;
    assert.deepEqual(await client.closed, {
      closeCode: 1001,
      reason: "Idle timeout",
    });
    assert.equal((await server.closed).closeCode, 1001);
  });

  test("WebSocketConnection takes the protocol, extensions and head a transport resolves with", async () => {
    const [a, b] = transportPair();
    const server = new WebSocketConnection(
      Promise.resolve({
        ...a,
        protocol: "chat",
        head: clientFrame(1, "early"),
      }),
      { role: "server" },
    );
    const { protocol, readable } = await server.opened;
    assert.equal(protocol, "chat");
    const reader = readable.getReader();
    assert.equal((await reader.read()).value, "early");
    await b.writable.getWriter().close();
    await server.closed;
  });

  test("WebSocketConnection builds its streams only once opened is read, keeping messages that arrived before", async () => {
    const { server, client } = connectedPair();
    const writer = (await client.opened).writable.getWriter();
    await writer.write("before");
    await writer.write(new Uint8Array([7]));
    await delay(20); // Delivered to the server, nobody reading yet.
    const { readable, writable } = await server.opened;
    assert.equal(await server.opened, await server.opened);
    const reader = readable.getReader();
    assert.equal((await reader.read()).value, "before");
    assert.deepEqual((await reader.read()).value, new Uint8Array([7]));
    await writer.write("after");
    assert.equal((await reader.read()).value, "after");
    await writable.getWriter().write("answer");
    const clientReader = (await client.opened).readable.getReader();
    assert.equal((await clientReader.read()).value, "answer");
    client.close({ closeCode: 4000, reason: "done" });
    assert.equal((await reader.read()).done, true);
    assert.deepEqual(await server.closed, { closeCode: 4000, reason: "done" });
  });

  test("WebSocketConnection whose opened is read only after the close still hands out ended streams", async () => {
    // The close echo waits at most closeTimeout for the unread message.
    const { server, client } = connectedPair({ closeTimeout: 100 });
    const writer = (await client.opened).writable.getWriter();
    await writer.write("kept");
    client.close({ closeCode: 4001, reason: "late" });
    assert.deepEqual(await server.closed, { closeCode: 4001, reason: "late" });
    assert.deepEqual(await server.closed, { closeCode: 4001, reason: "late" });
    const { readable, writable } = await server.opened;
    assert.deepEqual(await collect(readable), ["kept"]);
    await assert.rejects(
      writable.getWriter().write("too late"),
      (error: unknown) =>
        error instanceof WebSocketError && error.closeCode === 4001,
    );
  });

  test("WebSocketConnection whose opened is never read closes cleanly and reports closed", async () => {
    const { server, client } = connectedPair();
    await client.opened;
    await delay(10);
    server.close({ closeCode: 4002, reason: "never read" });
    assert.deepEqual(await client.closed, {
      closeCode: 4002,
      reason: "never read",
    });
    assert.deepEqual(await server.closed, {
      closeCode: 4002,
      reason: "never read",
    });
  });

  test("WebSocketConnection rejects negative or non-finite timer options with RangeError", () => {
    const [a] = transportPair();
    for (
      const options of [{ pingInterval: -1 }, { idleTimeout: NaN }, {
        pongTimeout: Infinity,
      }]
    ) {
      assert.throws(
        () => new WebSocketConnection(a, { role: "server", ...options }),
        RangeError,
      );
    }
  });
});
