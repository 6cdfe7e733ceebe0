/**
 * The real peers of the interop tests, found the same way on Deno, Bun and
 * Node: the npm packages `ws` and `playwright-core`, pinned in
 * `tests/interop/package.json` and installed into `tests/interop/node_modules`
 * (`npm ci --prefix tests/interop`, which `.ci/run` does), the system
 * Chromium (`/usr/bin/chromium`, Debian's `chromium` package), and the
 * system Python with python-websockets (`/usr/bin/python3`, Debian's
 * `python3-websockets`).
 *
 * Packages are loaded with `createRequire(import.meta.url)` by **file path**,
 * never by bare name: Bun answers `require("ws")` with its own built-in
 * re-implementation of `ws` even when `node_modules/ws` exists, which would
 * test Bun against itself.
 *
 * A missing peer skips its tests with the reason, except under CI (the `CI`
 * environment variable is set), where the tests run and fail with the
 * reason: CI must never pass by skipping.
 *
 * Only the small parts of each peer's API the tests use are declared here
 * (no `@types` packages). Private to the tests; never re-exported.
 *
 * @module
 */

import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

/** True when running under CI: missing peers fail instead of skipping. */
export const IS_CI: boolean = (process.env.CI ?? "") !== "" &&
  process.env.CI !== "false" && process.env.CI !== "0";

/** The versions pinned in `tests/interop/package.json`. */
const PINNED: Record<string, string> = JSON.parse(
  readFileSync(new URL("./package.json", import.meta.url), "utf8"),
).dependencies;

const INSTALL_HINT = "run `npm ci --prefix tests/interop`";
const require = createRequire(import.meta.url);

/** A peer that may be missing: the loaded value, or why it is not there. */
export interface Peer<T> {
  /** The peer, or `null` when missing. */
  readonly value: T | null;
  /** Why the peer is missing, or `""`. */
  readonly missing: string;
  /**
   * What to pass as a test's `skip` option: the reason when the peer is
   * missing outside CI, else `false` (under CI the test runs and
   * {@linkcode Peer.get} fails it loudly).
   */
  readonly skip: string | false;
  /**
   * The peer, for use inside a test.
   *
   * @throws {Error} If it is missing (only reached under CI).
   */
  get(): T;
}

function peer<T>(load: () => T, name: string): Peer<T> {
  let value: T | null = null;
  let missing = "";
  try {
    value = load();
  } catch (error) {
    missing = `${name} is not available (${
      error instanceof Error ? error.message.split("\n")[0] : String(error)
    })`;
  }
  const skip = missing !== "" && !IS_CI ? missing : false;
  if (skip !== false) console.warn(`interop: skipping: ${skip}`);
  return {
    value,
    missing,
    skip,
    get(): T {
      if (value === null) throw new Error(`${missing}; CI requires it`);
      return value;
    },
  };
}

/** Loads an installed npm package by file path, checking its pinned version. */
function loadPackage(name: string): unknown {
  const dir = fileURLToPath(
    new URL(`./node_modules/${name}/`, import.meta.url),
  );
  const manifestPath = join(dir, "package.json");
  if (!existsSync(manifestPath)) {
    throw new Error(`${dir} is missing: ${INSTALL_HINT}`);
  }
  const manifest = JSON.parse(readFileSync(manifestPath, "utf8"));
  if (manifest.version !== PINNED[name]) {
    throw new Error(
      `${name}@${manifest.version} is installed but ${
        PINNED[name]
      } is pinned: ${INSTALL_HINT}`,
    );
  }
  const main = typeof manifest.main === "string" ? manifest.main : "index.js";
  return require(join(dir, main));
}

// ---------------------------------------------------------------- ws ------

/** Options of `ws.send()`. */
export interface WsSendOptions {
  /** Send as binary (true) or text (false). */
  binary?: boolean;
  /** Last fragment of the message (false: more fragments follow). */
  fin?: boolean;
}

/** `ws`'s permessage-deflate settings (`perMessageDeflate: {...}`). */
export interface WsPerMessageDeflateOptions {
  /** Ask for / use `server_no_context_takeover`. */
  serverNoContextTakeover?: boolean;
  /** Ask for / use `client_no_context_takeover`. */
  clientNoContextTakeover?: boolean;
  /** Ask for / use `server_max_window_bits` (8-15). */
  serverMaxWindowBits?: number;
  /** Ask for / use `client_max_window_bits` (8-15, or true: offered bare). */
  clientMaxWindowBits?: number | boolean;
  /** Payloads smaller than this are not compressed. @default {1024} */
  threshold?: number;
}

