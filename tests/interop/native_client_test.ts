/**
 * wstream's server (`serve` + `upgrade`) against the runtime's own
 * WebSocket client (`globalThis.WebSocket` of Deno, Bun or Node).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import {
  assertConcurrentLogs,
  assertKeptBesideSilentPeer,
  CONCURRENT_CONNECTIONS,
  concurrentMessage,
  largeText,
  MESSAGES_PER_CONNECTION,
  SERVE_SKIP,
  serverClosed,
  startEchoServer,
  TEST_TIMEOUT,
} from "./_interop_utils.ts";
import type { EchoServer, EchoServerOptions } from "./_interop_utils.ts";
import { Inbox, testBytes, timeout } from "../_test_utils.ts";

const SKIP = SERVE_SKIP ||
  (typeof WebSocket === "undefined" ? "no global WebSocket" : false);

interface NativeClient {
  ws: WebSocket;
  messages: Inbox<string | Uint8Array>;
  opened: Promise<void>;
  closed: Promise<{ code: number; reason: string; wasClean: boolean }>;
}

function openNative(url: string): NativeClient {
  const ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  const messages = new Inbox<string | Uint8Array>("a native client message");
  ws.addEventListener("message", (event) => {
    const data = event.data as string | ArrayBuffer;
    messages.push(typeof data === "string" ? data : new Uint8Array(data));
  });
  const opened = new Promise<void>((resolve, reject) => {
    ws.addEventListener("open", () => resolve(), { once: true });
    ws.addEventListener("error", () => reject(new Error("WebSocket error")), {
      once: true,
    });
  });
  opened.catch(() => {});
  const closed = new Promise<
    { code: number; reason: string; wasClean: boolean }
  >((resolve) => {
    ws.addEventListener("close", (event) => {
      const { code, reason, wasClean } = event as CloseEvent;
      resolve({ code, reason, wasClean });
    }, { once: true });
  });
  return { ws, messages, opened, closed };
}

/** Runs `body` with a fresh wstream echo server and an open native client. */
async function withClient(
  body: (client: NativeClient, echo: EchoServer) => Promise<void>,
  options: EchoServerOptions = {},
): Promise<void> {
  const echo = await startEchoServer(options);
  let client: NativeClient | undefined;
  try {
    client = openNative(`${echo.url}/echo`);
    await timeout(client.opened, 5000, "open");
    await body(client, echo);
  } finally {
    if (client !== undefined && client.ws.readyState !== WebSocket.CLOSED) {
      client.ws.close();
      await timeout(client.closed, 5000, "client close").catch(() => {});
    }
    await echo.close();
  }
}

