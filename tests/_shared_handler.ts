/**
 * One request handler, written only against wstream's public API, that
 * `tests/placements_test.ts` runs unchanged in every server wstream
 * supports: wstream's `serve()`, `Deno.serve`, `Bun.serve` (with
 * `bunServeOptions`) and `node:http` (with `attachToNodeServer`).
 *
 * Private to the tests; never re-exported.
 *
 * @module
 */

import * as net from "node:net";
import { upgrade } from "../mod.ts";
import type { WebSocketStreamLike } from "../mod.ts";
import { Inbox, timeout } from "./_test_utils.ts";

/** The subprotocols the handler speaks. */
export const SHARED_PROTOCOLS: readonly string[] = ["echo.v1"];

/** The body of `GET /`. */
export const SHARED_PAGE = "wstream echo: connect with a WebSocket\n";

/**
 * Makes the shared handler: `GET /` answers a plain-text page without
 * upgrading, other plain requests get 404, and WebSocket upgrades (with
 * the `echo.v1` subprotocol when offered) echo every message back.
 *
 * @param onSocket Called with each accepted socket, for tests to observe.
 * @returns The handler.
 */
export function createSharedHandler(
  onSocket?: (socket: WebSocketStreamLike) => void,
): (request: Request) => Promise<Response> {
  return async (request: Request): Promise<Response> => {
    if (request.headers.get("upgrade") === null) {
      if (new URL(request.url).pathname !== "/") {
        return new Response("Not found\n", { status: 404 });
      }
      return new Response(SHARED_PAGE, {
        headers: { "content-type": "text/plain; charset=utf-8" },
      });
    }
    const { response, socket } = await upgrade(request, {
      protocols: SHARED_PROTOCOLS,
    });
    if (socket === null) return response; // 400/403/405/426 with a reason
    onSocket?.(socket);
    socket.opened.then(async ({ readable, writable }) => {
      const writer = writable.getWriter();
      for await (const message of readable) await writer.write(message);
    }).catch(() => {});
    return response;
  };
}

/** The shared handler, for servers that need no observation. */
export const sharedHandler: (request: Request) => Promise<Response> =
  createSharedHandler();

// ---------------------------------------------------------------------------
// Client-side helpers of the placement and native-adapter tests
// ---------------------------------------------------------------------------

/** A runtime-native `WebSocket` client with an awaitable message queue. */
export interface TestClient {
  /** The client. */
  ws: WebSocket;
  /** The next message received (binary as `ArrayBuffer`). */
  next(): Promise<string | ArrayBuffer>;
  /** Resolves with the close event. */
  closed: Promise<CloseEvent>;
}

/**
 * Opens `globalThis.WebSocket` to `url` and resolves once it is open.
 *
 * @param url The `ws:` URL.
 * @param protocols The subprotocols to offer.
 * @returns The open client.
 * @throws {Error} If it closes before opening or takes over 5 s.
 */
export function openClient(
  url: string,
  protocols: string[] = [],
): Promise<TestClient> {
  const ws = new WebSocket(url, protocols);
  ws.binaryType = "arraybuffer";
  const received = new Inbox<string | ArrayBuffer>("an echoed message");
  ws.addEventListener("message", (event) => {
    received.push((event as MessageEvent).data as string | ArrayBuffer);
  });
  const closed = new Promise<CloseEvent>((resolve) =>
    ws.addEventListener("close", (event) => resolve(event as CloseEvent), {
      once: true,
    })
  );
  const client: TestClient = {
    ws,
    closed,
    next: () => received.next(10_000),
  };
  return timeout(
    new Promise((resolve, reject) => {
      ws.addEventListener("open", () => resolve(client), { once: true });
      closed.then((event) =>
        reject(new Error(`Closed before opening: ${event.code}`))
      );
    }),
    5000,
    "the client to open",
  );
}

/** The head of a WebSocket upgrade request for a raw TCP client. */
export function upgradeRequestHead(
  port: number,
  extraHeaders: Record<string, string> = {},
  key: string | null = "dGhlIHNhbXBsZSBub25jZQ==",
): string {
  const lines = [
    "GET / HTTP/1.1",
    `Host: 127.0.0.1:${port}`,
    "Upgrade: websocket",
    "Connection: Upgrade",
    "Sec-WebSocket-Version: 13",
  ];
  if (key !== null) lines.push(`Sec-WebSocket-Key: ${key}`);
  for (const [name, value] of Object.entries(extraHeaders)) {
    lines.push(`${name}: ${value}`);
  }
  return lines.join("\r\n") + "\r\n\r\n";
}

/** A raw HTTP/1.1 response as read off the socket. */
export interface RawResponse {
  /** The status code. */
  status: number;
  /** The header fields, names lowercased. */
  headers: Map<string, string>;
  /** The body, decoded as UTF-8 (de-chunked when chunked). */
  body: string;
}

/**
 * Sends a raw request head over TCP and reads one response (by
 * `Content-Length`, chunked encoding, or until the server closes).
 *
 * @param port The server's port on 127.0.0.1.
 * @param head The request head, ending with an empty line.
 * @returns The response.
 * @throws {Error} If no complete response arrives in 5 s.
 */
export function rawExchange(port: number, head: string): Promise<RawResponse> {
  const socket = net.connect(port, "127.0.0.1");
  let data = Buffer.alloc(0);
  const done = new Promise<RawResponse>((resolve, reject) => {
    const check = (ended: boolean): void => {
      const end = data.indexOf("\r\n\r\n");
      if (end < 0) {
        if (ended) reject(new Error("The server closed without a response"));
        return;
      }
      const lines = data.subarray(0, end).toString("latin1").split("\r\n");
      const status = Number(lines[0]!.split(" ")[1]);
      const headers = new Map<string, string>();
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(":");
        headers.set(
          line.slice(0, colon).trim().toLowerCase(),
          line.slice(colon + 1).trim(),
        );
      }
      let rest = data.subarray(end + 4);
      const length = headers.get("content-length");
      let body: Buffer | null = null;
      if (length !== undefined) {
        if (rest.length >= Number(length)) {
          body = rest.subarray(0, Number(length));
        }
      } else if (headers.get("transfer-encoding")?.includes("chunked")) {
        const parts: Buffer[] = [];
        while (true) {
          const lineEnd = rest.indexOf("\r\n");
          if (lineEnd < 0) break;
          const size = parseInt(rest.subarray(0, lineEnd).toString(), 16);
          if (rest.length < lineEnd + 2 + size + 2) break;
          if (size === 0) {
            body = Buffer.concat(parts);
            break;
          }
          parts.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size));
          rest = rest.subarray(lineEnd + 2 + size + 2);
        }
      } else if (ended) {
        body = rest;
      }
      if (body !== null) resolve({ status, headers, body: body.toString() });
      else if (ended) reject(new Error("The server closed inside the body"));
    };
    socket.on("data", (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      check(false);
    });
    socket.on("end", () => check(true));
    socket.on("error", reject);
  });
  socket.write(head);
  return timeout(done, 5000, "a raw HTTP response").finally(() =>
    socket.destroy()
  );
}
