/**
 * {@linkcode connectTcp} and {@linkcode listenTcp}: TCP and TLS sockets as
 * byte streams, with the transport of the runtime they run on
 * (`transports/deno.ts`, `transports/bun.ts`, `transports/node.ts`).
 *
 * @module
 */

import { getBun, getDeno } from "./_runtime_types.ts";
import { connectBun, listenBun } from "./bun.ts";
import { connectDeno, listenDeno } from "./deno.ts";
import { connectNode, listenNode } from "./node.ts";
import type {
  TcpConnection,
  TcpConnectOptions,
  TcpListener,
  TcpListenOptions,
} from "./tcp_connection.ts";

/**
 * Opens a TCP (or, with `tls`, TLS) connection with the transport of the
 * runtime it runs on: {@linkcode connectDeno} on Deno,
 * {@linkcode connectBun} on Bun, {@linkcode connectNode} elsewhere.
 *
 * @param options Where to connect, and the TLS settings.
 * @returns The connection as a pair of byte streams.
 * @throws {Error} The connection error, such as a refused connection or a
 * certificate that does not verify.
 *
 * @example Connect to a local listener on any runtime
 * ```ts
 * import { connectTcp, listenTcp } from "@wstream/wstream/transports";
 * import assert from "node:assert/strict";
 *
 * const listener = listenTcp({ port: 0 }, (connection) => connection.close());
 * const client = await connectTcp({ port: listener.addr.port });
 * const { done } = await client.readable.getReader().read();
 * assert.equal(done, true); // The server closed it.
 * client.close();
 * listener.close();
 * await listener.closed;
 * ```
 */
export function connectTcp(options: TcpConnectOptions): Promise<TcpConnection> {
  if (getDeno() !== undefined) return connectDeno(options);
  if (getBun() !== undefined) return connectBun(options);
  return connectNode(options);
}

/**
 * Listens for TCP (or, with `cert` and `key`, TLS) connections with the
 * transport of the runtime it runs on: {@linkcode listenDeno} on Deno,
 * {@linkcode listenBun} on Bun, {@linkcode listenNode} elsewhere.
 *
 * @param options Where to listen, and the TLS certificate.
 * @param onConnection Called once per accepted connection; it owns the
 * connection and must close it.
 * @returns The listener; its `addr.port` is the actual port.
 * @throws {TypeError} If only one of `cert` and `key` is given.
 * @throws {Error} The listen error, such as "address in use".
 *
 * @example Echo bytes on an ephemeral port
 * ```ts
 * import { connectTcp, listenTcp } from "@wstream/wstream/transports";
 * import assert from "node:assert/strict";
 *
 * const listener = listenTcp({ port: 0 }, (connection) => {
 *   connection.readable.pipeTo(connection.writable).catch(() => {});
 * });
 * const client = await connectTcp({ port: listener.addr.port });
 * await client.writable.getWriter().write(new Uint8Array([1, 2]));
 * const { value } = await client.readable.getReader().read();
 * assert.deepEqual(value, new Uint8Array([1, 2]));
 * client.close();
 * listener.close();
 * await listener.closed;
 * ```
 */
export function listenTcp(
  options: TcpListenOptions,
  onConnection: (connection: TcpConnection) => void,
): TcpListener {
  if (getDeno() !== undefined) return listenDeno(options, onConnection);
  if (getBun() !== undefined) return listenBun(options, onConnection);
  return listenNode(options, onConnection);
}
