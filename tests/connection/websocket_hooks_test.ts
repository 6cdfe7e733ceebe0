/**
 * The hooks API (`upgrade(request, { hooks })`), unchanged, on every
 * placement the current runtime offers: wstream's `serve()` and
 * `attachToNodeServer()` (wstream's codec, `WebSocketConnection` in hooks
 * mode), `Bun.serve` with `bunServeOptions()` (Bun's handlers) and
 * `Deno.serve` (Deno's WebSocket events).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import {
  attachToNodeServer,
  bunServeOptions,
  Hub,
  serve,
  upgrade,
} from "../../mod.ts";
import type {
  HooksUpgradeOptions,
  WebSocketCloseInfo,
  WebSocketHooks,
  WebSocketHooksSocket,
  WebSocketMessage,
} from "../../mod.ts";
import {
  closeFrameInfo,
  OPCODE_CLOSE,
  OPCODE_PING,
  OPCODE_PONG,
  OPCODE_TEXT,
  RawWebSocket,
  text,
} from "../_raw_client.ts";
import { concat, delay, encodeClientFrame, timeout } from "../_test_utils.ts";
import { Bun, Deno, runtime } from "../_runtimes.ts";

const TEST_TIMEOUT = 30_000;
const OPCODE_BINARY = 0x2;
const OPCODE_CONTINUATION = 0x0;

type Handler = (request: Request) => Promise<Response>;

interface Running {
  port: number;
  stop(): Promise<void>;
}

interface Placement {
  name: string;
  skip: string | false;
  start(handler: Handler): Promise<Running>;
  /** Deno's server-side WebSocket can neither ping nor report pongs. */
  pings: boolean;
  /**
   * Deno drops a connection (1006, no close frame) whose peer sent data
   * after our close frame, even in the same read.
   */
  dataAfterClose: boolean;
}

const placements: Placement[] = [
  {
    name: "wstream serve()",
    skip: false,
    pings: true,
    dataAfterClose: true,
    start: async (handler) => {
      const server = serve({ port: 0, hostname: "127.0.0.1" }, handler);
      const addr = await server.listening;
      return { port: addr.port, stop: () => server.shutdown() };
    },
  },
  {
    name: "node:http with attachToNodeServer()",
    skip: false,
    pings: true,
    dataAfterClose: true,
    start: async (handler) => {
      const server = http.createServer();
      const detach = attachToNodeServer(server, handler);
      await new Promise<void>((resolve) =>
        server.listen(0, "127.0.0.1", resolve)
      );
      return {
        port: (server.address() as AddressInfo).port,
        stop: async () => {
          detach();
          server.closeAllConnections?.();
          await new Promise<void>((resolve) => server.close(() => resolve()));
        },
      };
    },
  },
  {
    name: "Bun.serve with bunServeOptions()",
    skip: Bun === undefined ? `Bun.serve needs Bun, not ${runtime}` : false,
    pings: true,
    dataAfterClose: true,
    start: (handler) => {
      const server = Bun!.serve({
        port: 0,
        hostname: "127.0.0.1",
        ...bunServeOptions(handler),
      });
      return Promise.resolve({
        port: server.port,
        stop: () => {
          server.stop(true);
          return Promise.resolve();
        },
      });
    },
  },
  {
    name: "Deno.serve",
    skip: Deno === undefined ? `Deno.serve needs Deno, not ${runtime}` : false,
    pings: false,
    dataAfterClose: false,
    start: (handler) => {
      const server = Deno!.serve(
        { port: 0, hostname: "127.0.0.1", onListen: () => {} },
        handler,
      );
      return Promise.resolve({
        port: server.addr.port,
        stop: () => server.shutdown(),
      });
    },
  },
];

/** What the hooks of one server saw. */
interface Seen {
  sockets: WebSocketHooksSocket<{ id: number }>[];
  events: string[];
  closes: WebSocketCloseInfo[];
  errors: unknown[];
  /** Resolves with each socket's close info, in order of connection. */
  closed: Promise<WebSocketCloseInfo>[];
}

/** Starts `placement` with a handler upgrading with `hooks`. */
async function startHooks(
  placement: Placement,
  hooks: WebSocketHooks<{ id: number }>,
  options: Partial<HooksUpgradeOptions<{ id: number }>> = {},
): Promise<Running & Seen> {
  const seen: Seen = {
    sockets: [],
    events: [],
    closes: [],
    errors: [],
    closed: [],
  };
  let next = 0;
  const recorded: WebSocketHooks<{ id: number }> = {
    ...hooks,
    close(ws, info) {
      seen.closes.push(info);
      hooks.close?.(ws, info);
    },
    error(ws, error) {
      seen.errors.push(error);
      hooks.error?.(ws, error);
    },
  };
  const running = await placement.start(async (request) => {
    const { response, socket } = await upgrade(request, {
      ...options,
      hooks: recorded,
      data: { id: next++ },
    });
    if (socket !== null) {
      seen.sockets.push(socket);
      seen.closed.push(socket.closed);
    }
    return response;
  });
  return { ...running, ...seen };
}

