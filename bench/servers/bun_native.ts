/**
 * Bun's native WebSocket echo server (`Bun.serve` with `websocket`
 * handlers), the reference for wstream on Bun in `bench/echo_suite.ts`:
 * `PORT=9311 bun bench/servers/bun_native.ts`. Every message comes back as
 * it was received, text as text and binary as binary. Prints
 * `listening on <port>` once ready. `BUN_DEFLATE=1` turns on
 * `perMessageDeflate: true` (RFC 7692; Bun's shared compressor: no context
 * takeover either way) and sends every echo with `compress: true` (Bun's
 * `send()` compresses only when asked), as `bench/echo_suite.ts` runs it
 * for the chat scenario.
 *
 * @module
 */

/** The part of Bun's API this server uses (no `@types/bun` here). */
interface BunServeApi {
  serve(options: {
    hostname: string;
    port: number;
    fetch(
      request: Request,
      server: { upgrade(request: Request): boolean },
    ): Response | undefined;
    websocket: {
      perMessageDeflate?: boolean;
      message(
        ws: { send(data: string | Uint8Array, compress?: boolean): number },
        message: string | Uint8Array,
      ): void;
    };
  }): { port: number };
  env: Record<string, string | undefined>;
}

const bun = (globalThis as { Bun?: BunServeApi }).Bun;
if (bun === undefined) throw new Error("Run with bun");

const deflate = bun.env.BUN_DEFLATE === "1";
const server = bun.serve({
  hostname: "127.0.0.1",
  port: Number(bun.env.PORT ?? "8080"),
  fetch(request, server) {
    return server.upgrade(request)
      ? undefined
      : new Response("WebSocket upgrade expected", { status: 400 });
  },
  websocket: {
    perMessageDeflate: deflate,
    // `message` is a string for text frames, a Buffer for binary ones.
    message(ws, message) {
      ws.send(message, deflate);
    },
  },
});
console.log(`listening on ${server.port}`);
