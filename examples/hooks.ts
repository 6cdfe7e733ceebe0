/**
 * The echo server of `examples/echo.ts` through the hooks API: callbacks
 * instead of streams, no stream and no promise per message. Runs unchanged
 * on Deno, Bun and Node (wstream's `serve()`); the same `hooks` object works
 * under `Deno.serve`, `Bun.serve` and `node:http` through `upgrade()`.
 *
 * Run with `deno run -A examples/hooks.ts`, `bun examples/hooks.ts` or
 * `node examples/hooks.ts`; `PORT` chooses the port (default 8080, 0 for an
 * ephemeral one). It prints `listening on <port>` once ready.
 *
 * @module
 */
import process from "node:process";
import {
  serve,
  upgrade,
  type WebSocketHooks,
  type WebSocketMessage,
} from "../mod.ts";

const port = Number(process.env.PORT ?? "8080");

/** Per-connection state, in `ws.data`: echoes held back by backpressure. */
interface Backlog {
  waiting: WebSocketMessage[];
}

const hooks: WebSocketHooks<Backlog> = {
  message(ws, data) {
    // Keep the order: once a send said -1, later echoes wait for drain.
    if (ws.data.waiting.length > 0) ws.data.waiting.push(data);
    else if (ws.send(data) === -1) ws.data.waiting.push(data);
  },
  drain(ws) {
    const waiting = ws.data.waiting;
    while (waiting.length > 0) {
      if (ws.send(waiting.shift()!) === -1) break;
    }
  },
  close(ws, { closeCode }) {
    if (closeCode !== 1000 && closeCode !== 1001) {
      console.log(`closed ${closeCode} (${ws.data.waiting.length} unsent)`);
    }
  },
};

serve({
  port,
  onListen: (addr) => console.log(`listening on ${addr.port}`),
}, async (request) => {
  const { response } = await upgrade(request, {
    hooks,
    data: { waiting: [] },
  });
  return response; // Not a WebSocket upgrade: 4xx with a reason.
});
