/**
 * Helpers shared by the interop tests: deadlines, deterministic payloads,
 * and a wstream echo server (`serve` + `upgrade`) that records its sockets
 * and serves the Chromium test page.
 *
 * Private to the tests; never re-exported.
 *
 * @module
 */

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import net from "node:net";
import { serve } from "../../lib/serve.ts";
import type { Server } from "../../lib/serve.ts";
import { upgrade } from "../../lib/upgrade.ts";
import type { ServerUpgradeOptions } from "../../lib/upgrade.ts";
import type {
  WebSocketCloseInfo,
  WebSocketStreamLike,
} from "../../lib/websocket_connection.ts";

/** Per-test deadline of the interop suites (bun's own default is 5 s). */
export const TEST_TIMEOUT = 20_000;

/**
 * The deadline of the few tests bound by a peer's own pace: at most the
 * `--timeout 30000` that `deno task test:bun` gives every test.
 */
export const SLOW_TEST_TIMEOUT = 29_000;

/** Connections × messages of the concurrency scenario. */
export const CONCURRENT_CONNECTIONS = 200;
/** Messages each connection of the concurrency scenario sends. */
export const MESSAGES_PER_CONNECTION = 100;

/**
 * Rejects with "Timed out: `what`" if `promise` does not settle in `ms`.
 *
 * @param promise The promise to wait for.
 * @param ms The deadline, in milliseconds.
 * @param what What was awaited, for the error message.
 * @returns The promise's value.
 */
export function timeout<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Timed out: ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Resolves after `ms` milliseconds.
 *
 * @param ms The delay.
 * @returns A promise of nothing.
 */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Deterministic pseudo-random bytes (xorshift32). The Chromium page has the
 * same generator, so both sides can produce and check large payloads
 * without shipping them through the DevTools protocol.
 *
 * @param n How many bytes.
 * @param seed Any 32-bit integer.
 * @returns `n` bytes in a buffer of their own.
 */
