/**
 * Rooms across real processes: `examples/chat_cluster.ts` runs 3 server
 * processes (`serve({ reusePort: true })`, `upgrade()`, a `Hub` with the
 * Redis backplane) on one port with a real `redis-server`, and wstream
 * clients spread over them share one room.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { connect } from "../../mod.ts";
import { getDeno } from "../../lib/transports/_runtime_types.ts";
import { REDIS_SKIP, startRedis } from "./_redis_server.ts";
import { NODE_REDIS } from "./_redis_clients.ts";
import { delay, timeout } from "../_test_utils.ts";

const WORKERS = 3;
const CLIENTS = 6;
const SENDERS = 3;
const PER_SENDER = 100;
const IS_BUN = (globalThis as { Bun?: unknown }).Bun !== undefined;
// Off Bun the example takes npm `redis` from the directory it runs in.
const SKIP = REDIS_SKIP || (IS_BUN ? false : NODE_REDIS.skip);

function runExample(env: Record<string, string>): ChildProcess {
  const path = fileURLToPath(
    new URL("../../examples/chat_cluster.ts", import.meta.url),
  );
  const deno = getDeno();
  const [command, args] = deno !== undefined
    ? [deno.execPath(), ["run", "-A", path]]
    : [process.execPath, [path]];
  return spawn(command, args, {
    cwd: fileURLToPath(new URL("../interop/", import.meta.url)),
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

function waitForLine(child: ChildProcess, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let output = "";
    child.stderr?.on("data", (chunk) => output += String(chunk));
    child.stdout?.on("data", (chunk) => {
      output += String(chunk);
      const match = pattern.exec(output);
      if (match !== null) resolve(match[1]!);
    });
    child.on("exit", (code) => reject(new Error(`exited ${code}: ${output}`)));
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.on("exit", resolve));
  if (child.pid !== undefined) process.kill(child.pid, "SIGTERM");
  await timeout(exited, 10_000, "the example to exit").catch(() => {
    if (child.pid !== undefined) process.kill(child.pid, "SIGKILL");
  });
}

describe("examples/chat_cluster.ts", { timeout: 90_000, skip: SKIP }, () => {
  it(`${WORKERS} processes on one port share a room: every message reaches every client once, in order`, async () => {
    const redis = await startRedis();
    const child = runExample({
      PORT: "0",
      WORKERS: String(WORKERS),
      REDIS_URL: redis.url,
    });
    const sockets: Awaited<ReturnType<typeof connect>>[] = [];
    try {
      const port = Number(
        await timeout(
          waitForLine(child, /^listening on (\d+)$/m),
          40_000,
          "listening on <port>",
        ),
      );

      // The kernel spreads connections over the processes (SO_REUSEPORT).
      const pids = new Set<string>();
      for (let i = 0; i < 30 && pids.size < WORKERS; i++) {
        const answer = await fetch(`http://127.0.0.1:${port}/`, {
          headers: { connection: "close" },
        });
        pids.add(/process (\d+)/.exec(await answer.text())![1]!);
      }
      assert.ok(pids.size >= 2, `served by ${pids.size} process(es)`);

      const received: string[][] = [];
      const writers: WritableStreamDefaultWriter<string>[] = [];
      for (let i = 0; i < CLIENTS; i++) {
        const socket = await connect(`ws://127.0.0.1:${port}/`);
        sockets.push(socket);
        const { readable, writable } = await socket.opened;
        writers.push(writable.getWriter());
        const inbox: string[] = [];
        received.push(inbox);
        (async () => {
          for await (const message of readable) inbox.push(String(message));
        })().catch(() => {});
      }

      // Until every process subscribed its room to Redis, a message from
      // another process may not reach it: probe until all clients hear one.
      for (let k = 0;; k++) {
        assert.ok(k < 100, "every client hears a probe within 10 s");
        await writers[0]!.write(`probe${k}`);
        await delay(100);
        if (
          received.every((inbox) => inbox.some((m) => m.startsWith("probe")))
        ) {
          break;
        }
      }

      await Promise.all(
        writers.slice(0, SENDERS).map(async (writer, s) => {
          for (let i = 0; i < PER_SENDER; i++) await writer.write(`s${s}-${i}`);
        }),
      );
      const expected = SENDERS * PER_SENDER;
      const chat = (inbox: string[]): string[] =>
        inbox.filter((m) => !m.startsWith("probe"));
      const deadline = Date.now() + 20_000;
      while (received.some((inbox) => chat(inbox).length < expected)) {
        assert.ok(
          Date.now() < deadline,
          `every client got ${expected}: ${
            received.map((inbox) => chat(inbox).length)
          }`,
        );
        await delay(20);
      }
      await delay(200); // A duplicate would show now.
      for (const [c, inbox] of received.entries()) {
        const messages = chat(inbox);
        assert.equal(messages.length, expected, `client ${c}'s count`);
        for (let s = 0; s < SENDERS; s++) {
          assert.deepEqual(
            messages.filter((m) => m.startsWith(`s${s}-`)),
            Array.from({ length: PER_SENDER }, (_, i) => `s${s}-${i}`),
            `client ${c}: sender ${s}'s messages once each, in order`,
          );
        }
      }
    } finally {
      for (const socket of sockets) {
        try {
          socket.close();
        } catch {
          // Closed already.
        }
      }
      await stop(child);
      await redis.stop();
    }
  });
});
