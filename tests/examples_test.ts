/**
 * Runs each example as its users would, with the current runtime, and talks
 * to it.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { getDeno } from "../lib/transports/_runtime_types.ts";
import { timeout } from "./_test_utils.ts";

const TEST_TIMEOUT = 30_000;

/** Starts `examples/<name>` with this runtime, as its doc says to run it. */
function runExample(name: string, env: Record<string, string>): ChildProcess {
  const path = fileURLToPath(new URL(`../examples/${name}`, import.meta.url));
  const deno = getDeno();
  const [command, args] = deno !== undefined
    ? [deno.execPath(), ["run", "-A", path]]
    : [process.execPath, [path]];
  return spawn(command, args, {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/** Resolves with the first stdout line matching `pattern`. */
function waitForLine(
  child: ChildProcess,
  pattern: RegExp,
): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let output = "";
    let errors = "";
    child.stderr?.on("data", (chunk) => errors += String(chunk));
    child.stdout?.on("data", (chunk) => {
      output += String(chunk);
      for (const line of output.split("\n")) {
        const match = pattern.exec(line);
        if (match !== null) resolve(match);
      }
    });
    child.on("exit", (code) =>
      reject(
        new Error(`exited with ${code}: ${output}${errors}`),
      ));
  });
}

/** Ends the child by its PID and waits for it to exit. */
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.on("exit", resolve));
  if (child.pid !== undefined) process.kill(child.pid, "SIGTERM");
  await timeout(exited, 5000, "the example to exit").catch(() => {
    if (child.pid !== undefined) process.kill(child.pid, "SIGKILL");
  });
}

describe("examples", { timeout: TEST_TIMEOUT }, () => {
  it("echo.ts prints its port and echoes text and binary messages", async () => {
    const child = runExample("echo.ts", { PORT: "0" });
    try {
      const match = await timeout(
        waitForLine(child, /^listening on (\d+)$/),
        20_000,
        "listening on <port>",
      );
      const port = Number(match[1]);
      assert.ok(port > 0);

      const ws = new WebSocket(`ws://127.0.0.1:${port}/any/path`);
      ws.binaryType = "arraybuffer";
      const messages: (string | ArrayBuffer)[] = [];
      const two = new Promise<void>((resolve) => {
        ws.addEventListener("message", (event) => {
          messages.push(event.data as string | ArrayBuffer);
          if (messages.length === 2) resolve();
        });
      });
      const closed = new Promise<CloseEvent>((resolve) =>
        ws.addEventListener("close", (event) => resolve(event as CloseEvent))
      );
      await timeout(
        new Promise((resolve, reject) => {
          ws.addEventListener("open", resolve, { once: true });
          ws.addEventListener("error", reject, { once: true });
        }),
        5000,
        "open",
      );
      ws.send("hello example");
      ws.send(new Uint8Array([7, 8, 9]));
      await timeout(two, 5000, "two echoes");
      assert.equal(messages[0], "hello example");
      assert.ok(messages[1] instanceof ArrayBuffer);
      assert.deepEqual(new Uint8Array(messages[1]), new Uint8Array([7, 8, 9]));
      ws.close(1000);
      assert.equal((await timeout(closed, 5000, "close")).code, 1000);
    } finally {
      await stop(child);
    }
  });
});
