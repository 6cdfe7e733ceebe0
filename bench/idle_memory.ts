/**
 * Idle memory per WebSocket connection: a server process holds `--count`
 * TCP connections that completed the WebSocket opening handshake and then
 * stay silent; the result is the server's RSS growth divided by the count,
 * in KiB.
 *
 * The driver (this script without `--role`) spawns the server variant as a
 * child process with the chosen runtime, opens the connections from its own
 * process with `node:net`, asks the child to collect garbage, and reads the
 * child's `VmRSS` from `/proc/<pid>/status` (Linux only). Each connection
 * needs a file descriptor on both sides: check `ulimit -n`.
 *
 * Usage (see bench/idle_memory.md):
 *
 *   ulimit -n 20000
 *   deno run -A bench/idle_memory.ts --runtime deno --variant wstream --count 4000
 *   deno run -A bench/idle_memory.ts --runtime bun --variant bun-transport
 *   deno run -A bench/idle_memory.ts --runtime node --variant ws
 *   deno run -A bench/idle_memory.ts --all       # every variant on every runtime
 *
 * Compressed idle connections (`--deflate`): the driver offers
 * `permessage-deflate; client_max_window_bits`, fails unless the server
 * agrees, then sends one compressed ~1.5 KB chat JSON message on every
 * connection and waits for its compressed echo (checked byte for byte), so
 * each connection has compressed once in each direction before it idles.
 * Server variants for it: `wstream-deflate` (`upgrade(request,
 * { compression: true })`: wstream's defaults, windows 12, memLevel 5),
 * `ws-deflate` (`perMessageDeflate: true`, ws's defaults: windows 15,
 * memLevel 8), `ws-deflate-w12` (ws with wstream's settings),
 * `bun-native-deflate` (`perMessageDeflate: true`, `send(m, true)`).
 *
 * Options: `--count N` (default 4000), `--json` (one JSON object per
 * measurement on stdout instead of the Markdown table; used by
 * `bench/echo_suite.ts`), `--server-cpu N` (pin the server child to CPU `N`
 * with `taskset`), `--port N` (the server's port, default 0: any free
 * one; with `--all` the servers run one after another on it).
 *
 * Runtimes: `deno`, `bun`, `node` (Node 23.6+, which runs this file with
 * type stripping; the child gets `--expose-gc`).
 *
 * Variants (server side; all do a real RFC 6455 handshake):
 *
 * - `wstream`: `serve()` + `upgrade()` + `WebSocketConnection`, the
 *   application waiting on `readable` (the echo example). Deno, Bun or
 *   Node.
 * - `wstream-hooks`: `serve()` + `upgrade(request, { hooks })`, an echoing
 *   `message` hook (`bench/servers/wstream_hooks.ts`). Deno, Bun or Node.
 * - `wstream-denoserve`, `wstream-hooks-denoserve`: the same two handlers
 *   under `Deno.serve` (Deno's WebSocket). Deno.
 * - `wstream-bunserve`, `wstream-hooks-bunserve`: the same two handlers
 *   under `Bun.serve` with `bunServeOptions(handler, { compression: false
 *   })` (Bun's WebSocket). Bun.
 * - `deno-readable`: `Deno.listen`, a pending `conn.readable` read.
 * - `deno-read4k`, `deno-read512`: `Deno.listen`, a pending `conn.read()`
 *   into 4 KiB or 512 bytes.
 * - `deno-readable-byob512`: `Deno.listen`, a pending BYOB read of
 *   `conn.readable` into 512 bytes.
 * - `deno-transport-<min>`: wstream's Deno transport (`denoConnection`,
 *   `minReadSize` = `<min>` bytes), a pending `readable` read, no
 *   WebSocket layer.
 * - `deno-native`: `Deno.serve` + `Deno.upgradeWebSocket`.
 * - `node-net`: `node:net` server, data listener attached. Any runtime.
 * - `bun-transport`: wstream's Bun transport (`listenBun`), a pending
 *   `readable` read, no WebSocket layer.
 * - `bun-native`: `Bun.serve` with `websocket` handlers.
 * - `node-net-transport`: a `node:net` socket adapted to a byte stream pair
 *   (pause/resume backpressure; a prototype in this file), a pending
 *   `readable` read. Any runtime.
 * - `stack-deno-transport`, `stack-node-net`: the WebSocket stack
 *   (`WebSocketConnection` + an echo loop) over wstream's Deno transport or
 *   over the `node:net` adapter, handshake done here instead of `serve()`.
 * - `ws`: npm `ws` `WebSocketServer` on `node:http`, echoing (the reference
 *   on Node, as `bench/servers/ws_node.ts`), loaded from
 *   `tests/interop/node_modules`. Node.
 *
 * @module
 */