/** Echoes every message. */
const echoHooks: WebSocketHooks<{ id: number }> = {
  message(ws, data) {
    ws.send(data);
  },
};

function bytesOf(frame: { payload: Uint8Array } | null): number[] {
  assert.ok(frame !== null, "expected a frame, got EOF");
  return [...frame.payload];
}

for (const placement of placements) {
  describe(`hooks under ${placement.name}`, {
    timeout: TEST_TIMEOUT,
    skip: placement.skip,
  }, () => {
    it("sends large binary messages whole and in order, and a buffer reused right after send() keeps what was sent", async () => {
      // 100 KiB and 8 MiB: past the size where Bun's codec writes header and
      // payload straight from the caller's bytes; 8 MiB also overflows the
      // kernel's buffer, so part of it must be copied before send() returns.
      const sizes = [100 * 1024, 8 * 1024 * 1024];
      const pattern = (size: number, seed: number): Uint8Array<ArrayBuffer> => {
        const bytes = new Uint8Array(size);
        for (let i = 0; i < size; i++) bytes[i] = (i * 7 + seed) & 0xff;
        return bytes;
      };
      const server = await startHooks(placement, {
        message(ws) {
          ws.send("first");
          for (const [index, size] of sizes.entries()) {
            const bytes = pattern(size, index);
            assert.notEqual(ws.send(bytes), 0);
            bytes.fill(0); // The caller reuses its buffer at once.
          }
          ws.send("last");
        },
      });
      let client: RawWebSocket | null = null;
      try {
        client = await RawWebSocket.open(server.port);
        await client.send(OPCODE_TEXT, "go");
        assert.equal(text(await client.next()), "first");
        for (const [index, size] of sizes.entries()) {
          const frame = await client.next();
          assert.equal(frame?.opcode, OPCODE_BINARY);
          assert.equal(frame?.fin, true);
          assert.equal(frame?.payload.length, size);
          assert.ok(
            frame?.payload.every((byte, i) =>
              byte === ((i * 7 + index) & 0xff)
            ),
            `message ${index} (${size} bytes) arrived changed`,
          );
        }
        assert.equal(text(await client.next()), "last");
      } finally {
        client?.close();
        await server.stop();
      }
    });

    it("calls open, echoes text, binary and a fragmented message, reports the client's close", async () => {
      const events: string[] = [];
      const server = await startHooks(placement, {
        open(ws) {
          events.push(`open ${ws.data.id} ${ws.readyState}`);
        },
        message(ws, data: WebSocketMessage) {
          events.push(typeof data === "string" ? `text ${data}` : "binary");
          assert.ok(ws.send(data) > 0);
        },
      });
      let client: RawWebSocket | null = null;
      try {
        client = await RawWebSocket.open(server.port);
        await client.send(OPCODE_TEXT, "hi ✓");
        assert.equal(text(await client.next()), "hi ✓");
        await client.send(OPCODE_BINARY, new Uint8Array([0, 1, 255]));
        const binary = await client.next();
        assert.equal(binary?.opcode, OPCODE_BINARY);
        assert.deepEqual(bytesOf(binary), [0, 1, 255]);
        await client.send(OPCODE_TEXT, ""); // send() counts it > 0 too
        assert.equal(text(await client.next()), "");
        await client.write(concat([
          encodeClientFrame({
            fin: false,
            opcode: OPCODE_TEXT,
            payload: "Hel",
          }),
          encodeClientFrame({ opcode: OPCODE_PING, payload: "p" }),
        ]));
        const pong = await client.next();
        assert.equal(pong?.opcode, OPCODE_PONG);
        assert.deepEqual(bytesOf(pong), [0x70]);
        await client.write(
          encodeClientFrame({ opcode: OPCODE_CONTINUATION, payload: "lo" }),
        );
        assert.equal(text(await client.next()), "Hello");

        const [socket] = server.sockets;
        assert.ok(socket !== undefined);
        assert.equal(socket.url, "ws://127.0.0.1/ws"); // the Host header's
        assert.equal(socket.protocol, "");
        assert.equal(socket.readyState, 1);
        await client.send(
          OPCODE_CLOSE,
          concat([
            new Uint8Array([0x0f, 0xa1]),
            new TextEncoder().encode("done"),
          ]),
        );
        assert.deepEqual(closeFrameInfo(await client.next()), {
          closeCode: 4001,
          reason: "done",
        });
        assert.equal(await client.next(), null); // The server ends TCP.
        const info = await timeout(socket.closed, 5000, "closed");
        assert.deepEqual(info, { closeCode: 4001, reason: "done" });
        assert.deepEqual(server.closes, [info]);
        assert.equal(socket.readyState, 3);
        assert.equal(socket.send("late"), 0);
        assert.deepEqual(events, [
          "open 0 1",
          "text hi ✓",
          "binary",
          "text ",
          "text Hello",
        ]);
      } finally {
        client?.close();
        await server.stop();
      }
    });

    it("closes from the server with a code and reason, after the messages sent before", async () => {
      const server = await startHooks(placement, {
        message(ws, data) {
          ws.send(`bye ${data}`);
          ws.close(4002, "server done");
          assert.equal(ws.readyState, 2);
          assert.equal(ws.send("dropped"), 0);
        },
      });
      let client: RawWebSocket | null = null;
      try {
        client = await RawWebSocket.open(server.port);
        await client.send(OPCODE_TEXT, "you");
        assert.equal(text(await client.next()), "bye you");
        const close = await client.next();
        assert.deepEqual(closeFrameInfo(close), {
          closeCode: 4002,
          reason: "server done",
        });
        await client.send(OPCODE_CLOSE, close!.payload);
        assert.equal(await client.next(), null);
        assert.deepEqual(
          await timeout(server.closed[0]!, 5000, "closed"),
          { closeCode: 4002, reason: "server done" },
        );
        assert.throws(() => server.sockets[0]!.close(999), RangeError);
      } finally {
        client?.close();
        await server.stop();
      }
    });

    it("answers a message read with the client's close frame before closing", async () => {
      const server = await startHooks(placement, echoHooks);
      let client: RawWebSocket | null = null;
      try {
        client = await RawWebSocket.open(server.port);
        await client.write(concat([
          encodeClientFrame({ opcode: OPCODE_TEXT, payload: "last words" }),
          encodeClientFrame({
            opcode: OPCODE_CLOSE,
            payload: new Uint8Array([0x03, 0xe8]),
          }),
        ]));
        assert.equal(text(await client.next()), "last words");
        assert.deepEqual(closeFrameInfo(await client.next()), {
          closeCode: 1000,
          reason: "",
        });
        assert.equal(await client.next(), null);
        assert.deepEqual(
          await timeout(server.closed[0]!, 5000, "closed"),
          { closeCode: 1000, reason: "" },
        );
      } finally {
        client?.close();
        await server.stop();
      }
    });

    it("pings from the server and reports the pong", {
      skip: placement.pings
        ? false
        : "Deno's server-side WebSocket can neither ping nor report pongs",
    }, async () => {
      const pongs: number[][] = [];
      const server = await startHooks(placement, {
        open(ws) {
          assert.equal(ws.ping("are you there"), 15);
        },
        pong(_ws, data) {
          pongs.push([...data]);
        },
      });
      let client: RawWebSocket | null = null;
      try {
        client = await RawWebSocket.open(server.port);
        const ping = await client.next();
        assert.equal(ping?.opcode, OPCODE_PING);
        assert.equal(new TextDecoder().decode(ping!.payload), "are you there");
        await client.send(OPCODE_PONG, ping!.payload);
        for (let i = 0; i < 100 && pongs.length === 0; i++) await delay(10);
        assert.deepEqual(pongs, [[
          ...new TextEncoder().encode("are you there"),
        ]]);
        assert.throws(
          () => server.sockets[0]!.ping(new Uint8Array(126)),
          RangeError,
        );
      } finally {
        client?.close();
        await server.stop();
      }
    });

    it("closes with 1011 when a hook throws, reports it, and keeps serving", async () => {
      const server = await startHooks(placement, {
        message(ws, data) {
          if (data === "boom") throw new Error("hook failure");
          ws.send(data);
        },
      });
      const clients: RawWebSocket[] = [];
      try {
        const client = await RawWebSocket.open(server.port);
        clients.push(client);
        await client.write(concat([
          encodeClientFrame({ opcode: OPCODE_TEXT, payload: "before" }),
          encodeClientFrame({ opcode: OPCODE_TEXT, payload: "boom" }),
          // Not delivered (and under Deno.serve, data after our close
          // frame makes Deno drop the connection: not sent there).
          ...(placement.dataAfterClose
            ? [encodeClientFrame({ opcode: OPCODE_TEXT, payload: "after" })]
            : []),
        ]));
        assert.equal(text(await client.next()), "before");
        const close = await client.next();
        assert.deepEqual(closeFrameInfo(close), {
          closeCode: 1011,
          reason: "Internal error in a hook",
        });
        await client.answerClose(close!);
        assert.equal(await client.next(), null);
        assert.equal(
          (await timeout(server.closed[0]!, 5000, "closed")).closeCode,
          1011,
        );
        assert.equal(server.errors.length, 1);
        assert.equal((server.errors[0] as Error).message, "hook failure");

        const second = await RawWebSocket.open(server.port);
        clients.push(second);
        await second.send(OPCODE_TEXT, "still here");
        assert.equal(text(await second.next()), "still here");
      } finally {
        for (const client of clients) client.close();
        await server.stop();
      }
    });

    it("returns -1 past the write high-water mark, then calls drain once the peer reads", async () => {
      const chunk = new Uint8Array(16 * 1024).fill(7);
      let sent = 0;
      let backpressured = 0;
      let drained: () => void = () => {};
      const drainedOnce = new Promise<void>((resolve) => drained = resolve);
      const server = await startHooks(placement, {
        open(ws) {
          // Send until backpressure (bounded: the kernel takes a few MiB).
          for (let i = 0; i < 4096; i++) {
            const result = ws.send(chunk);
            sent++;
            if (result === -1) {
              backpressured = ws.bufferedAmount;
              return;
            }
            assert.ok(result > 0, `send returned ${result}`);
          }
        },
        drain(ws) {
          assert.ok(ws.send("after drain") !== 0);
          drained();
        },
      }, { writableHighWaterMark: 64 * 1024 });
      let client: RawWebSocket | null = null;
      try {
        client = await RawWebSocket.open(server.port);
        for (let i = 0; i < 200 && backpressured === 0; i++) await delay(10);
        assert.ok(backpressured > 0, "send() returned -1");
        // The peer reads everything: the buffer drains.
        for (let i = 0; i < sent; i++) {
          const frame = await client.next();
          assert.equal(frame?.payload.length, chunk.length);
        }
        await timeout(drainedOnce, 5000, "drain");
        assert.equal(text(await client.next()), "after drain");
      } finally {
        client?.close();
        await server.stop();
      }
    });

    it("keeps a non-reading peer's echoes bounded: past 16 × writableHighWaterMark it closes with 1008", async () => {
      const highWaterMark = 64 * 1024;
      let most = 0;
      const server = await startHooks(placement, {
        message(ws, data) {
          ws.send(data); // Ignoring -1, as a careless application does.
          most = Math.max(most, ws.bufferedAmount);
        },
      }, { writableHighWaterMark: highWaterMark, closeTimeout: 500 });
      let client: RawWebSocket | null = null;
      try {
        client = await RawWebSocket.open(server.port);
        const message = encodeClientFrame({
          opcode: OPCODE_BINARY,
          payload: new Uint8Array(64 * 1024),
        });
        // 64 MiB, never reading: far past what the kernel buffers hold.
        const writing = (async () => {
          for (let i = 0; i < 1024; i++) await client!.write(message);
        })().catch(() => {});
        const info = await timeout(server.closed[0]!, 20_000, "closed");
        assert.ok(
          info.closeCode === 1008 || info.closeCode === 1006,
          `closed with ${info.closeCode}`,
        );
        assert.ok(
          most <= 16 * highWaterMark + 2 * 64 * 1024 + 1024,
          `buffered ${most} bytes`,
        );
        client.close();
        await writing;
      } finally {
        client?.close();
        await server.stop();
      }
    });

    it("subscribes a hooks socket to a Hub", async () => {
      const hub = new Hub();
      const server = await startHooks(placement, {
        open(ws) {
          hub.subscribe(ws, "room");
        },
        message(_ws, data) {
          hub.publish("room", `all: ${data}`);
        },
      });
      const clients: RawWebSocket[] = [];
      try {
        const a = await RawWebSocket.open(server.port);
        clients.push(a);
        const b = await RawWebSocket.open(server.port);
        clients.push(b);
        for (let i = 0; i < 100 && hub.subscribers("room") < 2; i++) {
          await delay(10);
        }
        assert.equal(hub.subscribers("room"), 2);
        await a.send(OPCODE_TEXT, "hello");
        assert.equal(text(await a.next()), "all: hello");
        assert.equal(text(await b.next()), "all: hello");
        assert.deepEqual(hub.topics(server.sockets[1]!), ["room"]);
        a.close();
        await timeout(server.closed[0]!, 5000, "closed");
        for (let i = 0; i < 100 && hub.subscribers("room") > 1; i++) {
          await delay(10);
        }
        assert.equal(hub.subscribers("room"), 1);
      } finally {
        for (const client of clients) client.close();
        await hub.close();
        await server.stop();
      }
    });
  });
}

describe("upgrade() with hooks", () => {
  it("refuses a request that is not an upgrade with no socket", async () => {
    const result = await upgrade(new Request("http://localhost/"), {
      hooks: echoHooks,
    });
    assert.equal(result.socket, null);
    assert.equal(result.response.status, 400);
  });
});
