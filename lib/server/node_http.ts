/**
 * WebSocket upgrades (and, optionally, plain requests) on an existing
 * `node:http` or `node:https` server, with the same handler as
 * {@linkcode serve}: works on Node, Deno and Bun, whose `node:http` servers
 * all emit the `upgrade` event with the raw socket.
 *
 * @module
 */

import {
  answer,
  type ExchangeContext,
  runExchange,
  textResponse,
} from "./_http_exchange.ts";
import type { ServeHandler } from "../http/handler.ts";
import type { NodeSocketLike } from "../transports/_runtime_types.ts";
import type { ServerConnectionDefaults } from "../connection/_server_defaults.ts";
import {
  type CompressionOptions,
  resolveServerCompression,
} from "../extensions/compression_options.ts";
import { nodeConnection } from "../transports/node.ts";
import type { TcpConnection } from "../transports/tcp_connection.ts";

export type { NodeSocketLike } from "../transports/_runtime_types.ts";

/**
 * The part of a `node:http` `IncomingMessage` wstream reads. Any
 * `IncomingMessage` fits.
 *
 * @example Any node:http IncomingMessage fits
 * ```ts
 * import type { NodeIncomingMessageLike } from "@wstream/wstream";
 * import { IncomingMessage } from "node:http";
 * import { Socket } from "node:net";
 * import assert from "node:assert/strict";
 *
 * const message: NodeIncomingMessageLike = new IncomingMessage(new Socket());
 * assert.deepEqual(message.rawHeaders, []);
 * ```
 */
export interface NodeIncomingMessageLike {
  /** The request method, such as `"GET"`. */
  readonly method?: string | undefined;
  /** The request target, such as `"/chat?room=1"`. */
  readonly url?: string | undefined;
  /** Header names and values, alternating, as received. */
  readonly rawHeaders: string[];
  /** The socket; `encrypted` is `true` for `node:https` servers. */
  readonly socket: {
    readonly encrypted?: boolean;
    readonly localAddress?: string | undefined;
    readonly localPort?: number | undefined;
    readonly remoteAddress?: string | undefined;
    readonly remotePort?: number | undefined;
  };
  /** The request body, chunk by chunk. */
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array>;
}

/**
 * The part of a `node:http` `ServerResponse` wstream writes to. Any
 * `ServerResponse` fits.
 *
 * @example Any node:http ServerResponse fits
 * ```ts
 * import type { NodeServerResponseLike } from "@wstream/wstream";
 * import { IncomingMessage, ServerResponse } from "node:http";
 * import { Socket } from "node:net";
 * import assert from "node:assert/strict";
 *
 * const response: NodeServerResponseLike = new ServerResponse(new IncomingMessage(new Socket()));
 * response.statusCode = 404;
 * assert.equal(response.headersSent, false);
 * ```
 */
export interface NodeServerResponseLike {
  /** The status to send. */
  statusCode: number;
  /** The reason phrase to send. */
  statusMessage: string;
  /** Whether the head was written already. */
  readonly headersSent: boolean;
  /** Sets a header of the head to send. */
  setHeader(name: string, value: string | string[]): unknown;
  /** Writes body bytes; `false` when the caller should wait for `drain`. */
  write(chunk: Uint8Array): boolean;
  /** Ends the response. */
  end(): unknown;
  /** Closes the connection at once. */
  destroy(error?: Error): unknown;
  /** Listens once to `drain` (writes may go on) or `close`. */
  once(event: "drain" | "close", listener: () => void): unknown;
  /** Removes a listener. */
  removeListener(event: string, listener: () => void): unknown;
}

/**
 * The part of a `node:http` / `node:https` `Server` that
 * {@linkcode attachToNodeServer} uses. Any such `Server` fits.
 *
 * @example Attach to a node:http server, then detach
 * ```ts
 * import { attachToNodeServer, type NodeHttpServerLike, upgrade } from "@wstream/wstream";
 * import * as http from "node:http";
 * import assert from "node:assert/strict";
 *
 * const server = http.createServer();
 * const like: NodeHttpServerLike = server; // node:https servers fit too
 * const detach = attachToNodeServer(like, async (request) => (await upgrade(request)).response);
 * assert.equal(server.listenerCount("upgrade"), 1);
 * detach();
 * assert.equal(server.listenerCount("upgrade"), 0);
 * ```
 */
