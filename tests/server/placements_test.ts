/**
 * One handler (`tests/_shared_handler.ts`), unchanged, in every server the
 * current runtime offers: wstream's `serve()` (Deno, Bun, Node),
 * `Deno.serve` (Deno), `Bun.serve` with `bunServeOptions` (Bun) and
 * `node:http` with `attachToNodeServer` (Deno, Bun, Node). Each placement must serve the plain
 * page, negotiate the subprotocol, echo, close with 4001/"done" on both
 * sides, and refuse a bad upgrade with the same 400 and reason.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { attachToNodeServer, bunServeOptions, serve } from "../../mod.ts";
import type { WebSocketStreamLike } from "../../mod.ts";
import {
  createSharedHandler,
  openClient,
  rawExchange,
  SHARED_PAGE,
  upgradeRequestHead,
} from "../_shared_handler.ts";
import { testBytes, timeout } from "../_test_utils.ts";
import { Bun, Deno, runtime } from "../_runtimes.ts";

const TEST_TIMEOUT = 30_000;

/** A running server with the shared handler. */
interface Placement {
  port: number;
  /** The server-side sockets, in order of upgrade. */
  sockets: WebSocketStreamLike[];
  stop(): Promise<void>;
}

type Start = () => Promise<Placement>;

function withSockets(): {
  sockets: WebSocketStreamLike[];
  handler: (request: Request) => Promise<Response>;
} {
  const sockets: WebSocketStreamLike[] = [];
  return { sockets, handler: createSharedHandler((s) => sockets.push(s)) };
}

const placements: { name: string; skip: string | false; start: Start }[] = [
  {
    name: "wstream serve()",
    skip: false,
    start: async () => {
      const { sockets, handler } = withSockets();
      const server = serve({ port: 0, hostname: "127.0.0.1" }, handler);
      const addr = await server.listening;
      return { port: addr.port, sockets, stop: () => server.shutdown() };
    },
  },
  {
    name: "Deno.serve",
    skip: Deno === undefined ? `Deno.serve needs Deno, not ${runtime}` : false,
    start: () => {
      const { sockets, handler } = withSockets();
      const server = Deno!.serve(
        { port: 0, hostname: "127.0.0.1", onListen: () => {} },
        handler,
      );
      return Promise.resolve({
        port: server.addr.port,
        sockets,
        stop: () => server.shutdown(),
      });
    },
  },
  {
    name: "Bun.serve with bunServeOptions()",
    skip: Bun === undefined ? `Bun.serve needs Bun, not ${runtime}` : false,
    start: () => {
      const { sockets, handler } = withSockets();
      const server = Bun!.serve({
        port: 0,
        hostname: "127.0.0.1",
        ...bunServeOptions(handler),
      });
      return Promise.resolve({
        port: server.port,
        sockets,
        stop: () => {
          server.stop(true);
          return Promise.resolve();
        },
      });
    },
  },
  {
    name: "node:http with attachToNodeServer()",
    skip: false,
    start: async () => {
      const { sockets, handler } = withSockets();
      const server = http.createServer();
      const detach = attachToNodeServer(server, handler, {
        handleRequests: true,
      });
      await new Promise<void>((resolve) =>
        server.listen(0, "127.0.0.1", resolve)
      );
      return {
        port: (server.address() as AddressInfo).port,
        sockets,
        stop: async () => {
          detach();
          server.closeAllConnections?.();
          await new Promise<void>((resolve) => server.close(() => resolve()));
        },
      };
    },
  },
];

/** The refusal of a bad upgrade, as each placement answered it. */
const refusals = new Map<string, { status: number; body: string }>();

for (const placement of placements) {
  describe(`the shared handler in ${placement.name}`, {
    timeout: TEST_TIMEOUT,
    skip: placement.skip,
  }, () => {
    it("serves the plain page on GET / without upgrading", async () => {
      const server = await placement.start();
      try {
        const response = await fetch(`http://127.0.0.1:${server.port}/`);
        assert.equal(response.status, 200);
        assert.equal(await response.text(), SHARED_PAGE);
        assert.equal(server.sockets.length, 0);
      } finally {
        await server.stop();
      }
    });

    it('negotiates echo.v1, echoes text, binary, empty and 1 MiB, closes with 4001 "done" on both sides', async () => {
      const server = await placement.start();
      try {
        const client = await openClient(
          `ws://127.0.0.1:${server.port}/`,
          ["other", "echo.v1"],
        );
        assert.equal(client.ws.protocol, "echo.v1");
        const [socket] = server.sockets;
        assert.ok(socket !== undefined, "the handler saw the socket");
        const opened = await timeout(socket.opened, 5000, "server opened");
        assert.equal(opened.protocol, "echo.v1");
        // Truthful on every placement: what the native client saw (Bun's
        // client offers permessage-deflate; Deno.serve never negotiates it).
        // (Bun's client reorders the parameters it reports: compare as sets.)
        const params = (header: string) => header.split(/;\s*/).sort();
        assert.deepEqual(
          params(opened.extensions),
          params(client.ws.extensions),
        );

        const big = testBytes(1 << 20, 7);
        client.ws.send("hello ✓");
        client.ws.send(new Uint8Array([0, 1, 2, 255]));
        client.ws.send("");
        client.ws.send(new Uint8Array(0));
        client.ws.send(big);
        assert.equal(await client.next(), "hello ✓");
        assert.deepEqual(
          new Uint8Array(await client.next() as ArrayBuffer),
          new Uint8Array([0, 1, 2, 255]),
        );
        assert.equal(await client.next(), "");
        const empty = await client.next();
        assert.ok(empty instanceof ArrayBuffer, "an empty binary message");
        assert.equal(empty.byteLength, 0);
        assert.deepEqual(
          new Uint8Array(await client.next() as ArrayBuffer),
          big,
        );

        client.ws.close(4001, "done");
        const event = await timeout(client.closed, 5000, "client closed");
        assert.equal(event.code, 4001);
        assert.equal(event.reason, "done");
        assert.deepEqual(
          await timeout(socket.closed, 5000, "server closed"),
          { closeCode: 4001, reason: "done" },
        );
      } finally {
        await server.stop();
      }
    });

    it("refuses an upgrade without Sec-WebSocket-Key with the same 400", async () => {
      const server = await placement.start();
      try {
        const response = await rawExchange(
          server.port,
          upgradeRequestHead(server.port, {}, null),
        );
        assert.equal(response.status, 400);
        assert.equal(response.body, "Missing Sec-WebSocket-Key header");
        assert.match(
          response.headers.get("content-type") ?? "",
          /^text\/plain/,
        );
        refusals.set(placement.name, {
          status: response.status,
          body: response.body,
        });
        for (const [name, other] of refusals) {
          assert.deepEqual(other, refusals.get(placement.name), name);
        }
        assert.equal(server.sockets.length, 0);
      } finally {
        await server.stop();
      }
    });
  });
}
