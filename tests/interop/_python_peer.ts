/**
 * Driving `_python_peer.py` (python-websockets as a server or a client)
 * from the tests: the process is started with {@linkcode PYTHON_PATH},
 * speaks one JSON value a line on stdout (and reads commands on stdin in
 * client mode), and is killed by its PID when the test ends.
 *
 * Private to the tests; never re-exported.
 *
 * @module
 */

import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Inbox, timeout } from "../_test_utils.ts";
import { pythonWebsockets } from "./_peers.ts";

const SCRIPT = fileURLToPath(new URL("./_python_peer.py", import.meta.url));

/** What python-websockets reports about a connection once open. */
export interface PythonOpen {
  /** The `Sec-WebSocket-Extensions` the client sent, or `null`. */
  offer: string | null;
  /** The `Sec-WebSocket-Extensions` the server answered, or `null`. */
  answer: string | null;
  /** Its `ws.extensions`: each one's name and parameters in use. */
  extensions: {
    name: string;
    remote_no_context_takeover?: boolean;
    local_no_context_takeover?: boolean;
    remote_max_window_bits?: number | null;
    local_max_window_bits?: number | null;
  }[];
}

/** A running `_python_peer.py`. */
export interface PythonProcess {
  /** The next JSON line it printed, within `ms`. */
  next(ms?: number): Promise<Record<string, unknown>>;
  /** Writes one JSON command line to its stdin. */
  send(command: unknown): void;
  /** What it wrote to stderr so far (for failure messages). */
  stderr(): string;
  /** Kills it by PID (SIGKILL) and waits for it to exit. Idempotent. */
  kill(): Promise<void>;
}

/**
 * Starts `_python_peer.py` with `args`.
 *
 * @param args `["server", compression]` or `["client", compression, url]`.
 * @returns The process.
 */
export function startPython(args: string[]): PythonProcess {
  const { executable } = pythonWebsockets.get();
  const child: ChildProcess = spawn(executable, [SCRIPT, ...args], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  const lines = new Inbox<Record<string, unknown>>("a line from python");
  let pending = "";
  let errors = "";
  const exited = new Promise<void>((resolve) => {
    child.once("exit", () => resolve());
    child.once("error", (error) => {
      errors += String(error);
      resolve();
    });
  });
  child.stdout!.setEncoding("utf8");
  child.stdout!.on("data", (chunk: string) => {
    pending += chunk;
    let newline: number;
    while ((newline = pending.indexOf("\n")) !== -1) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      if (line.trim() !== "") lines.push(JSON.parse(line));
    }
  });
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (chunk: string) => {
    errors += chunk;
  });
  child.stdin!.on("error", () => {});
  let killing: Promise<void> | undefined;
  return {
    async next(ms = 10_000) {
      try {
        return await lines.next(ms);
      } catch (error) {
        throw new Error(
          `${(error as Error).message}; python stderr: ${errors}`,
        );
      }
    },
    send(command) {
      child.stdin!.write(`${JSON.stringify(command)}\n`);
    },
    stderr: () => errors,
    kill(): Promise<void> {
      killing ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill("SIGKILL"); // By its PID; false if already gone.
        }
        await timeout(exited, 5000, "python exited");
      })();
      return killing;
    },
  };
}
