/**
 * `Hub`: subscribe, publish, except, topics, subscribers and removal on
 * close on every placement the runtime has; client sockets; encode-once;
 * compression; slow subscribers.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  bunServeOptions,
  connect,
  Hub,
  serve,
  upgrade,
  WebSocketStream,
} from "../../mod.ts";
import type { WebSocketStreamLike } from "../../mod.ts";
import { FrameEncoder } from "../../lib/core/frame_encoder.ts";
import { PerMessageDeflate } from "../../lib/extensions/permessage_deflate.ts";
import { RawWebSocket } from "../_raw_client.ts";
import { delay, timeout } from "../_test_utils.ts";
import {
  Bun,
  type Client,
  closeAll,
  connectClients,
  placements,
  runtime,
} from "./_hub_servers.ts";

const TEST_TIMEOUT = 30_000;

/** Waits until `condition()` holds (fails after 5 s). */
async function until(condition: () => boolean, what: string): Promise<void> {
  await timeout(
    (async () => {
      while (!condition()) await delay(5);
    })(),
    5000,
    what,
  );
}

for (const placement of placements) {
  describe(`Hub with ${placement.name}`, {
    skip: placement.skip,
    timeout: TEST_TIMEOUT,
  }, () => {
    it("publishes text and binary to every subscriber, intact", async () => {
      const hub = new Hub();
      const server = await placement.start(hub);
      let clients: Client[] = [];
      try {
        clients = await connectClients(server, 3);
        assert.equal(hub.subscribers("room"), 3);
        assert.equal(hub.publish("room", "héllo 👋"), 3);
        const bytes = new Uint8Array(300).map((_, i) => i & 0xff);
        assert.equal(hub.publish("room", bytes.buffer), 3);
        assert.equal(hub.publish("other", "nobody"), 0);
        for (const client of clients) {
          assert.equal(await client.next(), "héllo 👋");
          assert.deepEqual(await client.next(), bytes);
        }
        assert.deepEqual(hub.stats, {
          published: 3,
          delivered: 6,
          dropped: 0,
          closed: 0,
        });
      } finally {
        closeAll(clients);
        await hub.close();
        await server.stop();
      }
    });

    it("leaves out `except` and counts only who got it", async () => {
      const hub = new Hub();
      const server = await placement.start(hub);
      let clients: Client[] = [];
      try {
        clients = await connectClients(server, 3);
        const [a, b, c] = server.sockets as [
          WebSocketStreamLike,
          WebSocketStreamLike,
          WebSocketStreamLike,
        ];
        assert.equal(hub.publish("room", "not to a", { except: a }), 2);
        assert.equal(hub.publish("room", "only c", { except: [a, b] }), 1);
        assert.equal(hub.publish("room", "all"), 3);
        assert.equal(await clients[0]!.next(), "all");
        assert.equal(await clients[1]!.next(), "not to a");
        assert.equal(await clients[1]!.next(), "all");
        assert.equal(await clients[2]!.next(), "not to a");
        assert.equal(await clients[2]!.next(), "only c");
        assert.equal(await clients[2]!.next(), "all");
        assert.deepEqual(hub.topics(c), ["room"]);
      } finally {
        closeAll(clients);
        await hub.close();
        await server.stop();
      }
    });

    it("tracks topics and removes a socket once it closed", async () => {
      const hub = new Hub();
      const server = await placement.start(hub);
      let clients: Client[] = [];
      try {
        clients = await connectClients(server, 2);
        const [a, b] = server.sockets as [
          WebSocketStreamLike,
          WebSocketStreamLike,
        ];
        assert.equal(hub.subscribe(a, "news"), true);
        assert.equal(hub.subscribe(a, "news"), false);
        assert.deepEqual(hub.topics(a), ["room", "news"]);
        assert.equal(hub.subscribers("news"), 1);
        assert.equal(hub.publish("news", "n1"), 1);
        assert.equal(await clients[0]!.next(), "n1");
        assert.equal(hub.unsubscribe(a, "news"), true);
        assert.equal(hub.unsubscribe(a, "news"), false);
        assert.equal(hub.publish("news", "n2"), 0);
        clients[1]!.socket.close({ closeCode: 1000 });
        await timeout(b.closed, 5000, "b closed");
        await until(() => hub.subscribers("room") === 1, "b removed");
        assert.deepEqual(hub.topics(b), []);
        assert.equal(hub.publish("room", "r"), 1);
        assert.equal(await clients[0]!.next(), "r");
      } finally {
        closeAll(clients);
        await hub.close();
        await server.stop();
      }
    });

    it("keeps publications in order with the socket's own writes", async () => {
      const hub = new Hub();
      const server = await placement.start(hub);
      let clients: Client[] = [];
      try {
        clients = await connectClients(server, 1);
        const { writable } = await server.sockets[0]!.opened;
        const writer = writable.getWriter();
        await writer.write("w1");
        hub.publish("room", "p1");
        await writer.write("w2");
        hub.publish("room", "p2");
        const got = [];
        for (let i = 0; i < 4; i++) got.push(await clients[0]!.next());
        assert.deepEqual(got, ["w1", "p1", "w2", "p2"]);
      } finally {
        closeAll(clients);
        await hub.close();
        await server.stop();
      }
    });
  });
}

