/**
 * wstream's echo server through the hooks API (`upgrade(request, { hooks })`:
 * a synchronous `message` hook, `ws.send()` per message, no stream and no
 * promise per message), in the placement `PLACEMENT` names:
 *
 * - `serve` (default): wstream's `serve()`, wstream's codec (Deno, Bun, Node);
 * - `bunserve`: `Bun.serve` with `bunServeOptions()` (Bun's WebSocket);
 * - `denoserve`: `Deno.serve` (Deno's WebSocket).
 *
 * `bench/echo_suite.ts` runs it as `wstream-hooks-{deno,bun,node}`,
 * `wstream-hooks-bunserve` and `wstream-hooks-denoserve`:
 * `PORT=9311 PLACEMENT=bunserve bun bench/servers/wstream_hooks.ts`.
 * Prints `listening on <port>` once ready.
 *
 * @module
 */
import { upgrade, type WebSocketHooks } from "../../mod.ts";
import { servePlaced } from "./_placement.ts";

const hooks: WebSocketHooks = {
  message(ws, data) {
    ws.send(data);
  },
};

async function handler(request: Request): Promise<Response> {
  return (await upgrade(request, { hooks })).response;
}

servePlaced(handler, false);