/** A `ws` WebSocket (client side, or a server's connection). */
export interface WsSocket {
  /** 0 connecting, 1 open, 2 closing, 3 closed. */
  readonly readyState: number;
  /** The names of the negotiated extensions, such as "permessage-deflate". */
  readonly extensions: string;
  /** Sends a message; `cb` runs once it was written or failed. */
  send(
    data: string | Uint8Array,
    options?: WsSendOptions,
    cb?: (error?: Error) => void,
  ): void;
  /** Sends a ping frame. */
  ping(data?: string | Uint8Array): void;
  /** Starts the closing handshake. */
  close(code?: number, reason?: string): void;
  /** Destroys the TCP socket at once: no close frame. */
  terminate(): void;
  /** Fires once open. */
  on(event: "open", listener: () => void): this;
  /** Fires per message: the payload and whether it was binary. */
  on(
    event: "message",
    listener: (data: Uint8Array, isBinary: boolean) => void,
  ): this;
  /** Fires on a received ping or pong frame. */
  on(event: "ping" | "pong", listener: (data: Uint8Array) => void): this;
  /** Fires once closed, with the code and reason received. */
  on(
    event: "close",
    listener: (code: number, reason: Uint8Array) => void,
  ): this;
  /** Fires on a socket or protocol error. */
  on(event: "error", listener: (error: Error) => void): this;
  /** Client only: fires with the server's 101 response. */
  on(
    event: "upgrade",
    listener: (
      response: { headers: Record<string, string | string[] | undefined> },
    ) => void,
  ): this;
}

/** Options of `new ws.WebSocket(url, options)` used by the tests. */
export interface WsClientOptions {
  /** Answer pings automatically. @default {true} */
  autoPong?: boolean;
  /** Trusted CA certificates for wss. */
  ca?: string;
  /** permessage-deflate offer; false to offer none. */
  perMessageDeflate?: boolean | WsPerMessageDeflateOptions;
}

/** A `ws` WebSocketServer. */
export interface WsServer {
  /** The bound address. */
  address(): { port: number };
  /** Fires per accepted WebSocket. */
  on(event: "connection", listener: (socket: WsSocket) => void): this;
  /** Fires once listening (when it made its own HTTP server). */
  on(event: "listening", listener: () => void): this;
  /** Fires on a listen error. */
  on(event: "error", listener: (error: Error) => void): this;
  /** Fires with the response head lines about to be written for a 101. */
  on(event: "headers", listener: (headers: string[]) => void): this;
  /** Stops accepting; `cb` runs once closed. */
  close(cb?: (error?: Error) => void): void;
  /** Every open connection. */
  readonly clients: Set<WsSocket>;
}

/** Options of `new ws.WebSocketServer(options)` used by the tests. */
export interface WsServerOptions {
  /** Listen on this port (0: any free one), or... */
  port?: number;
  /** ...on this interface. */
  host?: string;
  /** ...attach to this existing HTTP(S) server. */
  server?: unknown;
  /** permessage-deflate; false to refuse it. */
  perMessageDeflate?: boolean | WsPerMessageDeflateOptions;
  /** Answer pings automatically. @default {true} */
  autoPong?: boolean;
}

/** The `ws` module. */
export interface WsModule {
  /** The client class. */
  WebSocket: new (url: string, options?: WsClientOptions) => WsSocket;
  /** The server class. */
  WebSocketServer: new (options: WsServerOptions) => WsServer;
}

/** The npm `ws` package (the real one, also on Bun). */
export const ws: Peer<WsModule> = peer(() => {
  const module = loadPackage("ws") as WsModule & {
    PerMessageDeflate?: unknown;
  };
  // Bun's built-in stand-in has no PerMessageDeflate: make sure it is ws.
  if (module.PerMessageDeflate === undefined) {
    throw new Error("the loaded ws is not the npm package");
  }
  return module;
}, `ws@${PINNED.ws}`);

// ------------------------------------------------------- Chromium ------

/** A Playwright page (the parts the tests use). */
export interface PlaywrightPage {
  /** Navigates and waits for the load event. */
  goto(url: string): Promise<unknown>;
  /** Runs `fn(arg)` in the page and resolves with its (JSON-able) result. */
  evaluate<R, A>(fn: (arg: A) => R | Promise<R>, arg: A): Promise<R>;
  /** Closes the page. */
  close(): Promise<void>;
  /** Fires on console output of the page. */
  on(event: "console", listener: (message: { text(): string }) => void): void;
  /** Fires on an uncaught exception in the page. */
  on(event: "pageerror", listener: (error: Error) => void): void;
}

/** A Playwright browser context. */
export interface PlaywrightContext {
  /** Opens a new page. */
  newPage(): Promise<PlaywrightPage>;
  /** Closes the context and, for a persistent one, the browser. */
  close(): Promise<void>;
}

interface PlaywrightModule {
  chromium: {
    launchPersistentContext(
      userDataDir: string,
      options: {
        executablePath: string;
        args: string[];
        headless: boolean;
        timeout: number;
        handleSIGINT: boolean;
        handleSIGTERM: boolean;
        handleSIGHUP: boolean;
      },
    ): Promise<PlaywrightContext>;
  };
}

/** Where the system Chromium is expected (Debian's `chromium` package). */
export const CHROMIUM_PATH: string = process.env.CHROMIUM_PATH ??
  "/usr/bin/chromium";

/** Chromium's flags: headless, no sandbox (root in CI), nothing phoning home. */
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** `playwright-core` plus the Chromium executable it drives. */
export const playwright: Peer<PlaywrightModule> = peer(() => {
  const module = loadPackage("playwright-core") as PlaywrightModule;
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `${CHROMIUM_PATH} is missing: install Debian's chromium package (apt-get install chromium)`,
    );
  }
  return module;
}, `playwright-core@${PINNED["playwright-core"]} with Chromium`);