describe("wstream server with the native WebSocket client", {
  timeout: TEST_TIMEOUT,
  skip: SKIP,
}, () => {
  it("echoes text, binary and empty messages with their types", async () => {
    await withClient(async (client, echo) => {
      client.ws.send("hello ✓");
      client.ws.send(new Uint8Array([0, 1, 2, 255]));
      client.ws.send("");
      client.ws.send(new Uint8Array(0));
      assert.equal(await client.messages.next(), "hello ✓");
      assert.deepEqual(
        await client.messages.next(),
        new Uint8Array([0, 1, 2, 255]),
      );
      assert.equal(await client.messages.next(), "");
      assert.deepEqual(await client.messages.next(), new Uint8Array(0));
      assert.deepEqual(echo.received[0], [
        "hello ✓",
        new Uint8Array([0, 1, 2, 255]),
        "",
        new Uint8Array(0),
      ]);
    });
  });

  it("echoes a 1 MiB binary message and a 1 MiB text message", async () => {
    await withClient(async (client) => {
      const binary = testBytes(1 << 20, 42);
      const text = largeText();
      client.ws.send(binary);
      client.ws.send(text);
      assert.deepEqual(await client.messages.next(), binary);
      assert.ok(await client.messages.next() === text, "the 1 MiB text");
    });
  });

  it("echoes 200 mixed messages on one connection in order", async () => {
    await withClient(async (client) => {
      const count = 200;
      for (let i = 0; i < count; i++) {
        if (i % 2 === 0) client.ws.send(`message ${i}`);
        else client.ws.send(testBytes(i * 37, i));
      }
      for (let i = 0; i < count; i++) {
        assert.deepEqual(
          await client.messages.next(),
          i % 2 === 0 ? `message ${i}` : testBytes(i * 37, i),
        );
      }
    });
  });

  it(
    `echoes ${CONCURRENT_CONNECTIONS} concurrent connections × ${MESSAGES_PER_CONNECTION} messages in order`,
    async () => {
      const echo = await startEchoServer();
      const clients: NativeClient[] = [];
      try {
        for (let c = 0; c < CONCURRENT_CONNECTIONS; c++) {
          clients.push(openNative(`${echo.url}/c${c}`));
        }
        await timeout(
          Promise.all(clients.map((client) => client.opened)),
          10_000,
          "all native clients open",
        );
        const encoder = new TextEncoder();
        await Promise.all(clients.map(async (client, c) => {
          for (let i = 0; i < MESSAGES_PER_CONNECTION; i++) {
            const text = concurrentMessage(c, i);
            client.ws.send(i % 10 === 9 ? encoder.encode(text) : text);
          }
          for (let i = 0; i < MESSAGES_PER_CONNECTION; i++) {
            const text = concurrentMessage(c, i);
            assert.deepEqual(
              await client.messages.next(),
              i % 10 === 9 ? encoder.encode(text) : text,
            );
          }
          client.ws.close(1000, `done ${c}`);
          const info = await timeout(client.closed, 5000, "close");
          assert.deepEqual(info, {
            code: 1000,
            reason: `done ${c}`,
            wasClean: true,
          });
        }));
        await assertConcurrentLogs(echo);
      } finally {
        for (const client of clients) client.ws.close();
        await echo.close();
      }
    },
  );

  it("keeps a connection whose peer answers keepalive pings, with pingInterval", async () => {
    await withClient(async (client, echo) => {
      const socket = await echo.socket(0);
      // The client sends nothing: only its pongs keep it alive.
      await assertKeptBesideSilentPeer(echo, socket);
      assert.equal(client.ws.readyState, WebSocket.OPEN);
      client.ws.close(1000);
      const info = await timeout(socket.closed, 5000, "closed");
      assert.equal(info.closeCode, 1000);
    }, { upgrade: { pingInterval: 100, pongTimeout: 400 } });
  });

  it("completes a close started by the client with 4000 and a reason", async () => {
    await withClient(async (client, echo) => {
      client.ws.send("before close");
      assert.equal(await client.messages.next(), "before close");
      client.ws.close(4000, "bye ✓");
      assert.deepEqual(await timeout(client.closed, 5000, "close event"), {
        code: 4000,
        reason: "bye ✓",
        wasClean: true,
      });
      assert.deepEqual(await serverClosed(echo), {
        closeCode: 4000,
        reason: "bye ✓",
      });
    });
  });

  it("completes a close started by the server with 1001 and a reason", async () => {
    await withClient(async (client, echo) => {
      const socket = await echo.socket(0);
      socket.close({ closeCode: 1001, reason: "server going away" });
      assert.deepEqual(await timeout(client.closed, 5000, "close event"), {
        code: 1001,
        reason: "server going away",
        wasClean: true,
      });
      // `closed` reports the close frame the client echoed: Deno's and
      // Bun's clients echo the reason, Node's (undici) only the code.
      const info = await timeout(socket.closed, 5000, "server closed");
      assert.equal(info.closeCode, 1001);
      assert.ok(
        info.reason === "server going away" || info.reason === "",
        `reason ${JSON.stringify(info.reason)}`,
      );
    });
  });

  it("reports 1006 on the server when the TCP connection drops", async () => {
    // The native client cannot drop TCP, so a raw socket upgrades and
    // disappears without a close frame.
    const echo = await startEchoServer();
    const connection = net.connect({ host: "127.0.0.1", port: echo.port });
    connection.on("error", () => {});
    try {
      const head = await timeout(
        new Promise<string>((resolve, reject) => {
          let text = "";
          connection.on("data", (chunk: Uint8Array) => {
            text += new TextDecoder().decode(chunk);
            if (text.includes("\r\n\r\n")) resolve(text);
          });
          connection.on("close", () => reject(new Error(`EOF after ${text}`)));
          connection.write(
            "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n" +
              "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
          );
        }),
        5000,
        "101",
      );
      assert.match(head, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
      connection.destroy(); // No close frame: an abnormal closure.
      assert.deepEqual(await serverClosed(echo), {
        closeCode: 1006,
        reason: "",
      });
    } finally {
      connection.destroy();
      await echo.close();
    }
  });
});
