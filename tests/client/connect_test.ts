/**
 * `connect()` against real servers on 127.0.0.1: wstream's own `serve()` +
 * `upgrade()` (every runtime, over ws: and wss:), `Deno.serve` +
 * `Deno.upgradeWebSocket` (Deno), `Bun.serve` (Bun), and tiny raw TCP
 * servers for every way a handshake can fail.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { connect, parseWebSocketUrl } from "../../lib/client/connect.ts";
import { HandshakeError } from "../../lib/core/errors.ts";
import type { HandshakeErrorCode } from "../../lib/core/errors.ts";
import { getBun, getDeno } from "../../lib/transports/_runtime_types.ts";
import type { WebSocketConnection } from "../../lib/connection/websocket_connection.ts";
import type {
  WebSocketCloseInfo,
  WebSocketMessage,
} from "../../lib/connection/websocket_stream_like.ts";
import { generateSelfSignedCert } from "../_certs.ts";
import {
  chooseProtocol,
  type EchoServer,
  parseCloseCommand,
  type RawConnection,
  type SeenConnection,
  startWstream,
  switching,
  unusedPort,
  withRaw,
  withServer,
} from "./_client_servers.ts";
import {
  delay,
  encodeServerFrame,
  Inbox,
  latin1,
  timeout,
} from "../_test_utils.ts";

const TEST_TIMEOUT = 20_000;

function patterned(length: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + 7) & 0xff;
  return bytes;
}

// ---------------------------------------------------------------------------
// Echo servers: the same behaviour on every peer (`_client_servers.ts`)
// ---------------------------------------------------------------------------

interface Peer {
  name: string;
  skip: string | false;
  start(): Promise<EchoServer>;
}

/** The part of Deno's API the Deno.serve peer uses. */
interface DenoServeApi {
  serve(
    options: { port: number; hostname: string; onListen(): void },
    handler: (request: Request) => Response,
  ): { addr: { port: number }; shutdown(): Promise<void> };
  upgradeWebSocket(
    request: Request,
    options?: { protocol?: string },
  ): { socket: WebSocket; response: Response };
}

function startDenoServe(): Promise<EchoServer> {
  const deno = getDeno() as unknown as DenoServeApi;
  const seen = new Inbox<SeenConnection>("a connection on the server");
  const sockets = new Set<WebSocket>();
  const server = deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    (request) => {
      const protocol = chooseProtocol(
        request.headers.get("sec-websocket-protocol"),
      );
      // Deno closes the request once upgraded: copy what we need first.
      const headers = new Headers(request.headers);
      const { socket, response } = deno.upgradeWebSocket(
        request,
        protocol === undefined ? {} : { protocol },
      );
      sockets.add(socket);
      socket.binaryType = "arraybuffer";
      const url = new URL(request.url);
      const closed = Promise.withResolvers<WebSocketCloseInfo>();
      socket.onclose = (event) => {
        sockets.delete(socket);
        closed.resolve({ closeCode: event.code, reason: event.reason });
      };
      socket.onmessage = (event) => {
        const data = event.data as string | ArrayBuffer;
        const command = typeof data === "string"
          ? parseCloseCommand(data)
          : null;
        if (command !== null) socket.close(command.closeCode, command.reason);
        else socket.send(data);
      };
      seen.push({
        target: url.pathname + url.search,
        headers,
        closed: closed.promise,
      });
      return response;
    },
  );
  return Promise.resolve({
    url: `ws://127.0.0.1:${server.addr.port}`,
    next: () => seen.next(5000),
    async stop(): Promise<void> {
      for (const socket of sockets) socket.close();
      await server.shutdown();
    },
  });
}

/** The part of a Bun server WebSocket the Bun.serve peer uses. */
interface BunServerSocket {
  data: { closed: PromiseWithResolvers<WebSocketCloseInfo> };
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
}

/** The part of Bun's API the Bun.serve peer uses. */
interface BunServeApi {
  serve(options: {
    port: number;
    hostname: string;
    fetch(
      request: Request,
      server: {
        upgrade(
          request: Request,
          options: { headers?: Record<string, string>; data: unknown },
        ): boolean;
      },
    ): Response | undefined;
    websocket: {
      message(socket: BunServerSocket, message: string | Uint8Array): void;
      close(socket: BunServerSocket, code: number, reason: string): void;
    };
  }): { port: number; stop(closeActive?: boolean): Promise<void> | void };
}

