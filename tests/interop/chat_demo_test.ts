/**
 * The chat demo (`examples/chat/`) as a person uses it: its server run with
 * the current runtime, two tabs of headless Chromium on its page. One
 * process: presence, messages both ways, a reload, a server crash and
 * restart on the same port. Two processes sharing rooms through a real
 * `redis-server`: presence and messages across them.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { SERVE_SKIP } from "./_interop_utils.ts";
import { launchChromium, playwright } from "./_peers.ts";
import type { Chromium } from "./_peers.ts";
import { ChatPage, type DemoServer, startDemo } from "./_chat_demo.ts";
import {
  REDIS_SKIP,
  type RedisServer,
  startRedis,
} from "../pubsub/_redis_server.ts";
import { NODE_REDIS } from "../pubsub/_redis_clients.ts";
import { timeout } from "../_test_utils.ts";

/** Within `deno task test:bun`'s 30 s per test. */
const TEST_TIMEOUT = 29_000;
const IS_BUN = (globalThis as { Bun?: unknown }).Bun !== undefined;
const ROOM = "demo-test";

describe("chat demo (examples/chat)", {
  timeout: TEST_TIMEOUT,
  skip: SERVE_SKIP || playwright.skip,
}, () => {
  it("two tabs see each other, chat both ways, survive a reload and a server restart", async () => {
    let server: DemoServer | undefined;
    let browser: Chromium | undefined;
    const pages: ChatPage[] = [];
    try {
      server = await startDemo({ PORT: "0" });
      const url = server.urls[0]!;
      const port = new URL(url).port;
      browser = await launchChromium();
      const alice = await ChatPage.open(browser, url, ROOM, "alice");
      pages.push(alice);
      const bob = await ChatPage.open(browser, url, ROOM, "bob");
      pages.push(bob);

      // Presence: each sees both; alice saw bob arrive.
      await alice.waitForMembers(["alice", "bob"]);
      await bob.waitForMembers(["alice", "bob"]);
      await alice.waitForLine("bob joined");

      // Messages both ways, with author.
      await alice.say("Hi Bob, the deploy is done");
      await bob.waitForMessage("alice", "Hi Bob, the deploy is done");
      await bob.say("Great, thanks! Checking the dashboards now.");
      await alice.waitForMessage(
        "bob",
        "Great, thanks! Checking the dashboards now.",
      );
      await alice.say("Ping me if anything looks off — ça marche?");
      await bob.waitForMessage(
        "alice",
        "Ping me if anything looks off — ça marche?",
      );
      // The page shows the negotiated compression and who serves it.
      assert.match(await alice.footer(), /permessage-deflate/);
      assert.match(await alice.footer(), new RegExp(`port ${port}`));

      // A reload rejoins the room under the same name.
      await bob.page.reload();
      await bob.waitForState("connected");
      await bob.waitForMembers(["alice", "bob"]);
      await alice.waitForLine("bob left");
      await alice.waitForLine("bob joined", 2);
      await alice.waitForMembers(["alice", "bob"]);
      await bob.say("Back after a reload");
      await alice.waitForMessage("bob", "Back after a reload");

      const dir = mkdtempSync(join(tmpdir(), "wstream-chat-demo-"));
      await alice.page.screenshot({ path: join(dir, "chat.png") });
      console.log(`chat demo screenshot: ${join(dir, "chat.png")}`);

      // The server crashes: both tabs say so and retry...
      await server.crash();
      await alice.waitForState("reconnecting");
      await bob.waitForState("reconnecting");
      assert.match(await alice.status(), /^reconnecting/);
      await alice.page.screenshot({ path: join(dir, "reconnecting.png") });
      // ...and come back to a new server on the same port.
      server = await startDemo({ PORT: port });
      await alice.waitForState("connected", 15_000);
      await bob.waitForState("connected", 15_000);
      await alice.waitForMembers(["alice", "bob"]);
      await bob.waitForMembers(["alice", "bob"]);
      await alice.say("Still there?");
      await bob.waitForMessage("alice", "Still there?");
      await bob.say("Yes, reconnected");
      await alice.waitForMessage("bob", "Yes, reconnected");

      for (const page of pages) assert.deepEqual(page.errors, []);
    } finally {
      for (const page of pages) await page.close();
      await browser?.close();
      await server?.stop();
    }
  });
});

const CLUSTER_SKIP = SERVE_SKIP || playwright.skip || REDIS_SKIP ||
  // Off Bun the demo takes npm `redis` from the directory it runs in.
  (IS_BUN ? false : NODE_REDIS.skip);

