/**
 * Upgrading a request received by wstream's {@linkcode serve} to a
 * WebSocket connection.
 *
 * @module
 */

import { answerUpgrade } from "./handshake.ts";
import type { UpgradeOptions } from "./handshake.ts";
import { pendingUpgrades } from "./transports/_stream_socket.ts";
import { WebSocketConnection } from "./websocket_connection.ts";
import type { WebSocketConnectionOptions } from "./websocket_connection.ts";

/** Options of {@linkcode upgrade}: the handshake's and the connection's. */
export interface ServerUpgradeOptions extends UpgradeOptions {
  /**
   * The largest message accepted, in bytes; larger fails with 1009.
   *
   * @default {67108864} (64 MiB)
   */
  maxMessageSize?: number;
  /**
   * How long to wait, in milliseconds, for the client to answer our close
   * frame before closing the TCP connection.
   *
   * @default {5000}
   */
  closeTimeout?: number;
}

/** What {@linkcode upgrade} resolves with. */
export interface UpgradeResult {
  /**
   * The response the handler must return: the 101 answer when the upgrade
   * was accepted, else a 4xx with a plain-text reason.
   */
  response: Response;
  /**
   * The WebSocket connection, open once the handler returned `response`;
   * `null` when the upgrade was refused.
   */
  socket: WebSocketStreamLike | null;
}

/**
 * Answers a WebSocket upgrade request received by {@linkcode serve}.
 *
 * Validates the request with {@linkcode answerUpgrade} (method, `Upgrade`,
 * `Connection`, `Sec-WebSocket-Version`, `Sec-WebSocket-Key`, origin,
 * subprotocol). A refused request resolves with the 4xx response (400, 403,
 * 405 or 426, plain-text reason) and `socket: null`. An accepted one
 * resolves with the 101 response and a {@linkcode WebSocketConnection}
 * whose `opened` resolves after the handler returned that very response and
 * `serve` wrote it; if the handler returns any other response, `opened`
 * rejects and `closed` resolves with 1006.
 *
 * Bytes the client sent right after its request head are kept and read as
 * the connection's first frames.
 *
 * @param request A request received by wstream's {@linkcode serve}.
 * @param options Subprotocols, allowed origins, extra 101 headers, limits.
 * @returns The response to return from the handler and the socket.
 * @throws {TypeError} If an accepted request did not come from wstream's
 * `serve` (such as one from `Deno.serve` or `Bun.serve`, not supported yet),
 * or if `upgrade()` was already called for it or its handler returned.
 * @throws Whatever the `protocols` or `origin` callback throws.
 *
 * @example Accept upgrades and echo messages
 * ```ts
 * import { serve, upgrade } from "@wstream/wstream";
 *
 * const server = serve({ port: 0 }, async (request) => {
 *   const { response, socket } = await upgrade(request, {
 *     protocols: ["chat"],
 *     maxMessageSize: 1 << 20,
 *   });
 *   if (socket === null) return response; // refused: 400/403/405/426
 *   socket.opened.then(async ({ readable, writable }) => {
 *     const writer = writable.getWriter();
 *     for await (const message of readable) await writer.write(message);
 *   }).catch(() => {});
 *   return response;
 * });
 * await server.shutdown();
 * ```
 */
export async function upgrade(
  request: Request,
  options: ServerUpgradeOptions = {},
): Promise<UpgradeResult> {
  const answer = await answerUpgrade(request, options);
  if (!answer.accepted) return { response: answer.response, socket: null };
  const pending = pendingUpgrades.get(request);
  if (pending === undefined) {
    throw new TypeError(
      "upgrade() only works on requests received by wstream's serve(): " +
        "Deno.serve/Bun.serve integration comes later",
    );
  }
  if (pending.response !== null || pending.settled) {
    throw new TypeError(
      pending.settled
        ? "upgrade() was called after the handler returned: await it inside the handler"
        : "upgrade() was already called for this request",
    );
  }
  const connectionOptions: WebSocketConnectionOptions = {
    role: "server",
    url: request.url.replace(/^http/, "ws"),
    protocol: answer.protocol,
    extensions: answer.extensions,
    head: pending.head,
  };
  if (options.maxMessageSize !== undefined) {
    connectionOptions.maxMessageSize = options.maxMessageSize;
  }
  if (options.closeTimeout !== undefined) {
    connectionOptions.closeTimeout = options.closeTimeout;
  }
  const socket = new WebSocketConnection(pending.transport, connectionOptions);
  pending.response = answer.response;
  return { response: answer.response, socket };
}
