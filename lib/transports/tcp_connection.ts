/**
 * The types every wstream TCP transport shares: a connection, a listener,
 * their addresses and options.
 *
 * @module
 */

/**
 * A TCP endpoint address.
 *
 * @example Format an address for a log line
 * ```ts
 * import type { NetAddr } from "@wstream/wstream/transports";
 * import assert from "node:assert/strict";
 *
 * const format = (addr: NetAddr): string => `${addr.hostname}:${addr.port}`;
 * assert.equal(format({ hostname: "127.0.0.1", port: 8080 }), "127.0.0.1:8080");
 * ```
 */
export interface NetAddr {
  /** The IP address, such as `"127.0.0.1"`. */
  hostname: string;
  /** The TCP port. */
  port: number;
}

/**
 * A TCP (or TLS) connection as a pair of byte streams (the
 * `ByteStreamPair` a `WebSocketConnection` runs over) plus its addresses
 * and a `closed` promise. Deno, Bun and Node transports all keep this
 * contract:
 *
 * - `readable` is pull-based: the socket is read only while a consumer
 *   reads, so a consumer that stops reading stops the peer (TCP flow
 *   control). Every chunk is a fresh `Uint8Array` the consumer owns and may
 *   mutate. It closes at EOF and errors on a socket error.
 * - `writable.write()` resolves once every byte was handed to the kernel
 *   (short writes are retried), so awaiting it is backpressure. Writes after
 *   the socket is gone reject.
 * - Closing `writable` then cancelling `readable` (or reaching its end)
 *   is a lingering close (RFC 9112 §9.6): FIN is sent at once, then what
 *   the peer still sends is read and discarded until it closes too, for at
 *   most 2 s and 1 MiB, so that bytes in flight are not answered with a TCP
 *   reset that would destroy our last bytes (a close frame, an HTTP
 *   response) before the peer reads them. `readable.cancel()` resolves once
 *   the socket is closed.
 * - Aborting `writable`, cancelling `readable` while `writable` is open,
 *   or calling {@linkcode TcpConnection.close} closes the socket at once.
 *   All are idempotent. Per the Streams standard, `writable.abort()` waits
 *   for a write in flight; `close()` and `readable.cancel()` do not.
 *
 * @example Connect, read the addresses, close
 * ```ts
 * import { connectTcp, listenTcp, type TcpConnection } from "@wstream/wstream/transports";
 * import assert from "node:assert/strict";
 *
 * const listener = listenTcp({ port: 0 }, (connection) => connection.close());
 * const connection: TcpConnection = await connectTcp({ port: listener.addr.port });
 * assert.equal(connection.remoteAddr.port, listener.addr.port);
 * connection.close();
 * await connection.closed;
 * listener.close();
 * await listener.closed;
 * ```
 */
export interface TcpConnection {
  /** The bytes received, one fresh chunk per socket read. */
  readonly readable: ReadableStream<Uint8Array>;
  /** The bytes to send. */
  readonly writable: WritableStream<Uint8Array>;
  /** The local address of the socket. */
  readonly localAddr: NetAddr;
  /** The peer's address. */
  readonly remoteAddr: NetAddr;
  /**
   * Resolves once this side's socket is closed: by `close()`, at the end
   * of a lingering close, or by the runtime after a reset. Never rejects.
   */
  readonly closed: Promise<void>;
  /** Closes the socket now, interrupting pending reads and writes. */
  close(): void;
}

/**
 * A listening TCP socket.
 *
 * @example Wait for the bound port, then stop
 * ```ts
 * import { listenTcp, type TcpListener } from "@wstream/wstream/transports";
 * import assert from "node:assert/strict";
 *
 * const listener: TcpListener = listenTcp({ port: 0 }, (connection) => connection.close());
 * const addr = await listener.listening; // the actual port, once bound
 * assert.notEqual(addr.port, 0);
 * listener.close();
 * await listener.closed;
 * ```
 */