import { nodeConnection } from "../lib/transports/node.ts";
import net from "node:net";
import zlib from "node:zlib";
import { Buffer } from "node:buffer";
import process from "node:process";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { answerUpgrade } from "../lib/core/handshake.ts";
import { HttpHeadReader } from "../lib/http/request_head.ts";
import { serve } from "../lib/server/serve.ts";
import { upgrade } from "../lib/server/upgrade.ts";
import { getBun, getDeno } from "../lib/transports/_runtime_types.ts";
import { listenBun } from "../lib/transports/bun.ts";
import { bunServeOptions } from "../lib/native/bun_serve.ts";
import { listenDeno } from "../lib/transports/deno.ts";
import type { TcpConnection } from "../lib/transports/tcp_connection.ts";
import { WebSocketConnection } from "../lib/connection/websocket_connection.ts";
import type { WebSocketHooks } from "../lib/connection/websocket_hooks.ts";

const DENO_VARIANTS = [
  "wstream",
  "wstream-hooks",
  "wstream-denoserve",
  "wstream-hooks-denoserve",
  "wstream-deflate",
  "deno-transport-512",
  "deno-transport-1024",
  "deno-transport-4096",
  "deno-read4k",
  "deno-read512",
  "deno-readable",
  "deno-readable-byob512",
  "deno-native",
  "node-net",
  "node-net-transport",
  "stack-deno-transport",
  "stack-node-net",
];
const BUN_VARIANTS = [
  "wstream",
  "wstream-hooks",
  "wstream-bunserve",
  "wstream-hooks-bunserve",
  "wstream-deflate",
  "bun-native-deflate",
  "bun-transport",
  "bun-native",
  "node-net",
  "node-net-transport",
  "stack-node-net",
];
const NODE_VARIANTS = [
  "wstream",
  "wstream-hooks",
  "wstream-deflate",
  "ws",
  "ws-deflate",
  "ws-deflate-w12",
  "node-net",
  "node-net-transport",
  "stack-node-net",
];

/** Driver: offer permessage-deflate, one compressed message each way. */
const DEFLATE = process.argv.includes("--deflate");

function arg(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1] ?? fallback : fallback;
}

// ---------------------------------------------------------------------------
// Server side (child process)
// ---------------------------------------------------------------------------

/** Minimal types of the native servers, which the library does not use. */
interface DenoServeApi {
  serve(
    options: { hostname: string; port: number; onListen?: () => void },
    handler: (request: Request) => Response,
  ): { addr: { port: number } };
  upgradeWebSocket(request: Request): { socket: WebSocket; response: Response };
}
interface BunServeApi {
  serve(options: {
    hostname: string;
    port: number;
    fetch(request: Request, server: { upgrade(request: Request): boolean }):
      | Response
      | undefined;
    websocket: {
      perMessageDeflate?: boolean;
      message(
        ws: { send(data: string | Uint8Array, compress?: boolean): void },
        message: string | Uint8Array,
      ): void;
    };
  }): { port: number };
  gc(force: boolean): void;
}
/** The part of npm `ws` the `ws` variant uses. */
interface WsModule {
  WebSocketServer: new (options: {
    server: unknown;
    perMessageDeflate: boolean | Record<string, unknown>;
  }) => {
    on(
      event: "connection",
      listener: (socket: {
        send(data: unknown, options: { binary: boolean }): void;
        on(
          event: "message",
          listener: (data: unknown, isBinary: boolean) => void,
        ): void;
        on(event: "error", listener: (error: Error) => void): void;
      }) => void,
    ): void;
  };
}

