/**
 * Starts a wstream handler in the placement `PLACEMENT` names (`serve`,
 * the default: wstream's `serve()`; `bunserve`: under `Bun.serve`;
 * `denoserve`: under `Deno.serve`) on `PORT`, and prints
 * `listening on <port>` once ready: what `wstream_echo.ts` and
 * `wstream_hooks.ts` share.
 *
 * @module
 */
import process from "node:process";
import { bunServeOptions, serve } from "../../mod.ts";

interface BunServeApi {
  serve(options: Record<string, unknown>): { port: number };
}
interface DenoServeApi {
  serve(
    options: { port: number; hostname: string; onListen(): void },
    handler: (request: Request) => Promise<Response>,
  ): { addr: { port: number } };
}

/**
 * Serves `handler` where `PLACEMENT` says.
 *
 * @param handler The request handler (it calls `upgrade()`).
 * @param compression permessage-deflate under `Bun.serve` (Bun's option).
 */
export function servePlaced(
  handler: (request: Request) => Promise<Response>,
  compression: boolean,
): void {
  const port = Number(process.env.PORT ?? "8080");
  const placement = process.env.PLACEMENT ?? "serve";
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
      ...bunServeOptions(handler, { compression }),
    });
    console.log(`listening on ${server.port}`);
  } else if (placement === "denoserve") {
    const deno = (globalThis as { Deno?: DenoServeApi }).Deno;
    if (deno === undefined) {
      throw new Error("PLACEMENT=denoserve: run with deno");
    }
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
}
