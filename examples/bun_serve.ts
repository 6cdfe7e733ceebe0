/**
 * The echo server under `Bun.serve`, Bun's own HTTP server and WebSocket
 * (Bun only): `bun examples/bun_serve.ts`. `PORT` as in echo.ts.
 *
 * @module
 */
import { bunServeOptions, upgrade } from "../mod.ts";

// Bun's global, typed for `deno check` (in a Bun project: `@types/bun`).
declare const Bun: {
  env: Record<string, string | undefined>;
  serve(options: object): { port: number };
};

async function handler(request: Request): Promise<Response> {
  const { response, socket } = await upgrade(request);
  if (socket === null) return response; // Not a WebSocket upgrade: 4xx.
  socket.opened.then(async ({ readable, writable }) => {
    const writer = writable.getWriter();
    for await (const message of readable) await writer.write(message);
  }).catch(() => {}); // The connection failed: nothing left to echo to.
  return response;
}

const port = Number(Bun.env.PORT ?? "8080");
const server = Bun.serve({ port, ...bunServeOptions(handler) });
console.log(`listening on ${server.port}`);
