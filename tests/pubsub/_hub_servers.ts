/**
 * Servers and clients for the hub tests: every placement the runtime has,
 * each subscribing its upgraded sockets to a {@linkcode Hub}. Private to
 * the tests.
 *
 * @module
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import {
  attachToNodeServer,
  bunServeOptions,
  connect,
  serve,
  upgrade,
} from "../../mod.ts";
import type {
  CompressionOptions,
  Hub,
  WebSocketMessage,
  WebSocketStreamLike,
} from "../../mod.ts";
import { timeout } from "../_test_utils.ts";
import { Bun, Deno, runtime } from "../_runtimes.ts";
export { Bun, Deno, runtime };

/** A running server whose sockets subscribe to `topic` of a hub. */
export interface HubServer {
  port: number;
  /** The server-side sockets, in order of upgrade. */
  sockets: WebSocketStreamLike[];
  stop(): Promise<void>;
}

/** Options of a hub server. */
export interface HubServerOptions {
  topic?: string;
  compression?: boolean | CompressionOptions;
  closeTimeout?: number;
}

type Handler = (request: Request) => Promise<Response>;

function hubHandler(
  hub: Hub,
  options: HubServerOptions,
  sockets: WebSocketStreamLike[],
): Handler {
  return async (request) => {
    const upgradeOptions: Parameters<typeof upgrade>[1] = {};
    if (options.compression !== undefined) {
      upgradeOptions.compression = options.compression;
    }
    if (options.closeTimeout !== undefined) {
      upgradeOptions.closeTimeout = options.closeTimeout;
    }
    const { response, socket } = await upgrade(request, upgradeOptions);
    if (socket === null) return response;
    sockets.push(socket);
    hub.subscribe(socket, options.topic ?? "room");
    socket.opened.then(async ({ readable }) => {
      for await (const _ of readable) { /* discard */ }
    }).catch(() => {});
    return response;
  };
}

/** The placements of the current runtime. */
export const placements: {
  name: string;
  skip: string | false;
  start(hub: Hub, options?: HubServerOptions): Promise<HubServer>;
}[] = [
  {
    name: "serve()",
    skip: false,
    start: async (hub, options = {}) => {
      const sockets: WebSocketStreamLike[] = [];
      const server = serve(
        { port: 0, hostname: "127.0.0.1" },
        hubHandler(hub, options, sockets),
      );
      const addr = await server.listening;
      return { port: addr.port, sockets, stop: () => server.shutdown() };
    },
  },
  {
    name: "attachToNodeServer",
    skip: false,
    start: async (hub, options = {}) => {
      const sockets: WebSocketStreamLike[] = [];
      const server = http.createServer();
      const detach = attachToNodeServer(
        server,
        hubHandler(hub, options, sockets),
      );
      await new Promise<void>((resolve) =>
        server.listen(0, "127.0.0.1", resolve)
      );
      return {
        port: (server.address() as AddressInfo).port,
        sockets,
        stop: async () => {
          detach();
          server.closeAllConnections?.();
          await new Promise<void>((resolve) => server.close(() => resolve()));
        },
      };
    },
  },
  {
    name: "Deno.serve",
    skip: Deno === undefined ? `needs Deno, not ${runtime}` : false,
    start: (hub, options = {}) => {
      const sockets: WebSocketStreamLike[] = [];
      const server = Deno!.serve(
        { port: 0, hostname: "127.0.0.1", onListen: () => {} },
        hubHandler(hub, options, sockets),
      );
      return Promise.resolve({
        port: server.addr.port,
        sockets,
        stop: () => server.shutdown(),
      });
    },
  },
  {
    name: "Bun.serve",
    skip: Bun === undefined ? `needs Bun, not ${runtime}` : false,
    start: (hub, options = {}) => {
      const sockets: WebSocketStreamLike[] = [];
      const server = Bun!.serve({
        port: 0,
        hostname: "127.0.0.1",
        ...bunServeOptions(hubHandler(hub, options, sockets)),
      });
      return Promise.resolve({
        port: server.port,
        sockets,
        stop: () => {
          server.stop(true);
          return Promise.resolve();
        },
      });
    },
  },
];

/** A client and a reader of its messages. */
export interface Client {
  socket: WebSocketStreamLike;
  reader: ReadableStreamDefaultReader<WebSocketMessage>;
  writer: WritableStreamDefaultWriter<string | BufferSource>;
  extensions: string;
  /** The next message (fails after 5 s). */
  next(): Promise<WebSocketMessage>;
}

/** Connects `count` clients; resolves once the server has their sockets. */
export async function connectClients(
  server: HubServer,
  count: number,
  options: Parameters<typeof connect>[1] = {},
): Promise<Client[]> {
  const clients: Client[] = [];
  for (let i = 0; i < count; i++) {
    const socket = await connect(`ws://127.0.0.1:${server.port}/`, options);
    const { readable, writable, extensions } = await socket.opened;
    const reader = readable.getReader();
    clients.push({
      socket,
      reader,
      writer: writable.getWriter(),
      extensions,
      next: async () => {
        const { done, value } = await timeout(reader.read(), 5000, "a message");
        if (done) throw new Error("readable ended");
        return value;
      },
    });
  }
  // The server-side sockets are open once the clients are (codec), or soon
  // after (native).
  await timeout(
    (async () => {
      while (server.sockets.length < count) await tick();
      for (const socket of server.sockets) await socket.opened;
    })(),
    5000,
    "server sockets",
  );
  return clients;
}

/** Closes clients, ignoring errors. */
export function closeAll(clients: readonly Client[]): void {
  for (const client of clients) {
    try {
      client.socket.close();
    } catch {
      // Closed.
    }
  }
}

function tick(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 5));
}