function startBunServe(): Promise<EchoServer> {
  const bun = getBun() as unknown as BunServeApi;
  const seen = new Inbox<SeenConnection>("a connection on the server");
  const server = bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch(request, server) {
      const protocol = chooseProtocol(
        request.headers.get("sec-websocket-protocol"),
      );
      const closed = Promise.withResolvers<WebSocketCloseInfo>();
      const url = new URL(request.url);
      const upgraded = server.upgrade(request, {
        // Without this header Bun answers the first subprotocol offered.
        headers: { "Sec-WebSocket-Protocol": protocol ?? "" },
        data: { closed },
      });
      if (!upgraded) return new Response("not an upgrade", { status: 400 });
      seen.push({
        target: url.pathname + url.search,
        headers: new Headers(request.headers),
        closed: closed.promise,
      });
      return undefined;
    },
    websocket: {
      message(socket, message) {
        const command = typeof message === "string"
          ? parseCloseCommand(message)
          : null;
        if (command !== null) socket.close(command.closeCode, command.reason);
        else socket.send(message);
      },
      close(socket, code, reason) {
        socket.data.closed.resolve({ closeCode: code, reason });
      },
    },
  });
  return Promise.resolve({
    url: `ws://127.0.0.1:${server.port}`,
    next: () => seen.next(5000),
    async stop(): Promise<void> {
      await server.stop(true);
    },
  });
}

const PEERS: Peer[] = [
  { name: "wstream serve()", skip: false, start: () => startWstream() },
  {
    name: "Deno.serve",
    skip: getDeno() === undefined ? "needs Deno" : false,
    start: startDenoServe,
  },
  {
    name: "Bun.serve",
    skip: getBun() === undefined ? "needs Bun" : false,
    start: startBunServe,
  },
];

/** Reads the next message, bounded. */
async function nextMessage(
  reader: ReadableStreamDefaultReader<WebSocketMessage>,
): Promise<WebSocketMessage> {
  const { done, value } = await timeout(reader.read(), 5000, "a message");
  assert.equal(done, false, "readable ended");
  return value!;
}

for (const peer of PEERS) {
  describe(
    `connect() to ${peer.name}`,
    { skip: peer.skip, timeout: TEST_TIMEOUT },
    () => {
      it("echoes text, binary, empty and 1 MiB messages", async () => {
        await withServer(peer.start, async (server) => {
          const socket = await connect(`${server.url}/echo`);
          assert.equal(socket.url, `${server.url}/echo`);
          const { readable, writable, protocol, extensions } = await socket
            .opened;
          assert.equal(protocol, "");
          // connect() offers permessage-deflate by default; wstream's
          // upgrade() accepts it by default, the native servers here do not.
          assert.equal(
            extensions,
            peer.name === "wstream serve()"
              ? "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"
              : "",
          );
          const writer = writable.getWriter();
          const reader = readable.getReader();
          const big = patterned(1024 * 1024);
          const bigText = "wstream ✓ ".repeat(100_000);
          const messages: WebSocketMessage[] = [
            "hello",
            "",
            "héllo wörld 🌍",
            new Uint8Array([0, 1, 2, 255]),
            new Uint8Array(0),
            big,
            bigText,
          ];
          for (const message of messages) {
            void writer.write(message);
          }
          for (const message of messages) {
            assert.deepEqual(await nextMessage(reader), message);
          }
          socket.close();
          await timeout(socket.closed, 5000, "closed");
        });
      });

      it("sends the path, query and custom headers the server sees", async () => {
        await withServer(peer.start, async (server) => {
          const socket = await connect(`${server.url}/room/1?user=ada&x=%20`, {
            headers: {
              Authorization: "Bearer token-123",
              Cookie: "session=abc; theme=dark",
              "X-Custom": "yes",
              Origin: "https://app.example",
            },
          });
          const seen = await server.next();
          assert.equal(seen.target, "/room/1?user=ada&x=%20");
          assert.equal(seen.headers.get("authorization"), "Bearer token-123");
          assert.equal(seen.headers.get("cookie"), "session=abc; theme=dark");
          assert.equal(seen.headers.get("x-custom"), "yes");
          assert.equal(seen.headers.get("origin"), "https://app.example");
          assert.equal(seen.headers.get("sec-websocket-version"), "13");
          assert.equal(
            seen.headers.get("host"),
            new URL(server.url).host,
          );
          socket.close();
          await timeout(socket.closed, 5000, "closed");
        });
      });

      it("negotiates the subprotocol the server prefers among those offered", async () => {
        await withServer(peer.start, async (server) => {
          const socket = await connect(server.url, {
            protocols: ["v2.example", "superchat", "chat"],
          });
          const seen = await server.next();
          assert.equal(
            seen.headers.get("sec-websocket-protocol"),
            "v2.example, superchat, chat",
          );
          assert.equal((await socket.opened).protocol, "chat");
          socket.close();
          await timeout(socket.closed, 5000, "closed");

          const none = await connect(server.url, { protocols: ["other"] });
          assert.equal((await none.opened).protocol, "");
          none.close();
          await timeout(none.closed, 5000, "closed");
        });
      });

      it("closes with a code and reason the server receives", async () => {
        await withServer(peer.start, async (server) => {
          const socket = await connect(server.url);
          const seen = await server.next();
          const { readable } = await socket.opened;
          socket.close({ closeCode: 4000, reason: "client says bye" });
          assert.deepEqual(await timeout(seen.closed, 5000, "server close"), {
            closeCode: 4000,
            reason: "client says bye",
          });
          const closed = await timeout(socket.closed, 5000, "client close");
          assert.equal(closed.closeCode, 4000);
          // A clean close ends the readable.
          assert.equal((await readable.getReader().read()).done, true);
        });
      });

      it("reports the code and reason of a close the server starts", async () => {
        await withServer(peer.start, async (server) => {
          const socket = await connect(server.url);
          const { readable, writable } = await socket.opened;
          await writable.getWriter().write("close 4001 server says bye");
          assert.equal((await readable.getReader().read()).done, true);
          assert.deepEqual(await timeout(socket.closed, 5000, "closed"), {
            closeCode: 4001,
            reason: "server says bye",
          });
        });
      });
    },
  );
}