export interface NodeHttpServerLike {
  /** Adds an event listener (`upgrade`, `request`). */
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  /** Removes an event listener. */
  removeListener(
    event: string,
    listener: (...args: unknown[]) => void,
  ): unknown;
}

/**
 * Options of {@linkcode attachToNodeServer}.
 *
 * @example Let the handler answer plain requests too
 * ```ts
 * import { attachToNodeServer, type AttachToNodeServerOptions, upgrade } from "@wstream/wstream";
 * import * as http from "node:http";
 * import assert from "node:assert/strict";
 *
 * const options: AttachToNodeServerOptions = { handleRequests: true, maxMessageSize: 1 << 20, pingInterval: 20_000 };
 * const server = http.createServer();
 * const detach = attachToNodeServer(server, async (request) => (await upgrade(request)).response, options);
 * assert.equal(server.listenerCount("request"), 1);
 * detach();
 * ```
 */
export interface AttachToNodeServerOptions {
  /**
   * Also answer the server's plain requests (its `request` event) with the
   * handler, writing its `Response` to the `ServerResponse`. Leave it off
   * when the server has its own request handler.
   *
   * @default {false}
   */
  handleRequests?: boolean;
  /**
   * The largest WebSocket message accepted, in bytes, for upgrades that do
   * not set their own.
   *
   * @default {16777216} (16 MiB)
   */
  maxMessageSize?: number;
  /**
   * The most frames one received WebSocket message may arrive in, for
   * upgrades that do not set their own; more fail with 1009. 0: no limit
   * (a fragmented message's memory follows its bytes, not its frames).
   *
   * @default {0}
   */
  maxFragments?: number;
  /**
   * Close a WebSocket with 1001 after this many milliseconds without
   * receiving anything, for upgrades that do not set their own; 0: never.
   *
   * @default {120000}
   */
  idleTimeout?: number;
  /**
   * Send a keepalive ping every this many milliseconds, for upgrades that
   * do not set their own; 0 disables keepalive.
   *
   * @default {30000}
   */
  pingInterval?: number;
  /**
   * How long after a keepalive ping the peer must have sent something, in
   * milliseconds.
   *
   * @default {pingInterval}
   */
  pongTimeout?: number;
  /**
   * Give up on a WebSocket peer that stopped reading, for upgrades that do
   * not set their own: when our writes to it made no progress for this many
   * milliseconds, it is sent a 1008 close frame ("Write stalled: the peer
   * is not reading") behind the stuck bytes, and dropped if it has not
   * finished the close handshake `closeTimeout` (5 s) later. Separate from
   * keepalive, which is for peers that send nothing: while writes are
   * stalled a missing pong is not held against the peer. 0 disables it.
   *
   * @default {30000}
   */
  writeStallTimeout?: number;
  /**
   * permessage-deflate for upgrades that do not set their own
   * `compression` (see {@linkcode upgrade}): `true` with python-websockets'
   * memory-conscious defaults, an object of {@linkcode CompressionOptions},
   * or `false`.
   *
   * @default {true}
   */
  compression?: boolean | CompressionOptions;
  /**
   * Turns an error thrown by the handler into the response sent.
   *
   * @default {undefined} the error is logged and a plain-text 500 is sent
   */
  onError?: (error: unknown) => Response | Promise<Response>;
}

const DEFAULT_MAX_MESSAGE_SIZE = 16 * 1024 * 1024;
const DEFAULT_IDLE_TIMEOUT = 120_000;
const DEFAULT_PING_INTERVAL = 30_000;
const DEFAULT_WRITE_STALL_TIMEOUT = 30_000;

const STATUS_TEXT_500 = "Internal Server Error";

