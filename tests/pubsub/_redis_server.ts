/**
 * A real `redis-server` for the Redis backplane tests: Debian's
 * `/usr/bin/redis-server` (or `REDIS_SERVER`), started on a free port with
 * no persistence, waited for until it answers `PING`, and stopped by the PID
 * this helper started (never any other Redis).
 *
 * A missing `redis-server` skips the tests locally with the reason and fails
 * them under CI (the `CI` environment variable set), like the interop peers.
 *
 * Private to the tests; never re-exported.
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { Buffer } from "node:buffer";
import process from "node:process";
import { IS_CI } from "../interop/_peers.ts";

/** The `redis-server` binary the tests start. */
export const REDIS_SERVER: string = process.env.REDIS_SERVER ??
  "/usr/bin/redis-server";

/** Why `redis-server` cannot run, or `""`. */
export const REDIS_MISSING: string = existsSync(REDIS_SERVER)
  ? ""
  : `${REDIS_SERVER} is missing: install Debian's redis-server (or set REDIS_SERVER)`;

/**
 * A test's `skip` option: the reason when `redis-server` is missing outside
 * CI, else `false` (under CI the test runs and fails with the reason).
 */
export const REDIS_SKIP: string | false = REDIS_MISSING !== "" && !IS_CI
  ? REDIS_MISSING
  : false;
if (REDIS_SKIP !== false) console.warn(`redis: skipping: ${REDIS_SKIP}`);

/** A running `redis-server`. */
export interface RedisServer {
  /** Its port on 127.0.0.1. */
  readonly port: number;
  /** `redis://127.0.0.1:<port>`. */
  readonly url: string;
  /** Stops it (SIGTERM, then SIGKILL after 3 s) and waits for its exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port after `stop()` (empty: no data kept). */
  start(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (bound, read, released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null
        ? address.port
        : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Sends `PING` and resolves true on `+PONG` within `ms`. */
export function ping(port: number, ms = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    const timer = setTimeout(() => done(false), ms);
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    socket.on("error", () => done(false));
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (data) => done(String(data).startsWith("+PONG")));
  });
}

function launch(port: number): ChildProcess {
  return spawn(REDIS_SERVER, [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    "--appendonly",
    "no",
    "--protected-mode",
    "no",
  ], { stdio: ["ignore", "ignore", "pipe"] });
}

async function waitForPing(
  child: ChildProcess,
  port: number,
  ms: number,
): Promise<void> {
  const deadline = Date.now() + ms;
  let errors = "";
  child.stderr?.on("data", (chunk) => errors += String(chunk));
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(
        `redis-server exited with ${child.exitCode} on port ${port}: ${errors}`,
      );
    }
    if (await ping(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`redis-server did not answer PING on ${port} in ${ms} ms`);
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  if (child.pid !== undefined) process.kill(child.pid, "SIGTERM");
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise((resolve) =>
    timer = setTimeout(resolve, 3000, "late")
  );
  if (
    await Promise.race([exited, late]) === "late" && child.pid !== undefined
  ) {
    process.kill(child.pid, "SIGKILL");
    await exited;
  }
  clearTimeout(timer);
}

/**
 * Starts `redis-server` on a free port and waits until it answers `PING`
 * (at most 10 s). Stop it in a `finally`.
 *
 * @throws {Error} If `redis-server` is missing, exits or does not answer.
 */
export async function startRedis(): Promise<RedisServer> {
  if (REDIS_MISSING !== "") throw new Error(`${REDIS_MISSING}; CI requires it`);
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    let child = launch(port);
    try {
      await waitForPing(child, port, 10_000);
    } catch (error) {
      lastError = error;
      await kill(child);
      continue; // The port was taken in between: try another.
    }
    const server: RedisServer = {
      port,
      url: `redis://127.0.0.1:${port}`,
      stop: () => kill(child),
      async start(): Promise<void> {
        await kill(child);
        child = launch(port);
        await waitForPing(child, port, 10_000);
      },
    };
    return server;
  }
  throw lastError;
}

/**
 * Sends one command (RESP array of bulk strings) and resolves with the raw
 * reply text, within `ms`.
 */
export function command(
  port: number,
  args: readonly string[],
  ms = 2000,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    let reply = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`No reply to ${args.join(" ")} in ${ms} ms`));
    }, ms);
    socket.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on("connect", () => {
      let out = `*${args.length}\r\n`;
      for (const arg of args) out += `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`;
      socket.write(out);
    });
    socket.on("data", (data) => {
      reply += String(data);
      // Enough for the short replies the tests ask for.
      setTimeout(() => {
        clearTimeout(timer);
        socket.destroy();
        resolve(reply);
      }, 20);
    });
  });
}

/** The number of subscribers of `channel` (`PUBSUB NUMSUB`). */
export async function subscriberCount(
  port: number,
  channel: string,
): Promise<number> {
  const reply = await command(port, ["PUBSUB", "NUMSUB", channel]);
  const match = /:(\d+)\r\n$/.exec(reply);
  return match === null ? -1 : Number(match[1]);
}

/** Waits until `channel` has `count` subscribers (at most `ms`). */
export async function waitForSubscribers(
  port: number,
  channel: string,
  count: number,
  ms = 10_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  let last = -1;
  while (Date.now() < deadline) {
    last = await subscriberCount(port, channel).catch(() => -1);
    if (last === count) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(
    `Timed out: ${channel} has ${last} subscribers, not ${count}, after ${ms} ms`,
  );
}
