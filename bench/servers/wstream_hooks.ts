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
import process from "node:process";
import {
  bunServeOptions,
  serve,
  upgrade,
  type WebSocketHooks,
} from "../../mod.ts";

const port = Number(process.env.PORT ?? "8080");
const placement = process.env.PLACEMENT ?? "serve";

const hooks: WebSocketHooks = {
  message(ws, data) {
    ws.send(data);
  },
};

async function handler(request: Request): Promise<Response> {
  return (await upgrade(request, { hooks })).response;
}

interface BunServeApi {
  serve(options: Record<string, unknown>): { port: number };
}
interface DenoServeApi {
  serve(
    options: { port: number; hostname: string; onListen(): void },
    handler: (request: Request) => Promise<Response>,
  ): { addr: { port: number } };
}

if (placement === "serve") {
  serve({
    port,
    onListen: (addr) => console.log(`listening on ${addr.port}`),
  }, handler);
} else if (placement === "bunserve") {
  const bun = (globalThis as { Bun?: BunServeApi }).Bun;
  if (bun === undefined) throw new Error("PLACEMENT=bunserve: run with bun");
  const server = bun.serve({
    hostname: "127.0.0.1",
    port,
    ...bunServeOptions(handler, { compression: false }),
  });
  console.log(`listening on ${server.port}`);
} else if (placement === "denoserve") {
  const deno = (globalThis as { Deno?: DenoServeApi }).Deno;
  if (deno === undefined) throw new Error("PLACEMENT=denoserve: run with deno");
  const server = deno.serve(
    { port, hostname: "127.0.0.1", onListen: () => {} },
    handler,
  );
  console.log(`listening on ${server.addr.port}`);
} else {
  throw new Error(
    `PLACEMENT must be serve, bunserve or denoserve, not ${placement}`,
  );
}
