/**
 * permessage-deflate on the native paths: under Bun.serve, Bun compresses
 * and the socket reports Bun's real answer (read here from the 101 a raw
 * client gets); under Deno.serve, Deno negotiates nothing and the socket
 * says so.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { bunServeOptions, connect, upgrade } from "../../mod.ts";
import type {
  BunServeOptions,
  ServerUpgradeOptions,
  WebSocketStreamLike,
} from "../../mod.ts";
import { echoUpgraded, timeout } from "../_test_utils.ts";
import { dial, readUntil, UPGRADE_HEAD } from "../_raw_client.ts";
import { latin1 } from "../_test_utils.ts";

interface BunServer {
  port: number;
  stop(force?: boolean): unknown;
}
const Bun = (globalThis as {
  Bun?: { serve(options: Record<string, unknown>): BunServer };
}).Bun;
const Deno = (globalThis as {
  Deno?: {
    serve(
      options: Record<string, unknown>,
      handler: (request: Request) => Promise<Response>,
    ): { addr: { port: number }; shutdown(): Promise<void> };
  };
}).Deno;

/** The 101 head a raw client gets for an offer. */
async function rawAnswer(port: number, offer: string): Promise<string | null> {
  const connection = await dial(port);
  try {
    const writer = connection.writable.getWriter();
    await writer.write(latin1(UPGRADE_HEAD.replace(
      "\r\n\r\n",
      `\r\nSec-WebSocket-Extensions: ${offer}\r\n\r\n`,
    )));
    writer.releaseLock();
    const head = await timeout(
      readUntil(connection, (text) => text.includes("\r\n\r\n")),
      5000,
      "101",
    );
    assert.match(head, /^HTTP\/1\.1 101/);
    return /sec-websocket-extensions: *([^\r]*)/i.exec(head)?.[1] ?? null;
  } finally {
    connection.close();
  }
}

async function withBun(
  serverOptions: BunServeOptions,
  upgradeOptions: ServerUpgradeOptions,
  body: (port: number, sockets: WebSocketStreamLike[]) => Promise<void>,
): Promise<void> {
  const sockets: WebSocketStreamLike[] = [];
  const server = Bun!.serve({
    port: 0,
    hostname: "127.0.0.1",
    ...bunServeOptions(
      async (request) =>
        echoUpgraded(await upgrade(request, upgradeOptions), sockets),
      serverOptions,
    ),
  });
  try {
    await body(server.port, sockets);
  } finally {
    for (const socket of sockets) socket.close();
    server.stop(true);
  }
}

const SHARED =
  "permessage-deflate; client_no_context_takeover; server_no_context_takeover";

describe("permessage-deflate under Bun.serve", {
  skip: Bun === undefined ? "Bun only" : false,
}, () => {
  const table: [string, string, string | null][] = [
    ["a browser offer", "permessage-deflate; client_max_window_bits", SHARED],
    ["a bare offer", "permessage-deflate", SHARED],
    [
      "an offer asking server_max_window_bits=15",
      "permessage-deflate; server_max_window_bits=15",
      `${SHARED}; server_max_window_bits=15`,
    ],
    [
      "an offer asking a 10-bit server window (declined)",
      "permessage-deflate; server_max_window_bits=10",
      null,
    ],
    [
      "a client window of 10",
      "permessage-deflate; client_max_window_bits=10",
      SHARED,
    ],
    ["an unknown parameter (declined)", "permessage-deflate; foo", null],
    ["a fallback list", "permessage-deflate; foo, permessage-deflate", SHARED],
    ["another extension only", "x-foo", null],
  ];
  for (const [what, offer, expected] of table) {
    it(`reports what Bun answers to ${what}`, async () => {
      await withBun({}, {}, async (port, sockets) => {
        const answered = await rawAnswer(port, offer);
        assert.equal(answered, expected);
        const { extensions } = await sockets[0]!.opened;
        assert.equal(extensions, answered ?? "");
      });
    });
  }

  it("compresses with a wstream client, and both sides report Bun's answer", async () => {
    await withBun({}, {}, async (port, sockets) => {
      const socket = await connect(`ws://127.0.0.1:${port}/`);
      try {
        const { readable, writable, extensions } = await socket.opened;
        assert.equal(extensions, SHARED);
        const writer = writable.getWriter();
        const reader = readable.getReader();
        const message = JSON.stringify(Array(2000).fill({ a: 1, b: "two" }));
        for (const value of [message, "short", new Uint8Array([1, 2, 3])]) {
          await writer.write(value);
          assert.deepEqual(
            (await timeout(reader.read(), 5000, "echo")).value,
            value,
          );
        }
        assert.equal((await sockets[0]!.opened).extensions, SHARED);
      } finally {
        socket.close();
        await socket.closed;
      }
    });
  });

  it("negotiates nothing with compression: false server-wide or per upgrade", async () => {
    await withBun(
      { compression: false },
      { compression: true },
      async (port, sockets) => {
        assert.equal(await rawAnswer(port, "permessage-deflate"), null);
        assert.equal((await sockets[0]!.opened).extensions, "");
      },
    );
    await withBun({}, { compression: false }, async (port, sockets) => {
      assert.equal(await rawAnswer(port, "permessage-deflate"), null);
      assert.equal((await sockets[0]!.opened).extensions, "");
    });
  });
});

describe("permessage-deflate under Deno.serve", {
  skip: Deno === undefined ? "Deno only" : false,
}, () => {
  it('negotiates nothing (Deno\'s WebSocket has no compression) and reports ""', async () => {
    const sockets: WebSocketStreamLike[] = [];
    const server = Deno!.serve(
      { port: 0, hostname: "127.0.0.1", onListen: () => {} },
      async (request) => echoUpgraded(await upgrade(request), sockets),
    );
    try {
      const port = server.addr.port;
      assert.equal(
        await rawAnswer(port, "permessage-deflate; client_max_window_bits"),
        null,
      );
      assert.equal((await sockets[0]!.opened).extensions, "");
      const socket = await connect(`ws://127.0.0.1:${port}/`);
      try {
        assert.equal((await socket.opened).extensions, "");
      } finally {
        socket.close();
        await socket.closed;
      }
    } finally {
      for (const socket of sockets) socket.close();
      await server.shutdown();
    }
  });
});
