import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { serve } from "../../lib/server/serve.ts";
import type {
  ServeHandler,
  ServeOptions,
  Server,
} from "../../lib/server/serve.ts";
import { upgrade } from "../../lib/server/upgrade.ts";
import type { WebSocketStreamLike } from "../../lib/connection/websocket_stream_like.ts";
import type { TcpConnection } from "../../lib/transports/tcp_connection.ts";
import { generateSelfSignedCert } from "../_certs.ts";
import {
  closeFrameInfo,
  dial,
  exchange as rawExchange,
  MASKED_HELLO,
  OPCODE_CLOSE,
  OPCODE_PING,
  OPCODE_PONG,
  OPCODE_TEXT,
  parseResponse,
  type RawResponse,
  RawWebSocket,
  readAll,
  readUntil,
  text,
  UPGRADE_HEAD,
} from "../_raw_client.ts";
import {
  concat,
  delay,
  echoUpgraded,
  encodeClientFrame,
  latin1,
  timeout,
} from "../_test_utils.ts";

const TEST_TIMEOUT = 20_000;

/**
 * Sends a request on its own connection and reads the response to the end:
 * it asks for `Connection: close`, since the server keeps HTTP/1.1
 * connections alive (see serve_http_test.ts for keep-alive itself).
 */
function exchange(
  port: number,
  first: string,
  ...more: (string | Uint8Array)[]
): Promise<RawResponse> {
  const closing = / HTTP\/1\.1\r\n/.test(first)
    ? first.replace(" HTTP/1.1\r\n", " HTTP/1.1\r\nConnection: close\r\n")
    : first;
  return rawExchange(port, closing, ...more);
}

/**
 * Starts a server on 127.0.0.1, port 0, once it listens (Node binds
 * asynchronously); always pair with `server.shutdown()`.
 */
async function start(
  handler: ServeHandler,
  options: ServeOptions = {},
): Promise<Server> {
  const server = serve({ port: 0, hostname: "127.0.0.1", ...options }, handler);
  await timeout(server.listening, 5000, "listening");
  return server;
}

/** A handler that upgrades and echoes; `sockets` collects the sockets. */
function echoHandler(
  sockets: WebSocketStreamLike[] = [],
  options: Parameters<typeof upgrade>[1] = {},
): ServeHandler {
  return async (request) => {
    if (request.headers.get("upgrade") === null) {
      return new Response(`plain ${request.url}`);
    }
    return echoUpgraded(await upgrade(request, options), sockets);
  };
}

