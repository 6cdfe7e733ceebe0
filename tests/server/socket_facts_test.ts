/**
 * The socket facts and controls (`remoteAddr`, `secure`, `bufferedAmount`,
 * `ping()`, `onpong`), written values that are neither strings nor bytes,
 * and how cancelling `readable` or aborting `writable` closes, on every
 * server placement the runtime offers: wstream's `serve()` and
 * `attachToNodeServer()` (wstream's codec), `Deno.serve` (Deno only) and
 * `Bun.serve` (Bun only). The client side is in
 * `tests/client/socket_facts_client_test.ts`.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import {
  attachToNodeServer,
  bunServeOptions,
  serve,
  upgrade,
  WebSocketError,
} from "../../mod.ts";
import type {
  ServerUpgradeOptions,
  WebSocketOpenInfo,
  WebSocketStreamLike,
} from "../../mod.ts";
import {
  closeFrameInfo,
  OPCODE_PING,
  OPCODE_PONG,
  OPCODE_TEXT,
  RawWebSocket,
  text,
} from "../_raw_client.ts";
import { delay, Inbox, timeout } from "../_test_utils.ts";
import { Bun, Deno, runtime } from "../_runtimes.ts";

const TEST_TIMEOUT = 30_000;

/** The upgraded sockets of a server, as they open. */
interface Upgraded {
  socket: WebSocketStreamLike;
  open: WebSocketOpenInfo;
}

interface Placement {
  port: number;
  upgraded: Inbox<Upgraded>;
  stop(): Promise<void>;
}

type Handler = (
  request: Request,
  info?: { remoteAddr: { hostname: string; port: number } },
) => Promise<Response>;

function recordingHandler(
  options: (
    info?: { remoteAddr: { hostname: string; port: number } },
  ) => ServerUpgradeOptions,
): { upgraded: Inbox<Upgraded>; handler: Handler } {
  const upgraded = new Inbox<Upgraded>("an upgraded socket");
  const handler: Handler = async (request, info) => {
    const { response, socket } = await upgrade(request, options(info));
    socket?.opened.then((open) => upgraded.push({ socket, open })).catch(
      () => {},
    );
    return response;
  };
  return { upgraded, handler };
}

/** What each placement can do, where the runtime limits it. */
interface PlacementSpec {
  name: string;
  skip: string | false;
  /** Whether ping() and onpong work (not under Deno.serve). */
  pings: boolean;
  start(): Promise<Placement>;
}

const placements: PlacementSpec[] = [
  {
    name: "serve()",
    skip: false,
    pings: true,
    start: async () => {
      const { upgraded, handler } = recordingHandler(() => ({}));
      const server = serve({ port: 0, hostname: "127.0.0.1" }, handler);
      const { port } = await server.listening;
      return { port, upgraded, stop: () => server.shutdown() };
    },
  },
  {
    name: "attachToNodeServer()",
    skip: false,
    pings: true,
    start: async () => {
      const { upgraded, handler } = recordingHandler(() => ({}));
      const server = http.createServer();
      const detach = attachToNodeServer(server, handler);
      await new Promise<void>((resolve) =>
        server.listen(0, "127.0.0.1", resolve)
      );
      return {
        port: (server.address() as AddressInfo).port,
        upgraded,
        stop: async () => {
          detach();
          server.closeAllConnections?.();
          await new Promise<void>((resolve) => server.close(() => resolve()));
        },
      };
    },
  },
  {
    name: "Deno.serve",
    skip: Deno === undefined ? `Deno.serve needs Deno, not ${runtime}` : false,
    pings: false,
    start: () => {
      const { upgraded, handler } = recordingHandler((info) =>
        info === undefined ? {} : { remoteAddr: info.remoteAddr }
      );
      const server = Deno!.serve(
        { port: 0, hostname: "127.0.0.1", onListen: () => {} },
        handler,
      );
      return Promise.resolve({
        port: server.addr.port,
        upgraded,
        stop: () => server.shutdown(),
      });
    },
  },
  {
    name: "Bun.serve",
    skip: Bun === undefined ? `Bun.serve needs Bun, not ${runtime}` : false,
    pings: true,
    start: () => {
      const { upgraded, handler } = recordingHandler(() => ({}));
      const server = Bun!.serve({
        port: 0,
        hostname: "127.0.0.1",
        ...bunServeOptions(handler),
      });
      return Promise.resolve({
        port: server.port,
        upgraded,
        stop: () => {
          server.stop(true);
          return Promise.resolve();
        },
      });
    },
  },
];

/** Runs `body` with a started placement and one raw client connected to it. */
async function withClient(
  spec: PlacementSpec,
  body: (raw: RawWebSocket, upgraded: Upgraded) => Promise<void>,
): Promise<void> {
  const placement = await spec.start();
  let raw: RawWebSocket | null = null;
  try {
    raw = await RawWebSocket.open(placement.port);
    const upgraded = await placement.upgraded.next(5000);
    await body(raw, upgraded);
  } finally {
    raw?.close();
    await placement.stop();
  }
}

