/**
 * `upgrade()` under `Bun.serve` with `bunServeOptions()`, where Bun's own
 * WebSocket runs underneath (`lib/native_bun.ts`). Skipped on other
 * runtimes.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { bunServeOptions, upgrade } from "../../mod.ts";
import type { BunServeOptions, WebSocketStreamLike } from "../../mod.ts";
import { nativeAdapterSuite } from "./_native_suite.ts";
import type { NativeServer } from "./_native_suite.ts";
import { openClient } from "../_shared_handler.ts";
import { concat, delay, latin1, timeout } from "../_test_utils.ts";
import { exchange, MASKED_HELLO, UPGRADE_HEAD } from "../_raw_client.ts";

interface BunServe {
  serve(options: Record<string, unknown>): {
    port: number;
    stop(closeActiveConnections?: boolean): unknown;
  };
}
const Bun = (globalThis as { Bun?: BunServe }).Bun;
const SKIP = Bun === undefined
  ? `Bun.serve exists only on Bun, not on ${
    (globalThis as { Deno?: unknown }).Deno !== undefined ? "Deno" : "Node"
  }`
  : false;

function startBun(
  handler: (request: Request) => Promise<Response>,
  options?: BunServeOptions,
): Promise<NativeServer> {
  const server = Bun!.serve({
    port: 0,
    hostname: "127.0.0.1",
    ...bunServeOptions(handler, options),
  });
  return Promise.resolve({
    port: server.port,
    stop: () => {
      server.stop(true);
      return Promise.resolve();
    },
  });
}

nativeAdapterSuite("Bun.serve", SKIP, (handler) => startBun(handler), {
  answersBeforeSameReadClose: true,
});

describe("bunServeOptions", { timeout: 20_000 }, () => {
  it("checks its options with RangeError", () => {
    const handler = (): Response => new Response();
    assert.throws(
      () => bunServeOptions(handler, { maxMessageSize: -1 }),
      RangeError,
    );
    assert.throws(
      () => bunServeOptions(handler, { pingInterval: Number.NaN }),
      RangeError,
    );
    const { websocket } = bunServeOptions(handler, { maxMessageSize: 4096 });
    assert.equal(websocket.maxPayloadLength, 4096);
    assert.equal(websocket.perMessageDeflate, true); // compression on by default
    assert.equal(
      bunServeOptions(handler, { compression: false }).websocket
        .perMessageDeflate,
      false,
    );
    assert.throws(
      () => bunServeOptions(handler, { compression: { memLevel: 0 } }),
      RangeError,
    );
    assert.equal(websocket.idleTimeout, 0);
    assert.equal(websocket.sendPings, false);
  });

  it("fails the socket when the handler returns another response", {
    skip: SKIP,
  }, async () => {
    const sockets: WebSocketStreamLike[] = [];
    const server = await startBun(async (request) => {
      const { socket } = await upgrade(request);
      if (socket !== null) sockets.push(socket);
      return new Response("Not today", { status: 403 });
    });
    try {
      const response = await fetch(`http://127.0.0.1:${server.port}/`, {
        headers: {
          Upgrade: "websocket",
          Connection: "Upgrade",
          "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
          "Sec-WebSocket-Version": "13",
        },
      });
      assert.equal(response.status, 403);
      assert.equal(await response.text(), "Not today");
      const [socket] = sockets;
      assert.ok(socket !== undefined);
      await assert.rejects(socket.opened, TypeError);
      assert.deepEqual(
        await timeout(socket.closed, 5000, "closed"),
        { closeCode: 1006, reason: "" },
      );
    } finally {
      await server.stop();
    }
  });

  it(
    "gets Bun's 400 for first frames sent with the request when the handler awaits a timer, and fails the socket",
    { skip: SKIP },
    async () => {
      // The case upgrade()'s JSDoc documents: Bun must upgrade before the
      // turn of the request ends, and this handler returns a turn later.
      const sockets: WebSocketStreamLike[] = [];
      const server = await startBun(async (request) => {
        const { response, socket } = await upgrade(request);
        if (socket !== null) sockets.push(socket);
        await delay(10);
        return response;
      });
      try {
        const response = await exchange(
          server.port,
          concat([latin1(UPGRADE_HEAD), MASKED_HELLO]),
        );
        assert.equal(response.status, 400);
        const [socket] = sockets;
        assert.ok(socket !== undefined);
        await assert.rejects(socket.opened, TypeError);
        assert.deepEqual(
          await timeout(socket.closed, 5000, "closed"),
          { closeCode: 1006, reason: "" },
        );
      } finally {
        await server.stop();
      }
    },
  );

  it(
    "refuses upgrade() after the handler returned",
    { skip: SKIP },
    async () => {
      const late = Promise.withResolvers<unknown>();
      const server = await startBun((request) => {
        setTimeout(() => upgrade(request).then(late.resolve, late.resolve), 0);
        return Promise.resolve(new Response("plain"));
      });
      try {
        const response = await fetch(`http://127.0.0.1:${server.port}/`, {
          headers: {
            Upgrade: "websocket",
            Connection: "Upgrade",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            "Sec-WebSocket-Version": "13",
          },
        });
        assert.equal(await response.text(), "plain");
        const error = await timeout(late.promise, 5000, "late upgrade");
        assert.ok(error instanceof TypeError);
        assert.match(error.message, /after the handler returned/);
      } finally {
        await server.stop();
      }
    },
  );

  it(
    "closes with 1009 at the server-wide maxMessageSize (Bun's maxPayloadLength)",
    {
      skip: SKIP,
    },
    async () => {
      const sockets: WebSocketStreamLike[] = [];
      const server = await startBun(async (request) => {
        const { response, socket } = await upgrade(request);
        if (socket !== null) sockets.push(socket);
        return response;
      }, { maxMessageSize: 1000 });
      try {
        const client = await openClient(`ws://127.0.0.1:${server.port}/`);
        client.ws.send(new Uint8Array(1001));
        const event = await timeout(client.closed, 5000, "client closed");
        assert.equal(event.code, 1009);
        const closed = await timeout(sockets[0]!.closed, 5000, "closed");
        assert.equal(closed.closeCode, 1009);
        const { readable } = await sockets[0]!.opened;
        await assert.rejects(readable.getReader().read());
      } finally {
        await server.stop();
      }
    },
  );
});