describe("serve", { timeout: TEST_TIMEOUT }, () => {
  it("answers a plain HTTP request with the handler's response", async () => {
    const seen: Request[] = [];
    const server = await start((request) => {
      seen.push(request);
      const headers = new Headers({ "x-test": "yes" });
      headers.append("set-cookie", "a=1");
      headers.append("set-cookie", "b=2");
      return new Response(`hello ${new URL(request.url).search}`, {
        status: 201,
        headers,
      });
    });
    try {
      const response = await fetch(
        `http://127.0.0.1:${server.addr.port}/path?x=1`,
      );
      assert.equal(response.status, 201);
      assert.equal(response.headers.get("x-test"), "yes");
      assert.deepEqual(response.headers.getSetCookie(), ["a=1", "b=2"]);
      assert.equal(await response.text(), "hello ?x=1");
      assert.equal(seen.length, 1);
      assert.equal(seen[0]?.method, "GET");
      assert.equal(
        seen[0]?.url,
        `http://127.0.0.1:${server.addr.port}/path?x=1`,
      );
    } finally {
      await server.shutdown();
    }
  });

  it("writes Content-Length and Connection: close, and no body for HEAD", async () => {
    const server = await start(() => new Response("four"));
    try {
      const get = await exchange(
        server.addr.port,
        "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
      );
      assert.equal(get.status, 200);
      assert.equal(get.headers.get("content-length"), "4");
      assert.equal(get.headers.get("connection"), "close");
      assert.equal(get.body, "four");
      const head = await exchange(
        server.addr.port,
        "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n",
      );
      assert.equal(head.status, 200);
      assert.equal(head.headers.get("content-length"), "4");
      assert.equal(head.body, "");
    } finally {
      await server.shutdown();
    }
  });

  it("answers a request whose body the handler does not read", async () => {
    let body: ReadableStream | null = null;
    const server = await start((request) => {
      body = request.body;
      return new Response(`got ${request.method}`);
    });
    try {
      const response = await exchange(
        server.addr.port,
        "POST /form HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
      );
      assert.equal(response.status, 200);
      assert.equal(response.body, "got POST");
      assert.ok(body !== null, "the body is offered as request.body");
    } finally {
      await server.shutdown();
    }
  });

  for (
    const [name, request, status, reason] of [
      [
        "a malformed request line",
        "NONSENSE\r\n\r\n",
        400,
        /Malformed request line "NONSENSE"/,
      ],
      ["a missing Host", "GET / HTTP/1.1\r\n\r\n", 400, /Missing Host/],
      [
        "obsolete line folding",
        "GET / HTTP/1.1\r\nHost: x\r\nA: b\r\n c\r\n\r\n",
        400,
        /Obsolete line folding/,
      ],
      [
        "HTTP/2.0",
        "GET / HTTP/2.0\r\nHost: x\r\n\r\n",
        505,
        /HTTP version not supported/,
      ],
      [
        "an unknown method",
        "BREW / HTTP/1.1\r\nHost: x\r\n\r\n",
        501,
        /Method not implemented/,
      ],
    ] as const
  ) {
    it(`answers ${status} with the reason to ${name}, without calling the handler`, async () => {
      let called = false;
      const server = await start(() => {
        called = true;
        return new Response("no");
      });
      try {
        const response = await exchange(server.addr.port, request);
        assert.equal(response.status, status);
        assert.match(response.body, reason);
        assert.equal(
          response.headers.get("content-type"),
          "text/plain; charset=utf-8",
        );
        assert.equal(called, false);
      } finally {
        await server.shutdown();
      }
    });
  }

  it("answers 431 to a head over maxHeadSize", async () => {
    const server = await start(() => new Response("no"), { maxHeadSize: 1024 });
    try {
      const response = await exchange(
        server.addr.port,
        `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(2000)}\r\n\r\n`,
      );
      assert.equal(response.status, 431);
      assert.match(response.body, /the head exceeds 1024 bytes/);
    } finally {
      await server.shutdown();
    }
  });

  it("answers 431 to more header lines than maxHeaderCount and 414 to a request line over maxLineSize", async () => {
    const server = await start(() => new Response("no"), {
      maxHeaderCount: 10,
      maxLineSize: 512,
    });
    try {
      const many = await exchange(
        server.addr.port,
        `GET / HTTP/1.1\r\nHost: x\r\n${"X-A: 1\r\n".repeat(10)}\r\n`,
      );
      assert.equal(many.status, 431);
      assert.match(many.body, /more than 10 header lines/);
      const long = await exchange(
        server.addr.port,
        `GET /${"a".repeat(600)} HTTP/1.1\r\nHost: x\r\n\r\n`,
      );
      assert.equal(long.status, 414);
      assert.match(long.body, /URI too long/);
    } finally {
      await server.shutdown();
    }
  });

  it("drops a client that does not finish its head within handshakeTimeout", async () => {
    let called = false;
    const server = await start(() => {
      called = true;
      return new Response("no");
    }, { handshakeTimeout: 200 });
    const connection = await dial(server.addr.port);
    try {
      const writer = connection.writable.getWriter();
      await writer.write(latin1("GET / HTTP/1.1\r\nHost: x\r\n"));
      const started = performance.now();
      const rest = await timeout(readAll(connection), 5000, "the drop");
      const elapsed = performance.now() - started;
      assert.equal(rest, "");
      assert.ok(
        elapsed >= 100 && elapsed < 3000,
        `dropped after ${elapsed} ms`,
      );
      assert.equal(called, false);
    } finally {
      connection.close();
      await server.shutdown();
    }
  });

  it("answers an invalid upgrade with the refusal of answerUpgrade", async () => {
    const server = await start(async (request) =>
      (await upgrade(request)).response
    );
    try {
      const version8 = await exchange(
        server.addr.port,
        UPGRADE_HEAD.replace("Version: 13", "Version: 8"),
      );
      assert.equal(version8.status, 426);
      assert.equal(version8.headers.get("sec-websocket-version"), "13");
      assert.match(version8.body, /Sec-WebSocket-Version/);
      const noKey = await exchange(
        server.addr.port,
        UPGRADE_HEAD.replace(/Sec-WebSocket-Key: .*\r\n/, ""),
      );
      assert.equal(noKey.status, 400);
      assert.match(noKey.body, /Missing Sec-WebSocket-Key/);
      const post = await exchange(
        server.addr.port,
        UPGRADE_HEAD.replace("GET", "POST"),
      );
      assert.equal(post.status, 405);
    } finally {
      await server.shutdown();
    }
  });

  it("answers 500 when the handler throws, or what onError returns", async () => {
    const errors: unknown[] = [];
    const server = await start(() => {
      throw new Error("boom");
    }, {
      onError(error) {
        errors.push(error);
        return new Response("sorry", { status: 503 });
      },
    });
    const quiet = await start(() => Promise.reject(new Error("boom")), {
      onError: () => {
        throw new Error("onError failed too");
      },
    });
    const originalError = console.error;
    console.error = () => {};
    try {
      const response = await exchange(
        server.addr.port,
        "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
      );
      assert.equal(response.status, 503);
      assert.equal(response.body, "sorry");
      assert.equal((errors[0] as Error).message, "boom");
      const fallback = await exchange(
        quiet.addr.port,
        "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
      );
      assert.equal(fallback.status, 500);
      assert.equal(fallback.body, "Internal Server Error");
    } finally {
      console.error = originalError;
      await server.shutdown();
      await quiet.shutdown();
    }
  });

  it("upgrades, writes the 101 head, and reads frames sent with the request head", async () => {
    const message = Promise.withResolvers<string | Uint8Array>();
    const server = await start(async (request) => {
      const { response, socket } = await upgrade(request);
      socket?.opened.then(async ({ readable, writable }) => {
        const reader = readable.getReader();
        const { value } = await reader.read();
        message.resolve(value ?? "");
        await writable.getWriter().write("bye");
        socket.close({ closeCode: 1000 });
      }).catch(message.reject);
      return response;
    });
    const connection = await dial(server.addr.port);
    try {
      const writer = connection.writable.getWriter();
      const both = new Uint8Array(UPGRADE_HEAD.length + MASKED_HELLO.length);
      both.set(latin1(UPGRADE_HEAD));
      both.set(MASKED_HELLO, UPGRADE_HEAD.length);
      await writer.write(both); // Head and first frame in one TCP write.
      assert.equal(
        await timeout(message.promise, 5000, "the message"),
        "Hello",
      );
      const raw = await timeout(
        readUntil(connection, (text) => {
          const end = text.indexOf("\r\n\r\n");
          return end > 0 && text.length >= end + 4 + 9;
        }),
        5000,
        "the answer",
      );
      const end = raw.indexOf("\r\n\r\n") + 4;
      const response = parseResponse(raw.slice(0, end));
      assert.match(raw, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
      assert.equal(response.status, 101);
      assert.equal(
        response.headers.get("sec-websocket-accept"),
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
      );
      assert.equal(response.headers.get("upgrade"), "websocket");
      assert.equal(response.headers.get("content-length"), null);
      // Then an unmasked text frame "bye" and a close frame with 1000.
      assert.equal(raw.slice(end, end + 5), "\x81\x03bye");
      assert.equal(raw.slice(end + 5, end + 9), "\x88\x02\x03\xe8");
    } finally {
      connection.close();
      await server.shutdown();
    }
  });

  it("closes TCP first once both close frames crossed, without waiting for the client (RFC 6455 §7.1.1)", async () => {
    const sockets: WebSocketStreamLike[] = [];
    const server = await start(echoHandler(sockets));
    let ws: RawWebSocket | null = null;
    try {
      ws = await RawWebSocket.open(server.addr.port);
      await ws.send(OPCODE_CLOSE, new Uint8Array([0x03, 0xe8]));
      assert.deepEqual(closeFrameInfo(await ws.next()), {
        closeCode: 1000,
        reason: "",
      });
      const [socket] = sockets;
      assert.ok(socket !== undefined);
      // The client neither reads on nor closes: the server's socket settles
      // anyway, well before a lingering close would give up (2 s).
      const settled = await Promise.race([
        socket.closed.then(() => "closed"),
        delay(1500).then(() => "still waiting for the client"),
      ]);
      assert.equal(settled, "closed");
      assert.equal(await ws.next(), null, "then the client sees EOF");
    } finally {
      ws?.close();
      await server.shutdown();
    }
  });

  it("fails the upgrade's socket when the handler returns another response", async () => {
    const closed = Promise.withResolvers<{ closeCode: number }>();
    const opened = Promise.withResolvers<unknown>();
    const server = await start(async (request) => {
      const { socket } = await upgrade(request);
      socket?.opened.then(opened.resolve, opened.resolve);
      socket?.closed.then(closed.resolve);
      return new Response("changed my mind", { status: 403 });
    });
    try {
      const response = await exchange(server.addr.port, UPGRADE_HEAD);
      assert.equal(response.status, 403);
      assert.equal(response.body, "changed my mind");
      assert.ok(
        await timeout(opened.promise, 5000, "opened") instanceof TypeError,
      );
      assert.equal(
        (await timeout(closed.promise, 5000, "closed")).closeCode,
        1006,
      );
    } finally {
      await server.shutdown();
    }
  });

  it("answers 500 to a 1xx response that upgrade() did not produce", async () => {
    const server = await start(() =>
      Object.defineProperty(new Response(null), "status", { value: 101 })
    );
    const originalError = console.error;
    console.error = () => {};
    try {
      const response = await exchange(server.addr.port, UPGRADE_HEAD);
      assert.equal(response.status, 500);
    } finally {
      console.error = originalError;
      await server.shutdown();
    }
  });

  it("shuts down when the signal aborts and resolves finished", async () => {
    const controller = new AbortController();
    const listened = Promise.withResolvers<
      { hostname: string; port: number }
    >();
    const server = await start(() => new Response("up"), {
      signal: controller.signal,
      onListen: listened.resolve,
    });
    let shutDown = false;
    try {
      const addr = await timeout(listened.promise, 5000, "onListen");
      assert.deepEqual(addr, server.addr);
      assert.equal(addr.hostname, "127.0.0.1");
      assert.ok(addr.port > 0);
      const response = await fetch(`http://127.0.0.1:${addr.port}/`);
      assert.equal(await response.text(), "up");
      // A client still sending its head is disconnected by the shutdown.
      const slow = await dial(addr.port);
      await slow.writable.getWriter().write(latin1("GET / HT"));
      controller.abort();
      await timeout(server.finished, 5000, "finished");
      shutDown = true;
      assert.equal(await timeout(readAll(slow), 5000, "the slow drop"), "");
      slow.close();
      await assert.rejects(dial(addr.port));
    } finally {
      if (!shutDown) await server.shutdown();
    }
  });

  it("shuts down at once when the signal is already aborted", async () => {
    let listened = false;
    const server = serve({
      port: 0,
      hostname: "127.0.0.1",
      signal: AbortSignal.abort(),
      onListen: () => listened = true,
    }, () => new Response("up"));
    await timeout(server.finished, 5000, "finished");
    await delay(10);
    assert.equal(listened, false);
    // Deno and Bun bound the port at once; Node never did.
    if (server.addr.port !== 0) await assert.rejects(dial(server.addr.port));
  });

  it("rejects invalid options with RangeError", () => {
    const handler = (): Response => new Response();
    assert.throws(() => serve({ port: -1 }, handler), RangeError);
    assert.throws(() => serve({ port: 70000 }, handler), RangeError);
    assert.throws(
      () => serve({ port: 0, maxHeadSize: 0 }, handler),
      RangeError,
    );
    assert.throws(
      () => serve({ port: 0, handshakeTimeout: 0 }, handler),
      RangeError,
    );
    for (
      const bad of [
        { maxConnections: 0 },
        { maxConnections: 1.5 },
        { maxMessageSize: 0 },
        { idleTimeout: -1 },
        { pingInterval: Number.NaN },
        { pongTimeout: -5 },
        { shutdownTimeout: -1 },
      ]
    ) {
      assert.throws(() => serve({ port: 0, ...bad }, handler), RangeError);
    }
    const { cert } = generateSelfSignedCert();
    assert.throws(() => serve({ port: 0, cert }, handler), TypeError);
  });
});

describe("serve limits and keepalive", { timeout: TEST_TIMEOUT }, () => {
  it("serves TLS with cert and key: https URLs, upgrades and plain requests", async () => {
    const { cert, key } = generateSelfSignedCert();
    const urls: string[] = [];
    const echo = echoHandler();
    const server = await start((request, info) => {
      urls.push(request.url);
      return echo(request, info);
    }, { cert, key });
    const tls = { caCerts: [cert], serverName: "localhost" };
    try {
      const ws = await RawWebSocket.open(server.addr.port, { tls });
      try {
        await ws.send(OPCODE_TEXT, "over TLS");
        assert.equal(text(await ws.next()), "over TLS");
        assert.equal(
          ws.response.headers.get("sec-websocket-accept"),
          "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
        );
      } finally {
        ws.close();
      }
      const connection = await dial(server.addr.port, tls);
      try {
        await connection.writable.getWriter().write(
          latin1(
            "GET /page HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
          ),
        );
        const response = parseResponse(
          await timeout(readAll(connection), 5000, "the response"),
        );
        assert.equal(response.status, 200);
        assert.equal(response.body, "plain https://localhost/page");
      } finally {
        connection.close();
      }
      assert.equal(urls[0], "https://127.0.0.1/ws");
      // Plain TCP to the TLS port gets no HTTP answer.
      const plain = await exchange(
        server.addr.port,
        "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
      ).catch(() => null);
      assert.equal(plain, null);
      assert.equal(urls.length, 2);
    } finally {
      await server.shutdown();
    }
  });

  it("answers 503 with a reason beyond maxConnections, and serves again once a slot frees", async () => {
    const sockets: WebSocketStreamLike[] = [];
    const server = await start(echoHandler(sockets), { maxConnections: 1 });
    try {
      const ws = await RawWebSocket.open(server.addr.port);
      const refused = await exchange(
        server.addr.port,
        "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
      );
      assert.equal(refused.status, 503);
      assert.match(refused.body, /limit of 1 connections/);
      assert.equal(refused.headers.get("connection"), "close");
      assert.equal(sockets.length, 1);
      // The WebSocket closes: its slot frees once its TCP connection closed.
      await ws.send(OPCODE_CLOSE, new Uint8Array([0x03, 0xe8]));
      assert.equal(closeFrameInfo(await ws.next()).closeCode, 1000);
      assert.equal(await ws.next(), null);
      ws.close();
      await timeout(sockets[0]!.closed, 5000, "closed");
      let served: RawResponse | null = null;
      for (let attempt = 0; attempt < 50 && served?.status !== 200; attempt++) {
        served = await exchange(
          server.addr.port,
          "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        );
        if (served.status !== 200) await delay(20);
      }
      assert.equal(served?.status, 200);
    } finally {
      await server.shutdown();
    }
  });

  it("answers 503 with Retry-After to every client of a flood beyond maxConnections, past 1,024 refusals in flight", async () => {
    const server = await start(() => new Response("ok"), {
      maxConnections: 1,
    });
    const held = await dial(server.addr.port);
    const refused: TcpConnection[] = [];
    try {
      // The held connection takes the only slot; 1,500 clients then connect
      // at once and keep their sockets open, so that more than 1,024
      // refusals are in flight together.
      const answers = await Promise.all(
        Array.from({ length: 1500 }, async () => {
          const connection = await dial(server.addr.port);
          refused.push(connection);
          const writer = connection.writable.getWriter();
          await writer.write(latin1("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
            .catch(() => {});
          writer.releaseLock();
          return await readAll(connection);
        }),
      );
      const statuses = new Map<string, number>();
      for (const answer of answers) {
        const status = answer.slice(0, 12) || "(nothing)";
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
      assert.deepEqual([...statuses], [["HTTP/1.1 503", 1500]]);
      const response = parseResponse(answers[answers.length - 1]!);
      assert.equal(response.headers.get("retry-after"), "1");
      assert.match(response.body, /limit of 1 connections/);
    } finally {
      held.close();
      for (const connection of refused) connection.close();
      await server.shutdown();
    }
  });

  it("closes a silent WebSocket with 1001 after idleTimeout", async () => {
    const sockets: WebSocketStreamLike[] = [];
    const server = await start(echoHandler(sockets), {
      idleTimeout: 300,
      pingInterval: 0,
    });
    try {
      const ws = await RawWebSocket.open(server.addr.port);
      try {
        // Traffic resets the idle clock.
        await delay(200);
        await ws.send(OPCODE_TEXT, "still here");
        assert.equal(text(await ws.next()), "still here");
        const started = performance.now();
        const frame = await ws.next();
        const elapsed = performance.now() - started;
        assert.deepEqual(closeFrameInfo(frame), {
          closeCode: 1001,
          reason: "Idle timeout",
        });
        assert.ok(
          elapsed >= 200 && elapsed < 3000,
          `closed after ${elapsed} ms`,
        );
        await ws.answerClose(frame!);
        assert.equal(await ws.next(), null);
        assert.equal(
          (await timeout(sockets[0]!.closed, 5000, "closed")).closeCode,
          1001,
        );
      } finally {
        ws.close();
      }
    } finally {
      await server.shutdown();
    }
  });

  it("gives upgrades maxMessageSize, unless upgrade() sets its own", async () => {
    const server = await start((request, info) => {
      const big = new URL(request.url).pathname === "/big";
      return echoHandler([], big ? { maxMessageSize: 1000 } : {})(
        request,
        info,
      );
    }, { maxMessageSize: 10 });
    try {
      const big = await RawWebSocket.open(server.addr.port, { path: "/big" });
      const small = await RawWebSocket.open(server.addr.port);
      try {
        await big.send(OPCODE_TEXT, "x".repeat(100));
        assert.equal(text(await big.next()), "x".repeat(100));
        await small.send(OPCODE_TEXT, "x".repeat(100));
        assert.equal(closeFrameInfo(await small.next()).closeCode, 1009);
      } finally {
        big.close();
        small.close();
      }
    } finally {
      await server.shutdown();
    }
  });

  it("gives upgrades maxFragments: a message in more frames fails with 1009", async () => {
    const server = await start(echoHandler(), { maxFragments: 2 });
    try {
      const ws = await RawWebSocket.open(server.addr.port);
      try {
        const fragment = (opcode: number, fin: boolean) =>
          encodeClientFrame({ opcode, fin, payload: "ab" });
        await ws.write(concat([fragment(1, false), fragment(0, true)]));
        assert.equal(text(await ws.next()), "abab");
        await ws.write(
          concat([fragment(1, false), fragment(0, false), fragment(0, true)]),
        );
        assert.deepEqual(closeFrameInfo(await ws.next()), {
          closeCode: 1009,
          reason: "Received a message in more than 2 frames, over the limit",
        });
      } finally {
        ws.close();
      }
    } finally {
      await server.shutdown();
    }
  });

  it("drops a peer that never answers keepalive pings: its socket closes with 1006", async () => {
    const sockets: WebSocketStreamLike[] = [];
    const server = await start(echoHandler(sockets), {
      pingInterval: 100,
      pongTimeout: 150,
      idleTimeout: 0,
    });
    const alive = await RawWebSocket.open(server.addr.port);
    const dead = await RawWebSocket.open(server.addr.port);
    try {
      const [aliveSocket, deadSocket] = sockets;
      assert.ok(aliveSocket !== undefined && deadSocket !== undefined);
      let aliveClosed = false;
      aliveSocket.closed.then(() => aliveClosed = true);
      // The live client answers every ping with a pong.
      let pings = 0;
      const answering = (async () => {
        while (true) {
          const frame = await alive.next(10_000).catch(() => null);
          if (frame === null || frame.opcode !== OPCODE_PING) return;
          pings++;
          await alive.send(OPCODE_PONG, frame.payload);
        }
      })();
      // The dead one is sent pings and says nothing.
      const first = await dead.next();
      assert.equal(first?.opcode, OPCODE_PING);
      const started = performance.now();
      const info = await timeout(deadSocket.closed, 5000, "dead peer closed");
      const elapsed = performance.now() - started;
      assert.equal(info.closeCode, 1006);
      assert.ok(elapsed < 2000, `dropped after ${elapsed} ms`);
      await delay(300);
      assert.equal(aliveClosed, false);
      assert.ok(pings >= 3, `only ${pings} pings`);
      alive.close();
      await answering;
    } finally {
      alive.close();
      dead.close();
      await server.shutdown();
    }
  });
});

describe("serve graceful shutdown", { timeout: TEST_TIMEOUT }, () => {
  it("sends 1001 after the messages already written, waits for the close handshake, then finishes", async () => {
    const written = Promise.withResolvers<void>();
    const sockets: WebSocketStreamLike[] = [];
    const big = "y".repeat(64 * 1024);
    const server = await start(async (request) => {
      const { response, socket } = await upgrade(request);
      if (socket === null) return response;
      sockets.push(socket);
      socket.opened.then(({ writable }) => {
        const writer = writable.getWriter();
        // 4 MiB accepted by the writable, far more than the socket takes
        // at once, then shutdown in the same turn.
        for (let i = 0; i < 64; i++) {
          writer.write(`${i} ${big}`).catch(() => {});
        }
        written.resolve();
      }).catch(written.reject);
      return response;
    });
    const ws = await RawWebSocket.open(server.addr.port);
    try {
      await timeout(written.promise, 5000, "written");
      const finished = server.shutdown();
      let finishedEarly = false;
      finished.then(() => finishedEarly = true);
      for (let i = 0; i < 64; i++) {
        assert.equal(text(await ws.next()), `${i} ${big}`);
      }
      const close = await ws.next();
      assert.deepEqual(closeFrameInfo(close), {
        closeCode: 1001,
        reason: "Server shutting down",
      });
      assert.equal(finishedEarly, false);
      await ws.answerClose(close!);
      assert.equal(await ws.next(), null);
      await timeout(finished, 5000, "finished");
      // The code our raw client echoed.
      assert.equal((await sockets[0]!.closed).closeCode, 1001);
      await assert.rejects(dial(server.addr.port));
    } finally {
      ws.close();
      await server.shutdown();
    }
  });

  it("closes the TCP connections of peers that do not answer within shutdownTimeout", async () => {
    const sockets: WebSocketStreamLike[] = [];
    const server = await start(echoHandler(sockets), {
      shutdownTimeout: 300,
    });
    const ws = await RawWebSocket.open(server.addr.port);
    try {
      const started = performance.now();
      const finished = server.shutdown();
      assert.equal(closeFrameInfo(await ws.next()).closeCode, 1001);
      // No answer: the server gives up after shutdownTimeout.
      await timeout(finished, 5000, "finished");
      const elapsed = performance.now() - started;
      assert.ok(elapsed >= 250 && elapsed < 3000, `finished after ${elapsed}`);
      assert.equal(await ws.next(), null);
      assert.equal(
        (await timeout(sockets[0]!.closed, 5000, "closed")).closeCode,
        1006,
      );
    } finally {
      ws.close();
      await server.shutdown();
    }
  });

  it("answers 503 to an upgrade whose handler returns during shutdown, and still answers plain requests in progress", async () => {
    const gate = Promise.withResolvers<void>();
    const entered: string[] = [];
    const sockets: WebSocketStreamLike[] = [];
    const server = await start(async (request) => {
      entered.push(new URL(request.url).pathname);
      const result = request.headers.get("upgrade") === null
        ? { response: new Response("late but fine"), socket: null }
        : await upgrade(request);
      if (result.socket !== null) sockets.push(result.socket);
      await gate.promise;
      return result.response;
    });
    try {
      const upgrading = exchange(server.addr.port, UPGRADE_HEAD);
      const plain = exchange(
        server.addr.port,
        "GET /plain HTTP/1.1\r\nHost: x\r\n\r\n",
      );
      while (entered.length < 2) await delay(5);
      const finished = server.shutdown();
      await delay(20);
      gate.resolve();
      const refused = await upgrading;
      assert.equal(refused.status, 503);
      assert.match(refused.body, /shutting down/);
      assert.equal((await plain).body, "late but fine");
      await timeout(finished, 5000, "finished");
      assert.equal(
        (await timeout(sockets[0]!.closed, 5000, "closed")).closeCode,
        1006,
      );
    } finally {
      gate.resolve();
      await server.shutdown();
    }
  });
});
