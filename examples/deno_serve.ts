/**
 * The echo server under `Deno.serve`, Deno's own HTTP server and WebSocket
 * (Deno only): `deno run -A examples/deno_serve.ts`. `PORT` as in echo.ts.
 *
 * @module
 */
import { upgrade } from "../mod.ts";

const port = Number(Deno.env.get("PORT") ?? "8080");

Deno.serve({
  port,
  onListen: (addr) => console.log(`listening on ${addr.port}`),
}, async (request, info) => {
  // Deno.serve gives the peer's address only to the handler: pass it on.
  const { response, socket } = await upgrade(request, {
    remoteAddr: info.remoteAddr,
  });
  if (socket === null) return response; // Not a WebSocket upgrade: 4xx.
  socket.opened.then(async ({ readable, writable }) => {
    const writer = writable.getWriter();
    for await (const message of readable) await writer.write(message);
  }).catch(() => {}); // The connection failed: nothing left to echo to.
  return response;
});