/**
 * Handles WebSocket upgrades of a `node:http` (or `node:https`) server with
 * a {@linkcode serve}-style handler, on Node, Deno or Bun.
 *
 * For each `upgrade` event, the `IncomingMessage` becomes a `Request`
 * (method, full URL with `https:` on a TLS server, headers as received, no
 * body) and the socket a {@linkcode TcpConnection}; the handler runs as
 * under {@linkcode serve}: {@linkcode upgrade} accepts it (the 101 is
 * written, the bytes that came with the head are the WebSocket's first
 * input), any other response is written with `Connection: close`. With
 * `handleRequests`, plain requests go to the handler too, their bodies as
 * `request.body`, and its response (streamed) goes to the
 * `ServerResponse`.
 *
 * The server's own limits apply to the request head (`maxHeaderSize`,
 * `headersTimeout`, `maxConnections`); the WebSocket defaults given here
 * apply to upgrades that do not set their own.
 *
 * @param server A `node:http` or `node:https` server.
 * @param handler Answers each request.
 * @param options Plain requests, WebSocket defaults, error handling.
 * @returns A function that removes the listeners again (WebSockets already
 * open stay open).
 * @throws {RangeError} If a size or time is out of range.
 *
 * @example Add WebSockets to a node:http server
 * ```ts
 * import { attachToNodeServer, upgrade } from "@wstream/wstream";
 * import * as http from "node:http";
 * import type { AddressInfo } from "node:net";
 *
 * const server = http.createServer((_request, response) => response.end("hi"));
 * const detach = attachToNodeServer(server, async (request) => {
 *   const { response, socket } = await upgrade(request);
 *   socket?.opened.then(async ({ readable, writable }) => {
 *     const writer = writable.getWriter();
 *     for await (const message of readable) await writer.write(message);
 *   }).catch(() => {});
 *   return response;
 * });
 * await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
 * console.log((server.address() as AddressInfo).port);
 * detach();
 * server.close();
 * ```
 */
export function attachToNodeServer(
  server: NodeHttpServerLike,
  handler: ServeHandler,
  options: AttachToNodeServerOptions = {},
): () => void {
  const pingInterval = checkTime(
    "pingInterval",
    options.pingInterval ?? DEFAULT_PING_INTERVAL,
  );
  const defaults: ServerConnectionDefaults = {
    maxMessageSize: checkSize(
      options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE,
    ),
    maxFragments: checkCount("maxFragments", options.maxFragments ?? 0),
    idleTimeout: checkTime(
      "idleTimeout",
      options.idleTimeout ?? DEFAULT_IDLE_TIMEOUT,
    ),
    pingInterval,
    pongTimeout: checkTime("pongTimeout", options.pongTimeout ?? pingInterval),
    writeStallTimeout: checkTime(
      "writeStallTimeout",
      options.writeStallTimeout ?? DEFAULT_WRITE_STALL_TIMEOUT,
    ),
    // Checked now (RangeError), run by upgrade().
    compression: options.compression ?? true,
  };
  resolveServerCompression(defaults.compression);
  const context: ExchangeContext = {
    handler,
    onError: options.onError,
    defaults,
    shuttingDown: () => false,
    opened: () => {},
  };

  const onUpgrade = (
    message: NodeIncomingMessageLike,
    socket: NodeSocketLike,
    head: Uint8Array,
  ): void => {
    let connection: TcpConnection;
    try {
      connection = nodeConnection(socket);
    } catch {
      socket.destroy();
      return;
    }
    const rest = Uint8Array.prototype.slice.call(head ?? new Uint8Array(0));
    let request: Request;
    try {
      request = toRequest(message, false);
    } catch (error) {
      answer(
        connection,
        textResponse(400, (error as Error).message),
        false,
        context,
      ).catch(() => connection.close());
      return;
    }
    runExchange(connection, request, rest, context).catch(() =>
      connection.close()
    );
  };

  const onRequest = (
    message: NodeIncomingMessageLike,
    response: NodeServerResponseLike,
  ): void => {
    respond(message, response, context).catch(() => response.destroy());
  };

  // Node calls them with what the `NodeHttpServerLike` docs say.
  const upgradeListener = onUpgrade as (...args: unknown[]) => void;
  const requestListener = onRequest as (...args: unknown[]) => void;
  server.on("upgrade", upgradeListener);
  if (options.handleRequests === true) server.on("request", requestListener);
  let attached = true;
  return (): void => {
    if (!attached) return;
    attached = false;
    server.removeListener("upgrade", upgradeListener);
    server.removeListener("request", requestListener);
  };
}