function latin1(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

/** Reads a head with `read`, answers it; returns the 101 head bytes. */
async function answer(
  read: () => Promise<Uint8Array | null>,
): Promise<Uint8Array> {
  const reader = new HttpHeadReader();
  let head = null;
  while (head === null) {
    const chunk = await read();
    if (chunk === null) throw new Error("EOF before the head");
    head = reader.push(chunk);
  }
  const result = await answerUpgrade(head.request);
  if (!result.accepted) throw new Error(`refused: ${result.response.status}`);
  const lines = ["HTTP/1.1 101 Switching Protocols"];
  for (const [name, value] of result.response.headers) {
    lines.push(`${name}: ${value}`);
  }
  return latin1(lines.join("\r\n") + "\r\n\r\n");
}

/** Keeps references so that nothing is collected while idle. */
const held: unknown[] = [];

function idleOnTransport(connection: TcpConnection): void {
  held.push(connection);
  (async () => {
    const reader = connection.readable.getReader();
    const head = await answer(async () => (await reader.read()).value ?? null);
    const writer = connection.writable.getWriter();
    await writer.write(head);
    await reader.read(); // The idle wait.
  })().catch(() => connection.close());
}

/** The WebSocket stack over a transport, handshake done here. */
function stackOnTransport(connection: TcpConnection): void {
  (async () => {
    const reader = connection.readable.getReader();
    const headReader = new HttpHeadReader();
    let head = null;
    while (head === null) {
      const { value } = await reader.read();
      if (value === undefined) throw new Error("EOF before the head");
      head = headReader.push(value);
    }
    const result = await answerUpgrade(head.request);
    if (!result.accepted) throw new Error("refused");
    const lines = ["HTTP/1.1 101 Switching Protocols"];
    for (const [name, value] of result.response.headers) {
      lines.push(`${name}: ${value}`);
    }
    const writer = connection.writable.getWriter();
    await writer.write(latin1(lines.join("\r\n") + "\r\n\r\n"));
    writer.releaseLock();
    reader.releaseLock();
    const socket = new WebSocketConnection(connection, {
      role: "server",
      head: head.rest,
    });
    held.push(socket);
    const { readable, writable } = await socket.opened;
    const messages = writable.getWriter();
    for await (const message of readable) await messages.write(message);
  })().catch(() => connection.close());
}

/** The streams API's echo handler (`examples/echo.ts`). */
function streamsHandler(
  options: { compression?: boolean },
): (request: Request) => Promise<Response> {
  return async (request) => {
    const { response, socket } = await upgrade(request, options);
    if (socket === null) return response;
    held.push(socket);
    socket.opened.then(async ({ readable, writable }) => {
      const writer = writable.getWriter();
      for await (const message of readable) await writer.write(message);
    }).catch(() => {});
    return response;
  };
}

/** The `wstream-hooks` variants' hooks: echo every message. */
const ECHO_HOOKS: WebSocketHooks = {
  message: (ws, data) => void ws.send(data),
};

/**
 * The hooks API's echo handler: no stream, no pending promise per socket.
 * One hooks object for all sockets, as in examples/hooks.ts: a hook created
 * inside the async handler would keep the handler's scope (the Request)
 * alive on Bun, whose async functions keep all their variables.
 */
async function hooksHandler(request: Request): Promise<Response> {
  const { response, socket } = await upgrade(request, { hooks: ECHO_HOOKS });
  if (socket !== null) held.push(socket);
  return response;
}

function startServer(
  variant: string,
  port: number,
): Promise<number> | number {
  const hostname = "127.0.0.1";
  const deno = getDeno();
  const placed = /^(wstream(?:-hooks)?)-(bunserve|denoserve)$/.exec(variant);
  if (
    variant === "wstream" || variant === "wstream-deflate" ||
    variant === "wstream-hooks" || placed !== null
  ) {
    const handler = variant.startsWith("wstream-hooks")
      ? hooksHandler
      : streamsHandler(
        variant === "wstream-deflate" ? { compression: true } : {},
      );
    if (placed?.[2] === "bunserve") {
      // As bench/servers/wstream_echo.ts and wstream_hooks.ts with
      // PLACEMENT=bunserve: Bun's WebSocket, no compression.
      const api = getBun() as unknown as {
        serve(options: Record<string, unknown>): { port: number };
      };
      return api.serve({
        hostname,
        port,
        ...bunServeOptions(handler, { compression: false }),
      }).port;
    }
    if (placed?.[2] === "denoserve") {
      const api = deno as unknown as {
        serve(
          options: { hostname: string; port: number; onListen(): void },
          handler: (request: Request) => Promise<Response>,
        ): { addr: { port: number } };
      };
      return api.serve({ hostname, port, onListen() {} }, handler).addr.port;
    }
    // `listening`: Node binds asynchronously.
    return serve({ port, hostname }, handler).listening.then((addr) =>
      addr.port
    );
  }
  const transport = /^deno-transport-(\d+)$/.exec(variant);
  if (transport !== null) {
    return listenDeno({ hostname, port }, idleOnTransport, {
      minReadSize: Number(transport[1]),
    }).addr.port;
  }
  if (variant === "stack-deno-transport") {
    return listenDeno({ hostname, port }, stackOnTransport).addr.port;
  }
  if (variant === "node-net-transport" || variant === "stack-node-net") {
    return new Promise((resolve) => {
      const server = net.createServer((socket) => {
        const connection = nodeConnection(socket);
        if (variant === "stack-node-net") stackOnTransport(connection);
        else idleOnTransport(connection);
      });
      server.listen(port, hostname, () => {
        resolve((server.address() as net.AddressInfo).port);
      });
    });
  }
  if (variant === "bun-transport") {
    return listenBun({ hostname, port }, idleOnTransport).addr.port;
  }
  if (variant.startsWith("deno-read")) {
    const listener = deno!.listen({ hostname, port });
    (async () => {
      while (true) {
        const conn = await listener.accept();
        held.push(conn);
        (async () => {
          const readable = (conn as unknown as {
            readable: ReadableStream<Uint8Array>;
          }).readable;
          if (variant === "deno-readable") {
            const reader = readable.getReader();
            const head = await answer(async () =>
              (await reader.read()).value ?? null
            );
            await conn.write(head);
            await reader.read();
          } else if (variant === "deno-readable-byob512") {
            const reader = readable.getReader({ mode: "byob" });
            const read = async (): Promise<Uint8Array | null> =>
              (await reader.read(new Uint8Array(512))).value ?? null;
            await conn.write(await answer(read));
            await read();
          } else {
            const size = variant === "deno-read4k" ? 4096 : 512;
            const read = async (): Promise<Uint8Array | null> => {
              const buffer = new Uint8Array(size);
              const n = await conn.read(buffer);
              return n === null ? null : buffer.subarray(0, n);
            };
            await conn.write(await answer(read));
            await read();
          }
        })().catch(() => {});
      }
    })();
    return listener.addr.port;
  }
  if (variant === "deno-native") {
    const api = deno as unknown as DenoServeApi;
    return api.serve({ hostname, port, onListen() {} }, (request) => {
      const { socket, response } = api.upgradeWebSocket(request);
      socket.onmessage = (event) => socket.send(event.data);
      held.push(socket);
      return response;
    }).addr.port;
  }
  if (variant === "bun-native" || variant === "bun-native-deflate") {
    const deflate = variant === "bun-native-deflate";
    const api = getBun() as unknown as BunServeApi;
    return api.serve({
      hostname,
      port,
      fetch(request, server) {
        return server.upgrade(request)
          ? undefined
          : new Response("upgrade expected", { status: 400 });
      },
      websocket: {
        perMessageDeflate: deflate,
        message: (ws, message) => ws.send(message, deflate),
      },
    }).port;
  }
  if (variant === "ws" || variant.startsWith("ws-deflate")) {
    const require = createRequire(import.meta.url);
    const ws = require(
      new URL("../tests/interop/node_modules/ws/", import.meta.url).pathname,
    ) as WsModule;
    const server = createServer((_request, response) => {
      response.writeHead(400).end("WebSocket upgrade expected");
    });
    // As bench/servers/ws_node.ts with WS_DEFLATE=0, 1 or w12.
    const perMessageDeflate = variant === "ws"
      ? false
      : variant === "ws-deflate"
      ? true
      : variant === "ws-deflate-w12"
      ? {
        serverMaxWindowBits: 12,
        clientMaxWindowBits: 12,
        zlibDeflateOptions: { memLevel: 5 },
        threshold: 64,
      }
      : (() => {
        throw new Error(`Unknown variant ${variant}`);
      })();
    const wss = new ws.WebSocketServer({ server, perMessageDeflate });
    wss.on("connection", (socket) => {
      held.push(socket);
      socket.on("message", (data, isBinary) => {
        socket.send(data, { binary: isBinary });
      });
      socket.on("error", () => {});
    });
    return new Promise((resolve) => {
      server.listen(port, hostname, () => {
        resolve((server.address() as net.AddressInfo).port);
      });
    });
  }
  if (variant === "node-net") {
    return new Promise((resolve) => {
      const server = net.createServer((socket) => {
        held.push(socket);
        let reader: HttpHeadReader | null = new HttpHeadReader();
        socket.on("data", async (chunk: Uint8Array) => {
          if (reader === null) return;
          const head = reader.push(new Uint8Array(chunk));
          if (head === null) return;
          reader = null;
          const result = await answerUpgrade(head.request);
          if (!result.accepted) return socket.destroy();
          const lines = ["HTTP/1.1 101 Switching Protocols"];
          for (const [name, value] of result.response.headers) {
            lines.push(`${name}: ${value}`);
          }
          socket.write(lines.join("\r\n") + "\r\n\r\n");
        });
        socket.on("error", () => {});
      });
      server.listen(port, hostname, () => {
        resolve((server.address() as net.AddressInfo).port);
      });
    });
  }
  throw new Error(`Unknown variant ${variant}`);
}

function collectGarbage(): void {
  const bun = getBun() as unknown as BunServeApi | undefined;
  if (bun !== undefined) {
    bun.gc(true);
    return;
  }
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) {
    throw new Error("Run with --expose-gc (Deno: --v8-flags=--expose-gc)");
  }
  gc();
}