describe("Hub", { timeout: TEST_TIMEOUT }, () => {
  it("refuses a socket wstream did not create", async () => {
    const hub = new Hub();
    assert.throws(
      () => hub.subscribe({} as WebSocketStreamLike, "room"),
      TypeError,
    );
    await hub.close();
    assert.throws(() => hub.publish("room", "x"), TypeError);
  });

  it("rejects bad options", () => {
    assert.throws(() => new Hub({ maxQueuedBytes: -1 }), RangeError);
    assert.throws(
      () => new Hub({ slowSubscriber: "wait" as "drop" }),
      RangeError,
    );
  });

  it("publishes to client sockets (masked per socket)", async () => {
    const received: string[] = [];
    const server = serve({ port: 0, hostname: "127.0.0.1" }, async (req) => {
      const { response, socket } = await upgrade(req);
      socket?.opened.then(async ({ readable }) => {
        for await (const message of readable) received.push(String(message));
      }).catch(() => {});
      return response;
    });
    const hub = new Hub();
    const sockets: WebSocketStreamLike[] = [];
    try {
      const { port } = await server.listening;
      for (let i = 0; i < 3; i++) {
        const socket = await connect(`ws://127.0.0.1:${port}/`);
        sockets.push(socket);
        hub.subscribe(socket, "up");
      }
      assert.equal(hub.publish("up", "from the hub"), 3);
      await until(() => received.length === 3, "3 messages");
      assert.deepEqual(received, Array(3).fill("from the hub"));
    } finally {
      for (const socket of sockets) socket.close();
      await hub.close();
      await server.shutdown();
    }
  });

  it("publishes to a WebSocketStream once it opened, and refuses it before", async () => {
    const received: string[] = [];
    const server = serve({ port: 0, hostname: "127.0.0.1" }, async (req) => {
      const { response, socket } = await upgrade(req);
      socket?.opened.then(async ({ readable }) => {
        for await (const message of readable) received.push(String(message));
      }).catch(() => {});
      return response;
    });
    const hub = new Hub();
    const { port } = await server.listening;
    const socket = new WebSocketStream(`ws://127.0.0.1:${port}/`);
    try {
      assert.throws(() => hub.subscribe(socket, "up"), /before it opened/);
      await socket.opened;
      assert.equal(hub.subscribe(socket, "up"), true);
      assert.equal(hub.publish("up", "to the stream"), 1);
      await until(() => received.length === 1, "1 message");
      assert.deepEqual(received, ["to the stream"]);
    } finally {
      socket.close();
      await hub.close();
      await server.shutdown();
    }
  });

  it("frames a broadcast once for all codec sockets", async () => {
    const hub = new Hub();
    const server = await placements[0]!.start(hub, { compression: false });
    let clients: Client[] = [];
    const original = FrameEncoder.prototype.encode;
    let encodes = 0;
    try {
      clients = await connectClients(server, 5);
      FrameEncoder.prototype.encode = function (frame) {
        encodes++;
        return original.call(this, frame);
      };
      assert.equal(hub.publish("room", "once"), 5);
      FrameEncoder.prototype.encode = original;
      assert.equal(encodes, 1);
      for (const client of clients) assert.equal(await client.next(), "once");
    } finally {
      FrameEncoder.prototype.encode = original;
      closeAll(clients);
      await hub.close();
      await server.stop();
    }
  });

  for (
    const [name, compression, compressions] of [
      ["with context takeover (per socket)", true, 4],
      [
        "with server_no_context_takeover (shared)",
        { serverNoContextTakeover: true },
        1,
      ],
    ] as const
  ) {
    it(`delivers compressed broadcasts ${name}`, async () => {
      const hub = new Hub();
      const server = await placements[0]!.start(hub, { compression });
      let clients: Client[] = [];
      const original = PerMessageDeflate.prototype.encodeMessage;
      let calls = 0;
      try {
        clients = await connectClients(server, 4);
        for (const client of clients) {
          assert.match(client.extensions, /permessage-deflate/);
        }
        PerMessageDeflate.prototype.encodeMessage = function (data, opcode) {
          calls++;
          return original.call(this, data, opcode);
        };
        const long = JSON.stringify({ text: "hello ".repeat(50) });
        for (let i = 0; i < 3; i++) {
          assert.equal(hub.publish("room", `${i}${long}`), 4);
        }
        PerMessageDeflate.prototype.encodeMessage = original;
        assert.equal(calls, compressions * 3);
        hub.publish("room", "short"); // Under the threshold: not compressed.
        for (const client of clients) {
          for (let i = 0; i < 3; i++) {
            assert.equal(await client.next(), `${i}${long}`);
          }
          assert.equal(await client.next(), "short");
        }
      } finally {
        PerMessageDeflate.prototype.encodeMessage = original;
        closeAll(clients);
        await hub.close();
        await server.stop();
      }
    });
  }
});

