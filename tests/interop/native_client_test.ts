/**
 * wstream's server against the runtime's own WebSocket client
 * (`globalThis.WebSocket` of Deno or Bun).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { serve } from "../../lib/serve.ts";
import type { Server } from "../../lib/serve.ts";
import { upgrade } from "../../lib/upgrade.ts";
import type { WebSocketConnection } from "../../lib/websocket_connection.ts";
import { getBun, getDeno } from "../../lib/transports/_runtime_types.ts";
import { connectBun } from "../../lib/transports/bun.ts";
import { connectDeno } from "../../lib/transports/deno.ts";
import type { TcpConnection } from "../../lib/transports/deno.ts";

/** wstream's server runs on Deno and Bun only, for now. */
const SKIP = getDeno() === undefined && getBun() === undefined
  ? "serve() needs Deno or Bun"
  : false;
const TEST_TIMEOUT = 20_000;

function timeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Timed out: ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** An echo server that records each server-side socket. */
function startEcho(): { server: Server; sockets: WebSocketConnection[] } {
  const sockets: WebSocketConnection[] = [];
  const server = serve({ port: 0, hostname: "127.0.0.1" }, async (request) => {
    const { response, socket } = await upgrade(request);
    if (socket === null) return response;
    sockets.push(socket);
    socket.opened.then(async ({ readable, writable }) => {
      const writer = writable.getWriter();
      for await (const message of readable) await writer.write(message);
    }).catch(() => {});
    return response;
  });
  return { server, sockets };
}

interface NativeClient {
  ws: WebSocket;
  opened: Promise<void>;
  next(): Promise<string | ArrayBuffer>;
  closed: Promise<CloseEvent>;
}