async function runServer(variant: string, listenPort: number): Promise<void> {
  const port = await startServer(variant, listenPort);
  console.log(`port ${port}`);
  let input = "";
  process.stdin.on("data", (chunk) => {
    input += String(chunk);
    let newline;
    while ((newline = input.indexOf("\n")) >= 0) {
      const command = input.slice(0, newline);
      input = input.slice(newline + 1);
      if (command === "gc") {
        collectGarbage();
        collectGarbage();
        const { heapUsed, external } = process.memoryUsage();
        console.log(JSON.stringify({ heapUsed, external }));
      } else if (command === "exit") {
        process.exit(0);
      }
    }
  });
}

// ---------------------------------------------------------------------------
// Driver side
// ---------------------------------------------------------------------------

function rssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const match = /VmRSS:\s+(\d+) kB/.exec(status);
  if (match === null) throw new Error("No VmRSS in /proc status");
  return Number(match[1]);
}

function openFileLimit(): number {
  const limits = readFileSync("/proc/self/limits", "utf8");
  const match = /Max open files\s+(\d+|unlimited)/.exec(limits);
  return match?.[1] === "unlimited" ? Infinity : Number(match?.[1] ?? 0);
}

const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

/** A ~1.5 KB chat JSON message (over ws's 1,024-byte threshold). */
const CHAT_MESSAGE = new TextEncoder().encode(JSON.stringify({
  id: "8f3a9c0e51d27b64",
  type: "history",
  room: "room-7",
  ts: 1763900003779,
  items: Array.from({ length: 5 }, (_, i) => ({
    seq: 403159 + i * 17,
    ts: 1763899095329 + i * 60_000,
    user: {
      id: 50634 + i,
      name: `user_${634 + i}`,
      avatar: `https://cdn.example.com/a/${50634 + i}.png`,
      roles: ["member"],
    },
    edited: i % 2 === 0,
    text: "deploy looks good on staging but the p99 latency graph still " +
      `shows a spike after the migration, can you check the logs ${i}`,
  })),
}));

