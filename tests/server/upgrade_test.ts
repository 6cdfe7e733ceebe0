import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { serve } from "../../lib/server/serve.ts";
import { upgrade } from "../../lib/server/upgrade.ts";
import type { UpgradeResult } from "../../lib/server/upgrade.ts";
import type { WebSocketStreamLike } from "../../lib/connection/websocket_stream_like.ts";
import { echoUpgraded, timeout } from "../_test_utils.ts";

const TEST_TIMEOUT = 15_000;

const VALID_HEADERS = {
  Upgrade: "websocket",
  Connection: "Upgrade",
  "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
  "Sec-WebSocket-Version": "13",
};

/** Opens a native client and resolves with it once open (or its close event). */
function openNative(
  url: string,
  protocols?: string[],
): Promise<{ ws: WebSocket; closed: Promise<CloseEvent> }> {
  const ws = new WebSocket(url, protocols);
  const closed = new Promise<CloseEvent>((resolve) =>
    ws.addEventListener("close", (event) => resolve(event as CloseEvent), {
      once: true,
    })
  );
  return timeout(
    new Promise((resolve, reject) => {
      ws.addEventListener("open", () => resolve({ ws, closed }), {
        once: true,
      });
      closed.then((event) =>
        reject(new Error(`closed before open: ${event.code}`))
      );
    }),
    5000,
    "open",
  );
}