export function bytes(n: number, seed: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/**
 * Exactly 1 MiB of UTF-8 text mixing 1-, 2-, 3- and 4-byte characters (the
 * Chromium page builds the same string).
 *
 * @returns The text; `new TextEncoder().encode(text).length === 1 << 20`.
 */
export function largeText(): string {
  const unit = "wstream ✓ é €𝄞 "; // 23 bytes of UTF-8; "x" pads the rest.
  const encoder = new TextEncoder();
  let text = unit.repeat(Math.floor((1 << 20) / encoder.encode(unit).length));
  text += "x".repeat((1 << 20) - encoder.encode(text).length);
  return text;
}

/**
 * The text of message `index` of connection `connection` in the
 * concurrency scenario; every tenth message is sent as binary instead.
 *
 * @param connection The connection's number.
 * @param index The message's number on that connection.
 * @returns The message text.
 */
export function concurrentMessage(connection: number, index: number): string {
  return `c${connection} m${index} ${"·".repeat(index % 17)}`;
}

/** Whether wstream's `serve()` runs on this runtime, or why not. */
export const SERVE_SKIP: string | false = (() => {
  try {
    const controller = new AbortController();
    controller.abort();
    serve({ port: 0, signal: controller.signal }, () => new Response(null));
    return false;
  } catch (error) {
    const reason = `wstream serve() does not run here (${
      error instanceof Error ? error.message : String(error)
    })`;
    console.warn(`interop: skipping: ${reason}`);
    return reason;
  }
})();

/** The Chromium test page, served at `/` by {@linkcode startEchoServer}. */
const PAGE = readFileSync(
  new URL("./chromium_page.html", import.meta.url),
  "utf8",
);

/** A running wstream echo server. */
export interface EchoServer {
  /** The wstream server. */
  readonly server: Server;
  /** Its port on 127.0.0.1. */
  readonly port: number;
  /** `ws://127.0.0.1:<port>` (`wss:` with `tls`). */
  readonly url: string;
  /** The server side of every accepted WebSocket, in accept order. */
  readonly sockets: WebSocketStreamLike[];
  /** Every message each socket received, in order, by accept index. */
  readonly received: (string | Uint8Array)[][];
  /** Resolves with the server side of the `index`-th accepted WebSocket. */
  socket(index: number): Promise<WebSocketStreamLike>;
  /**
   * Closes the sockets still open (1001), waits for all of them, and shuts
   * the server down; bounded in time.
   */
  close(): Promise<void>;
}

/** Options of {@linkcode startEchoServer}. */
export interface EchoServerOptions {
  /** Passed to `upgrade()`. */
  upgrade?: ServerUpgradeOptions;
  /** Do not echo: only record what arrives. @default {false} */
  silent?: boolean;
  /** Serve https and wss with this certificate. @default {undefined} */
  tls?: { cert: string; key: string };
}

/**
 * Starts a wstream server on 127.0.0.1, port 0 (TLS with `tls`):
 * WebSocket upgrades on any path echo every message back as received (text
 * as text, binary as binary); `GET /` answers the Chromium test page.
 *
 * @param options Upgrade options.
 * @returns The server, once it listens.
 */
export async function startEchoServer(
  options: EchoServerOptions = {},
): Promise<EchoServer> {
  const sockets: WebSocketStreamLike[] = [];
  const received: (string | Uint8Array)[][] = [];
  const waiters = new Map<number, (socket: WebSocketStreamLike) => void>();
  const tls = options.tls;
  const server = serve({
    port: 0,
    hostname: "127.0.0.1",
    ...(tls === undefined ? {} : { cert: tls.cert, key: tls.key }),
  }, async (request) => {
    if (request.headers.get("upgrade") === null) {
      if (new URL(request.url).pathname !== "/") {
        return new Response("Not found", { status: 404 });
      }
      return new Response(PAGE, {
        headers: { "content-type": "text/html; charset=utf-8" },
      });
    }
    const { response, socket } = await upgrade(request, options.upgrade);
    if (socket === null) return response;
    const index = sockets.push(socket) - 1;
    const log: (string | Uint8Array)[] = [];
    received.push(log);
    waiters.get(index)?.(socket);
    socket.opened.then(async ({ readable, writable }) => {
      const writer = writable.getWriter();
      for await (const message of readable) {
        log.push(message);
        if (options.silent !== true) await writer.write(message);
      }
    }).catch(() => {
      // Closed abnormally: the tests look at `closed`.
    });
    return response;
  });
  // Node binds asynchronously; Deno and Bun resolve at once.
  const { port } = await timeout(server.listening, 5000, "listening");
  return {
    server,
    port,
    url: `${tls === undefined ? "ws" : "wss"}://127.0.0.1:${port}`,
    sockets,
    received,
    socket(index: number): Promise<WebSocketStreamLike> {
      const socket = sockets[index];
      if (socket !== undefined) return Promise.resolve(socket);
      return timeout(
        new Promise((resolve) => waiters.set(index, resolve)),
        10_000,
        `server socket #${index}`,
      );
    },
    async close(): Promise<void> {
      for (const socket of sockets) {
        try {
          socket.close({ closeCode: 1001, reason: "test over" });
        } catch {
          // Already closed.
        }
      }
      try {
        await timeout(
          Promise.all(sockets.map((socket) => socket.closed)),
          8000,
          "server sockets closed",
        );
      } finally {
        await timeout(server.shutdown(), 5000, "server shutdown");
      }
    },
  };
}

/**
 * Tells whether a socket is still open: its `closed` has not settled.
 *
 * @param socket A wstream socket.
 * @returns `true` if `closed` is still pending.
 */
export async function isOpen(socket: WebSocketStreamLike): Promise<boolean> {
  const pending = Symbol("pending");
  const first: WebSocketCloseInfo | symbol = await Promise.race([
    socket.closed,
    sleep(0).then(() => pending),
  ]);
  return first === pending;
}

/** A FIFO of received items that tests await one at a time. */
export class Inbox<T> {
  #items: T[] = [];
  #waiting: ((item: T) => void)[] = [];
  #what: string;

  /**
   * Creates an empty inbox.
   *
   * @param what What arrives, for timeout messages.
   */
  constructor(what: string) {
    this.#what = what;
  }

  /** How many items wait to be taken. */
  get size(): number {
    return this.#items.length;
  }

  /**
   * Adds an item, handing it to the oldest waiter if any.
   *
   * @param item The item.
   */
  push(item: T): void {
    const waiter = this.#waiting.shift();
    if (waiter !== undefined) waiter(item);
    else this.#items.push(item);
  }

  /**
   * Takes the oldest item, waiting for one for at most `ms`.
   *
   * @param ms The deadline.
   * @returns The item.
   */
  next(ms = 10_000): Promise<T> {
    if (this.#items.length > 0) return Promise.resolve(this.#items.shift()!);
    return timeout(
      new Promise<T>((resolve) => this.#waiting.push(resolve)),
      ms,
      this.#what,
    );
  }
}

/** A raw TCP WebSocket client that never answers anything, pings included. */
export interface SilentPeer {
  /** Destroys the TCP connection. */
  close(): void;
}

/**
 * Opens a WebSocket to `127.0.0.1:port` over `node:net` with a handwritten
 * handshake, then reads and ignores everything: a peer that never answers
 * keepalive pings. Used as the control that shows a server's keepalive
 * pings are really being sent and enforced.
 *
 * @param port The server's port.
 * @returns The peer, once the server answered 101.
 * @throws {Error} If the server does not answer 101 within 5 s.
 */
export async function openSilentPeer(port: number): Promise<SilentPeer> {
  const socket = net.connect({ host: "127.0.0.1", port });
  socket.on("error", () => {});
  try {
    await timeout(
      new Promise<void>((resolve, reject) => {
        let head = "";
        socket.on("data", (chunk: Uint8Array) => {
          if (head.includes("\r\n\r\n")) return; // Frames: ignored.
          head += new TextDecoder().decode(chunk);
          if (!head.includes("\r\n\r\n")) return;
          if (head.startsWith("HTTP/1.1 101 ")) resolve();
          else reject(new Error(`Not upgraded: ${head.split("\r\n")[0]}`));
        });
        socket.on("close", () => reject(new Error("Closed before 101")));
        socket.write(
          "GET /silent HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n" +
            "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        );
      }),
      5000,
      "the silent peer's 101",
    );
  } catch (error) {
    socket.destroy();
    throw error;
  }
  return { close: () => socket.destroy() };
}

/**
 * Checks what the echo server received in the concurrency scenario: every
 * connection closed with 1000 after delivering its
 * {@linkcode MESSAGES_PER_CONNECTION} messages whole, in order, with their
 * types (every tenth binary).
 *
 * @param echo The echo server the clients used.
 * @throws {AssertionError} On a missing, extra, reordered or altered message.
 */
export async function assertConcurrentLogs(echo: EchoServer): Promise<void> {
  assert.equal(echo.sockets.length, CONCURRENT_CONNECTIONS);
  const infos = await timeout(
    Promise.all(echo.sockets.map((socket) => socket.closed)),
    5000,
    "server sockets closed",
  );
  for (const info of infos) assert.equal(info.closeCode, 1000);
  const seen = new Set<number>();
  const encoder = new TextEncoder();
  for (const log of echo.received) {
    const c = Number(/^c(\d+) /.exec(String(log[0]))?.[1]);
    assert.ok(Number.isInteger(c) && !seen.has(c), `connection ${c}`);
    seen.add(c);
    assert.equal(log.length, MESSAGES_PER_CONNECTION, `messages of #${c}`);
    log.forEach((message, i) => {
      const text = concurrentMessage(c, i);
      assert.deepEqual(message, i % 10 === 9 ? encoder.encode(text) : text);
    });
  }
}

/** A TCP relay in front of a server, which a test can cut abruptly. */
export interface TcpRelay {
  /** The relay's port on 127.0.0.1. */
  readonly port: number;
  /** Destroys every relayed connection on both sides: no close frame. */
  dropAll(): void;
  /** Drops everything and stops listening. */
  close(): Promise<void>;
}

/**
 * Starts a transparent TCP relay on 127.0.0.1 (port 0) to
 * `127.0.0.1:targetPort`, for servers that cannot drop a connection
 * themselves (`Deno.serve`).
 *
 * @param targetPort The server's port.
 * @returns The relay, once it listens.
 */
export async function startTcpRelay(targetPort: number): Promise<TcpRelay> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((inbound) => {
    const outbound = net.connect({ host: "127.0.0.1", port: targetPort });
    for (const socket of [inbound, outbound]) {
      sockets.add(socket);
      socket.on("error", () => {});
      socket.on("close", () => {
        sockets.delete(socket);
        inbound.destroy();
        outbound.destroy();
      });
    }
    inbound.pipe(outbound);
    outbound.pipe(inbound);
  });
  await timeout(
    new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    }),
    5000,
    "relay listening",
  );
  const address = server.address();
  const port = typeof address === "object" && address !== null
    ? address.port
    : 0;
  const dropAll = (): void => {
    for (const socket of sockets) socket.destroy();
    sockets.clear();
  };
  return {
    port,
    dropAll,
    close(): Promise<void> {
      dropAll();
      return timeout(
        new Promise<void>((resolve) => server.close(() => resolve())),
        5000,
        "relay closed",
      );
    },
  };
}
