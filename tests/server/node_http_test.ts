import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as http from "node:http";
import * as https from "node:https";
import { attachToNodeServer } from "../../lib/server/node_http.ts";
import type { AttachToNodeServerOptions } from "../../lib/server/node_http.ts";
import type { ServeHandler } from "../../lib/server/serve.ts";
import { upgrade } from "../../lib/server/upgrade.ts";
import { connect } from "../../lib/client/connect.ts";
import type { WebSocketStreamLike } from "../../lib/connection/websocket_stream_like.ts";
import { generateSelfSignedCert } from "../_certs.ts";
import {
  closeFrameInfo,
  dial,
  exchange,
  MASKED_HELLO,
  OPCODE_CLOSE,
  OPCODE_PING,
  OPCODE_TEXT,
  RawWebSocket,
  readUntil,
  text,
  UPGRADE_HEAD,
} from "../_raw_client.ts";
import { echoUpgraded, latin1, listenLocal, timeout } from "../_test_utils.ts";

const TEST_TIMEOUT = 20_000;

/** A handler that upgrades and echoes; `sockets` collects the sockets. */
function echoHandler(
  sockets: WebSocketStreamLike[] = [],
  seen: Request[] = [],
): ServeHandler {
  return async (request) => {
    seen.push(request);
    if (request.headers.get("upgrade") === null) {
      return new Response(`handler ${request.method} ${request.url}`);
    }
    return echoUpgraded(await upgrade(request), sockets);
  };
}

/** Starts `server` on 127.0.0.1:0 with `handler` attached; returns the port. */
async function listen(
  server: http.Server,
  handler: ServeHandler,
  options: AttachToNodeServerOptions = {},
): Promise<{ port: number; detach: () => void }> {
  const detach = attachToNodeServer(server, handler, options);
  return { port: await listenLocal(server), detach };
}

async function stop(server: http.Server): Promise<void> {
  server.closeAllConnections?.();
  await timeout(
    new Promise<void>((resolve) => server.close(() => resolve())),
    5000,
    "server close",
  );
}

