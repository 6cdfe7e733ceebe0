/**
 * wstream's echo server as `examples/echo.ts` writes it (`upgrade()`, a
 * `for await` over `readable`, `writer.write()` per message: the streams
 * API), in the placement `PLACEMENT` names:
 *
 * - `serve` (default): wstream's `serve()`, wstream's codec (Deno, Bun,
 *   Node), as `examples/echo.ts`;
 * - `bunserve`: `Bun.serve` with `bunServeOptions()` (Bun's WebSocket), as
 *   `examples/bun_serve.ts`;
 * - `denoserve`: `Deno.serve` (Deno's WebSocket), as
 *   `examples/deno_serve.ts`.
 *
 * The `compression` option of `upgrade()` comes from `WSTREAM_COMPRESSION`
 * so that the benchmark does not depend on the library's default: `1` →
 * `compression: true` (permessage-deflate with wstream's defaults: 12-bit
 * windows both ways, memLevel 5, threshold 64), `0` → `false`, unset → the
 * default. Under `Bun.serve` it goes to `bunServeOptions()` instead (Bun's
 * `perMessageDeflate`), `false` unless `WSTREAM_COMPRESSION=1`, as Bun's
 * native echo server (`bench/servers/bun_native.ts`) has it; `Deno.serve`
 * has no compression.
 *
 * `bench/echo_suite.ts` runs it as `wstream-bunserve` and
 * `wstream-denoserve`, and for the compressed chat rows
 * (`wstream-<runtime>-deflate`):
 * `PORT=9311 PLACEMENT=bunserve bun bench/servers/wstream_echo.ts`,
 * `PORT=9311 WSTREAM_COMPRESSION=1 deno run -A bench/servers/wstream_echo.ts`
 * (or `bun`, `node`). Prints `listening on <port>` once ready.
 *
 * @module
 */
import process from "node:process";
import { upgrade } from "../../mod.ts";
import { servePlaced } from "./_placement.ts";

const setting = process.env.WSTREAM_COMPRESSION;
if (setting !== undefined && setting !== "0" && setting !== "1") {
  throw new Error(`WSTREAM_COMPRESSION must be 0 or 1, not ${setting}`);
}
const options = setting === undefined ? {} : { compression: setting === "1" };

async function handler(request: Request): Promise<Response> {
  const { response, socket } = await upgrade(request, options);
  if (socket === null) return response; // Not a WebSocket upgrade: 4xx.
  socket.opened.then(async ({ readable, writable }) => {
    const writer = writable.getWriter();
    for await (const message of readable) await writer.write(message);
  }).catch(() => {
    // The connection failed (closed abnormally): nothing left to echo to.
  });
  return response;
}

servePlaced(handler, setting === "1");
