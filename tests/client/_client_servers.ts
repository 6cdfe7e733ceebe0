/**
 * Servers on 127.0.0.1 for the client-side tests (`client_test.ts` for
 * `connect()`, `websocket_stream_test.ts` for `WebSocketStream`): an echo
 * server on wstream's own `serve()` + `upgrade()`, the pieces other echo
 * servers share with it, and a raw TCP server that answers the handshake
 * by hand, for every way a handshake can fail.
 *
 * Private to the tests; never re-exported.
 *
 * @module
 */
import { acceptKey } from "../../lib/core/handshake.ts";
import { serve } from "../../lib/server/serve.ts";
import type { Server } from "../../lib/server/serve.ts";
import { upgrade } from "../../lib/server/upgrade.ts";
import { listenTcp } from "../../lib/transports/tcp.ts";
import type {
  TcpConnection,
  TcpListener,
} from "../../lib/transports/tcp_connection.ts";
import type { WebSocketCloseInfo } from "../../lib/connection/websocket_stream_like.ts";
import { fromLatin1, Inbox, latin1, timeout } from "../_test_utils.ts";

// ---------------------------------------------------------------------------
// Echo servers: the same behaviour on every peer
// ---------------------------------------------------------------------------

/** The subprotocols every echo server speaks, in its order of preference. */
const SERVER_PROTOCOLS: readonly string[] = ["chat", "superchat"];

/** What an echo server saw of one connection. */
export interface SeenConnection {
  /** The request's path and query. */
  target: string;
  /** The request's headers. */
  headers: Headers;
  /** The close code and reason the server received (or ended with). */
  closed: Promise<WebSocketCloseInfo>;
}

/**
 * A running echo server. It echoes every message, except a text message
 * `"close <code> <reason>"`, which makes it close with that code and reason.
 */
export interface EchoServer {
  /** `ws://127.0.0.1:<port>` (`wss:` over TLS). */
  url: string;
  /** Resolves with the next connection the server accepted. */
  next(): Promise<SeenConnection>;
  /** Stops the server. */
  stop(): Promise<void>;
}

/**
 * The subprotocol an echo server picks: its first preference offered.
 *
 * @param offered The `Sec-WebSocket-Protocol` request header.
 * @returns The protocol, or `undefined` if none is spoken.
 */
export function chooseProtocol(offered: string | null): string | undefined {
  const list = (offered ?? "").split(",").map((part) => part.trim());
  return SERVER_PROTOCOLS.find((protocol) => list.includes(protocol));
}

/**
 * Parses the echo servers' command `"close <code> <reason>"`.
 *
 * @param message A text message.
 * @returns The close to make, or `null` for a message to echo.
 */
export function parseCloseCommand(
  message: string,
): WebSocketCloseInfo | null {
  const match = /^close (\d+) ?(.*)$/.exec(message);
  return match === null
    ? null
    : { closeCode: Number(match[1]), reason: match[2] ?? "" };
}

/**
 * Starts the echo server on wstream's `serve()` + `upgrade()`, with
 * keepalive pings off.
 *
 * @param tls Serve wss with this certificate and key.
 * @returns The server, once it listens.
 */
export async function startWstream(
  tls?: { cert: string; key: string },
): Promise<EchoServer> {
  const seen = new Inbox<SeenConnection>("a connection on the server");
  const server: Server = serve(
    { port: 0, hostname: "127.0.0.1", pingInterval: 0, ...tls },
    async (request) => {
      const { response, socket } = await upgrade(request, {
        protocols: SERVER_PROTOCOLS,
      });
      if (socket === null) return response;
      const url = new URL(request.url);
      seen.push({
        target: url.pathname + url.search,
        headers: new Headers(request.headers),
        closed: socket.closed,
      });
      socket.opened.then(async ({ readable, writable }) => {
        const writer = writable.getWriter();
        for await (const message of readable) {
          const command = typeof message === "string"
            ? parseCloseCommand(message)
            : null;
          if (command !== null) socket.close(command);
          else await writer.write(message);
        }
      }).catch(() => {});
      return response;
    },
  );
  const { port } = await server.listening;
  return {
    url: `${tls === undefined ? "ws" : "wss"}://127.0.0.1:${port}`,
    next: () => seen.next(5000),
    stop: () => server.shutdown(),
  };
}

/**
 * Runs `body` against a fresh echo server, stopping the server in `finally`
 * (within 10 s).
 *
 * @param start Starts the server.
 * @param body The test.
 */
export async function withServer(
  start: () => Promise<EchoServer>,
  body: (server: EchoServer) => Promise<void>,
): Promise<void> {
  const server = await start();
  try {
    await body(server);
  } finally {
    await timeout(server.stop(), 10_000, "server shutdown");
  }
}

