/**
 * wstream's client (`connect()`, `WebSocketStream`) against Bun's own
 * WebSocket server: `Bun.serve` with a `websocket` handler, over ws and
 * over wss (`Bun.serve({ tls: { cert, key } })`). Bun only.
 */
import { describeClientSuite } from "./_client_suite.ts";
import type { PeerConnection, PeerServer } from "./_client_suite.ts";
import { Arrivals } from "./_interop_utils.ts";
import { Inbox, timeout } from "../_test_utils.ts";

/** Bun's `ServerWebSocket` (the parts used here). */
interface BunServerWebSocket {
  readonly data: { index: number };
  send(data: string | Uint8Array): number;
  ping(data?: string | Uint8Array): number;
  close(code?: number, reason?: string): void;
  terminate(): void;
}

/** The part of the `Bun` namespace used here. */
interface BunServeApi {
  serve(options: {
    port: number;
    hostname: string;
    tls?: { cert: string; key: string };
    fetch(
      request: Request,
      server: {
        upgrade(
          request: Request,
          options: { data: { index: number } },
        ): boolean;
      },
    ): Response | undefined;
    websocket: {
      perMessageDeflate: boolean;
      open(ws: BunServerWebSocket): void;
      message(ws: BunServerWebSocket, message: string | Uint8Array): void;
      ping(ws: BunServerWebSocket, data: Uint8Array): void;
      pong(ws: BunServerWebSocket, data: Uint8Array): void;
      close(ws: BunServerWebSocket, code: number, reason: string): void;
    };
  }): { port: number; stop(closeActiveConnections?: boolean): Promise<void> };
}

const bun = (globalThis as unknown as { Bun?: BunServeApi }).Bun;
const decoder = new TextDecoder();

interface Tracked {
  connection: PeerConnection;
  pings: number;
  pongs: Inbox<Uint8Array>;
  resolveClosed(info: { code: number; reason: string }): void;
}

function track(ws: BunServerWebSocket): Tracked {
  const received: (string | Uint8Array)[] = [];
  const pongs = new Inbox<Uint8Array>("a pong on Bun.serve");
  const closed = Promise.withResolvers<{ code: number; reason: string }>();
  const tracked: Tracked = {
    pings: 0,
    pongs,
    resolveClosed: closed.resolve,
    connection: {
      received,
      closed: closed.promise,
      pings: () => tracked.pings,
      async ping(): Promise<void> {
        const payload = `ping ${Math.random()}`;
        ws.ping(payload);
        const pong = decoder.decode(await pongs.next(5000));
        if (pong !== payload) throw new Error(`pong ${pong}, want ${payload}`);
      },
      close: (code, reason) => ws.close(code, reason),
      drop: () => ws.terminate(),
    },
  };
  return tracked;
}

describeClientSuite({
  name: "Bun.serve's websocket handler",
  skip: bun === undefined ? "Bun only" : false,
  canDrop: true,
  start(options): Promise<PeerServer> {
    const opened = new Arrivals<Tracked>("Bun.serve connection");
    const tracked = opened.items;
    let accepted = 0;
    const server = bun!.serve({
      port: 0,
      hostname: "127.0.0.1",
      ...(options.tls === undefined
        ? {}
        : { tls: { cert: options.tls.cert, key: options.tls.key } }),
      fetch(request, server) {
        if (server.upgrade(request, { data: { index: accepted++ } })) {
          return undefined;
        }
        return new Response("WebSocket only", { status: 400 });
      },
      websocket: {
        perMessageDeflate: false,
        open(ws) {
          opened.set(ws.data.index, track(ws));
        },
        message(ws, message) {
          tracked[ws.data.index]!.connection.received.push(
            typeof message === "string" ? message : new Uint8Array(message),
          );
          ws.send(message);
        },
        ping(ws) {
          tracked[ws.data.index]!.pings++;
        },
        pong(ws, data) {
          tracked[ws.data.index]!.pongs.push(new Uint8Array(data));
        },
        close(ws, code, reason) {
          tracked[ws.data.index]?.resolveClosed({ code, reason });
        },
      },
    });
    return Promise.resolve({
      port: server.port,
      connection: (index) =>
        opened.get(index).then((entry) => entry.connection),
      async close(): Promise<void> {
        await timeout(server.stop(true), 5000, "Bun.serve stop");
      },
    });
  },
});
