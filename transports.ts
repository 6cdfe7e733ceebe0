/**
 * Low level: the TCP and TLS byte transports under wstream's `serve()` and
 * `connect()`, one per runtime ({@linkcode listenDeno} / {@linkcode connectDeno},
 * {@linkcode listenBun} / {@linkcode connectBun}, {@linkcode listenNode} /
 * {@linkcode connectNode}) and {@linkcode listenTcp} / {@linkcode connectTcp}
 * that pick the runtime's own. Each connection is a
 * {@linkcode TcpConnection}: `readable` / `writable` byte streams that a
 * `WebSocketConnection` can run over.
 *
 * @example Echo bytes on an ephemeral port
 * ```ts
 * import { connectTcp, listenTcp } from "@wstream/wstream/transports";
 * import assert from "node:assert/strict";
 *
 * const listener = listenTcp({ port: 0 }, (connection) => {
 *   connection.readable.pipeTo(connection.writable).catch(() => {});
 * });
 * const client = await connectTcp({ port: (await listener.listening).port });
 * const writer = client.writable.getWriter();
 * await writer.write(new TextEncoder().encode("ping"));
 * const { value } = await client.readable.getReader().read();
 * assert.equal(new TextDecoder().decode(value), "ping");
 * client.close();
 * listener.close();
 * await listener.closed;
 * ```
 *
 * @module
 */
export * from "./lib/transports/tcp.ts";
export * from "./lib/transports/tcp_connection.ts";
export * from "./lib/transports/deno.ts";
export * from "./lib/transports/bun.ts";
export * from "./lib/transports/node.ts";