/** A headless Chromium with its own fresh profile. */
export interface Chromium {
  /** The browser context (one window, a fresh profile). */
  readonly context: PlaywrightContext;
  /** The `--user-data-dir` of this browser, unique to it. */
  readonly userDataDir: string;
  /**
   * Kills this browser's network service process with SIGKILL, by PID
   * (a descendant of the browser this test launched, found through its
   * unique `--user-data-dir`; Linux `/proc` only). The network service owns
   * every socket of the browser, so they vanish without a close frame, as
   * when a browser crashes. (Killing the main process instead is not
   * abrupt: the network service then closes every WebSocket with 1001.)
   *
   * @returns How many processes were killed.
   * @throws {Error} If the browser's processes cannot be found.
   */
  killNetworkService(): number;
  /** Closes the browser and removes its profile. Idempotent. */
  close(): Promise<void>;
}

/**
 * Launches the system Chromium headless through playwright-core, with a
 * fresh `--user-data-dir` (never downloading a browser).
 *
 * @param extraArgs More command-line flags.
 * @returns The running browser.
 * @throws {Error} If playwright-core or Chromium is missing, or launching
 * fails.
 */
export async function launchChromium(
  extraArgs: readonly string[] = [],
): Promise<Chromium> {
  const { chromium } = playwright.get();
  const userDataDir = mkdtempSync(join(tmpdir(), "wstream-chromium-"));
  let context: PlaywrightContext;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM_PATH,
      args: [...CHROMIUM_ARGS, ...extraArgs],
      headless: true,
      timeout: 15_000,
      // The test runner owns the signals; the browser dies with us anyway.
      handleSIGINT: false,
      handleSIGTERM: false,
      handleSIGHUP: false,
    });
  } catch (error) {
    rmSync(userDataDir, { recursive: true, force: true });
    throw error;
  }
  let closing: Promise<void> | undefined;
  return {
    context,
    userDataDir,
    killNetworkService: () => killNetworkService(userDataDir),
    close(): Promise<void> {
      closing ??= context.close().catch(() => {}).finally(() => {
        rmSync(userDataDir, { recursive: true, force: true });
      });
      return closing;
    },
  };
}

/** The command line of a process, or `null` if it is gone. */
function commandLine(pid: string): string[] | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  } catch {
    return null;
  }
}

/** The parent PID of a process, or `null` if it is gone. */
function parentPid(pid: string): string | null {
  try {
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1] ?? null;
  } catch {
    return null;
  }
}

function killNetworkService(userDataDir: string): number {
  const flag = `--user-data-dir=${userDataDir}`;
  const pids = readdirSync("/proc").filter((entry) => /^\d+$/.test(entry));
  const main = pids.find((pid) => {
    const args = commandLine(pid);
    return args !== null && args.includes(flag) &&
      !args.some((arg) => arg.startsWith("--type="));
  });
  if (main === undefined) {
    throw new Error(`No Chromium process runs with ${flag}`);
  }
  let killed = 0;
  for (const pid of pids) {
    if (parentPid(pid) !== main) continue;
    const args = commandLine(pid) ?? [];
    if (!args.some((arg) => arg.includes("network.mojom.NetworkService"))) {
      continue;
    }
    try {
      process.kill(Number(pid), "SIGKILL");
      killed++;
    } catch {
      // Exited meanwhile.
    }
  }
  if (killed === 0) {
    throw new Error(`Chromium ${main} has no network service process`);
  }
  return killed;
}

// ------------------------------------------------ python-websockets ------

/**
 * The Python that has python-websockets: Debian's `/usr/bin/python3` with
 * `python3-websockets` (a `python3` first on `PATH` may be another one
 * without it).
 */
export const PYTHON_PATH: string = process.env.PYTHON_PATH ??
  "/usr/bin/python3";

/** A Python interpreter that can `import websockets`. */
export interface PythonWebsockets {
  /** The interpreter's path. */
  readonly executable: string;
  /** `websockets.__version__`, such as `"10.4"`. */
  readonly version: string;
}

/** python-websockets, as {@linkcode PYTHON_PATH} imports it. */
export const pythonWebsockets: Peer<PythonWebsockets> = peer(() => {
  if (!existsSync(PYTHON_PATH)) {
    throw new Error(
      `${PYTHON_PATH} is missing: install Debian's python3-websockets (apt-get install python3-websockets)`,
    );
  }
  const probe = spawnSync(
    PYTHON_PATH,
    ["-c", "import websockets; print(websockets.__version__)"],
    { encoding: "utf8", timeout: 10_000 },
  );
  if (probe.status !== 0) {
    throw new Error(
      `${PYTHON_PATH} cannot import websockets (${
        (probe.stderr ?? "").trim().split("\n").pop() ?? probe.error
      }): apt-get install python3-websockets`,
    );
  }
  return { executable: PYTHON_PATH, version: probe.stdout.trim() };
}, "python-websockets");
