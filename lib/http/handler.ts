/**
 * The request handler type every wstream placement takes.
 *
 * @module
 */

/**
 * What a server knows of a request besides the request itself: the second
 * argument of a {@linkcode ServeHandler}, in the shape of `Deno.serve`'s
 * `ServeHandlerInfo` (so one handler serves both).
 *
 * @example Greet the client by address
 * ```ts
 * import { serve, type ServeHandlerInfo } from "@wstream/wstream";
 * import assert from "node:assert/strict";
 *
 * const greet = (_request: Request, info: ServeHandlerInfo) => new Response(`hello ${info.remoteAddr.hostname}`);
 * const server = serve({ port: 0 }, greet);
 * const { port } = await server.listening;
 * assert.equal(await (await fetch(`http://127.0.0.1:${port}/`)).text(), "hello 127.0.0.1");
 * await server.shutdown();
 * ```
 */
export interface ServeHandlerInfo {
  /**
   * The address of the client (its IP address and port), in the shape of
   * `Deno.NetAddr` (wstream's servers always report `"tcp"`).
   */
  remoteAddr: { transport: "tcp" | "udp"; hostname: string; port: number };
}

/**
 * Handles one request. Return the response of `upgrade()` to switch
 * to WebSocket, or any other response to answer plain HTTP. `info` carries
 * the client's address on every placement (wstream's `serve()`,
 * `attachToNodeServer()`, `Bun.serve` with `bunServeOptions()`, and
 * `Deno.serve`, which passes its own `info`).
 *
 * @example A handler that greets the client by address
 * ```ts
 * import type { ServeHandler } from "@wstream/wstream";
 *
 * const handler: ServeHandler = (_request, info) =>
 *   new Response(`hello ${info.remoteAddr.hostname}`);
 * ```
 */
export type ServeHandler = (
  request: Request,
  info: ServeHandlerInfo,
) => Response | Promise<Response>;
