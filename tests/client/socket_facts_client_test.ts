/**
 * The socket facts and controls of the client (`WebSocketStream`, over
 * `connect()`), against wstream's `serve()`: the server's address, `secure`,
 * `ping()` round trips, `onpong`, and closing after `break`.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { serve, upgrade, WebSocketError, WebSocketStream } from "../../mod.ts";
import type { WebSocketCloseInfo, WebSocketStreamLike } from "../../mod.ts";
import { Inbox, timeout } from "../_test_utils.ts";

/** A serve() whose sockets only read (and record how they closed). */
async function withServer(
  body: (port: number, closed: Inbox<WebSocketCloseInfo>) => Promise<void>,
): Promise<void> {
  const closed = new Inbox<WebSocketCloseInfo>("a server-side close");
  const server = serve({ port: 0, hostname: "127.0.0.1" }, async (request) => {
    const { response, socket } = await upgrade(request);
    socket?.opened.then(async ({ readable }) => {
      for await (const _ of readable) { /* discard */ }
    }).catch(() => {});
    socket?.closed.then((info) => closed.push(info));
    return response;
  });
  try {
    const { port } = await server.listening;
    await body(port, closed);
  } finally {
    await server.shutdown();
  }
}

describe(
  "WebSocketStream socket facts and controls",
  { timeout: 20_000 },
  () => {
    it("reports the server's address as remoteAddr and secure false for ws:", async () => {
      await withServer(async (port) => {
        const socket: WebSocketStreamLike = new WebSocketStream(
          `ws://127.0.0.1:${port}/`,
        );
        assert.equal(socket.remoteAddr, null); // Not connected yet.
        await socket.opened;
        assert.deepEqual(socket.remoteAddr, { hostname: "127.0.0.1", port });
        assert.equal(socket.secure, false);
        assert.equal(new WebSocketStream("wss://127.0.0.1:1/").secure, true);
        socket.close();
        await socket.closed;
      });
    });

    it("resolves ping() with a round-trip time against wstream's server and calls onpong", async () => {
      await withServer(async (port) => {
        const socket = new WebSocketStream(`ws://127.0.0.1:${port}/`);
        await assert.rejects(socket.ping(), TypeError); // Not open yet.
        const pongs: Uint8Array[] = [];
        socket.onpong = (data) => pongs.push(data);
        await socket.opened;
        const rtt = await timeout(socket.ping("abc"), 5000, "ping()");
        assert.ok(rtt >= 0 && rtt < 5000, `rtt ${rtt}`);
        assert.deepEqual(pongs, [new TextEncoder().encode("abc")]);
        socket.close();
        await socket.closed;
        await assert.rejects(socket.ping(), TypeError);
      });
    });

    it("sends the code of a close() right after breaking out of for await", async () => {
      const server = serve(
        { port: 0, hostname: "127.0.0.1" },
        async (request) => {
          const { response, socket } = await upgrade(request);
          socket?.opened.then(({ writable }) =>
            writable.getWriter().write("hello")
          ).catch(() => {});
          if (socket !== null) serverClosed.push(socket.closed);
          return response;
        },
      );
      const serverClosed: Promise<WebSocketCloseInfo>[] = [];
      try {
        const { port } = await server.listening;
        const socket = new WebSocketStream(`ws://127.0.0.1:${port}/`);
        const { readable } = await socket.opened;
        for await (const message of readable) {
          if (message === "hello") break;
        }
        socket.close({ closeCode: 4000, reason: "bye" });
        assert.deepEqual(await timeout(socket.closed, 5000, "closed"), {
          closeCode: 4000,
          reason: "bye",
        });
        assert.deepEqual(
          await timeout(serverClosed[0]!, 5000, "server closed"),
          { closeCode: 4000, reason: "bye" },
        );
      } finally {
        await server.shutdown();
      }
    });

    it("closes with 4001 on readable.cancel(WebSocketError) and 1011 after write(Symbol())", async () => {
      await withServer(async (port, closed) => {
        const first = new WebSocketStream(`ws://127.0.0.1:${port}/`);
        const { readable } = await first.opened;
        await readable.cancel(
          new WebSocketError("done", { closeCode: 4001, reason: "r" }),
        );
        assert.deepEqual(await closed.next(5000), {
          closeCode: 4001,
          reason: "r",
        });
        const second = new WebSocketStream(`ws://127.0.0.1:${port}/`);
        const writer = (await second.opened).writable.getWriter();
        await writer.write(42 as unknown as string);
        await assert.rejects(
          writer.write(Symbol() as unknown as string),
          TypeError,
        );
        assert.deepEqual(await closed.next(5000), {
          closeCode: 1011,
          reason: "Unsendable value written",
        });
        assert.equal((await second.closed).closeCode, 1011);
      });
    });
  },
);