describe("chat demo --cluster 2 (examples/chat, Redis)", {
  timeout: TEST_TIMEOUT,
  skip: CLUSTER_SKIP,
}, () => {
  it("a tab on each process sees the other's presence and messages", async () => {
    let redis: RedisServer | undefined;
    let server: DemoServer | undefined;
    let browser: Chromium | undefined;
    const pages: ChatPage[] = [];
    try {
      redis = await startRedis();
      server = await startDemo(
        { PORT: "0", REDIS_URL: redis.url },
        ["--cluster", "2"],
        2,
        fileURLToPath(new URL("./", import.meta.url)), // npm redis is here
      );
      const [one, two] = server.urls as [string, string];
      assert.notEqual(one, two);
      browser = await launchChromium();
      const carol = await ChatPage.open(browser, one, ROOM, "carol");
      pages.push(carol);
      const dave = await ChatPage.open(browser, two, ROOM, "dave");
      pages.push(dave);
      assert.match(await carol.footer(), /Redis/);
      assert.match(
        await carol.footer(),
        new RegExp(`port ${new URL(one).port}`),
      );
      assert.match(
        await dave.footer(),
        new RegExp(`port ${new URL(two).port}`),
      );

      // Presence across the processes, both ways.
      await carol.waitForMembers(["carol", "dave"]);
      await dave.waitForMembers(["carol", "dave"]);
      await carol.say(`hello from ${process.pid}'s first server`);
      await dave.waitForMessage(
        "carol",
        `hello from ${process.pid}'s first server`,
      );
      await dave.say("and back from the second");
      await carol.waitForMessage("dave", "and back from the second");

      // A rename and a leave cross too.
      await dave.page.fill("#name", "david");
      await dave.page.press("#name", "Enter");
      await carol.waitForMembers(["carol", "david"]);
      await dave.close();
      await carol.waitForLine("david left");
      await carol.waitForMembers(["carol"]);
      for (const page of pages) assert.deepEqual(page.errors, []);
    } finally {
      for (const page of pages) await page.close();
      await browser?.close();
      await server?.stop();
      await redis?.stop();
    }
  });
});

/** A WebSocket to the demo, with its messages and close event. */
async function openSocket(url: string): Promise<{
  socket: WebSocket;
  next(type: string): Promise<Record<string, unknown>>;
  closed: Promise<{ code: number; reason: string }>;
}> {
  const socket = new WebSocket(new URL("/ws", url).href.replace(/^http/, "ws"));
  const received: Record<string, unknown>[] = [];
  const waiting: (() => void)[] = [];
  socket.addEventListener("message", (event) => {
    received.push(JSON.parse(String((event as MessageEvent).data)));
    for (const wake of waiting.splice(0)) wake();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.addEventListener("close", (event) => {
      const { code, reason } = event as CloseEvent;
      resolve({ code, reason });
    })
  );
  await timeout(
    new Promise((resolve, reject) => {
      socket.addEventListener("open", resolve, { once: true });
      socket.addEventListener("error", reject, { once: true });
    }),
    5000,
    "open",
  );
  return {
    socket,
    closed: timeout(closed, 5000, "close"),
    async next(type) {
      const deadline = Date.now() + 5000;
      for (;;) {
        const index = received.findIndex((message) => message.type === type);
        if (index !== -1) return received.splice(index, 1)[0]!;
        if (Date.now() > deadline) throw new Error(`No ${type} message`);
        await new Promise<void>((resolve) => {
          waiting.push(resolve);
          setTimeout(resolve, 100);
        });
      }
    },
  };
}

describe("chat demo server input checks (examples/chat)", {
  timeout: TEST_TIMEOUT,
  skip: SERVE_SKIP,
}, () => {
  it("answers mistakes with an error, closes 1003/1007/1008 on protocol abuse and flooding", async () => {
    const server = await startDemo({ PORT: "0" });
    try {
      const url = server.urls[0]!;
      const a = await openSocket(url);
      a.socket.send(JSON.stringify({ type: "say", text: "too early" }));
      assert.equal((await a.next("error")).message, "Join a room first");
      a.socket.send(
        JSON.stringify({ type: "join", room: "Bad Room!", name: "x" }),
      );
      assert.match(
        String((await a.next("error")).message),
        /Cannot join the room/,
      );
      a.socket.send(
        JSON.stringify({ type: "join", room: "r1", name: "<script>" }),
      );
      assert.match(
        String((await a.next("error")).message),
        /Cannot use the name/,
      );
      a.socket.send(JSON.stringify({ type: "join", room: "r1", name: "eve" }));
      const welcome = await a.next("welcome");
      assert.deepEqual(welcome.members, [welcome.you]);
      a.socket.send(JSON.stringify({ type: "say", text: "x".repeat(501) }));
      assert.match(String((await a.next("error")).message), /at most 500/);
      a.socket.send(JSON.stringify({ type: "say", text: "hi" }));
      assert.equal((await a.next("chat")).text, "hi");
      a.socket.send("{not json");
      assert.deepEqual(await a.closed, { code: 1007, reason: "Invalid JSON" });

      const b = await openSocket(url);
      b.socket.send(new Uint8Array([1, 2, 3]));
      assert.equal((await b.closed).code, 1003);

      const c = await openSocket(url);
      c.socket.send(JSON.stringify({ type: "shout" }));
      assert.deepEqual(await c.closed, {
        code: 1008,
        reason: "Unknown message type",
      });

      // 10 at once pass, the rest are dropped with an error, then 1008.
      const d = await openSocket(url);
      d.socket.send(
        JSON.stringify({ type: "join", room: "r2", name: "flood" }),
      );
      for (let i = 0; i < 40; i++) {
        d.socket.send(JSON.stringify({ type: "say", text: `spam ${i}` }));
      }
      assert.match(
        String((await d.next("error")).message),
        /Too many messages/,
      );
      assert.deepEqual(await d.closed, {
        code: 1008,
        reason: "Too many messages",
      });
    } finally {
      await server.stop();
    }
  });
});
