/**
 * Runs each example as its users would, with the current runtime, and talks
 * to it: every server example (wstream's `serve()`, `Deno.serve`,
 * `Bun.serve`, `node:http`) where the runtime has that server, and the
 * client example against `examples/echo.ts`.
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

const runtime = getDeno() !== undefined
  ? "Deno"
  : "Bun" in globalThis
  ? "Bun"
  : "Node";

/** Starts `examples/<name>` with this runtime, as its doc says to run it. */
function runExample(
  name: string,
  env: Record<string, string>,
  args: string[] = [],
): ChildProcess {
  const path = fileURLToPath(new URL(`../examples/${name}`, import.meta.url));
  const deno = getDeno();
  const [command, runArgs] = deno !== undefined
    ? [deno.execPath(), ["run", "-A", path]]
    : [process.execPath, [path]];
  return spawn(command, [...runArgs, ...args], {
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

/** Resolves with the child's exit code, stdout and stderr once it exits. */
function exitOf(
  child: ChildProcess,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk) => stdout += String(chunk));
  child.stderr?.on("data", (chunk) => stderr += String(chunk));
  return new Promise((resolve) =>
    child.on("close", (code) => resolve({ code, stdout, stderr }))
  );
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

/** Starts a server example on a free port; resolves with the port it printed. */
async function startServer(child: ChildProcess): Promise<number> {
  const match = await timeout(
    waitForLine(child, /^listening on (\d+)$/),
    20_000,
    "listening on <port>",
  );
  const port = Number(match[1]);
  assert.ok(port > 0);
  return port;
}

/**
 * Echoes a text and a binary message through the server on `port` with
 * this runtime's own `WebSocket`, then closes with 1000.
 */
async function assertEchoes(port: number): Promise<void> {
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
  ws.send("hello example ✓");
  ws.send(new Uint8Array([7, 8, 9, 0, 255]));
  await timeout(two, 5000, "two echoes");
  assert.equal(messages[0], "hello example ✓");
  assert.ok(messages[1] instanceof ArrayBuffer);
  assert.deepEqual(
    new Uint8Array(messages[1]),
    new Uint8Array([7, 8, 9, 0, 255]),
  );
  ws.close(1000, "bye");
  const event = await timeout(closed, 5000, "close");
  assert.equal(event.code, 1000);
  assert.equal(event.reason, "bye");
}

/** The server examples, with the runtimes that have their server. */
const servers: { name: string; skip: string | false; page?: string }[] = [
  { name: "echo.ts", skip: false },
  { name: "hooks.ts", skip: false },
  {
    name: "deno_serve.ts",
    skip: runtime === "Deno" ? false : `Deno.serve needs Deno, not ${runtime}`,
  },
  {
    name: "bun_serve.ts",
    skip: runtime === "Bun" ? false : `Bun.serve needs Bun, not ${runtime}`,
  },
  {
    name: "node_http.ts",
    skip: false,
    page: "wstream echo: connect with a WebSocket\n",
  },
];

describe("examples", { timeout: TEST_TIMEOUT }, () => {
  for (const server of servers) {
    it(`${server.name} prints its port and echoes text and binary messages`, {
      skip: server.skip,
    }, async () => {
      const child = runExample(server.name, { PORT: "0" });
      try {
        const port = await startServer(child);
        if (server.page !== undefined) {
          const response = await fetch(`http://127.0.0.1:${port}/`);
          assert.equal(response.status, 200);
          assert.equal(await response.text(), server.page);
        }
        await assertEchoes(port);
      } finally {
        await stop(child);
      }
    });
  }

  it("client.ts echoes, pings and closes with 1000 against echo.ts", async () => {
    const server = runExample("echo.ts", { PORT: "0" });
    let client: ChildProcess | undefined;
    try {
      const port = await startServer(server);
      client = runExample("client.ts", {}, [`ws://127.0.0.1:${port}/`]);
      const { code, stdout, stderr } = await timeout(
        exitOf(client),
        20_000,
        "client.ts to exit",
      );
      assert.equal(code, 0, stderr);
      const lines = stdout.trim().split("\n");
      assert.equal(lines.length, 3, stdout);
      assert.equal(lines[0], "echo: hello wstream");
      assert.match(lines[1]!, /^ping: \d+\.\d\d ms$/);
      assert.equal(lines[2], "closed: 1000 done");
    } finally {
      if (client !== undefined) await stop(client);
      await stop(server);
    }
  });
});