// ---------------------------------------------------------------------------
// Raw servers: every way a handshake can fail
// ---------------------------------------------------------------------------

/** One connection accepted by a raw server. */
export interface RawConnection {
  /** The request head the client sent (up to the empty line). */
  head: string;
  /** The `Sec-WebSocket-Key` of the request. */
  key: string;
  /** Writes bytes (a string is sent as Latin-1). */
  write(data: string | Uint8Array): Promise<void>;
  /** Closes the socket. */
  close(): void;
  /** Resolves once the client closed or reset its side. */
  ended: Promise<void>;
}

/** A running raw server. */
export interface RawServer {
  /** `ws://127.0.0.1:<port>`. */
  url: string;
  /** Connections seen so far. */
  count(): number;
  /** Connections the server still has open (the client has not let go). */
  open(): number;
  /** Resolves with the next connection that sent a whole request head. */
  next(): Promise<RawConnection>;
  /** Stops listening and closes every connection. */
  stop(): Promise<void>;
}

/**
 * A TCP server that reads a request head and lets `answer` reply by hand;
 * it keeps reading afterwards to see when the client lets go.
 *
 * @param answer Replies to each connection.
 * @returns The server, once it listens.
 */
async function startRaw(
  answer: (connection: RawConnection) => Promise<void> | void,
): Promise<RawServer> {
  const seen = new Inbox<RawConnection>("a connection on the server");
  const sockets = new Set<TcpConnection>();
  let count = 0;
  const listener: TcpListener = listenTcp(
    { hostname: "127.0.0.1", port: 0 },
    (socket) => {
      count++;
      sockets.add(socket);
      void handle(socket).finally(() => {
        sockets.delete(socket);
        socket.close();
      });
    },
  );
  async function handle(socket: TcpConnection): Promise<void> {
    const reader = socket.readable.getReader();
    const ended = Promise.withResolvers<void>();
    let text = "";
    try {
      while (!text.includes("\r\n\r\n")) {
        const { done, value } = await reader.read();
        if (done) return ended.resolve();
        text += fromLatin1(value);
      }
    } catch {
      return ended.resolve();
    }
    const head = text.slice(0, text.indexOf("\r\n\r\n") + 4);
    const connection: RawConnection = {
      head,
      key: /sec-websocket-key: *(.*?)\r\n/i.exec(head)?.[1] ?? "",
      async write(data) {
        const writer = socket.writable.getWriter();
        try {
          await writer.write(typeof data === "string" ? latin1(data) : data);
        } finally {
          writer.releaseLock();
        }
      },
      close: () => socket.close(),
      ended: ended.promise,
    };
    seen.push(connection);
    // Keep reading, so that the client closing its side is seen.
    const draining = (async () => {
      try {
        while (!(await reader.read()).done) { /* discard */ }
      } catch {
        // A reset ends it too.
      }
      ended.resolve();
    })();
    await answer(connection);
    await draining;
  }
  const { port } = await listener.listening;
  return {
    url: `ws://127.0.0.1:${port}`,
    count: () => count,
    open: () => sockets.size,
    next: () => seen.next(5000),
    async stop(): Promise<void> {
      listener.close();
      for (const socket of sockets) socket.close();
      await listener.closed.catch(() => {});
    },
  };
}

/**
 * Runs `body` against a fresh raw server, stopping it in `finally`.
 *
 * @param answer Replies to each connection.
 * @param body The test.
 */
export async function withRaw(
  answer: (connection: RawConnection) => Promise<void> | void,
  body: (server: RawServer) => Promise<void>,
): Promise<void> {
  const server = await startRaw(answer);
  try {
    await body(server);
  } finally {
    await server.stop();
  }
}

/**
 * A 101 head answering `key`, with extra header lines.
 *
 * @param key The request's `Sec-WebSocket-Key`.
 * @param extra Header lines to add, each ending with CRLF.
 * @returns The head, up to and with the empty line.
 */
export async function switching(key: string, extra = ""): Promise<string> {
  return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" +
    `Connection: Upgrade\r\nSec-WebSocket-Accept: ${await acceptKey(key)}\r\n` +
    extra + "\r\n";
}

/**
 * Finds a port nobody listens on: listens on 127.0.0.1, notes the port,
 * and closes.
 *
 * @returns The port.
 */
export async function unusedPort(): Promise<number> {
  const listener = listenTcp(
    { hostname: "127.0.0.1", port: 0 },
    (c) => c.close(),
  );
  const { port } = await listener.listening;
  listener.close();
  await listener.closed.catch(() => {});
  return port;
}
