/**
 * wstream's server (`serve` + `upgrade`) against the npm `ws` client, the
 * real package (also on Bun, whose bare `ws` is a built-in stand-in).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  assertConcurrentLogs,
  CONCURRENT_CONNECTIONS,
  concurrentMessage,
  isOpen,
  largeText,
  MESSAGES_PER_CONNECTION,
  SERVE_SKIP,
  serverClosed,
  startEchoServer,
  TEST_TIMEOUT,
} from "./_interop_utils.ts";
import type { EchoServer, EchoServerOptions } from "./_interop_utils.ts";
import { generateSelfSignedCert } from "../_certs.ts";
import { delay, Inbox, testBytes, timeout } from "../_test_utils.ts";
import { ws } from "./_peers.ts";
import type { WsClientOptions, WsSocket } from "./_peers.ts";

const decoder = new TextDecoder();

/** A received `ws` message: text as a string, binary as bytes. */
type Received = { text: string } | { binary: Uint8Array };

interface WsClient {
  socket: WsSocket;
  messages: Inbox<Received>;
  pings: Inbox<Uint8Array>;
  pongs: Inbox<Uint8Array>;
  opened: Promise<void>;
  closed: Promise<{ code: number; reason: string }>;
}

function openWs(url: string, options: WsClientOptions = {}): WsClient {
  const socket = new (ws.get().WebSocket)(url, {
    perMessageDeflate: false,
    ...options,
  });
  const messages = new Inbox<Received>("a message on the ws client");
  const pings = new Inbox<Uint8Array>("a ping on the ws client");
  const pongs = new Inbox<Uint8Array>("a pong on the ws client");
  socket.on("message", (data, isBinary) => {
    messages.push(
      isBinary
        ? { binary: new Uint8Array(data) }
        : { text: decoder.decode(data) },
    );
  });
  socket.on("ping", (data) => pings.push(new Uint8Array(data)));
  socket.on("pong", (data) => pongs.push(new Uint8Array(data)));
  const opened = new Promise<void>((resolve, reject) => {
    socket.on("open", resolve);
    socket.on("error", reject);
  });
  opened.catch(() => {});
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    socket.on("close", (code, reason) => {
      resolve({ code, reason: decoder.decode(reason) });
    });
  });
  return { socket, messages, pings, pongs, opened, closed };
}

/** Runs `body` with a fresh wstream echo server and an open ws client. */
async function withClient(
  body: (client: WsClient, echo: EchoServer) => Promise<void>,
  options: { server?: EchoServerOptions; client?: WsClientOptions } = {},
): Promise<void> {
  const echo = await startEchoServer(options.server);
  let client: WsClient | undefined;
  try {
    client = openWs(`${echo.url}/echo`, options.client);
    await timeout(client.opened, 5000, "ws client open");
    await body(client, echo);
  } finally {
    if (client !== undefined && client.socket.readyState !== 3) {
      client.socket.terminate();
    }
    await echo.close();
  }
}

