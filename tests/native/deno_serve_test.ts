/**
 * `upgrade()` under `Deno.serve`, where Deno's own WebSocket runs
 * underneath (`lib/native_deno.ts`). Skipped on other runtimes.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { upgrade } from "../../mod.ts";
import { nativeAdapterSuite } from "./_native_suite.ts";

interface DenoServe {
  serve(
    options: { port: number; hostname: string; onListen?: () => void },
    handler: (request: Request) => Response | Promise<Response>,
  ): { addr: { port: number }; shutdown(): Promise<void> };
}
const Deno = (globalThis as { Deno?: DenoServe }).Deno;
const SKIP = Deno === undefined
  ? `Deno.serve exists only on Deno, not on ${
    (globalThis as { Bun?: unknown }).Bun !== undefined ? "Bun" : "Node"
  }`
  : false;

nativeAdapterSuite("Deno.serve", SKIP, (handler) => {
  const server = Deno!.serve(
    { port: 0, hostname: "127.0.0.1", onListen: () => {} },
    handler,
  );
  return Promise.resolve({
    port: server.addr.port,
    stop: () => server.shutdown(),
  });
}, { answersBeforeSameReadClose: false });

describe("upgrade() on Deno", { skip: SKIP }, () => {
  it("throws TypeError for a valid upgrade of a request no server received", async () => {
    const request = new Request("http://localhost/", {
      headers: {
        Upgrade: "websocket",
        Connection: "Upgrade",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version": "13",
      },
    });
    await assert.rejects(upgrade(request), (error: unknown) => {
      assert.ok(error instanceof TypeError);
      assert.match(error.message, /Deno\.serve/);
      return true;
    });
  });
});
