/**
 * The npm `ws` echo server on `node:http`, the reference for wstream on
 * Node in `bench/echo_suite.ts`: `PORT=9311 node bench/servers/ws_node.ts`
 * (Node 23.6+ runs it with type stripping). `ws` is loaded from
 * `tests/interop/node_modules` (`npm ci --prefix tests/interop`), with its
 * optional native add-ons if installed. Every message comes back as it was
 * received, text as text and binary as binary. Prints `listening on <port>`
 * once ready.
 *
 * `WS_DEFLATE` chooses `ws`'s `perMessageDeflate` (RFC 7692), as
 * `bench/echo_suite.ts` runs it:
 *
 * - unset or `0`: `false` (no compression: the echo scenarios).
 * - `1`: `true`, `ws`'s defaults: 15-bit windows both ways, zlib level and
 *   memLevel defaults (6 / 8), context takeover, messages under 1,024 bytes
 *   sent uncompressed (`threshold`), at most 10 zlib jobs at a time.
 * - `w12`: wstream's defaults (python-websockets'): `serverMaxWindowBits`
 *   and `clientMaxWindowBits` 12, memLevel 5, `threshold` 64, for a
 *   same-settings comparison of bytes and memory.
 *
 * @module
 */
import { createServer } from "node:http";
import { createRequire } from "node:module";
import process from "node:process";

/** The part of `ws` this server uses. */
interface WsSocket {
  send(data: unknown, options: { binary: boolean }): void;
  on(
    event: "message",
    listener: (data: unknown, isBinary: boolean) => void,
  ): void;
  on(event: "error", listener: (error: Error) => void): void;
}
interface WsModule {
  WebSocketServer: new (options: {
    server: unknown;
    perMessageDeflate: boolean | Record<string, unknown>;
  }) => {
    on(event: "connection", listener: (socket: WsSocket) => void): void;
  };
}

const require = createRequire(import.meta.url);
const ws = require(
  new URL("../../tests/interop/node_modules/ws/", import.meta.url).pathname,
) as WsModule;

const server = createServer((_request, response) => {
  response.writeHead(400).end("WebSocket upgrade expected");
});
/** `ws`'s `perMessageDeflate` for a `WS_DEFLATE` value (see above). */
function wsDeflateOption(
  value: string | undefined,
): boolean | Record<string, unknown> {
  switch (value ?? "0") {
    case "0":
      return false;
    case "1":
      return true;
    case "w12":
      return {
        serverMaxWindowBits: 12,
        clientMaxWindowBits: 12,
        zlibDeflateOptions: { memLevel: 5 },
        threshold: 64,
      };
    default:
      throw new Error(`WS_DEFLATE must be 0, 1 or w12, not ${value}`);
  }
}

const wss = new ws.WebSocketServer({
  server,
  perMessageDeflate: wsDeflateOption(process.env.WS_DEFLATE),
});
wss.on("connection", (socket) => {
  socket.on("message", (data, isBinary) => {
    socket.send(data, { binary: isBinary });
  });
  socket.on("error", () => {});
});
server.listen(Number(process.env.PORT ?? "8080"), "127.0.0.1", () => {
  const address = server.address();
  const port = typeof address === "object" && address !== null
    ? address.port
    : 0;
  console.log(`listening on ${port}`);
});
