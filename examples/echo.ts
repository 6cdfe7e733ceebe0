/**
 * A WebSocket echo server: every message comes back as it was received,
 * text as text and binary as binary, on any path.
 *
 * Run with `deno run -A examples/echo.ts` or `bun examples/echo.ts`; set
 * `PORT` to choose the port (default 8080, 0 for an ephemeral one). It
 * prints `listening on <port>` once ready.
 *
 * @module
 */
import process from "node:process";
import { serve, upgrade } from "../mod.ts";

const port = Number(process.env.PORT ?? "8080");

serve({
  port,
  onListen: (addr) => console.log(`listening on ${addr.port}`),
}, async (request) => {
  const { response, socket } = await upgrade(request);
  if (socket === null) return response; // Not a WebSocket upgrade: 4xx.
  socket.opened.then(async ({ readable, writable }) => {
    const writer = writable.getWriter();
    for await (const message of readable) await writer.write(message);
  }).catch(() => {
    // The connection failed (closed abnormally): nothing left to echo to.
  });
  return response;
});
