/**
 * wstream's client (`connect()`, `WebSocketStream`) against the npm `ws`
 * server (the real package, also on Bun), over ws and over wss with
 * `https.createServer` and a self-signed certificate.
 */
import https from "node:https";
import { describeClientSuite } from "./_client_suite.ts";
import type { PeerConnection, PeerServer } from "./_client_suite.ts";
import { Arrivals } from "./_interop_utils.ts";
import { Inbox, listenLocal, timeout } from "../_test_utils.ts";
import { ws } from "./_peers.ts";
import type { WsServer, WsSocket } from "./_peers.ts";

const decoder = new TextDecoder();

function track(socket: WsSocket): PeerConnection {
  const received: (string | Uint8Array)[] = [];
  const pongs = new Inbox<Uint8Array>("a pong on the ws server");
  let pings = 0;
  socket.on("message", (data, isBinary) => {
    received.push(isBinary ? new Uint8Array(data) : decoder.decode(data));
    socket.send(data, { binary: isBinary });
  });
  socket.on("ping", () => pings++);
  socket.on("pong", (data) => pongs.push(new Uint8Array(data)));
  socket.on("error", () => {});
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    socket.on("close", (code, reason) => {
      resolve({ code, reason: decoder.decode(reason) });
    });
  });
  return {
    received,
    closed,
    pings: () => pings,
    async ping(): Promise<void> {
      const payload = `ping ${Math.random()}`;
      socket.ping(payload);
      const pong = decoder.decode(await pongs.next(5000));
      if (pong !== payload) throw new Error(`pong ${pong}, want ${payload}`);
    },
    close: (code, reason) => socket.close(code, reason),
    drop: () => socket.terminate(),
  };
}

describeClientSuite({
  name: "the npm ws server",
  skip: ws.skip,
  canDrop: true,
  async start(options): Promise<PeerServer> {
    const { WebSocketServer } = ws.get();
    const accepted = new Arrivals<PeerConnection>("ws server connection");
    let server: WsServer;
    let httpsServer: https.Server | undefined;
    let port: number;
    if (options.tls !== undefined) {
      httpsServer = https.createServer({
        cert: options.tls.cert,
        key: options.tls.key,
      });
      server = new WebSocketServer({
        server: httpsServer,
        perMessageDeflate: false,
      });
      port = await listenLocal(httpsServer, "https listening");
    } else {
      server = new WebSocketServer({
        port: 0,
        host: "127.0.0.1",
        perMessageDeflate: false,
      });
      const pending = server;
      await timeout(
        new Promise<void>((resolve, reject) => {
          pending.on("listening", resolve);
          pending.on("error", reject);
        }),
        5000,
        "ws listening",
      );
      port = server.address().port;
    }
    server.on("connection", (socket) => {
      accepted.push(track(socket));
    });
    return {
      port,
      connection: (index) => accepted.get(index),
      async close(): Promise<void> {
        for (const socket of server.clients) socket.terminate();
        await timeout(
          new Promise<void>((resolve) => server.close(() => resolve())),
          5000,
          "ws server closed",
        );
        if (httpsServer !== undefined) {
          const closing = httpsServer;
          closing.closeAllConnections();
          await timeout(
            new Promise<void>((resolve) => closing.close(() => resolve())),
            5000,
            "https server closed",
          );
        }
      },
    };
  },
});