/** `permessage-deflate` one-message helpers of the `--deflate` driver. */
const SYNC_FLUSH = { finishFlush: zlib.constants.Z_SYNC_FLUSH };

/** One masked client frame of `payload` (RSV1 when `compressed`). */
function clientFrame(payload: Uint8Array, compressed: boolean): Uint8Array {
  const n = payload.length;
  const header = n < 126 ? 2 : 4;
  if (n >= 65536) throw new Error("message too long");
  const frame = new Uint8Array(header + 4 + n);
  frame[0] = 0x81 | (compressed ? 0x40 : 0);
  if (n < 126) {
    frame[1] = 0x80 | n;
  } else {
    frame[1] = 0x80 | 126;
    frame[2] = n >> 8;
    frame[3] = n & 0xff;
  }
  const key = [0x37, 0xfa, 0x21, 0x3d];
  frame.set(key, header);
  for (let i = 0; i < n; i++) frame[header + 4 + i] = payload[i]! ^ key[i & 3]!;
  return frame;
}

/** The agreed client window from a `Sec-WebSocket-Extensions` answer. */
function clientWindowBits(answer: string): number {
  const match = /client_max_window_bits\s*=\s*"?(\d+)/i.exec(answer);
  return match === null ? 15 : Number(match[1]);
}