/** The next frame that is not a ping (keepalive pings are skipped). */
async function nextNonPing(raw: RawWebSocket) {
  while (true) {
    const frame = await raw.next();
    if (frame === null || frame.opcode !== OPCODE_PING) return frame;
  }
}

const encoder = new TextEncoder();

for (const spec of placements) {
  describe(`socket facts and controls under ${spec.name}`, {
    skip: spec.skip,
    timeout: TEST_TIMEOUT,
  }, () => {
    it("reports the client's TCP address as remoteAddr and secure false", async () => {
      await withClient(spec, (raw, { socket }) => {
        assert.deepEqual(socket.remoteAddr, {
          hostname: "127.0.0.1",
          port: raw.connection.localAddr.port,
        });
        assert.equal(socket.secure, false);
        assert.match(socket.url, /^ws:/);
        return Promise.resolve();
      });
    });

    it("sends write(42) as the text 42", async () => {
      await withClient(spec, async (raw, { open }) => {
        const writer = open.writable.getWriter();
        await writer.write(42 as unknown as string);
        await writer.write(
          { toString: () => "\ud800x" } as unknown as string,
        );
        assert.equal(text(await nextNonPing(raw)), "42");
        assert.equal(text(await nextNonPing(raw)), "\ufffdx");
      });
    });

    it("errors writable on write(Symbol()) and closes with 1011 after earlier messages", async () => {
      await withClient(spec, async (raw, { socket, open }) => {
        const writer = open.writable.getWriter();
        writer.write("before").catch(() => {});
        await assert.rejects(
          writer.write(Symbol("x") as unknown as string),
          TypeError,
        );
        await assert.rejects(writer.ready, TypeError);
        assert.equal(text(await nextNonPing(raw)), "before");
        const close = await nextNonPing(raw);
        assert.deepEqual(closeFrameInfo(close), {
          closeCode: 1011,
          reason: "Unsendable value written",
        });
        await raw.answerClose(close!);
        const closed = await timeout(socket.closed, 7000, "closed");
        assert.equal(closed.closeCode, 1011);
      });
    });

    it("sends the code and reason of a close() right after breaking out of for await", async () => {
      await withClient(spec, async (raw, { socket, open }) => {
        await raw.send(OPCODE_TEXT, "one");
        await raw.send(OPCODE_TEXT, "stop");
        const seen: unknown[] = [];
        for await (const message of open.readable) {
          seen.push(message);
          if (message === "stop") break;
        }
        socket.close({ closeCode: 4000, reason: "bye" });
        assert.deepEqual(seen, ["one", "stop"]);
        const close = await nextNonPing(raw);
        assert.deepEqual(closeFrameInfo(close), {
          closeCode: 4000,
          reason: "bye",
        });
        await raw.answerClose(close!);
        const closed = await timeout(socket.closed, 7000, "closed");
        assert.equal(closed.closeCode, 4000);
      });
    });

    it("closes without a code at the next macrotask after a bare break", async () => {
      await withClient(spec, async (raw, { open }) => {
        await raw.send(OPCODE_TEXT, "stop");
        for await (const _ of open.readable) break;
        const close = await nextNonPing(raw);
        const info = closeFrameInfo(close);
        // Bun sends 1000 for a close without a code (see bunServeOptions).
        assert.equal(info.closeCode, spec.name === "Bun.serve" ? 1000 : 1005);
      });
    });

    it("sends 4001 for readable.cancel(new WebSocketError(..., { closeCode: 4001 }))", async () => {
      await withClient(spec, async (raw, { open }) => {
        await open.readable.cancel(
          new WebSocketError("done", { closeCode: 4001, reason: "cancelled" }),
        );
        assert.deepEqual(closeFrameInfo(await nextNonPing(raw)), {
          closeCode: 4001,
          reason: "cancelled",
        });
      });
    });

    it("sends 4002 for writable.abort(new WebSocketError(..., { closeCode: 4002 }))", async () => {
      await withClient(spec, async (raw, { open }) => {
        await open.writable.abort(
          new WebSocketError("done", { closeCode: 4002, reason: "aborted" }),
        );
        assert.deepEqual(closeFrameInfo(await nextNonPing(raw)), {
          closeCode: 4002,
          reason: "aborted",
        });
      });
    });

    it("raises bufferedAmount while the client does not read, then falls back to 0", async () => {
      await withClient(spec, async (raw, { socket, open }) => {
        assert.equal(socket.bufferedAmount, 0);
        const writer = open.writable.getWriter();
        const chunk = new Uint8Array(256 * 1024);
        let written = 0;
        // Write until writes wait: the kernel buffers are full.
        while (written < 256 * 1024 * 1024) {
          const ready = await Promise.race([
            writer.ready.then(() => true),
            delay(300).then(() => false),
          ]);
          if (!ready) break;
          writer.write(chunk).catch(() => {});
          written += chunk.length;
        }
        await delay(50);
        const stuck = socket.bufferedAmount;
        assert.ok(stuck > 0, `bufferedAmount ${stuck} after ${written} bytes`);
        // Read everything written (frames of 256 KiB).
        let read = 0;
        while (read < written) {
          const frame = await raw.next(10_000);
          assert.ok(frame !== null, `EOF after ${read} of ${written}`);
          if (frame.opcode !== OPCODE_PING) read += frame.payload.length;
        }
        const deadline = Date.now() + 5000;
        while (socket.bufferedAmount > 0 && Date.now() < deadline) {
          await delay(10);
        }
        assert.equal(socket.bufferedAmount, 0);
      });
    });

    if (spec.pings) {
      it("resolves ping() with the round-trip time once the pong arrives", async () => {
        await withClient(spec, async (raw, { socket }) => {
          const rtt = socket.ping("hello");
          const ping = await nextNonPingPayload(raw, "hello");
          await delay(20);
          await raw.send(OPCODE_PONG, ping);
          const ms = await timeout(rtt, 5000, "ping()");
          assert.ok(ms >= 15 && ms < 5000, `rtt ${ms}`);
        });
      });

      it("resolves earlier pings on the pong of a later one, and calls onpong", async () => {
        await withClient(spec, async (raw, { socket }) => {
          const pongs: string[] = [];
          socket.onpong = (data) => pongs.push(new TextDecoder().decode(data));
          const first = socket.ping("a");
          const second = socket.ping(); // Unique generated payload.
          await nextNonPingPayload(raw, "a");
          const generated = await raw.next();
          assert.equal(generated?.opcode, OPCODE_PING);
          assert.equal(generated.payload.length, 8);
          await raw.send(OPCODE_PONG, generated.payload);
          const [a, b] = await timeout(
            Promise.all([first, second]),
            5000,
            "both pings",
          );
          assert.ok(a >= 0 && b >= 0);
          assert.equal(pongs.length, 1);
        });
      });

      it("calls onpong for an unsolicited pong", async () => {
        await withClient(spec, async (raw, { socket }) => {
          const pong = Promise.withResolvers<Uint8Array>();
          socket.onpong = pong.resolve;
          await raw.send(OPCODE_PONG, "heartbeat");
          const data = await timeout(pong.promise, 5000, "onpong");
          assert.deepEqual(data, encoder.encode("heartbeat"));
        });
      });

      it("rejects a waiting ping() with a WebSocketError when the connection closes", async () => {
        await withClient(spec, async (raw, { socket }) => {
          const rtt = socket.ping("never answered");
          rtt.catch(() => {});
          await nextNonPingPayload(raw, "never answered");
          await raw.send(
            0x8,
            new Uint8Array([0x0f, 0xa3, ...encoder.encode("bye")]),
          );
          await assert.rejects(
            timeout(rtt, 7000, "ping()"),
            (error: unknown) => {
              assert.ok(error instanceof WebSocketError, String(error));
              assert.equal(error.closeCode, 4003);
              return true;
            },
          );
        });
      });

      it("rejects ping() with RangeError over 125 bytes, over 64 waiting pings, and TypeError once closing", async () => {
        await withClient(spec, async (_raw, { socket }) => {
          await assert.rejects(socket.ping(new Uint8Array(126)), RangeError);
          const waiting = Array.from(
            { length: 64 },
            () => socket.ping().catch(() => {}),
          );
          await assert.rejects(socket.ping(), /64 pings already wait/);
          socket.close();
          await assert.rejects(socket.ping(), TypeError);
          await Promise.all(waiting);
        });
      });
    } else {
      it("rejects ping() with a TypeError naming the runtime's limit", async () => {
        await withClient(spec, async (_raw, { socket }) => {
          await assert.rejects(socket.ping(), (error: unknown) => {
            assert.ok(error instanceof TypeError);
            assert.match(error.message, /Deno\.serve/);
            return true;
          });
        });
      });
    }
  });
}

describe("remoteAddr under Deno.serve without the option", {
  skip: Deno === undefined ? `Deno.serve needs Deno, not ${runtime}` : false,
  timeout: TEST_TIMEOUT,
}, () => {
  it("is null: Deno gives the address only to the handler", async () => {
    const { upgraded, handler } = recordingHandler(() => ({}));
    const server = Deno!.serve(
      { port: 0, hostname: "127.0.0.1", onListen: () => {} },
      handler,
    );
    let raw: RawWebSocket | null = null;
    try {
      raw = await RawWebSocket.open(server.addr.port);
      const { socket } = await upgraded.next(5000);
      assert.equal(socket.remoteAddr, null);
      assert.equal(socket.bufferedAmount, 0);
    } finally {
      raw?.close();
      await server.shutdown();
    }
  });
});

/** Reads frames until a ping with `payload`; returns its payload. */
async function nextNonPingPayload(
  raw: RawWebSocket,
  payload: string,
): Promise<Uint8Array> {
  while (true) {
    const frame = await raw.next();
    assert.ok(frame !== null, "EOF before the ping");
    if (
      frame.opcode === OPCODE_PING &&
      new TextDecoder().decode(frame.payload) === payload
    ) {
      return frame.payload;
    }
  }
}
