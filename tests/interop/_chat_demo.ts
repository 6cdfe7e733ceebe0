/// <reference lib="dom" />
/**
 * Driving the chat demo (`examples/chat/`) from the tests: its server as a
 * child process of the current runtime, and its page in headless Chromium.
 *
 * Private to the tests; never re-exported.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { getDeno } from "../../lib/transports/_runtime_types.ts";
import { timeout } from "../_test_utils.ts";
import type { Chromium, PlaywrightPage } from "./_peers.ts";

const SERVER = fileURLToPath(
  new URL("../../examples/chat/server.ts", import.meta.url),
);

/** A running `examples/chat/server.ts` (one process, or a `--cluster`). */
export interface DemoServer {
  /** The page URL of each server process, in the order they printed it. */
  readonly urls: string[];
  /** The PID of each server process (the workers of a cluster). */
  readonly pids: number[];
  /** Everything it printed so far. */
  output(): string;
  /** Kills it at once (SIGKILL), as a crash; resolves once it exited. */
  crash(): Promise<void>;
  /** Stops it (SIGTERM, SIGKILL after 5 s), workers included. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts the demo server with this runtime, as its doc says to run it,
 * and waits until each of its `count` processes printed its URL.
 *
 * @param env Extra environment (`PORT`, `REDIS_URL`).
 * @param args Extra arguments (`--cluster 2`).
 * @param count How many URLs to wait for.
 * @param cwd Where to run it (npm `redis` is taken from there).
 */
export async function startDemo(
  env: Record<string, string>,
  args: string[] = [],
  count = 1,
  cwd?: string,
): Promise<DemoServer> {
  const deno = getDeno();
  const [command, argv] = deno !== undefined
    ? [deno.execPath(), ["run", "-A", SERVER, ...args]]
    : [process.execPath, [SERVER, ...args]];
  const child: ChildProcess = spawn(command, argv, {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
    ...(cwd === undefined ? {} : { cwd }),
  });
  let output = "";
  const urls: string[] = [];
  const pids: number[] = [];
  const exited = new Promise<void>((resolve) =>
    child.on("exit", () => resolve())
  );
  const ready = new Promise<void>((resolve, reject) => {
    child.stderr?.on("data", (chunk) => output += String(chunk));
    child.stdout?.on("data", (chunk) => {
      output += String(chunk);
      const lines = /chat: open (http:\/\/\S+) \(.*?pid (\d+)/g;
      urls.length = 0;
      pids.length = 0;
      for (const match of output.matchAll(lines)) {
        urls.push(match[1]!);
        pids.push(Number(match[2]));
      }
      if (urls.length >= count) resolve();
    });
    child.on(
      "exit",
      (code) => reject(new Error(`The demo exited with ${code}: ${output}`)),
    );
  });
  const kill = (
    pid: number | undefined,
    signal: "SIGTERM" | "SIGKILL",
  ): void => {
    try {
      if (pid !== undefined) process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  };
  const server: DemoServer = {
    urls,
    pids,
    output: () => output,
    async crash(): Promise<void> {
      kill(child.pid, "SIGKILL");
      await timeout(exited, 5000, "the demo to die");
    },
    async stop(): Promise<void> {
      if (child.exitCode === null && child.signalCode === null) {
        kill(child.pid, "SIGTERM");
        await timeout(exited, 5000, "the demo to exit").catch(() =>
          kill(child.pid, "SIGKILL")
        );
      }
      // A cluster's workers, should the launcher have died first.
      for (const pid of pids) if (pid !== child.pid) kill(pid, "SIGKILL");
    },
  };
  try {
    await timeout(ready, 20_000, "the demo to print its URL");
  } catch (error) {
    await server.stop();
    throw error;
  }
  return server;
}

/** What the tests use of a Playwright page beyond `_peers.ts`' subset. */
interface FullPage extends PlaywrightPage {
  fill(selector: string, value: string): Promise<void>;
  press(selector: string, key: string): Promise<void>;
  reload(): Promise<unknown>;
  addInitScript<A>(fn: (arg: A) => void, arg: A): Promise<void>;
  screenshot(options: { path: string }): Promise<unknown>;
  waitForFunction<A>(
    fn: (arg: A) => unknown,
    arg: A,
    options: { timeout: number; polling?: number },
  ): Promise<unknown>;
}

/** A chat message as a page shows it. */
export interface Shown {
  author: string;
  text: string;
}

/** One open chat page. */
export class ChatPage {
  readonly page: FullPage;
  readonly errors: string[] = [];

  private constructor(page: FullPage) {
    this.page = page;
    page.on("pageerror", (error) => this.errors.push(String(error)));
  }

  /** Opens `url#room` in a new tab under `name`, waits until it joined. */
  static async open(
    browser: Chromium,
    url: string,
    room: string,
    name: string,
  ): Promise<ChatPage> {
    const chat = new ChatPage(await browser.context.newPage() as FullPage);
    // The tab's name, as if its user had set it before (kept per tab, so a
    // reload keeps it too).
    await chat.page.addInitScript((name) => {
      if (sessionStorage.getItem("chat-name") === null) {
        sessionStorage.setItem("chat-name", name);
      }
    }, name);
    await chat.page.goto(`${url}#${room}`);
    await chat.waitForState("connected");
    await chat.waitFor(
      (name) => document.querySelector("#members li.me")?.textContent === name,
      name,
      `${name} in the members list`,
    );
    return chat;
  }

  /** Waits until `fn(arg)` is truthy in the page (10 s). */
  async waitFor<A>(
    fn: (arg: A) => unknown,
    arg: A,
    what: string,
    ms = 10_000,
  ): Promise<void> {
    try {
      await this.page.waitForFunction(fn, arg, { timeout: ms, polling: 50 });
    } catch (error) {
      const html = await this.page.evaluate(
        () => document.querySelector("main")?.innerText ?? "",
        null,
      ).catch(() => "");
      throw new Error(
        `Timed out waiting for ${what}: ${
          (error as Error).message.split("\n")[0]
        }\n` +
          `page shows:\n${html}\nstatus: ${await this.status().catch(() =>
            ""
          )}`,
      );
    }
  }

  /** Waits until the status indicator is in `state`. */
  waitForState(
    state: "connected" | "reconnecting",
    ms = 10_000,
  ): Promise<void> {
    return this.waitFor(
      (state) => document.getElementById("status")?.dataset.state === state,
      state,
      `status ${state}`,
      ms,
    );
  }

  /** The status indicator's text. */
  status(): Promise<string> {
    return this.page.evaluate(
      () => document.getElementById("status")?.textContent ?? "",
      null,
    );
  }

  /** The names in the presence list. */
  members(): Promise<string[]> {
    return this.page.evaluate(
      () =>
        [...document.querySelectorAll("#members li")].map((li) =>
          li.textContent ?? ""
        ),
      null,
    );
  }

  /** Waits until the presence list holds exactly `names` (sorted). */
  async waitForMembers(names: string[]): Promise<void> {
    await this.waitFor(
      (names) =>
        JSON.stringify(
          [...document.querySelectorAll("#members li")].map((li) =>
            li.textContent
          ),
        ) === JSON.stringify(names),
      names,
      `members ${names.join(", ")}`,
    );
    assert.deepEqual(await this.members(), names);
  }

  /** Types a message and presses Enter. */
  async say(text: string): Promise<void> {
    await this.page.fill("#text", text);
    await this.page.press("#text", "Enter");
  }

  /** The chat messages shown. */
  messages(): Promise<Shown[]> {
    return this.page.evaluate(
      () =>
        [...document.querySelectorAll("#messages li.chat")].map((li) => ({
          author: li.querySelector(".author")?.textContent ?? "",
          text: li.querySelector(".text")?.textContent ?? "",
        })),
      null,
    );
  }

  /** Waits until a chat message of `author` saying `text` is shown. */
  waitForMessage(author: string, text: string): Promise<void> {
    return this.waitFor(
      ([author, text]) =>
        [...document.querySelectorAll("#messages li.chat")].some((li) =>
          li.querySelector(".author")?.textContent === author &&
          li.querySelector(".text")?.textContent === text
        ),
      [author, text] as const,
      `"${text}" from ${author}`,
    );
  }

  /** Waits until a system line (join, leave, rename) says `text`, `count` times. */
  waitForLine(text: string, count = 1): Promise<void> {
    return this.waitFor(
      ([text, count]) =>
        [...document.querySelectorAll("#messages li.system")].filter((li) =>
          li.textContent === text
        ).length >= count,
      [text, count] as const,
      `"${text}" (×${count})`,
    );
  }

  /** The footer's text (server, extensions). */
  footer(): Promise<string> {
    return this.page.evaluate(
      () => document.getElementById("footer")?.textContent ?? "",
      null,
    );
  }

  /** Closes the tab. */
  close(): Promise<void> {
    return this.page.close().catch(() => {});
  }
}