/** After the 101: one compressed message each way on `socket`. */
function compressedRoundTrip(
  socket: net.Socket,
  answer: string,
  rest: Buffer,
): Promise<void> {
  const bits = Math.max(9, clientWindowBits(answer));
  const compressed = zlib.deflateRawSync(CHAT_MESSAGE, {
    ...SYNC_FLUSH,
    windowBits: bits,
    memLevel: 8,
  });
  const body = compressed.subarray(0, compressed.length - 4); // 00 00 ff ff
  return new Promise((resolve, reject) => {
    let input = rest;
    const onData = (chunk: Buffer) => {
      input = Buffer.concat([input, chunk]);
      if (input.length < 2) return;
      let length = input[1]! & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (input.length < 4) return;
        length = input.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        return reject(new Error("echo too long"));
      }
      if (input.length < offset + length) return;
      socket.off("data", onData);
      const first = input[0]!;
      if (first !== 0xc1) {
        return reject(
          new Error(
            `echo frame starts 0x${first.toString(16)}, not 0xc1 ` +
              "(final, RSV1 = compressed, text): the server did not compress",
          ),
        );
      }
      const payload = input.subarray(offset, offset + length);
      const inflated = zlib.inflateRawSync(
        Buffer.concat([payload, Buffer.from([0, 0, 0xff, 0xff])]),
        SYNC_FLUSH,
      );
      if (!Buffer.from(CHAT_MESSAGE).equals(inflated)) {
        return reject(new Error("the inflated echo differs from the message"));
      }
      resolve();
    };
    socket.on("data", onData);
    socket.write(clientFrame(body, true));
    if (rest.length > 0) onData(Buffer.alloc(0));
  });
}