function openNative(port: number): NativeClient {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/echo`);
  ws.binaryType = "arraybuffer";
  const received: (string | ArrayBuffer)[] = [];
  const waiting: ((message: string | ArrayBuffer) => void)[] = [];
  ws.addEventListener("message", (event) => {
    const data = event.data as string | ArrayBuffer;
    const waiter = waiting.shift();
    if (waiter !== undefined) waiter(data);
    else received.push(data);
  });
  const opened = new Promise<void>((resolve, reject) => {
    ws.addEventListener("open", () => resolve(), { once: true });
    ws.addEventListener("error", () => reject(new Error("WebSocket error")), {
      once: true,
    });
  });
  opened.catch(() => {});
  const closed = new Promise<CloseEvent>((resolve) => {
    ws.addEventListener("close", (event) => resolve(event as CloseEvent), {
      once: true,
    });
  });
  return {
    ws,
    opened,
    closed,
    next(): Promise<string | ArrayBuffer> {
      const message = received.shift();
      if (message !== undefined) return Promise.resolve(message);
      return timeout(
        new Promise((resolve) => waiting.push(resolve)),
        10_000,
        "an echoed message",
      );
    },
  };
}

/** Runs `body` against a fresh echo server and native client, then cleans up. */
async function withEcho(
  body: (
    client: NativeClient,
    sockets: WebSocketConnection[],
    server: Server,
  ) => Promise<void>,
): Promise<void> {
  const { server, sockets } = startEcho();
  let client: NativeClient | undefined;
  try {
    client = openNative(server.addr.port);
    await timeout(client.opened, 5000, "open");
    await body(client, sockets, server);
  } finally {
    if (client !== undefined && client.ws.readyState !== WebSocket.CLOSED) {
      client.ws.close();
      await timeout(client.closed, 5000, "client close").catch(() => {});
    }
    await server.shutdown();
    await timeout(
      Promise.all(sockets.map((socket) => socket.closed)),
      7000,
      "server sockets closed",
    );
  }
}

function bytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

function connectTcp(port: number): Promise<TcpConnection> {
  return getDeno() !== undefined
    ? connectDeno({ hostname: "127.0.0.1", port })
    : connectBun({ hostname: "127.0.0.1", port });
}

describe("wstream server with the native WebSocket client", {
  timeout: TEST_TIMEOUT,
  skip: SKIP,
}, () => {
  it("echoes text, binary and empty messages with their types", async () => {
    await withEcho(async (client) => {
      client.ws.send("hello ✓");
      client.ws.send(new Uint8Array([0, 1, 2, 255]));
      client.ws.send("");
      client.ws.send(new Uint8Array(0));
      assert.equal(await client.next(), "hello ✓");
      assert.deepEqual(
        new Uint8Array(await client.next() as ArrayBuffer),
        new Uint8Array([0, 1, 2, 255]),
      );
      assert.equal(await client.next(), "");
      const empty = await client.next();
      assert.ok(empty instanceof ArrayBuffer, "an empty binary message");
      assert.equal(empty.byteLength, 0);
    });
  });

  it("echoes a 1 MiB binary message and a 1 MiB text message", async () => {
    await withEcho(async (client) => {
      const binary = bytes(1 << 20, 42);
      const text = "wstream ✓ €𝄞 ".repeat(1 << 16).slice(0, 1 << 20);
      client.ws.send(binary);
      client.ws.send(text);
      assert.deepEqual(
        new Uint8Array(await client.next() as ArrayBuffer),
        binary,
      );
      assert.equal(await client.next(), text);
    });
  });

  it("echoes many messages in order", async () => {
    await withEcho(async (client) => {
      const count = 200;
      for (let i = 0; i < count; i++) {
        if (i % 2 === 0) client.ws.send(`message ${i}`);
        else client.ws.send(bytes(i * 37, i));
      }
      for (let i = 0; i < count; i++) {
        const message = await client.next();
        if (i % 2 === 0) assert.equal(message, `message ${i}`);
        else {assert.deepEqual(
            new Uint8Array(message as ArrayBuffer),
            bytes(i * 37, i),
          );}
      }
    });
  });

  it("completes a close started by the client with 4000 and a reason", async () => {
    await withEcho(async (client, sockets) => {
      client.ws.send("before close");
      assert.equal(await client.next(), "before close");
      client.ws.close(4000, "bye");
      const event = await timeout(client.closed, 5000, "client close event");
      assert.equal(event.code, 4000);
      assert.equal(event.reason, "bye");
      assert.equal(event.wasClean, true);
      const [socket] = sockets;
      assert.ok(socket !== undefined);
      assert.deepEqual(
        await timeout(socket.closed, 5000, "server closed"),
        { closeCode: 4000, reason: "bye" },
      );
    });
  });

  it("completes a close started by the server with 1001 and a reason", async () => {
    await withEcho(async (client, sockets) => {
      client.ws.send("ping");
      assert.equal(await client.next(), "ping");
      const [socket] = sockets;
      assert.ok(socket !== undefined);
      socket.close({ closeCode: 1001, reason: "server going away" });
      const event = await timeout(client.closed, 5000, "client close event");
      assert.equal(event.code, 1001);
      assert.equal(event.reason, "server going away");
      assert.equal(event.wasClean, true);
      const info = await timeout(socket.closed, 5000, "server closed");
      assert.equal(info.closeCode, 1001);
    });
  });

  it("reports 1006 on the server when the TCP connection drops", async () => {
    const { server, sockets } = startEcho();
    let connection: TcpConnection | undefined;
    try {
      connection = await connectTcp(server.addr.port);
      const writer = connection.writable.getWriter();
      await writer.write(
        new TextEncoder().encode(
          "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n" +
            "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        ),
      );
      writer.releaseLock();
      const reader = connection.readable.getReader();
      let head = "";
      while (!head.includes("\r\n\r\n")) {
        const { done, value } = await timeout(reader.read(), 5000, "101");
        assert.equal(done, false, `EOF after ${JSON.stringify(head)}`);
        head += new TextDecoder().decode(value);
      }
      assert.match(head, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
      reader.releaseLock();
      connection.close(); // No close frame: an abnormal closure.
      const [socket] = sockets;
      assert.ok(socket !== undefined);
      assert.deepEqual(
        await timeout(socket.closed, 5000, "server closed"),
        { closeCode: 1006, reason: "" },
      );
    } finally {
      connection?.close();
      await server.shutdown();
    }
  });
});