// ---------------------------------------------------------------------------
// wss:
// ---------------------------------------------------------------------------

describe("connect() over TLS (wss:)", { timeout: TEST_TIMEOUT }, () => {
  it("connects to a server with a self-signed certificate given in caCerts", async () => {
    const { cert, key } = generateSelfSignedCert();
    const server = await startWstream({ cert, key });
    try {
      assert.match(server.url, /^wss:/);
      const socket = await connect(`${server.url}/secure?x=1`, {
        tls: { caCerts: [cert] },
        protocols: ["chat"],
      });
      const seen = await server.next();
      assert.equal(seen.target, "/secure?x=1");
      const { readable, writable, protocol } = await socket.opened;
      assert.equal(protocol, "chat");
      const writer = writable.getWriter();
      const reader = readable.getReader();
      const big = patterned(1024 * 1024);
      void writer.write("over tls");
      void writer.write(new Uint8Array([1, 2, 3]));
      void writer.write(big);
      assert.equal(await nextMessage(reader), "over tls");
      // A plain Uint8Array, as over TCP (not a Node Buffer).
      assert.deepEqual(await nextMessage(reader), new Uint8Array([1, 2, 3]));
      assert.deepEqual(await nextMessage(reader), big);
      socket.close({ closeCode: 1000, reason: "done" });
      assert.deepEqual(await timeout(socket.closed, 5000, "closed"), {
        closeCode: 1000,
        reason: "done",
      });
    } finally {
      await server.stop();
    }
  });

  it("connects to https: (mapped to wss:) by name with serverName", async () => {
    const { cert, key } = generateSelfSignedCert();
    const server = await startWstream({ cert, key });
    try {
      const port = new URL(server.url).port;
      const socket = await connect(`https://127.0.0.1:${port}/`, {
        tls: { caCerts: [cert], serverName: "localhost" },
      });
      assert.equal(socket.url, `wss://127.0.0.1:${port}/`);
      socket.close();
      await timeout(socket.closed, 5000, "closed");
    } finally {
      await server.stop();
    }
  });

  it("refuses a certificate it does not trust, naming the URL", async () => {
    const { cert, key } = generateSelfSignedCert();
    const server = await startWstream({ cert, key });
    try {
      await assert.rejects(
        timeout(connect(`${server.url}/`), 5000, "connect"),
        (error: unknown) => {
          assert.ok(error instanceof Error);
          assert.ok(!(error instanceof HandshakeError));
          assert.match(
            error.message,
            /^Cannot connect to wss:\/\/127\.0\.0\.1:/,
          );
          assert.ok(error.cause !== undefined);
          return true;
        },
      );
    } finally {
      await server.stop();
    }
  });

  it("refuses a certificate for another name", async () => {
    const { cert, key } = generateSelfSignedCert();
    const server = await startWstream({ cert, key });
    try {
      await assert.rejects(
        timeout(
          connect(server.url, {
            tls: { caCerts: [cert], serverName: "example.com" },
          }),
          5000,
          "connect",
        ),
        /^Error: Cannot connect to wss:/,
      );
    } finally {
      await server.stop();
    }
  });
});

