/**
 * A small soak of `serve()` in one process: 300 raw clients
 * (`bench/soak/client.ts`, frames written and checked by hand) × 6
 * messages of the soak's mix (text with multi-byte UTF-8 and binary, empty
 * to 256 KiB, some fragmented with a ping between fragments), 10 % killed
 * mid-frame, 10 % not reading for a second while they keep sending.
 * Every echo of the healthy and stalled clients arrives, equal and in
 * order, and once the clients are gone the server has no WebSocket and no
 * TCP connection left (its shutdown does not wait). The full-size run is
 * `node bench/soak.ts`.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { serve } from "../../lib/server/serve.ts";
import { upgrade } from "../../lib/server/upgrade.ts";
import { runSoak, soakPassed } from "../../bench/soak/client.ts";
import { delay, timeout } from "../_test_utils.ts";

describe("soak", { timeout: 30_000 }, () => {
  it("300 clients, 10 % killed mid-frame and 10 % stalled: nothing lost, nothing left open", async () => {
    let open = 0;
    let opened = 0;
    const server = serve(
      { port: 0, hostname: "127.0.0.1", shutdownTimeout: 5000 },
      async (request) => {
        const { response, socket } = await upgrade(request);
        if (socket === null) return response;
        socket.opened.then(async ({ readable, writable }) => {
          open++;
          opened++;
          socket.closed.finally(() => open--).catch(() => {});
          const writer = writable.getWriter();
          for await (const message of readable) await writer.write(message);
        }).catch(() => {});
        return response;
      },
    );
    try {
      const { port } = await timeout(server.listening, 5000, "listening");
      const stats = await runSoak({
        port,
        conns: 300,
        messages: 6,
        kill: 0.1,
        stall: 0.1,
        stallMs: 1000,
        stallBytes: 512 * 1024,
        timeoutMs: 15_000,
      });
      assert.deepEqual(stats.errors, []);
      assert.equal(stats.opened, 300);
      assert.ok(stats.killed > 0 && stats.stalled > 0, "some of each role");
      assert.equal(stats.lost, 0, "lost");
      assert.equal(stats.corrupted, 0, "corrupted");
      assert.equal(stats.reordered, 0, "reordered");
      assert.equal(stats.closedClean, stats.healthy + stats.stalled);
      assert.ok(soakPassed(stats));
      assert.ok(stats.echoed > 300 * 6 * 0.8, `echoed ${stats.echoed}`);
      // Killed clients may die before a ping's pong arrives.
      assert.ok(stats.pongs <= stats.pings && stats.pongs > 0, "pongs");
      assert.equal(opened, 300);
      for (let i = 0; i < 100 && open > 0; i++) await delay(50);
      assert.equal(open, 0, "WebSockets still open on the server");
    } finally {
      const started = performance.now();
      await server.shutdown();
      // With a TCP connection left, shutdown would wait shutdownTimeout.
      assert.ok(
        performance.now() - started < 2500,
        `shutdown took ${Math.round(performance.now() - started)} ms`,
      );
    }
  });
});