describe("wstream server with the npm ws client", {
  timeout: TEST_TIMEOUT,
  skip: SERVE_SKIP || ws.skip,
}, () => {
  it("echoes text, binary and empty messages with their types", async () => {
    await withClient(async (client, echo) => {
      client.socket.send("hello ✓");
      client.socket.send(new Uint8Array([0, 1, 2, 255]));
      client.socket.send("");
      client.socket.send(new Uint8Array(0));
      assert.deepEqual(await client.messages.next(), { text: "hello ✓" });
      assert.deepEqual(await client.messages.next(), {
        binary: new Uint8Array([0, 1, 2, 255]),
      });
      assert.deepEqual(await client.messages.next(), { text: "" });
      assert.deepEqual(await client.messages.next(), {
        binary: new Uint8Array(0),
      });
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
      client.socket.send(binary);
      client.socket.send(text);
      assert.deepEqual(await client.messages.next(), { binary });
      const echoed = await client.messages.next();
      assert.ok("text" in echoed && echoed.text === text, "the 1 MiB text");
    });
  });

  it(
    `echoes ${CONCURRENT_CONNECTIONS} concurrent connections × ${MESSAGES_PER_CONNECTION} messages in order`,
    async () => {
      const echo = await startEchoServer();
      const clients: WsClient[] = [];
      try {
        for (let c = 0; c < CONCURRENT_CONNECTIONS; c++) {
          clients.push(openWs(`${echo.url}/c${c}`));
        }
        await timeout(
          Promise.all(clients.map((client) => client.opened)),
          10_000,
          "all ws clients open",
        );
        await Promise.all(clients.map(async (client, c) => {
          for (let i = 0; i < MESSAGES_PER_CONNECTION; i++) {
            const text = concurrentMessage(c, i);
            if (i % 10 === 9) {
              client.socket.send(new TextEncoder().encode(text));
            } else client.socket.send(text);
          }
          for (let i = 0; i < MESSAGES_PER_CONNECTION; i++) {
            const text = concurrentMessage(c, i);
            const expected = i % 10 === 9
              ? { binary: new TextEncoder().encode(text) }
              : { text };
            assert.deepEqual(await client.messages.next(), expected);
          }
          client.socket.close(1000, `done ${c}`);
          assert.deepEqual(await timeout(client.closed, 5000, "ws close"), {
            code: 1000,
            reason: `done ${c}`,
          });
        }));
        await assertConcurrentLogs(echo);
      } finally {
        for (const client of clients) client.socket.terminate();
        await echo.close();
      }
    },
  );

  it("answers a ping from the ws client with a pong carrying its payload", async () => {
    await withClient(async (client) => {
      client.socket.ping("are you there?");
      assert.deepEqual(
        await client.pongs.next(5000),
        new TextEncoder().encode("are you there?"),
      );
      client.socket.ping();
      assert.deepEqual(await client.pongs.next(5000), new Uint8Array(0));
    });
  });

  it("keeps a connection whose peer answers keepalive pings, with pingInterval", async () => {
    await withClient(async (client, echo) => {
      const socket = await echo.socket(0);
      // The client sends nothing: only its pongs keep the connection alive.
      await delay(1000);
      assert.ok(client.pings.size >= 3, `${client.pings.size} pings`);
      assert.equal(await isOpen(socket), true, "the server kept it open");
      assert.equal(client.socket.readyState, 1);
      client.socket.close(1000);
      assert.equal(
        (await timeout(socket.closed, 5000, "closed")).closeCode,
        1000,
      );
    }, { server: { upgrade: { pingInterval: 100, pongTimeout: 400 } } });
  });

  it("drops a peer that does not answer keepalive pings with 1006", async () => {
    await withClient(async (client, echo) => {
      const socket = await echo.socket(0);
      await client.pings.next(5000);
      assert.deepEqual(
        await timeout(socket.closed, 5000, "server closed"),
        { closeCode: 1006, reason: "" },
      );
      const { code } = await timeout(client.closed, 5000, "client closed");
      assert.ok(code === 1011 || code === 1006, `client saw ${code}`);
    }, {
      server: { upgrade: { pingInterval: 100, pongTimeout: 300 } },
      client: { autoPong: false },
    });
  });

  it("completes a close started by the ws client with 4000 and a reason", async () => {
    await withClient(async (client, echo) => {
      client.socket.send("before close");
      assert.deepEqual(await client.messages.next(), { text: "before close" });
      client.socket.close(4000, "bye ✓");
      assert.deepEqual(await timeout(client.closed, 5000, "ws close"), {
        code: 4000,
        reason: "bye ✓",
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
      assert.deepEqual(await timeout(client.closed, 5000, "ws close"), {
        code: 1001,
        reason: "server going away",
      });
      assert.deepEqual(await timeout(socket.closed, 5000, "server closed"), {
        closeCode: 1001,
        reason: "server going away",
      });
    });
  });

  it("reports 1006 on the server when the ws client drops TCP", async () => {
    await withClient(async (client, echo) => {
      client.socket.send("hi");
      await client.messages.next();
      client.socket.terminate(); // Destroys the socket: no close frame.
      assert.deepEqual(await serverClosed(echo), {
        closeCode: 1006,
        reason: "",
      });
    });
  });

  it("echoes and closes over wss with a self-signed certificate", async () => {
    const cert = generateSelfSignedCert();
    await withClient(async (client, echo) => {
      assert.match(echo.url, /^wss:/);
      const binary = testBytes(1 << 20, 9);
      client.socket.send("secure ✓");
      client.socket.send(binary);
      assert.deepEqual(await client.messages.next(), { text: "secure ✓" });
      assert.deepEqual(await client.messages.next(), { binary });
      client.socket.close(4001, "tls done");
      assert.deepEqual(await timeout(client.closed, 5000, "ws close"), {
        code: 4001,
        reason: "tls done",
      });
      assert.deepEqual(await serverClosed(echo), {
        closeCode: 4001,
        reason: "tls done",
      });
    }, { server: { tls: cert }, client: { ca: cert.cert } });
  });
});