// ---------------------------------------------------------------------------
// Raw servers: every way a handshake can fail
// ---------------------------------------------------------------------------

/** Asserts a HandshakeError of `code` whose message matches `message`. */
function handshakeError(
  code: HandshakeErrorCode,
  message: RegExp,
): (error: unknown) => boolean {
  return (error: unknown) => {
    assert.ok(error instanceof HandshakeError, String(error));
    assert.equal(error.code, code);
    assert.match(error.message, message);
    if (code === "WS_ERR_HANDSHAKE_STATUS") {
      // The status is also a field, equal to the one quoted in the message.
      assert.equal(
        error.status,
        Number(/got (\d{3})/.exec(error.message)?.[1]),
      );
    } else {
      assert.equal(error.status, undefined);
    }
    return true;
  };
}

interface RefusalCase {
  name: string;
  answer: (connection: RawConnection) => Promise<void> | void;
  code: HandshakeErrorCode;
  message: RegExp;
}

const REFUSALS: RefusalCase[] = [
  {
    name: "a 403 with its body quoted",
    answer: (c) =>
      c.write(
        "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\n" +
          "Content-Length: 23\r\nConnection: close\r\n\r\nOrigin is not allowed\r\n",
      ),
    code: "WS_ERR_HANDSHAKE_STATUS",
    message:
      /^Expected status 101 Switching Protocols from ws:\/\/127\.0\.0\.1:\d+\/, got 403 Forbidden: "Origin is not allowed"$/,
  },
  {
    name: "a 401 whose body arrives after the head, chunked",
    answer: async (c) => {
      await c.write(
        "HTTP/1.1 401 Unauthorized\r\nTransfer-Encoding: chunked\r\n\r\n",
      );
      await delay(20);
      await c.write("5\r\nlogin\r\n");
      await c.write("9\r\n required\r\n0\r\n\r\n");
    },
    code: "WS_ERR_HANDSHAKE_STATUS",
    message: /got 401 Unauthorized: "login required"$/,
  },
  {
    name: "a 500 whose long body is cut at 200 bytes",
    answer: (c) =>
      c.write(
        "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 1000\r\n\r\n" +
          "a".repeat(195) + "bcdefghijk" + "z".repeat(795),
      ),
    code: "WS_ERR_HANDSHAKE_STATUS",
    message: /got 500 Internal Server Error: "a{195}bcdef…"$/,
  },
  {
    name: "a 404 whose body ends with the connection",
    answer: async (c) => {
      await c.write("HTTP/1.1 404 Not Found\r\n\r\nno such endpoint");
      c.close();
    },
    code: "WS_ERR_HANDSHAKE_STATUS",
    message: /got 404 Not Found: "no such endpoint"$/,
  },
  {
    name: "a 200 without a body",
    answer: (c) => c.write("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
    code: "WS_ERR_HANDSHAKE_STATUS",
    message: /got 200 OK: the server refused the WebSocket upgrade$/,
  },
  {
    name: "a redirect, which is not followed",
    answer: (c) =>
      c.write(
        "HTTP/1.1 301 Moved Permanently\r\nLocation: wss://elsewhere.example/\r\n" +
          "Content-Length: 0\r\n\r\n",
      ),
    code: "WS_ERR_HANDSHAKE_STATUS",
    message:
      /got 301 Moved Permanently \(redirect to "wss:\/\/elsewhere\.example\/", not followed/,
  },
  {
    name: "a 101 with a wrong Sec-WebSocket-Accept",
    answer: (c) =>
      c.write(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" +
          "Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
      ),
    code: "WS_ERR_HANDSHAKE_ACCEPT",
    message:
      /Invalid Sec-WebSocket-Accept header "s3pPLMBiTxaQ9kYGzzhZRbK\+xOo="/,
  },
  {
    name: "a 101 without Sec-WebSocket-Accept",
    answer: (c) =>
      c.write(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" +
          "Connection: Upgrade\r\n\r\n",
      ),
    code: "WS_ERR_HANDSHAKE_ACCEPT",
    message: /Missing Sec-WebSocket-Accept/,
  },
  {
    name: "a 101 upgrading to something else",
    answer: async (c) =>
      c.write(
        (await switching(c.key)).replace("Upgrade: websocket", "Upgrade: h2c"),
      ),
    code: "WS_ERR_HANDSHAKE_UPGRADE",
    message: /Invalid Upgrade header "h2c"/,
  },
  {
    name: "a 101 without Connection: Upgrade",
    answer: async (c) =>
      c.write(
        (await switching(c.key)).replace(
          "Connection: Upgrade",
          "Connection: keep-alive",
        ),
      ),
    code: "WS_ERR_HANDSHAKE_CONNECTION",
    message: /Invalid Connection header "keep-alive"/,
  },
  {
    name: "a 101 choosing a subprotocol that was not offered",
    answer: async (c) =>
      c.write(await switching(c.key, "Sec-WebSocket-Protocol: superchat\r\n")),
    code: "WS_ERR_HANDSHAKE_PROTOCOL",
    message:
      /Invalid Sec-WebSocket-Protocol header "superchat": expected one of "chat"/,
  },
  {
    name: "a 101 with an extension that was not offered",
    answer: async (c) =>
      c.write(
        await switching(
          c.key,
          "Sec-WebSocket-Extensions: x-webkit-deflate-frame\r\n",
        ),
      ),
    code: "WS_ERR_HANDSHAKE_EXTENSION",
    message: /extension "x-webkit-deflate-frame" was not offered/,
  },
  {
    name: "a 101 with a permessage-deflate parameter that was not offered",
    answer: async (c) =>
      c.write(
        await switching(
          c.key,
          "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=20\r\n",
        ),
      ),
    code: "WS_ERR_HANDSHAKE_EXTENSION",
    message: /server_max_window_bits needs a value from 8 to 15/,
  },
  {
    name: "an answer that is not HTTP",
    answer: (c) => c.write("SSH-2.0-OpenSSH_9.6\r\n"),
    code: "WS_ERR_HANDSHAKE_MALFORMED",
    message:
      /^Invalid handshake answer from ws:\/\/127\.0\.0\.1:\d+\/: Malformed status line/,
  },
  {
    name: "an answer head over 16 KiB",
    answer: (c) =>
      c.write(`HTTP/1.1 101 Switching Protocols\r\nX: ${"x".repeat(17_000)}`),
    code: "WS_ERR_HANDSHAKE_MALFORMED",
    message: /Response head too large: it exceeds 16384 bytes/,
  },
  {
    name: "a connection closed without an answer",
    answer: (c) => c.close(),
    code: "WS_ERR_HANDSHAKE_MALFORMED",
    message: /closed the connection without answering the opening handshake/,
  },
  {
    name: "a connection closed in the middle of the answer",
    answer: async (c) => {
      await c.write("HTTP/1.1 101 Switching Protocols\r\nUpgr");
      c.close();
    },
    code: "WS_ERR_HANDSHAKE_MALFORMED",
    message: /in the middle of its handshake answer \(38 bytes received\)/,
  },
];

describe("connect() handshake failures", { timeout: TEST_TIMEOUT }, () => {
  for (const c of REFUSALS) {
    it(`rejects ${c.name} and closes the socket`, async () => {
      await withRaw(c.answer, async (server) => {
        await assert.rejects(
          timeout(
            connect(`${server.url}/`, { protocols: ["chat"] }),
            5000,
            "connect",
          ),
          handshakeError(c.code, c.message),
        );
        const connection = await server.next();
        await timeout(connection.ended, 5000, "the client closing its socket");
      });
    });
  }

  it("bounds the wait for a refusal's body that never ends", async () => {
    await withRaw(
      (c) => c.write("HTTP/1.1 503 Service Unavailable\r\n\r\nbusy, try later"),
      async (server) => {
        const start = Date.now();
        await assert.rejects(
          timeout(connect(server.url), 5000, "connect"),
          handshakeError(
            "WS_ERR_HANDSHAKE_STATUS",
            /got 503 Service Unavailable: "busy, try later"$/,
          ),
        );
        assert.ok(Date.now() - start < 3000, "waited too long for the body");
        await timeout((await server.next()).ended, 5000, "socket closed");
      },
    );
  });

  it("times out with WS_ERR_HANDSHAKE_TIMEOUT when the server never answers", async () => {
    await withRaw(() => {}, async (server) => {
      const start = Date.now();
      await assert.rejects(
        timeout(
          connect(`${server.url}/slow`, { handshakeTimeout: 200 }),
          5000,
          "connect",
        ),
        handshakeError(
          "WS_ERR_HANDSHAKE_TIMEOUT",
          /^Opening handshake with ws:\/\/127\.0\.0\.1:\d+\/slow timed out after 200 ms while waiting for the server's answer$/,
        ),
      );
      assert.ok(Date.now() - start >= 190);
      await timeout((await server.next()).ended, 5000, "socket closed");
    });
  });

  it("times out when the server stops in the middle of its answer", async () => {
    await withRaw(
      (c) => c.write("HTTP/1.1 101 Switching Protocols\r\n"),
      async (server) => {
        await assert.rejects(
          timeout(
            connect(server.url, { handshakeTimeout: 200 }),
            5000,
            "connect",
          ),
          handshakeError("WS_ERR_HANDSHAKE_TIMEOUT", /timed out after 200 ms/),
        );
        await timeout((await server.next()).ended, 5000, "socket closed");
      },
    );
  });

  it("rejects with the signal's reason when aborted, and closes the socket", async () => {
    await withRaw(() => {}, async (server) => {
      const controller = new AbortController();
      const connecting = connect(server.url, { signal: controller.signal });
      const connection = await server.next();
      controller.abort();
      await assert.rejects(
        timeout(connecting, 5000, "connect"),
        (error: unknown) => {
          assert.ok(error instanceof DOMException, String(error));
          assert.equal(error.name, "AbortError");
          return true;
        },
      );
      await timeout(connection.ended, 5000, "socket closed");

      const reason = new Error("user navigated away");
      const again = new AbortController();
      const second = connect(server.url, { signal: again.signal });
      const secondConnection = await server.next();
      again.abort(reason);
      await assert.rejects(second, (error: unknown) => error === reason);
      await timeout(secondConnection.ended, 5000, "socket closed");
    });
  });

  it("closes a socket that connects after the signal aborted", async () => {
    await withRaw(() => {}, async (server) => {
      const controller = new AbortController();
      const connecting = connect(server.url, { signal: controller.signal });
      controller.abort(); // While the TCP connection is being opened.
      await assert.rejects(connecting, { name: "AbortError" });
      // Whether or not the TCP connection completed, nothing stays open.
      await delay(100);
      for (let i = 0; i < 50 && server.open() > 0; i++) await delay(20);
      assert.equal(server.open(), 0);
    });
  });

  it("times out while connecting when the TLS handshake never completes", async () => {
    // A plain TCP server never answers the ClientHello of wss:.
    await withRaw(() => {}, async (server) => {
      const url = server.url.replace(/^ws:/, "wss:");
      await assert.rejects(
        timeout(connect(url, { handshakeTimeout: 200 }), 5000, "connect"),
        handshakeError(
          "WS_ERR_HANDSHAKE_TIMEOUT",
          /timed out after 200 ms while connecting$/,
        ),
      );
    });
  });

  it("rejects at once, without connecting, when the signal is already aborted", async () => {
    await withRaw(() => {}, async (server) => {
      const reason = new Error("too late");
      await assert.rejects(
        connect(server.url, { signal: AbortSignal.abort(reason) }),
        (error: unknown) => error === reason,
      );
      await delay(50);
      assert.equal(server.count(), 0);
    });
  });

  it("ignores the signal once connected", async () => {
    await withRaw(
      async (c) => c.write(await switching(c.key)),
      async (server) => {
        const controller = new AbortController();
        const socket = await connect(server.url, {
          signal: controller.signal,
        });
        controller.abort();
        await delay(20);
        const { writable } = await socket.opened;
        await writable.getWriter().write("still open");
        socket.close();
      },
    );
  });

  it("wraps a refused connection with the URL and the cause", async () => {
    const port = await unusedPort();
    await assert.rejects(
      timeout(connect(`ws://127.0.0.1:${port}/x`), 5000, "connect"),
      (error: unknown) => {
        assert.ok(error instanceof Error);
        assert.ok(!(error instanceof HandshakeError));
        assert.equal(
          error.message.startsWith(
            `Cannot connect to ws://127.0.0.1:${port}/x: `,
          ),
          true,
          error.message,
        );
        assert.match(error.message, /refused|ECONNREFUSED/i);
        assert.ok(error.cause instanceof Error);
        return true;
      },
    );
  });

  it("wraps a DNS failure with the URL and the cause", async () => {
    await assert.rejects(
      // RFC 2606: .invalid never resolves.
      timeout(connect("ws://no-such-host.invalid/"), 8000, "connect"),
      (error: unknown) => {
        assert.ok(error instanceof Error);
        assert.match(
          error.message,
          /^Cannot connect to ws:\/\/no-such-host\.invalid\/: /,
        );
        assert.ok(error.cause !== undefined);
        return true;
      },
    );
  });
});

// ---------------------------------------------------------------------------
// The request and the answer, byte-exact
// ---------------------------------------------------------------------------

describe("connect() request and answer", { timeout: TEST_TIMEOUT }, () => {
  it("sends an RFC 6455 §4.1 request with the handshake headers first", async () => {
    await withRaw(
      async (c) => c.write(await switching(c.key)),
      async (server) => {
        const socket = await connect(`${server.url}/a%20b/c?q=1&r=%C3%A9`, {
          protocols: ["chat", "superchat"],
          headers: [["x-api-key", "k"], ["Sec-WebSocket-Extensions", "x"], [
            "Upgrade",
            "nope",
          ]],
        });
        const { head } = await server.next();
        const lines = head.split("\r\n");
        assert.equal(lines[0], "GET /a%20b/c?q=1&r=%C3%A9 HTTP/1.1");
        assert.equal(lines[1], `Host: ${new URL(server.url).host}`);
        assert.equal(lines[2], "Upgrade: websocket");
        assert.equal(lines[3], "Connection: Upgrade");
        assert.match(lines[4]!, /^Sec-WebSocket-Key: [A-Za-z0-9+/]{22}==$/);
        assert.equal(lines[5], "Sec-WebSocket-Version: 13");
        assert.equal(lines[6], "Sec-WebSocket-Protocol: chat, superchat");
        assert.equal(
          lines[7],
          "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
        );
        assert.equal(lines[8], "X-Api-Key: k");
        assert.equal(lines.length, 11); // then the empty line, then ""
        socket.close();
      },
    );
  });

  it("sends the Host given in headers instead of the URL's", async () => {
    await withRaw(
      async (c) => c.write(await switching(c.key)),
      async (server) => {
        const socket = await connect(server.url, {
          headers: { Host: "virtual.example" },
        });
        const { head } = await server.next();
        assert.match(head, /\r\nHost: virtual\.example\r\n/);
        assert.equal(head.match(/host:/gi)?.length, 1);
        socket.close();
      },
    );
  });

  it("delivers frames sent in the same TCP chunk as the 101 answer", async () => {
    await withRaw(
      async (c) => {
        const head = latin1(await switching(c.key));
        const frames = [
          encodeServerFrame({ opcode: 1, payload: "first" }),
          encodeServerFrame({ opcode: 2, payload: new Uint8Array([7, 8]) }),
        ];
        const bytes = new Uint8Array(
          head.length + frames[0]!.length + frames[1]!.length,
        );
        bytes.set(head);
        bytes.set(frames[0]!, head.length);
        bytes.set(frames[1]!, head.length + frames[0]!.length);
        await c.write(bytes);
      },
      async (server) => {
        const socket = await connect(server.url);
        const reader = (await socket.opened).readable.getReader();
        assert.equal(await nextMessage(reader), "first");
        assert.deepEqual(await nextMessage(reader), new Uint8Array([7, 8]));
        socket.close();
      },
    );
  });

  it("skips interim 1xx answers before the 101 (RFC 9110 §15.2)", async () => {
    await withRaw(
      async (c) => {
        await c.write(
          "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n" +
            "HTTP/1.1 100 Continue\r\n\r\n" + (await switching(c.key)),
        );
        await c.write(encodeServerFrame({ opcode: 1, payload: "after hints" }));
      },
      async (server) => {
        const socket = await connect(server.url);
        const reader = (await socket.opened).readable.getReader();
        assert.equal(await nextMessage(reader), "after hints");
        socket.close();
      },
    );
  });

  it("accepts a 101 answer fed one byte at a time", async () => {
    await withRaw(
      async (c) => {
        const bytes = latin1(await switching(c.key)); // no frames after
        for (const byte of bytes) {
          await c.write(Uint8Array.of(byte));
          await delay(0);
        }
        await c.write(encodeServerFrame({ opcode: 1, payload: "hi" }));
      },
      async (server) => {
        const socket = await connect(server.url);
        const reader = (await socket.opened).readable.getReader();
        assert.equal(await nextMessage(reader), "hi");
        socket.close();
      },
    );
  });

  it("uses the connection limits given", async () => {
    await withRaw(
      async (c) => {
        await c.write(await switching(c.key));
        await c.write(
          encodeServerFrame({ opcode: 1, payload: "x".repeat(11) }),
        );
      },
      async (server) => {
        const socket: WebSocketConnection = await connect(server.url, {
          maxMessageSize: 10,
        });
        assert.equal(
          (await timeout(socket.closed, 5000, "closed")).closeCode,
          1009,
        );
      },
    );
  });
});

describe("connect() arguments", () => {
  it("rejects invalid URLs with SyntaxError", async () => {
    for (
      const url of [
        "ftp://example.com/",
        "ws://example.com/#frag",
        "ws://example.com/#",
        "/relative",
        "not a url",
        "file:///tmp/x",
      ]
    ) {
      await assert.rejects(connect(url), SyntaxError, url);
    }
  });

  it("rejects invalid subprotocols with SyntaxError and headers with TypeError", async () => {
    await assert.rejects(
      connect("ws://127.0.0.1:1/", { protocols: ["a b"] }),
      SyntaxError,
    );
    await assert.rejects(
      connect("ws://127.0.0.1:1/", { protocols: ["a", "a"] }),
      SyntaxError,
    );
    await assert.rejects(
      connect("ws://127.0.0.1:1/", { headers: { "bad name": "x" } }),
      TypeError,
    );
  });

  it("rejects out-of-range limits with RangeError", async () => {
    for (
      const options of [
        { handshakeTimeout: 0 },
        { handshakeTimeout: -1 },
        { handshakeTimeout: Number.NaN },
        { maxMessageSize: -1 },
        { maxMessageSize: 1.5 },
        { pingInterval: -5 },
        { closeTimeout: 2 ** 31 },
      ]
    ) {
      await assert.rejects(
        connect("ws://127.0.0.1:1/", options),
        RangeError,
        JSON.stringify(options),
      );
    }
  });
});

describe("parseWebSocketUrl", () => {
  const CASES: [string, string][] = [
    ["ws://example.com", "ws://example.com/"],
    ["wss://example.com/chat?x=1", "wss://example.com/chat?x=1"],
    ["http://example.com:8080/a", "ws://example.com:8080/a"],
    ["https://example.com/", "wss://example.com/"],
    ["ws://example.com:80/", "ws://example.com/"],
    ["wss://example.com:443/", "wss://example.com/"],
    ["http://example.com:443/", "ws://example.com:443/"],
    ["WS://EXAMPLE.com/Path", "ws://example.com/Path"],
    ["ws://[::1]:9000/", "ws://[::1]:9000/"],
  ];
  for (const [input, expected] of CASES) {
    it(`maps ${input} to ${expected}`, () => {
      assert.equal(parseWebSocketUrl(input).href, expected);
      assert.equal(parseWebSocketUrl(new URL(input)).href, expected);
    });
  }

  it("does not modify a URL object it is given", () => {
    const url = new URL("https://example.com/");
    parseWebSocketUrl(url);
    assert.equal(url.href, "https://example.com/");
  });

  it("names the problem in its SyntaxError", () => {
    assert.throws(
      () => parseWebSocketUrl("ftp://x/"),
      /the scheme must be ws: or wss:/,
    );
    assert.throws(() => parseWebSocketUrl("ws://x/#a"), /remove the fragment/);
    assert.throws(
      () => parseWebSocketUrl("nope"),
      /use an absolute ws: or wss: URL/,
    );
  });
});
