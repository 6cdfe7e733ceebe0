/**
 * The Redis backplane against a real `redis-server` and real clients (npm
 * `redis` and `ioredis` where they load, Bun's built-in client under Bun):
 * two backplanes in this process stand for two processes.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createRedisBackplane } from "../../lib/pubsub/redis_backplane.ts";
import type {
  Backplane,
  BackplaneMessage,
  BackplaneReceiver,
} from "../../lib/pubsub/backplane.ts";
import {
  REDIS_SKIP,
  type RedisServer,
  startRedis,
  waitForSubscribers,
} from "./_redis_server.ts";
import {
  CLIENT_KINDS,
  type ClientKind,
  type ClientPair,
  IOREDIS,
  NODE_REDIS,
} from "./_redis_clients.ts";
import { delay } from "../_test_utils.ts";

const TEST_TIMEOUT = 30_000;

/** A fake hub: records what the backplane hands it. */
class Recorder implements BackplaneReceiver {
  readonly messages: [string, BackplaneMessage][] = [];
  readonly errors: Error[] = [];
  message(topic: string, data: BackplaneMessage): void {
    this.messages.push([topic, data]);
  }
  error(error: Error): void {
    this.errors.push(error);
  }
  /** Waits until `done()` holds, polling (at most `ms`). */
  async until(done: () => boolean, what: string, ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!done()) {
      if (Date.now() > deadline) {
        throw new Error(
          `Timed out: ${what} (${this.messages.length} messages, errors: ${
            this.errors.map((error) => error.message).join("; ")
          })`,
        );
      }
      await delay(10);
    }
  }
}

/** A backplane on a fresh client, with its recorder. */
interface Node {
  backplane: Backplane;
  recorder: Recorder;
  client: ClientPair;
}

async function startNode(
  kind: ClientKind,
  redis: RedisServer,
  options: { keyPrefix?: string; binaryAsBase64?: boolean } = {},
): Promise<Node> {
  const client = await kind.connect(redis.url);
  const backplane = createRedisBackplane({ redis: client.redis, ...options });
  const recorder = new Recorder();
  await backplane.start(recorder);
  return { backplane, recorder, client };
}

async function stopNodes(nodes: Node[]): Promise<void> {
  for (const node of nodes) {
    await node.backplane.close();
    await node.client.close();
  }
}

/** Runs `body` with nodes of `kinds` (closed after, whatever happens). */
async function withNodes(
  redis: RedisServer,
  kinds: readonly ClientKind[],
  options: { keyPrefix?: string; binaryAsBase64?: boolean },
  body: (nodes: Node[]) => Promise<void>,
): Promise<void> {
  const nodes: Node[] = [];
  try {
    for (const kind of kinds) nodes.push(await startNode(kind, redis, options));
    await body(nodes);
  } finally {
    await stopNodes(nodes);
  }
}

const AVAILABLE = CLIENT_KINDS.filter((kind) => kind.skip === false);
const ANY_BUN = AVAILABLE.some((kind) => kind.name === "Bun.RedisClient");

