/**
 * `Hub` with a backplane: two hubs (two "processes") sharing an in-memory
 * fake backplane.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Hub } from "../../mod.ts";
import type {
  Backplane,
  BackplaneMessage,
  BackplaneReceiver,
} from "../../mod.ts";
import { delay, timeout } from "../_test_utils.ts";
import {
  type Client,
  closeAll,
  connectClients,
  placements,
} from "./_hub_servers.ts";

const TEST_TIMEOUT = 30_000;

/** An in-memory bus: each backplane forwards to the others' subscribed topics. */
class FakeBus {
  readonly members: FakeBackplane[] = [];
}

class FakeBackplane implements Backplane {
  readonly calls: string[] = [];
  readonly topics = new Set<string>();
  receiver: BackplaneReceiver | null = null;
  failPublish = false;
  readonly #bus: FakeBus;
  readonly #startError: Error | null;

  constructor(bus: FakeBus, startError: Error | null = null) {
    this.#bus = bus;
    this.#startError = startError;
    bus.members.push(this);
  }

  start(receiver: BackplaneReceiver): Promise<void> {
    this.calls.push("start");
    if (this.#startError !== null) return Promise.reject(this.#startError);
    this.receiver = receiver;
    return delay(1);
  }

  publish(topic: string, data: BackplaneMessage): void {
    this.calls.push(`publish ${topic}`);
    if (this.failPublish) throw new Error("publish failed");
    for (const other of this.#bus.members) {
      // Never back to the publishing process.
      if (other !== this && other.topics.has(topic)) {
        queueMicrotask(() => other.receiver?.message(topic, data));
      }
    }
  }

  subscribe(topic: string): void {
    this.calls.push(`subscribe ${topic}`);
    this.topics.add(topic);
  }

  unsubscribe(topic: string): void {
    this.calls.push(`unsubscribe ${topic}`);
    this.topics.delete(topic);
  }

  close(): Promise<void> {
    this.calls.push("close");
    return Promise.resolve();
  }
}

async function collect(client: Client, count: number): Promise<unknown[]> {
  const got: unknown[] = [];
  for (let i = 0; i < count; i++) got.push(await client.next());
  return got;
}

describe("Hub with a backplane", { timeout: TEST_TIMEOUT }, () => {
  it("delivers the other hub's messages once, in order, never echoed", async () => {
    const bus = new FakeBus();
    const planeA = new FakeBackplane(bus);
    const planeB = new FakeBackplane(bus);
    const hubA = new Hub({ backplane: planeA });
    const hubB = new Hub({ backplane: planeB });
    await hubA.ready;
    await hubB.ready;
    const serverA = await placements[0]!.start(hubA);
    const serverB = await placements[0]!.start(hubB);
    let clients: Client[] = [];
    try {
      const [a] = await connectClients(serverA, 1);
      const [b] = await connectClients(serverB, 1);
      clients = [a!, b!];
      for (let i = 0; i < 20; i++) {
        assert.equal(hubA.publish("room", `m${i}`), 1);
      }
      hubA.publish("room", new Uint8Array([1, 2, 3]));
      const expected = [
        ...Array.from({ length: 20 }, (_, i) => `m${i}`),
        new Uint8Array([1, 2, 3]),
      ];
      assert.deepEqual(await collect(a!, 21), expected);
      assert.deepEqual(await collect(b!, 21), expected);
      // Nothing more: no echo, no duplicates.
      hubB.publish("room", "end");
      assert.equal(await a!.next(), "end");
      assert.equal(await b!.next(), "end");
      assert.equal(hubA.stats.published, 22);
    } finally {
      closeAll(clients);
      await hubA.close();
      await hubB.close();
      await serverA.stop();
      await serverB.stop();
    }
  });

  it("subscribes the backplane on the first local subscriber, unsubscribes on the last", async () => {
    const plane = new FakeBackplane(new FakeBus());
    const hub = new Hub({ backplane: plane });
    const server = await placements[0]!.start(hub);
    let clients: Client[] = [];
    try {
      // Subscribed before the backplane started: subscribed once it has.
      clients = await connectClients(server, 2);
      await hub.ready;
      assert.deepEqual(plane.calls, ["start", "subscribe room"]);
      const [s1, s2] = server.sockets;
      hub.subscribe(s1!, "x");
      hub.subscribe(s2!, "x");
      hub.unsubscribe(s1!, "x");
      assert.deepEqual(plane.calls.slice(2), ["subscribe x"]);
      hub.unsubscribe(s2!, "x");
      assert.deepEqual(plane.calls.slice(2), ["subscribe x", "unsubscribe x"]);
      closeAll(clients);
      await timeout(
        (async () => {
          while (hub.subscribers("room") > 0) await delay(5);
        })(),
        5000,
        "room empty",
      );
      assert.deepEqual(plane.calls.slice(4), ["unsubscribe room"]);
      await hub.close();
      assert.equal(plane.calls.at(-1), "close");
    } finally {
      closeAll(clients);
      await hub.close();
      await server.stop();
    }
  });

  it("reports backplane errors to onError, never throws", async () => {
    const errors: Error[] = [];
    const plane = new FakeBackplane(new FakeBus());
    const hub = new Hub({
      backplane: plane,
      onError: (error) => errors.push(error),
    });
    const server = await placements[0]!.start(hub);
    let clients: Client[] = [];
    try {
      await hub.ready;
      clients = await connectClients(server, 1);
      plane.failPublish = true;
      assert.equal(hub.publish("room", "local still"), 1);
      assert.equal(await clients[0]!.next(), "local still");
      plane.receiver!.error(new Error("connection lost"));
      assert.deepEqual(errors.map((e) => e.message), [
        "publish failed",
        "connection lost",
      ]);
    } finally {
      closeAll(clients);
      await hub.close();
      await server.stop();
    }
  });

  it("serves locally when the backplane fails to start", async () => {
    const errors: Error[] = [];
    const plane = new FakeBackplane(new FakeBus(), new Error("no redis"));
    const hub = new Hub({
      backplane: plane,
      onError: (error) => errors.push(error),
    });
    await hub.ready;
    assert.deepEqual(errors.map((e) => e.message), ["no redis"]);
    assert.equal(hub.publish("room", "x"), 0);
    assert.deepEqual(plane.calls, ["start"]);
    await hub.close();
  });
});
