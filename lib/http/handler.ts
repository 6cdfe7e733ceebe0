/**
 * The request handler type every wstream placement takes.
 *
 * @module
 */

/**
 * What a server knows of a request besides the request itself: the second
 * argument of a {@linkcode ServeHandler}, in the shape of `Deno.serve`'s
 * `ServeHandlerInfo` (so one handler serves both).
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
