/**
 * `serve({ reusePort: true })`: two servers on one port both accept
 * connections (Linux: Deno with `--unstable-net`, Bun, Node 22.12+).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { serve } from "../../mod.ts";
import { getDeno } from "../../lib/transports/_runtime_types.ts";

/** Why `reusePort` cannot be tested here, or `false`. */
function unsupported(): string | false {
  if (process.platform !== "linux") return "SO_REUSEPORT balancing is Linux's";
  const deno = getDeno() as { listenDatagram?: unknown } | undefined;
  if (
    deno !== undefined && process.env.WSTREAM_NODE_NET !== "1" &&
    typeof deno.listenDatagram !== "function"
  ) {
    return "Deno.listen({ reusePort }) needs --unstable-net (deno task test:deno passes it)";
  }
  return false;
}

describe("serve({ reusePort })", { timeout: 30_000 }, () => {
  it("lets two servers listen on one port, and both accept connections", {
    skip: unsupported(),
  }, async () => {
    const first = serve(
      { port: 0, reusePort: true },
      () => new Response("first"),
    );
    const { port } = await first.listening;
    const second = serve(
      { port, reusePort: true },
      () => new Response("second"),
    );
    try {
      await second.listening;
      const seen = new Set<string>();
      // The kernel hashes each connection's source port to one of them.
      for (let i = 0; i < 64 && seen.size < 2; i++) {
        const answer = await fetch(`http://127.0.0.1:${port}/`, {
          headers: { connection: "close" },
        });
        seen.add(await answer.text());
      }
      assert.deepEqual([...seen].sort(), ["first", "second"]);
    } finally {
      await first.shutdown();
      await second.shutdown();
    }
  });

  it("on Deno without --unstable-net, throws a TypeError saying so", {
    skip: getDeno() === undefined ||
        typeof (getDeno() as { listenDatagram?: unknown }).listenDatagram ===
          "function" ||
        process.env.WSTREAM_NODE_NET === "1"
      ? "only on Deno without --unstable-net"
      : false,
  }, () => {
    assert.throws(
      () => serve({ port: 0, reusePort: true }, () => new Response("")),
      { name: "TypeError", message: /--unstable-net/ },
    );
  });

  it("without reusePort, a second server on the port fails to listen", async () => {
    const first = serve({ port: 0 }, () => new Response("first"));
    const { port } = await first.listening;
    try {
      await assert.rejects(async () => {
        const second = serve({ port }, () => new Response("second"));
        try {
          await second.listening;
        } finally {
          await second.shutdown();
        }
      });
    } finally {
      await first.shutdown();
    }
  });
});
