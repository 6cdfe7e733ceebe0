/**
 * Helpers shared by the interop tests: the scenarios' deadlines and
 * payloads, a wstream echo server (`serve` + `upgrade`) that records its
 * sockets and serves the Chromium test page, the checks the server tests
 * share, and peers that misbehave on purpose (a silent one, a TCP relay).
 * Deadlines, delays, `Inbox` and `testBytes` come from `../_test_utils.ts`.
 *
 * Private to the tests; never re-exported.
 *
 * @module
 */

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import net from "node:net";
import { serve } from "../../lib/server/serve.ts";
import type { Server } from "../../lib/server/serve.ts";
import { upgrade } from "../../lib/server/upgrade.ts";
import type { ServerUpgradeOptions } from "../../lib/server/upgrade.ts";
import type {
  WebSocketCloseInfo,
  WebSocketStreamLike,
} from "../../lib/connection/websocket_stream_like.ts";
import { delay, listenLocal, timeout } from "../_test_utils.ts";

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
  const accepted = new Arrivals<WebSocketStreamLike>("server socket");
  const sockets = accepted.items;
  const received: (string | Uint8Array)[][] = [];
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
    const log: (string | Uint8Array)[] = [];
    received.push(log);
    accepted.push(socket);
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
    socket: (index) => accepted.get(index),
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
    delay(0).then(() => pending),
  ]);
  return first === pending;
}

/**
 * Items numbered in order of arrival (a server's connections), each of
 * which a test can await by its number before it arrives.
 */
export class Arrivals<T> {
  /** The items so far, by number. */
  readonly items: T[] = [];
  #waiters = new Map<number, (item: T) => void>();
  #what: string;

  /**
   * Creates an empty list.
   *
   * @param what What arrives, for timeout messages ("`what` #3").
   */
  constructor(what: string) {
    this.#what = what;
  }

  /**
   * Adds the next item, handing it to whoever waits for its number.
   *
   * @param item The item.
   * @returns Its number.
   */
  push(item: T): number {
    return this.set(this.items.length, item);
  }

  /**
   * Stores item `index` (numbered elsewhere, such as when it was accepted),
   * handing it to whoever waits for it.
   *
   * @param index Its number.
   * @param item The item.
   * @returns Its number.
   */
  set(index: number, item: T): number {
    this.items[index] = item;
    this.#waiters.get(index)?.(item);
    return index;
  }

  /**
   * Resolves with item `index`, waiting for it for at most 10 s.
   *
   * @param index Its number.
   * @returns The item.
   */
  get(index: number): Promise<T> {
    const item = this.items[index];
    if (item !== undefined) return Promise.resolve(item);
    return timeout(
      new Promise((resolve) => this.#waiters.set(index, resolve)),
      10_000,
      `${this.#what} #${index}`,
    );
  }
}

/**
 * The close code and reason the server side of the `index`-th connection
 * ended with, within 5 s.
 *
 * @param echo The echo server.
 * @param index The connection's number, in accept order.
 * @returns What its `closed` resolved with.
 */
export async function serverClosed(
  echo: EchoServer,
  index = 0,
): Promise<WebSocketCloseInfo> {
  const socket = await echo.socket(index);
  return timeout(socket.closed, 5000, "server closed");
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
 * The keepalive check of the server tests, for an echo server started with
 * a ping interval well under a second: beside the connection under test (a
 * client that answers pings and sends nothing else), opens a silent peer as
 * the control, waits 1 s, and asserts that the server dropped the control
 * (1006), so pings are really sent and enforced, but kept `socket` open.
 *
 * @param echo The echo server; the control becomes its second connection.
 * @param socket The server side of the connection under test.
 * @throws {AssertionError} If the control was kept or `socket` dropped.
 */
export async function assertKeptBesideSilentPeer(
  echo: EchoServer,
  socket: WebSocketStreamLike,
): Promise<void> {
  const control = await openSilentPeer(echo.port);
  try {
    await delay(1000);
    const silent = await echo.socket(1);
    assert.deepEqual(
      await timeout(silent.closed, 5000, "control dropped"),
      { closeCode: 1006, reason: "" },
    );
    assert.equal(await isOpen(socket), true, "the server kept it open");
  } finally {
    control.close();
  }
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
  const port = await listenLocal(server, "relay listening");
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