describe("attachToNodeServer", { timeout: TEST_TIMEOUT }, () => {
  it("upgrades on a node:http server: full URL, headers as received, frames sent with the head", async () => {
    const sockets: WebSocketStreamLike[] = [];
    const seen: Request[] = [];
    const server = http.createServer((_request, response) => {
      response.end("the server's own answer");
    });
    const { port } = await listen(server, echoHandler(sockets, seen));
    try {
      // Head, a duplicated header and the first frame in one write.
      const head = UPGRADE_HEAD.replace(
        "GET /ws",
        "GET /ws?room=1",
      ).replace("\r\n\r\n", "\r\nX-Dup: a\r\nX-Dup: b\r\n\r\n");
      const ws = await RawWebSocket.open(port, {
        head,
        after: MASKED_HELLO,
      });
      try {
        assert.equal(text(await ws.next()), "Hello");
        assert.equal(
          ws.response.headers.get("sec-websocket-accept"),
          "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
        );
        await ws.send(OPCODE_TEXT, "second");
        assert.equal(text(await ws.next()), "second");
        await ws.send(OPCODE_CLOSE, new Uint8Array([0x03, 0xe8]));
        assert.equal(closeFrameInfo(await ws.next()).closeCode, 1000);
        assert.equal(await ws.next(), null);
        assert.equal(
          (await timeout(sockets[0]!.closed, 5000, "closed")).closeCode,
          1000,
        );
      } finally {
        ws.close();
      }
      assert.equal(seen[0]?.url, "http://127.0.0.1/ws?room=1");
      assert.equal(seen[0]?.headers.get("x-dup"), "a, b");
      assert.equal(seen[0]?.method, "GET");
      // Plain requests stay with the server's own listener.
      const plain = await exchange(
        port,
        "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
      );
      assert.equal(plain.body, "the server's own answer");
      assert.equal(seen.length, 1);
    } finally {
      await stop(server);
    }
  });

  it("writes the handler's refusal of an invalid upgrade", async () => {
    const server = http.createServer();
    const { port } = await listen(server, echoHandler());
    try {
      const refused = await exchange(
        port,
        UPGRADE_HEAD.replace("Version: 13", "Version: 8"),
      );
      assert.equal(refused.status, 426);
      assert.equal(refused.headers.get("sec-websocket-version"), "13");
      assert.match(refused.body, /Sec-WebSocket-Version/);
    } finally {
      await stop(server);
    }
  });

  it("answers plain requests with the handler when handleRequests is on", async () => {
    const server = http.createServer();
    const { port } = await listen(server, async (request) => {
      const body = await request.text();
      const headers = new Headers({ "x-test": "yes" });
      headers.append("set-cookie", "a=1");
      headers.append("set-cookie", "b=2");
      return new Response(
        new ReadableStream({
          start(controller) {
            controller.enqueue(new TextEncoder().encode(`${request.method} `));
            controller.enqueue(new TextEncoder().encode(`${body} `));
            controller.enqueue(new TextEncoder().encode(request.url));
            controller.close();
          },
        }),
        { status: 201, headers },
      );
    }, { handleRequests: true });
    try {
      const response = await fetch(`http://127.0.0.1:${port}/form?x=1`, {
        method: "POST",
        body: "payload",
      });
      assert.equal(response.status, 201);
      assert.equal(response.headers.get("x-test"), "yes");
      assert.deepEqual(response.headers.getSetCookie(), ["a=1", "b=2"]);
      assert.equal(
        await response.text(),
        `POST payload http://127.0.0.1:${port}/form?x=1`,
      );
    } finally {
      await stop(server);
    }
  });

  it("answers 500 (or onError's response) when the handler throws", async () => {
    const server = http.createServer();
    const { port } = await listen(server, () => {
      throw new Error("boom");
    }, {
      handleRequests: true,
      onError: (error) =>
        new Response(`sorry: ${(error as Error).message}`, { status: 503 }),
    });
    try {
      const plain = await fetch(`http://127.0.0.1:${port}/`);
      assert.equal(plain.status, 503);
      assert.equal(await plain.text(), "sorry: boom");
      const upgrading = await exchange(port, UPGRADE_HEAD);
      assert.equal(upgrading.status, 503);
      assert.equal(upgrading.body, "sorry: boom");
    } finally {
      await stop(server);
    }
  });

  it("upgrades on a node:https server with https URLs", async () => {
    const { cert, key } = generateSelfSignedCert();
    const seen: Request[] = [];
    const server = https.createServer({ cert, key });
    const { port } = await listen(server, echoHandler([], seen));
    try {
      const ws = await RawWebSocket.open(port, {
        tls: { caCerts: [cert], serverName: "localhost" },
      });
      try {
        await ws.send(OPCODE_TEXT, "secure");
        assert.equal(text(await ws.next()), "secure");
      } finally {
        ws.close();
      }
      assert.equal(seen[0]?.url, "https://127.0.0.1/ws");
    } finally {
      await stop(server);
    }
  });

  it("gives upgrades the keepalive defaults it was given", async () => {
    const server = http.createServer();
    const { port } = await listen(server, echoHandler(), {
      pingInterval: 100,
      idleTimeout: 0,
    });
    try {
      const ws = await RawWebSocket.open(port);
      try {
        const frame = await ws.next(3000);
        assert.equal(frame?.opcode, OPCODE_PING);
      } finally {
        ws.close();
      }
    } finally {
      await stop(server);
    }
  });

  it("stops handling upgrades once detached", async () => {
    const server = http.createServer((_request, response) => {
      response.end("no WebSocket here");
    });
    let calls = 0;
    const { port, detach } = await listen(server, (request, info) => {
      calls++;
      return echoHandler()(request, info);
    });
    try {
      const ws = await RawWebSocket.open(port);
      ws.close();
      assert.equal(calls, 1);
      detach();
      detach(); // Idempotent.
      // Node answers through the request listener (or drops the socket).
      const connection = await dial(port);
      try {
        await connection.writable.getWriter().write(latin1(UPGRADE_HEAD));
        const answer = await timeout(
          readUntil(connection, (text) => text.includes("\r\n\r\n")),
          5000,
          "the answer",
        ).catch((error: Error) => error.message);
        assert.doesNotMatch(answer, /^HTTP\/1\.1 101/);
      } finally {
        connection.close();
      }
      assert.equal(calls, 1);
    } finally {
      await stop(server);
    }
  });

  it("negotiates permessage-deflate by default, and not with compression: false", async () => {
    for (
      const [options, expected] of [
        [
          {},
          "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
        ],
        [{ compression: false }, ""],
      ] as const
    ) {
      const sockets: WebSocketStreamLike[] = [];
      const server = http.createServer();
      const { port } = await listen(server, echoHandler(sockets), options);
      try {
        const client = await connect(`ws://127.0.0.1:${port}/`);
        const { readable, writable, extensions } = await client.opened;
        assert.equal(extensions, expected);
        assert.equal((await sockets[0]!.opened).extensions, expected);
        const message = JSON.stringify({ chat: "hello ".repeat(2000) });
        const writer = writable.getWriter();
        await writer.write(message);
        const reader = readable.getReader();
        assert.equal((await reader.read()).value, message);
        client.close();
        await timeout(client.closed, 5000, "closed");
      } finally {
        await stop(server);
      }
    }
  });
});