describe("Hub slow subscribers", { timeout: TEST_TIMEOUT }, () => {
  const MAX = 256 * 1024;
  const message = new Uint8Array(32 * 1024).fill(7);

  /** Publishes until the stuck socket is over the bound many times. */
  async function flood(
    hub: Hub,
    stuck: WebSocketStreamLike,
    done: () => boolean,
  ): Promise<number> {
    let peak = 0;
    for (let i = 0; i < 2000 && !done(); i++) {
      hub.publish("room", message);
      peak = Math.max(peak, stuck.bufferedAmount);
      if (i % 8 === 0) await delay(1);
    }
    return peak;
  }

  for (const placement of placements) {
    if (placement.name === "Bun.serve" || placement.name === "Deno.serve") {
      // Native placements: the runtime's buffers (checked alike below).
    }
    it(`drops for a client that stops reading, bounded (${placement.name})`, {
      skip: placement.skip,
    }, async () => {
      const hub = new Hub({ maxQueuedBytes: MAX, slowSubscriber: "drop" });
      const server = await placement.start(hub);
      let raw: RawWebSocket | null = null;
      let clients: Client[] = [];
      try {
        raw = await RawWebSocket.open(server.port); // Never reads.
        await until(() => server.sockets.length === 1, "stuck socket");
        const stuck = server.sockets[0]!;
        await stuck.opened;
        clients = await connectClients(server, 2).catch(() => []);
        const peak = await flood(hub, stuck, () => hub.dropped(stuck) > 50);
        assert.ok(hub.dropped(stuck) > 50, `dropped ${hub.dropped(stuck)}`);
        assert.ok(
          peak <= MAX + message.length,
          `peak bufferedAmount ${peak} over ${MAX + message.length}`,
        );
        assert.ok(hub.stats.dropped >= hub.dropped(stuck));
        assert.equal(hub.subscribers("room"), 3);
      } finally {
        raw?.close();
        closeAll(clients);
        await hub.close();
        await server.stop();
      }
    });

    it(`closes a client that stops reading with 1008 (${placement.name})`, {
      skip: placement.skip,
    }, async () => {
      const hub = new Hub({ maxQueuedBytes: MAX, slowSubscriber: "close" });
      const server = await placement.start(hub, { closeTimeout: 300 });
      let raw: RawWebSocket | null = null;
      try {
        raw = await RawWebSocket.open(server.port);
        await until(() => server.sockets.length === 1, "stuck socket");
        const stuck = server.sockets[0]!;
        await stuck.opened;
        const peak = await flood(hub, stuck, () => hub.stats.closed > 0);
        assert.equal(hub.stats.closed, 1);
        assert.equal(hub.subscribers("room"), 0);
        assert.ok(peak <= MAX + message.length, `peak ${peak}`);
        assert.equal(hub.publish("room", message), 0);
        const info = await timeout(stuck.closed, 10_000, "stuck closed");
        assert.ok(
          [1006, 1008].includes(info.closeCode),
          `closed with ${info.closeCode}`,
        );
      } finally {
        raw?.close();
        await hub.close();
        await server.stop();
      }
    });
  }
});

describe("Hub under Bun.serve", {
  skip: Bun === undefined ? `needs Bun, not ${runtime}` : false,
  timeout: TEST_TIMEOUT,
}, () => {
  it("publishes through Bun's native topics (server.publish)", async () => {
    const hub = new Hub();
    const sockets: WebSocketStreamLike[] = [];
    const server = Bun!.serve({
      port: 0,
      hostname: "127.0.0.1",
      ...bunServeOptions(async (request) => {
        const { response, socket } = await upgrade(request);
        if (socket !== null) {
          sockets.push(socket);
          hub.subscribe(socket, "t");
        }
        return response;
      }),
    }) as unknown as {
      port: number;
      publish(...args: unknown[]): number;
      stop(close: boolean): void;
    };
    const publish = server.publish.bind(server);
    let calls = 0;
    server.publish = (...args: unknown[]) => {
      calls++;
      return publish(...args);
    };
    const clients: WebSocketStreamLike[] = [];
    try {
      const readers = [];
      for (let i = 0; i < 3; i++) {
        const client = await connect(`ws://127.0.0.1:${server.port}/`);
        clients.push(client);
        readers.push((await client.opened).readable.getReader());
      }
      await until(() => sockets.length === 3, "3 sockets");
      for (const socket of sockets) await socket.opened;
      assert.equal(hub.publish("t", "native"), 3);
      assert.equal(calls, 1);
      for (const reader of readers) {
        assert.equal((await reader.read()).value, "native");
      }
    } finally {
      for (const client of clients) client.close();
      await hub.close();
      server.stop(true);
    }
  });
});
