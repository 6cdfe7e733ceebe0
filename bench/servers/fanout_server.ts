/**
 * The publisher side of `bench/fanout_bench.ts`: a server whose every
 * WebSocket subscribes to one topic, and which publishes 32-byte text
 * messages to it on command. Run by the bench, one implementation each:
 *
 * - `wstream`: wstream's `serve()` + `Hub` (Deno, Bun or Node).
 * - `wstream-bun`: `Bun.serve` + `bunServeOptions` + `Hub` (Bun's topics).
 * - `bun-native`: `Bun.serve` with `ws.subscribe` / `server.publish`.
 * - `ws`: npm `ws` on `node:http`, a loop over `wss.clients` (Node).
 *
 * Protocol on stdio: prints `PORT <port>`; reads `GO <messages>` (publish
 * that many messages, 16 per event-loop turn, then print `SENT`) and `CPU`
 * (print `CPU <µs>`, the process's user+system CPU time since `GO`).
 *
 * @module
 */
import { createServer } from "node:http";
import { createRequire } from "node:module";
import process from "node:process";
import { createInterface } from "node:readline";
import { bunServeOptions, Hub, serve, upgrade } from "../../mod.ts";

const impl = process.argv[2] ?? "wstream";
const MESSAGE = "0123456789abcdef0123456789abcdef"; // 32 bytes
const BATCH = 16;

let publish: (message: string) => void;
let port: number;

// deno-lint-ignore no-explicit-any
const Bun = (globalThis as any).Bun;

async function handler(request: Request, hub: Hub): Promise<Response> {
  const { response, socket } = await upgrade(request, { compression: false });
  if (socket === null) return response;
  hub.subscribe(socket, "t");
  socket.opened.then(async ({ readable }) => {
    for await (const _ of readable) { /* discard */ }
  }).catch(() => {});
  return response;
}

if (impl === "wstream") {
  const hub = new Hub({ maxQueuedBytes: Infinity });
  const server = serve(
    { port: 0, hostname: "127.0.0.1", maxConnections: 100_000 },
    (request) => handler(request, hub),
  );
  port = (await server.listening).port;
  publish = (message) => hub.publish("t", message);
} else if (impl === "wstream-bun") {
  const hub = new Hub({ maxQueuedBytes: Infinity });
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    ...bunServeOptions((request) => handler(request, hub), {
      compression: false,
    }),
  });
  port = server.port;
  publish = (message) => hub.publish("t", message);
} else if (impl === "bun-native") {
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch(request: Request, server: { upgrade(r: Request): boolean }) {
      return server.upgrade(request)
        ? undefined
        : new Response("upgrade", { status: 400 });
    },
    websocket: {
      perMessageDeflate: false,
      open(ws: { subscribe(topic: string): void }) {
        ws.subscribe("t");
      },
      message() {},
    },
  });
  port = server.port;
  publish = (message) => server.publish("t", message);
} else if (impl === "ws") {
  const require = createRequire(import.meta.url);
  const { WebSocketServer } = require(
    new URL("../../tests/interop/node_modules/ws/index.js", import.meta.url)
      .pathname,
  );
  const server = createServer();
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  await new Promise<void>((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve())
  );
  port = (server.address() as { port: number }).port;
  publish = (message) => {
    for (const client of wss.clients) client.send(message);
  };
} else {
  throw new TypeError(`Unknown implementation "${impl}"`);
}

let cpuAtGo = process.cpuUsage();
console.log(`PORT ${port}`);
const lines = createInterface({ input: process.stdin });
lines.on("line", (line) => {
  const [command, arg] = line.trim().split(" ");
  if (command === "GO") {
    cpuAtGo = process.cpuUsage();
    let left = Number(arg);
    const round = (): void => {
      for (let i = 0; i < BATCH && left > 0; i++, left--) publish(MESSAGE);
      if (left > 0) setTimeout(round, 0);
      else console.log("SENT");
    };
    round();
  } else if (command === "CPU") {
    const cpu = process.cpuUsage(cpuAtGo);
    console.log(`CPU ${cpu.user + cpu.system}`);
  } else if (command === "EXIT") {
    process.exit(0);
  }
});