describe("upgrade", { timeout: TEST_TIMEOUT }, () => {
  it("returns the refusal and no socket for an invalid upgrade from any server", async () => {
    const result = await upgrade(new Request("http://localhost/"));
    assert.equal(result.socket, null);
    assert.equal(result.response.status, 400);
    assert.match(await result.response.text(), /Missing Upgrade header/);
  });

  it("throws TypeError naming the supported servers for a valid upgrade of a request no server received", async () => {
    const request = new Request("http://localhost/", {
      headers: VALID_HEADERS,
    });
    await assert.rejects(upgrade(request), (error: unknown) => {
      assert.ok(error instanceof TypeError);
      assert.match(error.message, /wstream's serve\(\)/);
      assert.match(error.message, /attachToNodeServer\(\)/);
      assert.match(error.message, /Deno\.serve/);
      assert.match(error.message, /bunServeOptions\(handler\)/);
      return true;
    });
  });

  it("rejects out-of-range size and time options with RangeError, on any request", async () => {
    const valid = new Request("http://localhost/", { headers: VALID_HEADERS });
    for (
      const options of [
        { maxMessageSize: -1 },
        { maxMessageSize: 1.5 },
        { closeTimeout: -1 },
        { pingInterval: Number.NaN },
        { pongTimeout: 2 ** 31 },
        { idleTimeout: Number.POSITIVE_INFINITY },
        { readableHighWaterMark: -1 },
        { writableHighWaterMark: Number.NaN },
        { maxUnreadBytes: -5 },
      ]
    ) {
      const name = Object.keys(options)[0]!;
      await assert.rejects(
        upgrade(new Request("http://localhost/"), options),
        (error: unknown) =>
          error instanceof RangeError && error.message.includes(name),
        name,
      );
      await assert.rejects(upgrade(valid, options), RangeError, name);
    }
  });

  it(
    "negotiates the subprotocol and reports the ws: URL",
    async () => {
      const sockets: WebSocketStreamLike[] = [];
      const server = serve({ port: 0 }, async (request) => {
        const { response, socket } = await upgrade(request, {
          protocols: ["v2.chat", "v1.chat"],
          headers: { "x-served-by": "wstream" },
        });
        if (socket !== null) sockets.push(socket);
        return response;
      });
      try {
        await server.listening; // Node binds asynchronously.
        const { ws, closed } = await openNative(
          `ws://127.0.0.1:${server.addr.port}/room?id=1`,
          ["v1.chat", "v2.chat"],
        );
        assert.equal(ws.protocol, "v2.chat");
        const [socket] = sockets;
        assert.ok(socket !== undefined);
        assert.equal(
          socket.url,
          `ws://127.0.0.1:${server.addr.port}/room?id=1`,
        );
        const opened = await timeout(socket.opened, 5000, "opened");
        assert.equal(opened.protocol, "v2.chat");
        // What the native client saw: Bun's offers permessage-deflate,
        // which upgrade() accepts by default; Deno's and Node's do not.
        assert.equal(opened.extensions, ws.extensions);
        ws.close(1000);
        await timeout(closed, 5000, "client closed");
        assert.equal(
          (await timeout(socket.closed, 5000, "closed")).closeCode,
          1000,
        );
      } finally {
        await server.shutdown();
      }
    },
  );

  it(
    "applies maxMessageSize: a larger message closes with 1009",
    {},
    async () => {
      const sockets: WebSocketStreamLike[] = [];
      const server = serve({ port: 0 }, async (request) => {
        const { response, socket } = await upgrade(request, {
          maxMessageSize: 1024,
        });
        if (socket !== null) {
          sockets.push(socket);
          socket.opened.then(async ({ readable }) => {
            for await (const _ of readable) { /* discard */ }
          }).catch(() => {});
        }
        return response;
      });
      try {
        await server.listening; // Node binds asynchronously.
        const { ws, closed } = await openNative(
          `ws://127.0.0.1:${server.addr.port}/`,
        );
        ws.send(new Uint8Array(1024)); // At the limit: fine.
        ws.send(new Uint8Array(1025));
        const event = await timeout(closed, 5000, "client closed");
        assert.equal(event.code, 1009);
        const [socket] = sockets;
        assert.ok(socket !== undefined);
        assert.equal(
          (await timeout(socket.closed, 5000, "closed")).closeCode,
          1009,
        );
      } finally {
        await server.shutdown();
      }
    },
  );

  it(
    "takes the server's maxMessageSize unless the upgrade sets its own",
    {},
    async () => {
      const sockets: WebSocketStreamLike[] = [];
      const server = serve(
        { port: 0, maxMessageSize: 1024 },
        async (request) => {
          const own = new URL(request.url).pathname === "/own";
          return echoUpgraded(
            await upgrade(request, own ? { maxMessageSize: 2048 } : {}),
            sockets,
          );
        },
      );
      try {
        await server.listening; // Node binds asynchronously.
        const base = `ws://127.0.0.1:${server.addr.port}`;
        const own = await openNative(`${base}/own`);
        own.ws.binaryType = "arraybuffer";
        const echoed = new Promise<MessageEvent>((resolve) =>
          own.ws.addEventListener(
            "message",
            (event) => resolve(event as MessageEvent),
            { once: true },
          )
        );
        own.ws.send(new Uint8Array(2048));
        assert.equal(
          ((await timeout(echoed, 5000, "echo")).data as ArrayBuffer)
            .byteLength,
          2048,
        );
        own.ws.send(new Uint8Array(2049));
        assert.equal(
          (await timeout(own.closed, 5000, "own closed")).code,
          1009,
        );

        const serverDefault = await openNative(`${base}/`);
        serverDefault.ws.send(new Uint8Array(1025));
        assert.equal(
          (await timeout(serverDefault.closed, 5000, "default closed")).code,
          1009,
        );
        assert.equal(sockets.length, 2);
      } finally {
        await server.shutdown();
      }
    },
  );

  it(
    "refuses a second upgrade() of the same request and one after the handler returned",
    async () => {
      const errors: unknown[] = [];
      const late = Promise.withResolvers<void>();
      let first: UpgradeResult | undefined;
      const server = serve({ port: 0 }, async (request) => {
        first = await upgrade(request);
        await upgrade(request).catch((error) => errors.push(error));
        setTimeout(async () => {
          await upgrade(new Request(request.url, { headers: VALID_HEADERS }))
            .catch((error) => errors.push(error));
          await upgrade(request).catch((error) => errors.push(error));
          late.resolve();
        }, 0);
        return first.response;
      });
      try {
        await server.listening; // Node binds asynchronously.
        const { ws, closed } = await openNative(
          `ws://127.0.0.1:${server.addr.port}/`,
        );
        await timeout(late.promise, 5000, "late upgrade");
        assert.equal(errors.length, 3);
        for (const error of errors) assert.ok(error instanceof TypeError);
        assert.match((errors[0] as Error).message, /already called/);
        assert.match((errors[1] as Error).message, /wstream's serve\(\)/);
        assert.match(
          (errors[2] as Error).message,
          /after the handler returned/,
        );
        ws.close();
        await timeout(closed, 5000, "client closed");
        await timeout(first!.socket!.closed, 5000, "server closed");
      } finally {
        await server.shutdown();
      }
    },
  );
});