/** Answers a plain request through the `ServerResponse`. */
async function respond(
  message: NodeIncomingMessageLike,
  target: NodeServerResponseLike,
  context: ExchangeContext,
): Promise<void> {
  let response: Response;
  try {
    const request = toRequest(message, true);
    try {
      response = await context.handler(request, {
        remoteAddr: {
          transport: "tcp",
          hostname: message.socket.remoteAddress ?? "",
          port: message.socket.remotePort ?? 0,
        },
      });
      if (!(response instanceof Response) || response.status < 200) {
        throw new TypeError(
          "The handler must return a Response with a status of 200 or more",
        );
      }
    } catch (error) {
      response = await errorFor(error, context);
    }
  } catch (error) {
    response = textResponse(400, (error as Error).message);
  }
  target.statusCode = response.status;
  if (response.statusText !== "") target.statusMessage = response.statusText;
  for (const [name, value] of response.headers) {
    if (name !== "set-cookie") target.setHeader(name, value);
  }
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) target.setHeader("set-cookie", cookies);
  if (response.body === null || message.method === "HEAD") {
    await response.body?.cancel().catch(() => {});
    target.end();
    return;
  }
  const reader = response.body.getReader();
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!target.write(value)) await drained(target);
    }
  } catch (error) {
    if (target.headersSent) throw error; // Cut the response short.
    target.statusCode = 500;
    target.setHeader("content-type", "text/plain; charset=utf-8");
    target.write(new TextEncoder().encode(STATUS_TEXT_500));
    console.error(error);
  } finally {
    reader.releaseLock();
  }
  target.end();
}

function drained(target: NodeServerResponseLike): Promise<void> {
  return new Promise((resolve, reject) => {
    const onDrain = (): void => {
      target.removeListener("close", onClose);
      resolve();
    };
    const onClose = (): void => {
      target.removeListener("drain", onDrain);
      reject(new Error("The client went away"));
    };
    target.once("drain", onDrain);
    target.once("close", onClose);
  });
}

async function errorFor(
  error: unknown,
  context: ExchangeContext,
): Promise<Response> {
  if (context.onError !== undefined) {
    try {
      const response = await context.onError(error);
      if (response instanceof Response && response.status >= 200) {
        return response;
      }
    } catch (nested) {
      console.error(nested);
    }
  } else {
    console.error(error);
  }
  return textResponse(500, STATUS_TEXT_500);
}

/**
 * Builds a `Request` from an `IncomingMessage`.
 *
 * @throws {TypeError} With a reason fit for a 400 body.
 */
function toRequest(
  message: NodeIncomingMessageLike,
  withBody: boolean,
): Request {
  const headers = new Headers();
  const raw = message.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    try {
      headers.append(raw[i]!, raw[i + 1]!);
    } catch {
      throw new TypeError(`Malformed header ${JSON.stringify(raw[i])}`);
    }
  }
  const scheme = message.socket.encrypted === true ? "https" : "http";
  const target = message.url ?? "/";
  let url: string;
  if (target.startsWith("/")) {
    const socket = message.socket;
    const host = headers.get("host") ||
      `${socket.localAddress ?? "localhost"}:${socket.localPort ?? ""}`;
    url = `${scheme}://${host}${target}`;
  } else if (/^https?:\/\/[^/?#]/i.test(target)) {
    url = target;
  } else {
    throw new TypeError(
      `Unsupported request target ${JSON.stringify(target)}: use a path`,
    );
  }
  const method = message.method ?? "GET";
  const init: RequestInit & { duplex?: "half" } = { method, headers };
  if (withBody && method !== "GET" && method !== "HEAD") {
    const chunks = message[Symbol.asyncIterator]();
    init.body = new ReadableStream<Uint8Array>({
      async pull(controller): Promise<void> {
        const { done, value } = await chunks.next();
        if (done) controller.close();
        else controller.enqueue(new Uint8Array(value));
      },
      async cancel(): Promise<void> {
        await chunks.return?.();
      },
    }, { highWaterMark: 0 });
    init.duplex = "half";
  }
  try {
    return new Request(url, init);
  } catch {
    throw new TypeError(`Invalid request URL ${JSON.stringify(url)}`);
  }
}

function checkTime(name: string, value: number): number {
  if (!(typeof value === "number" && value >= 0 && value <= 2 ** 31 - 1)) {
    throw new RangeError(
      `Invalid ${name} ${value}: pass milliseconds >= 0`,
    );
  }
  return value;
}

function checkSize(value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(
      `Invalid maxMessageSize ${value}: pass a positive integer`,
    );
  }
  return value;
}

/** Checks a count limit: an integer >= 0, else a RangeError. */
function checkCount(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`Invalid ${name} ${value}: pass an integer >= 0`);
  }
  return value;
}