describe("createRedisBackplane", { timeout: 120_000, skip: REDIS_SKIP }, () => {
  let redis: RedisServer;
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis?.stop();
  });

  for (const kind of CLIENT_KINDS) {
    const options = { timeout: TEST_TIMEOUT, skip: kind.skip };
    const name = kind.name;

    it(
      `${name}: delivers 1,000 messages once each, in order, to the other process and never back to the publisher`,
      options,
      async () => {
        await withNodes(redis, [kind, kind], {}, async ([a, b]) => {
          a!.backplane.subscribe("room");
          b!.backplane.subscribe("room");
          await waitForSubscribers(redis.port, "wstream:room", 2);
          for (let i = 0; i < 1000; i++) a!.backplane.publish("room", `m${i}`);
          for (let i = 0; i < 500; i++) b!.backplane.publish("room", `n${i}`);
          await b!.recorder.until(
            () => b!.recorder.messages.length >= 1000,
            "1,000 messages at b",
          );
          await a!.recorder.until(
            () => a!.recorder.messages.length >= 500,
            "500 messages at a",
          );
          await delay(100); // Anything extra (a duplicate, an echo) shows now.
          assert.deepEqual(
            b!.recorder.messages,
            Array.from({ length: 1000 }, (_, i) => ["room", `m${i}`]),
          );
          assert.deepEqual(
            a!.recorder.messages,
            Array.from({ length: 500 }, (_, i) => ["room", `n${i}`]),
          );
          assert.deepEqual(a!.recorder.errors, []);
          assert.deepEqual(b!.recorder.errors, []);
        });
      },
    );

    it(
      `${name}: keeps text and binary intact (invalid UTF-8, empty, large)`,
      options,
      async () => {
        const large = new Uint8Array(256 * 1024).map((_, i) => (i * 31) & 0xff);
        const messages: BackplaneMessage[] = [
          "",
          new Uint8Array(0),
          "héllo ☃ 🎉",
          new Uint8Array([0xff, 0xfe, 0x00, 0xc3, 0x28, 0x80]),
          new TextEncoder().encode("text as bytes"),
          "t0000000000000000000000000", // Looks like a header.
          large,
          "x".repeat(100_000),
        ];
        await withNodes(redis, [kind, kind], {}, async ([a, b]) => {
          b!.backplane.subscribe("bin");
          await waitForSubscribers(redis.port, "wstream:bin", 1);
          for (const message of messages) a!.backplane.publish("bin", message);
          await b!.recorder.until(
            () => b!.recorder.messages.length >= messages.length,
            "every message",
          );
          assert.equal(b!.recorder.messages.length, messages.length);
          b!.recorder.messages.forEach(([topic, data], i) => {
            assert.equal(topic, "bin");
            const sent = messages[i]!;
            assert.equal(typeof data, typeof sent, `message ${i}'s type`);
            if (typeof sent === "string") assert.equal(data, sent);
            else {
              assert.ok(data instanceof Uint8Array);
              assert.deepEqual([...data], [...sent], `message ${i}'s bytes`);
            }
          });
        });
      },
    );

    it(`${name}: keeps applications apart by keyPrefix`, options, async () => {
      const nodes = [
        await startNode(kind, redis, { keyPrefix: "app1:" }),
        await startNode(kind, redis, { keyPrefix: "app2:" }),
        await startNode(kind, redis, { keyPrefix: "app1:" }),
      ];
      try {
        const [one, two, oneAgain] = nodes as [Node, Node, Node];
        two.backplane.subscribe("room");
        oneAgain.backplane.subscribe("room");
        await waitForSubscribers(redis.port, "app1:room", 1);
        await waitForSubscribers(redis.port, "app2:room", 1);
        one.backplane.publish("room", "for app1");
        await oneAgain.recorder.until(
          () => oneAgain.recorder.messages.length === 1,
          "app1's message",
        );
        await delay(100);
        assert.deepEqual(oneAgain.recorder.messages, [["room", "for app1"]]);
        assert.deepEqual(two.recorder.messages, []);
      } finally {
        await stopNodes(nodes);
      }
    });

    it(
      `${name}: stops delivering a topic after unsubscribe`,
      options,
      async () => {
        await withNodes(redis, [kind, kind], {}, async ([a, b]) => {
          b!.backplane.subscribe("gone");
          b!.backplane.subscribe("kept");
          await waitForSubscribers(redis.port, "wstream:gone", 1);
          await waitForSubscribers(redis.port, "wstream:kept", 1);
          a!.backplane.publish("gone", "before");
          await b!.recorder.until(
            () => b!.recorder.messages.length === 1,
            "the first message",
          );
          b!.backplane.unsubscribe("gone");
          await waitForSubscribers(redis.port, "wstream:gone", 0);
          a!.backplane.publish("gone", "after");
          a!.backplane.publish("kept", "still");
          await b!.recorder.until(
            () => b!.recorder.messages.length === 2,
            "the kept topic's message",
          );
          await delay(100);
          assert.deepEqual(b!.recorder.messages, [
            ["gone", "before"],
            ["kept", "still"],
          ]);
        });
      },
    );

    it(
      `${name}: reports a Redis restart, then resubscribes and delivers again`,
      options,
      async () => {
        await withNodes(redis, [kind, kind], {}, async ([a, b]) => {
          b!.backplane.subscribe("r1");
          b!.backplane.subscribe("r2");
          await waitForSubscribers(redis.port, "wstream:r1", 1);
          await waitForSubscribers(redis.port, "wstream:r2", 1);
          a!.backplane.publish("r1", "before");
          await b!.recorder.until(
            () => b!.recorder.messages.length === 1,
            "the message before the restart",
          );

          await redis.stop();
          await b!.recorder.until(
            () => b!.recorder.errors.length > 0,
            "an error reported while Redis is down",
          );
          assert.match(b!.recorder.errors[0]!.message, /lost/);
          await redis.start();
          // Each current topic is subscribed again (by the client or by us).
          await waitForSubscribers(redis.port, "wstream:r1", 1);
          await waitForSubscribers(redis.port, "wstream:r2", 1);
          const count = b!.recorder.messages.length;
          for (let i = 0; i < 100; i++) a!.backplane.publish("r1", `after${i}`);
          a!.backplane.publish("r2", "done");
          await b!.recorder.until(
            () => b!.recorder.messages.at(-1)?.[1] === "done",
            "the messages after the restart",
          );
          await delay(100);
          assert.deepEqual(
            b!.recorder.messages.slice(count),
            [
              ...Array.from({ length: 100 }, (_, i) => ["r1", `after${i}`]),
              ["r2", "done"],
            ],
          );
        });
      },
    );
  }

  it("npm redis and ioredis processes share rooms both ways", {
    timeout: TEST_TIMEOUT,
    skip: NODE_REDIS.skip || IOREDIS.skip,
  }, async () => {
    await withNodes(redis, [NODE_REDIS, IOREDIS], {}, async ([a, b]) => {
      a!.backplane.subscribe("mix");
      b!.backplane.subscribe("mix");
      await waitForSubscribers(redis.port, "wstream:mix", 2);
      a!.backplane.publish("mix", new Uint8Array([0xff, 1]));
      b!.backplane.publish("mix", "from ioredis");
      await a!.recorder.until(() => a!.recorder.messages.length === 1, "a");
      await b!.recorder.until(() => b!.recorder.messages.length === 1, "b");
      assert.deepEqual(a!.recorder.messages, [["mix", "from ioredis"]]);
      assert.deepEqual(b!.recorder.messages, [[
        "mix",
        new Uint8Array([0xff, 1]),
      ]]);
    });
  });

  it("Bun's client and npm clients share binary rooms with binaryAsBase64", {
    timeout: TEST_TIMEOUT,
    skip: !ANY_BUN
      ? "Bun.RedisClient runs on Bun only"
      : (AVAILABLE.find((kind) => kind.name !== "Bun.RedisClient") ===
          undefined
        ? "no npm Redis client"
        : false),
  }, async () => {
    const bun = AVAILABLE.find((kind) => kind.name === "Bun.RedisClient")!;
    const npm = AVAILABLE.find((kind) => kind.name !== "Bun.RedisClient")!;
    await withNodes(
      redis,
      [bun, npm],
      { binaryAsBase64: true },
      async ([a, b]) => {
        a!.backplane.subscribe("mix");
        b!.backplane.subscribe("mix");
        await waitForSubscribers(redis.port, "wstream:mix", 2);
        a!.backplane.publish("mix", new Uint8Array([0xff, 0]));
        b!.backplane.publish("mix", new Uint8Array([0x80, 0xc3]));
        await a!.recorder.until(() => a!.recorder.messages.length === 1, "a");
        await b!.recorder.until(() => b!.recorder.messages.length === 1, "b");
        assert.deepEqual(a!.recorder.messages, [[
          "mix",
          new Uint8Array([0x80, 0xc3]),
        ]]);
        assert.deepEqual(b!.recorder.messages, [[
          "mix",
          new Uint8Array([0xff, 0]),
        ]]);
      },
    );
  });

  it("rejects a keyPrefix that is not a string", () => {
    assert.throws(
      () =>
        createRedisBackplane({
          redis: {} as never,
          keyPrefix: 42 as unknown as string,
        }),
      TypeError,
    );
  });
});
