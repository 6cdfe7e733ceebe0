/**
 * wstream's client (`connect()`, `WebSocketStream`) against Deno's own
 * WebSocket server: `Deno.serve` + `Deno.upgradeWebSocket`, over ws and
 * over wss (`Deno.serve({ cert, key })`). Deno only.
 */
import { describeClientSuite } from "./_client_suite.ts";
import type { PeerConnection, PeerServer } from "./_client_suite.ts";
import { Arrivals } from "./_interop_utils.ts";
import { timeout } from "../_test_utils.ts";

/** The part of the `Deno` namespace used here. */
interface DenoServeApi {
  serve(
    options: {
      port: number;
      hostname: string;
      cert?: string;
      key?: string;
      onListen?: (addr: { port: number }) => void;
    },
    handler: (request: Request) => Response,
  ): { addr: { port: number }; shutdown(): Promise<void> };
  upgradeWebSocket(
    request: Request,
    options?: { idleTimeout?: number },
  ): { socket: WebSocket; response: Response };
}

const deno = (globalThis as unknown as { Deno?: DenoServeApi }).Deno;

/** Deno pings after this many seconds of silence (`idleTimeout`). */
const IDLE_TIMEOUT_SECONDS = 1;

function track(socket: WebSocket): PeerConnection {
  socket.binaryType = "arraybuffer";
  const received: (string | Uint8Array)[] = [];
  socket.addEventListener("message", (event) => {
    const data = event.data as string | ArrayBuffer;
    received.push(typeof data === "string" ? data : new Uint8Array(data));
    socket.send(data);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    socket.addEventListener("close", (event) => {
      const { code, reason } = event as CloseEvent;
      resolve({ code, reason });
    }, { once: true });
  });
  return {
    received,
    closed,
    pings: () => null, // Deno answers pings without telling.
    ping: null, // Deno pings only on its own (idleTimeout).
    close: (code, reason) => socket.close(code, reason),
    drop: null, // No way to drop: the suite uses a TCP relay.
  };
}

describeClientSuite({
  name: "Deno.serve and Deno.upgradeWebSocket",
  skip: deno === undefined ? "Deno only" : false,
  canDrop: false,
  idlePings: IDLE_TIMEOUT_SECONDS * 1000,
  async start(options): Promise<PeerServer> {
    const accepted = new Arrivals<PeerConnection>("Deno.serve connection");
    const connections = accepted.items;
    const listening = Promise.withResolvers<number>();
    const server = deno!.serve({
      port: 0,
      hostname: "127.0.0.1",
      ...(options.tls === undefined
        ? {}
        : { cert: options.tls.cert, key: options.tls.key }),
      onListen: ({ port }) => listening.resolve(port),
    }, (request) => {
      if (request.headers.get("upgrade") !== "websocket") {
        return new Response("WebSocket only", { status: 400 });
      }
      const { socket, response } = deno!.upgradeWebSocket(
        request,
        options.eagerPings ? { idleTimeout: IDLE_TIMEOUT_SECONDS } : {},
      );
      accepted.push(track(socket));
      return response;
    });
    const port = await timeout(listening.promise, 5000, "Deno.serve");
    return {
      port,
      connection: (index) => accepted.get(index),
      async close(): Promise<void> {
        for (const connection of connections) {
          connection.close(1001, "test over");
        }
        await timeout(
          Promise.all(connections.map((connection) => connection.closed)),
          5000,
          "Deno sockets closed",
        ).catch(() => {});
        await timeout(server.shutdown(), 5000, "Deno.serve shutdown");
      },
    };
  },
});
