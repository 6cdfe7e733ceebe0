/**
 * The server of the soak (`bench/soak.ts`): the echo of `examples/echo.ts`
 * (`serve()` + `upgrade()`, a `for await` over `readable` writing every
 * message back with `writer.write()`), counting WebSockets as they open
 * and close, and answering the driver on stdin:
 *
 * - `stats`: one JSON line `{ open, opened, closed, echoed, fds, heapUsed,
 *   external }`: WebSockets open now (`opened` - `closed`, from
 *   `socket.opened` and `socket.closed`), messages echoed, this process's
 *   open file descriptors (`/proc/self/fd`: listener, sockets, runtime),
 *   JS heap and external bytes.
 * - `gc`: collects garbage twice, then answers as `stats`.
 * - `exit`: exits.
 *
 * Run as `PORT=0 MAX_CONNECTIONS=11000 node --expose-gc bench/soak/server.ts`
 * (Deno: `deno run -A --v8-flags=--expose-gc`; Bun: `bun`); it prints
 * `listening on <port>` once ready. `MAX_CONNECTIONS` sets `serve()`'s
 * `maxConnections` (default 10,000: the soak opens all its clients at once
 * and needs a little headroom above them); everything else is `serve()`'s
 * defaults.
 *
 * @module
 */
import process from "node:process";
import { readdirSync } from "node:fs";
import { serve, upgrade } from "../../mod.ts";

const port = Number(process.env.PORT ?? "0");
const maxConnections = Number(process.env.MAX_CONNECTIONS ?? "10000");

let opened = 0;
let closed = 0;
let echoed = 0;

serve({
  port,
  maxConnections,
  // serve()'s default unless the driver's environment overrides it.
  ...(process.env.WRITE_STALL_TIMEOUT === undefined
    ? {}
    : { writeStallTimeout: Number(process.env.WRITE_STALL_TIMEOUT) }),
  onListen: (addr) => console.log(`listening on ${addr.port}`),
}, async (request) => {
  const { response, socket } = await upgrade(request);
  if (socket === null) return response; // Not a WebSocket upgrade: 4xx.
  socket.opened.then(async ({ readable, writable }) => {
    opened++;
    socket.closed.finally(() => closed++).catch(() => {});
    const writer = writable.getWriter();
    for await (const message of readable) {
      await writer.write(message);
      echoed++;
    }
  }).catch(() => {
    // The connection failed (closed abnormally): nothing left to echo to.
  });
  return response;
});

function collectGarbage(): void {
  const bun = (globalThis as { Bun?: { gc(force: boolean): void } }).Bun;
  if (bun !== undefined) return bun.gc(true);
  (globalThis as { gc?: () => void }).gc?.();
}

function stats(): string {
  const { heapUsed, external } = process.memoryUsage();
  let fds = -1;
  try {
    fds = readdirSync("/proc/self/fd").length;
  } catch {
    // Not Linux.
  }
  return JSON.stringify({
    open: opened - closed,
    opened,
    closed,
    echoed,
    fds,
    heapUsed,
    external,
  });
}

let input = "";
process.stdin.on("data", (chunk) => {
  input += String(chunk);
  let newline;
  while ((newline = input.indexOf("\n")) >= 0) {
    const command = input.slice(0, newline).trim();
    input = input.slice(newline + 1);
    if (command === "gc") {
      collectGarbage();
      collectGarbage();
      console.log(stats());
    } else if (command === "stats") {
      console.log(stats());
    } else if (command === "exit") {
      process.exit(0);
    }
  }
});