export interface TcpListener {
  /**
   * The address it listens on, with the actual port when 0 was asked. On
   * Node, which binds asynchronously, it is the requested address until
   * `listening` resolves.
   */
  readonly addr: NetAddr;
  /**
   * Resolves with the actual address once the socket is bound (at once on
   * Deno and Bun); rejects if listening failed or the listener was closed
   * first.
   */
  readonly listening: Promise<NetAddr>;
  /**
   * Settles once the listener stopped: resolves after
   * {@linkcode TcpListener.close}, rejects if accepting failed for good.
   */
  readonly closed: Promise<void>;
  /** Stops accepting connections; accepted ones stay open. Idempotent. */
  close(): void;
}

/**
 * Options of the transports' `listen*` functions.
 *
 * @example Listen on loopback, on a free port
 * ```ts
 * import { listenTcp, type TcpListenOptions } from "@wstream/wstream/transports";
 * import assert from "node:assert/strict";
 *
 * // Add `cert` and `key` (PEM) to speak TLS.
 * const options: TcpListenOptions = { hostname: "127.0.0.1", port: 0 };
 * const listener = listenTcp(options, (connection) => connection.close());
 * assert.equal((await listener.listening).hostname, "127.0.0.1");
 * listener.close();
 * await listener.closed;
 * ```
 */
export interface TcpListenOptions {
  /**
   * The server's certificate chain, PEM. With `key`, the listener speaks
   * TLS; give both or neither.
   *
   * @default {undefined} plain TCP
   */
  cert?: string;
  /**
   * The private key of `cert`, PEM.
   *
   * @default {undefined} plain TCP
   */
  key?: string;
  /**
   * The interface to listen on.
   *
   * @default {"127.0.0.1"}
   */
  hostname?: string;
  /**
   * The port; 0 picks a free ephemeral port (read it from `addr.port`).
   *
   * @default {0}
   */
  port?: number;
  /**
   * Let several listeners (in several processes) bind the same port, the
   * kernel spreading new connections among them (`SO_REUSEPORT`): Linux,
   * on Deno (`Deno.listen({ reusePort })`, with `--unstable-net`), Bun (`Bun.listen({ reusePort })`)
   * and Node 22.12+ (`server.listen({ reusePort })`). Elsewhere the runtime
   * ignores it or throws.
   *
   * @default {false}
   */
  reusePort?: boolean;
}

/**
 * Options of the transports' `connect*` functions.
 *
 * @example Connect to a local listener
 * ```ts
 * import { connectTcp, listenTcp, type TcpConnectOptions } from "@wstream/wstream/transports";
 *
 * const listener = listenTcp({ port: 0 }, (connection) => connection.close());
 * const options: TcpConnectOptions = { hostname: "127.0.0.1", port: listener.addr.port };
 * const connection = await connectTcp(options);
 * connection.close();
 * listener.close();
 * await listener.closed;
 * ```
 */
export interface TcpConnectOptions {
  /**
   * The host to connect to.
   *
   * @default {"127.0.0.1"}
   */
  hostname?: string;
  /** The port to connect to. */
  port: number;
  /**
   * Speak TLS: the connect functions resolve once the TLS handshake is done
   * and the server's certificate verified (they reject otherwise).
   *
   * @default {undefined} plain TCP
   */
  tls?: TlsConnectOptions;
}

/**
 * The TLS part of {@linkcode TcpConnectOptions}.
 *
 * @example Trust a private CA and check the name the certificate carries
 * ```ts
 * import type { TcpConnectOptions, TlsConnectOptions } from "@wstream/wstream/transports";
 * import assert from "node:assert/strict";
 *
 * const privateCa = "-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n"; // your CA, PEM
 * const tls: TlsConnectOptions = { caCerts: [privateCa], serverName: "ws.internal" };
 * const options: TcpConnectOptions = { hostname: "10.0.0.5", port: 443, tls };
 * assert.equal(options.tls?.serverName, "ws.internal"); // pass to connectTcp(options)
 * ```
 */
export interface TlsConnectOptions {
  /**
   * Certificates (PEM) trusted as roots in addition to the runtime's
   * default ones: a private CA, or a self-signed server certificate.
   *
   * @default {undefined} only the runtime's default roots
   */
  caCerts?: string[];
  /**
   * The name sent in SNI and checked against the server's certificate.
   *
   * @default {hostname}
   */
  serverName?: string;
}
