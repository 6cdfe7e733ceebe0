/**
 * Automatic replies (pongs) count against the write limit: a peer that
 * floods pings and never reads is slowed through TCP instead of growing
 * the server's queued bytes (issue 13, defect 1). Codec placements only:
 * under Deno.serve and Bun.serve the runtime answers pings itself.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createConnection, type Socket } from "node:net";
import { serve, upgrade } from "../../mod.ts";
import type { WebSocketStreamLike } from "../../mod.ts";
import { UPGRADE_HEAD } from "../_raw_client.ts";
import { timeout } from "../_test_utils.ts";

const WRITE_LIMIT = 256 * 1024;
/** 64 KiB of masked 125-byte pings (a zero masking key is a valid key). */
const PING_CHUNK = (() => {
  const frame = new Uint8Array(2 + 4 + 125);
  frame[0] = 0x89; // FIN + ping
  frame[1] = 0x80 | 125; // masked, 125 bytes
  frame.fill(0x61, 6);
  const count = Math.floor(64 * 1024 / frame.length);
  const chunk = new Uint8Array(count * frame.length);
  for (let i = 0; i < count; i++) chunk.set(frame, i * frame.length);
  return chunk;
})();

/** Connects, sends the upgrade and resolves once the 101 head arrived. */
function openRaw(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(port, "127.0.0.1");
    let head = "";
    socket.once("error", reject);
    socket.on("data", function onData(data: Uint8Array) {
      head += new TextDecoder("latin1").decode(data);
      if (head.includes("\r\n\r\n")) {
        socket.off("data", onData);
        assert.match(head, /^HTTP\/1\.1 101 /);
        resolve(socket);
      }
    });
    socket.write(UPGRADE_HEAD);
  });
}

describe(
  "automatic replies and write backpressure",
  { timeout: 30_000 },
  () => {
    it("stops reading a peer that floods pings without reading: queued bytes stay bounded", async () => {
      const sockets: WebSocketStreamLike[] = [];
      const server = serve(
        { port: 0, hostname: "127.0.0.1" },
        async (request) => {
          const { response, socket } = await upgrade(request, {
            writableHighWaterMark: WRITE_LIMIT,
            compression: false,
            pingInterval: 0,
          });
          if (socket !== null) {
            sockets.push(socket);
            socket.opened.then(async ({ readable }) => {
              for await (const _ of readable) { /* the app reads on */ }
            }).catch(() => {});
          }
          return response;
        },
      );
      const { port } = await server.listening;
      const client = await openRaw(port);
      try {
        client.pause(); // Never read: the server's pongs back up.
        let maxBuffered = 0;
        const sampler = setInterval(() => {
          maxBuffered = Math.max(maxBuffered, sockets[0]?.bufferedAmount ?? 0);
        }, 5);
        let sent = 0;
        let stalled = false;
        const total = 48 * 1024 * 1024;
        try {
          while (sent < total) {
            sent += PING_CHUNK.length;
            if (!client.write(PING_CHUNK)) {
              const drained = await Promise.race([
                new Promise<boolean>((resolve) =>
                  client.once("drain", () => resolve(true))
                ),
                new Promise<boolean>((resolve) =>
                  setTimeout(() => resolve(false), 1500)
                ),
              ]);
              if (!drained) {
                stalled = true;
                break;
              }
            }
          }
          await new Promise((resolve) => setTimeout(resolve, 100));
        } finally {
          clearInterval(sampler);
        }
        assert.ok(
          stalled,
          `the server read all ${sent} bytes of pings without slowing the peer`,
        );
        // The write limit, the auto-reply allowance, and the pongs of the
        // reads already taken when reading stopped (Bun takes up to 512 KiB
        // a read; Deno and Node 64 KiB): far below the 48 MiB of pings.
        const bound = WRITE_LIMIT + 64 * 1024 + 1024 * 1024;
        assert.ok(
          maxBuffered <= bound,
          `the server queued ${maxBuffered} bytes (bound ${bound})`,
        );
      } finally {
        client.destroy();
        await timeout(server.shutdown(), 10_000, "shutdown");
      }
    });
  },
);