/** Opens one connection and completes the handshake. */
function openClient(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    let received = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error("handshake timeout"));
    }, 30_000);
    socket.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on("connect", () => {
      socket.write(
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n" +
          "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
          (DEFLATE
            ? "Sec-WebSocket-Extensions: permessage-deflate; " +
              "client_max_window_bits\r\n"
            : "") +
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
      );
    });
    let head = Buffer.alloc(0);
    const onHead = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      received = head.toString("latin1");
      const end = received.indexOf("\r\n\r\n");
      if (end < 0) return;
      socket.off("data", onHead);
      if (!received.startsWith("HTTP/1.1 101 ")) {
        clearTimeout(timer);
        return reject(new Error(`no 101: ${received.slice(0, 60)}`));
      }
      if (!DEFLATE) {
        clearTimeout(timer);
        return resolve(socket);
      }
      const answer = /\r\nsec-websocket-extensions:\s*([^\r]*)/i.exec(
        received.slice(0, end + 2),
      )?.[1] ?? "";
      if (!/^permessage-deflate\b/i.test(answer)) {
        clearTimeout(timer);
        return reject(
          new Error(
            "--deflate: the server did not negotiate permessage-deflate " +
              `(Sec-WebSocket-Extensions: "${answer}")`,
          ),
        );
      }
      compressedRoundTrip(socket, answer, head.subarray(end + 4)).then(
        () => {
          clearTimeout(timer);
          resolve(socket);
        },
        (error) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    };
    socket.on("data", onHead);
  });
}

async function openClients(port: number, count: number): Promise<net.Socket[]> {
  const sockets: net.Socket[] = [];
  const batch = 200;
  for (let i = 0; i < count; i += batch) {
    const size = Math.min(batch, count - i);
    sockets.push(
      ...await Promise.all(
        Array.from({ length: size }, () => openClient(port)),
      ),
    );
  }
  return sockets;
}

/** Memory of the server process, in KiB. */
interface Sample {
  rss: number;
  heapUsed: number;
  external: number;
}

interface Measurement {
  runtime: string;
  variant: string;
  count: number;
  baseline: Sample;
  loaded: Sample;
}

async function measure(
  runtime: string,
  variant: string,
  count: number,
  serverCpu?: string,
): Promise<Measurement> {
  const script = fileURLToPath(import.meta.url);
  const onNode = getDeno() === undefined && getBun() === undefined;
  const [command, args]: [string, string[]] = runtime === "deno"
    ? [
      getDeno()?.execPath() ?? "deno",
      ["run", "-A", "--v8-flags=--expose-gc", script],
    ]
    : runtime === "bun"
    ? [getBun() !== undefined ? process.execPath : "bun", [script]]
    : runtime === "node"
    ? [onNode ? process.execPath : "node", ["--expose-gc", script]]
    : (() => {
      throw new Error(`Unknown runtime ${runtime}`);
    })();
  const serverArgs = [
    ...args,
    "--role",
    "server",
    "--variant",
    variant,
    "--port",
    arg("port", "0"),
  ];
  // `taskset` execs the runtime: the child's pid stays the server's.
  const child = serverCpu === undefined
    ? spawn(command, serverArgs, { stdio: ["pipe", "pipe", "inherit"] })
    : spawn("taskset", ["-c", serverCpu, command, ...serverArgs], {
      stdio: ["pipe", "pipe", "inherit"],
    });
  const exitedEarly = new Promise<never>((_, reject) => {
    child.on("exit", (code, signal) => {
      reject(new Error(`server exited early (${code ?? signal})`));
    });
  });
  exitedEarly.catch(() => {});
  const lines: string[] = [];
  const waiters: ((line: string) => void)[] = [];
  let buffered = "";
  child.stdout!.on("data", (chunk) => {
    buffered += String(chunk);
    let newline;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      const waiter = waiters.shift();
      if (waiter !== undefined) waiter(line);
      else lines.push(line);
    }
  });
  const nextLine = (): Promise<string> => {
    const line = lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    return Promise.race([
      new Promise<string>((resolve) => waiters.push(resolve)),
      exitedEarly,
    ]);
  };
  const settle = async (): Promise<Sample> => {
    await sleep(1000);
    child.stdin!.write("gc\n");
    await nextLine();
    await sleep(500);
    child.stdin!.write("gc\n");
    const heap = JSON.parse(await nextLine()) as {
      heapUsed: number;
      external: number;
    };
    await sleep(500);
    return {
      rss: rssKiB(child.pid!),
      heapUsed: heap.heapUsed / 1024,
      external: heap.external / 1024,
    };
  };
  try {
    const port = Number((await nextLine()).replace("port ", ""));
    // Warm up (JIT, first-use allocations), then take the baseline.
    const warm = await openClients(port, 200);
    await sleep(200);
    for (const socket of warm) socket.destroy();
    const baseline = await settle();
    const sockets = await openClients(port, count);
    const loaded = await settle();
    for (const socket of sockets) socket.destroy();
    return { runtime, variant, count, baseline, loaded };
  } finally {
    if (child.exitCode === null && child.pid !== undefined) {
      const exited = new Promise((resolve) => child.on("exit", resolve));
      process.kill(child.pid, "SIGTERM");
      await Promise.race([exited, sleep(3000)]);
    }
  }
}

