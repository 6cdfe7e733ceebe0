/**
 * wstream's echo server as `examples/echo.ts` writes it (`serve()` +
 * `upgrade()`, a `for await` over `readable`, `writer.write()` per
 * message), with the `compression` option of `upgrade()` set from
 * `WSTREAM_COMPRESSION` so that the benchmark does not depend on the
 * library's default: `1` → `compression: true` (permessage-deflate with
 * wstream's defaults: 12-bit windows both ways, memLevel 5, threshold 64),
 * `0` → `false`, unset → the default. `bench/echo_suite.ts` runs it for the
 * compressed chat rows (`wstream-<runtime>-deflate`):
 * `PORT=9311 WSTREAM_COMPRESSION=1 deno run -A bench/servers/wstream_echo.ts`
 * (or `bun`, `node`). Prints `listening on <port>` once ready.
 *
 * @module
 */
import process from "node:process";
import { serve, upgrade } from "../../mod.ts";

const port = Number(process.env.PORT ?? "8080");
const setting = process.env.WSTREAM_COMPRESSION;
if (setting !== undefined && setting !== "0" && setting !== "1") {
  throw new Error(`WSTREAM_COMPRESSION must be 0 or 1, not ${setting}`);
}
const options = setting === undefined ? {} : { compression: setting === "1" };

serve({
  port,
  onListen: (addr) => console.log(`listening on ${addr.port}`),
}, async (request) => {
  const { response, socket } = await upgrade(request, options);
  if (socket === null) return response; // Not a WebSocket upgrade: 4xx.
  socket.opened.then(async ({ readable, writable }) => {
    const writer = writable.getWriter();
    for await (const message of readable) await writer.write(message);
  }).catch(() => {
    // The connection failed (closed abnormally): nothing left to echo to.
  });
  return response;
});