async function runDriver(): Promise<void> {
  const count = Number(arg("count", "4000"));
  const limit = openFileLimit();
  if (limit < count + 200) {
    console.error(
      `ulimit -n is ${limit}: raise it (ulimit -n ${
        count + 1000
      }) for ${count} connections`,
    );
    process.exit(1);
  }
  const runs: [string, string][] = process.argv.includes("--all")
    ? [
      ...DENO_VARIANTS.map((variant): [string, string] => ["deno", variant]),
      ...BUN_VARIANTS.map((variant): [string, string] => ["bun", variant]),
      ...NODE_VARIANTS.map((variant): [string, string] => ["node", variant]),
    ]
    : [[arg("runtime", "deno"), arg("variant", "wstream")]];
  const json = process.argv.includes("--json");
  const serverCpuIndex = process.argv.indexOf("--server-cpu");
  const serverCpu = serverCpuIndex >= 0
    ? process.argv[serverCpuIndex + 1]
    : undefined;
  if (json) {
    for (const [runtime, variant] of runs) {
      const { baseline, loaded } = await measure(
        runtime,
        variant,
        count,
        serverCpu,
      );
      const per = (key: keyof Sample): number =>
        (loaded[key] - baseline[key]) / count;
      console.log(JSON.stringify({
        runtime,
        variant,
        deflate: DEFLATE,
        count,
        rssKiBPerConnection: per("rss"),
        heapKiBPerConnection: per("heapUsed"),
        externalKiBPerConnection: per("external"),
        baseline,
        loaded,
      }));
    }
    return;
  }
  console.log(
    "| runtime | variant | connections | baseline RSS (MiB) | loaded RSS (MiB) " +
      "| **RSS KiB/conn** | JS heap KiB/conn | external KiB/conn |",
  );
  console.log("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const [runtime, variant] of runs) {
    const { baseline, loaded } = await measure(
      runtime,
      variant,
      count,
      serverCpu,
    );
    const per = (key: keyof Sample): string =>
      ((loaded[key] - baseline[key]) / count).toFixed(1);
    console.log(
      `| ${runtime} | ${variant} | ${count} | ${
        (baseline.rss / 1024).toFixed(1)
      } ` +
        `| ${(loaded.rss / 1024).toFixed(1)} | **${per("rss")}** ` +
        `| ${per("heapUsed")} | ${per("external")} |`,
    );
  }
}

if (arg("role", "driver") === "server") {
  await runServer(arg("variant", "wstream"), Number(arg("port", "0")));
} else {
  await runDriver();
}
