/**
 * `WebSocketStream` (the WHATWG shape over `connect()`) against real servers
 * on 127.0.0.1: wstream's `serve()` + `upgrade()` and tiny raw TCP servers.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { HandshakeError, WebSocketError } from "../../lib/core/errors.ts";
import type { WebSocketStreamLike } from "../../lib/connection/websocket_stream_like.ts";
import { WebSocketStream } from "../../lib/client/websocket_stream.ts";
import { generateSelfSignedCert } from "../_certs.ts";
import {
  startWstream,
  switching,
  unusedPort,
  withRaw,
  withServer,
} from "./_client_servers.ts";
import { delay, encodeServerFrame, timeout } from "../_test_utils.ts";

const TEST_TIMEOUT = 20_000;

/** Asserts that `opened` and `closed` both reject, with the same error. */
async function bothReject(
  socket: WebSocketStreamLike,
  check: (error: unknown) => boolean,
): Promise<unknown> {
  const [opened, closed] = await timeout(
    Promise.allSettled([socket.opened, socket.closed]),
    5000,
    "opened and closed",
  );
  assert.equal(opened.status, "rejected");
  assert.equal(closed.status, "rejected");
  const error = (opened as PromiseRejectedResult).reason;
  assert.equal((closed as PromiseRejectedResult).reason, error);
  assert.ok(check(error), String(error));
  return error;
}

describe("WebSocketStream", { timeout: TEST_TIMEOUT }, () => {
  it("opens, exchanges messages and closes like the WHATWG WebSocketStream", async () => {
    await withServer(startWstream, async ({ url, next }) => {
      const socket = new WebSocketStream(`${url}/chat?room=1`, {
        protocols: ["chat"],
      });
      assert.equal(socket.url, `${url}/chat?room=1`);
      const opened = await timeout(socket.opened, 5000, "opened");
      assert.deepEqual(Object.keys(opened).sort(), [
        "extensions",
        "protocol",
        "readable",
        "writable",
      ]);
      assert.equal(opened.protocol, "chat");
      // Offered and accepted by default on both sides.
      assert.equal(
        opened.extensions,
        "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
      );
      assert.ok(opened.readable instanceof ReadableStream);
      assert.ok(opened.writable instanceof WritableStream);
      const seen = await next();
      const writer = opened.writable.getWriter();
      const reader = opened.readable.getReader();
      const big = new Uint8Array(1024 * 1024).map((_, i) => i & 0xff);
      void writer.write("text");
      void writer.write(new Uint8Array([1, 2, 3]).buffer);
      void writer.write("");
      void writer.write(big);
      assert.equal((await reader.read()).value, "text");
      assert.deepEqual((await reader.read()).value, new Uint8Array([1, 2, 3]));
      assert.equal((await reader.read()).value, "");
      assert.deepEqual((await reader.read()).value, big);
      socket.close({ closeCode: 4000, reason: "bye" });
      assert.deepEqual(await timeout(seen.closed, 5000, "server closed"), {
        closeCode: 4000,
        reason: "bye",
      });
      assert.deepEqual(await timeout(socket.closed, 5000, "closed"), {
        closeCode: 4000,
        reason: "bye",
      });
      assert.equal((await reader.read()).done, true);
      socket.close(); // Does nothing once closed.
    });
  });

  it("reports a close the server starts", async () => {
    await withServer(startWstream, async ({ url }) => {
      const socket = new WebSocketStream(url);
      const { readable, writable } = await socket.opened;
      await writable.getWriter().write("close 4002 server bye");
      assert.equal((await readable.getReader().read()).done, true);
      assert.deepEqual(await timeout(socket.closed, 5000, "closed"), {
        closeCode: 4002,
        reason: "server bye",
      });
    });
  });

  it("sends the headers given and maps http: to ws:", async () => {
    await withServer(startWstream, async ({ url, next }) => {
      const socket = new WebSocketStream(url.replace(/^ws:/, "http:") + "/", {
        headers: { Authorization: "Basic YTpi", "X-Trace": "42" },
      });
      assert.equal(socket.url, `${url}/`);
      const seen = await next();
      assert.equal(seen.headers.get("authorization"), "Basic YTpi");
      assert.equal(seen.headers.get("x-trace"), "42");
      await socket.opened;
      socket.close();
      await timeout(socket.closed, 5000, "closed");
    });
  });

  it("connects over wss: with a self-signed certificate in tls.caCerts", async () => {
    const { cert, key } = generateSelfSignedCert();
    await withServer(() => startWstream({ cert, key }), async ({ url }) => {
      const socket = new WebSocketStream(url, { tls: { caCerts: [cert] } });
      const { readable, writable } = await timeout(socket.opened, 5000, "open");
      await writable.getWriter().write("secure");
      assert.equal((await readable.getReader().read()).value, "secure");
      socket.close({ closeCode: 1000 });
      assert.equal((await socket.closed).closeCode, 1000);
    });
  });

  it("resolves closed with 1006 when the connection is lost after opening", async () => {
    await withRaw(async (c) => {
      await c.write(await switching(c.key));
      await c.write(encodeServerFrame({ opcode: 1, payload: "then gone" }));
      await delay(20);
      c.close();
    }, async ({ url }) => {
      const socket = new WebSocketStream(url);
      const { readable } = await socket.opened;
      const reader = readable.getReader();
      assert.equal((await reader.read()).value, "then gone");
      await assert.rejects(reader.read(), (error: unknown) => {
        assert.ok(error instanceof WebSocketError);
        assert.equal(error.closeCode, 1006);
        return true;
      });
      assert.deepEqual(await timeout(socket.closed, 5000, "closed"), {
        closeCode: 1006,
        reason: "",
      });
    });
  });
});

describe(
  "WebSocketStream handshake failures",
  { timeout: TEST_TIMEOUT },
  () => {
    it("rejects opened and closed with the HandshakeError of a refusal", async () => {
      await withRaw(
        (c) =>
          c.write("HTTP/1.1 403 Forbidden\r\nContent-Length: 6\r\n\r\ndenied"),
        async ({ url, next }) => {
          const socket = new WebSocketStream(url);
          await bothReject(
            socket,
            (error) =>
              error instanceof HandshakeError &&
              error.code === "WS_ERR_HANDSHAKE_STATUS" &&
              /got 403 Forbidden: "denied"/.test(error.message),
          );
          await timeout((await next()).ended, 5000, "socket closed");
          socket.close(); // Does nothing after a failed handshake.
        },
      );
    });

    it("rejects opened and closed with WS_ERR_HANDSHAKE_ACCEPT on a bad accept value", async () => {
      await withRaw(
        (c) =>
          c.write(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" +
              "Connection: Upgrade\r\nSec-WebSocket-Accept: bad\r\n\r\n",
          ),
        async ({ url }) => {
          await bothReject(
            new WebSocketStream(url),
            (error) =>
              error instanceof HandshakeError &&
              error.code === "WS_ERR_HANDSHAKE_ACCEPT",
          );
        },
      );
    });

    it("rejects opened and closed with WS_ERR_HANDSHAKE_TIMEOUT", async () => {
      await withRaw(() => {}, async ({ url, next }) => {
        const socket = new WebSocketStream(url, { handshakeTimeout: 100 });
        await bothReject(
          socket,
          (error) =>
            error instanceof HandshakeError &&
            error.code === "WS_ERR_HANDSHAKE_TIMEOUT",
        );
        await timeout((await next()).ended, 5000, "socket closed");
      });
    });

    it("rejects opened and closed with the wrapped error of a refused connection", async () => {
      const port = await unusedPort();
      await bothReject(
        new WebSocketStream(`ws://127.0.0.1:${port}/`),
        (error) =>
          error instanceof Error &&
          error.message.startsWith(`Cannot connect to ws://127.0.0.1:${port}/`),
      );
    });

    it("rejects opened and closed with the signal's reason when aborted", async () => {
      await withRaw(() => {}, async ({ url, next }) => {
        const controller = new AbortController();
        const socket = new WebSocketStream(url, { signal: controller.signal });
        const connection = await next();
        controller.abort();
        await bothReject(
          socket,
          (error) =>
            error instanceof DOMException && error.name === "AbortError",
        );
        await timeout(connection.ended, 5000, "socket closed");

        const reason = new Error("already aborted");
        await bothReject(
          new WebSocketStream(url, { signal: AbortSignal.abort(reason) }),
          (error) => error === reason,
        );
      });
    });

    it("abandons the handshake when closed before it completes", async () => {
      await withRaw(() => {}, async ({ url, next }) => {
        const socket = new WebSocketStream(url);
        const connection = await next();
        socket.close({ closeCode: 1000, reason: "never mind" });
        socket.close(); // A second call does nothing.
        await bothReject(
          socket,
          (error) =>
            error instanceof WebSocketError &&
            /closed before the opening handshake completed/.test(error.message),
        );
        await timeout(connection.ended, 5000, "socket closed");
      });
    });

    it("abandons the handshake when closed at once, before connecting", async () => {
      await withServer(startWstream, async ({ url }) => {
        const socket = new WebSocketStream(url);
        socket.close();
        await bothReject(socket, (error) => error instanceof WebSocketError);
      });
    });

    it("checks close() arguments before the handshake completes", async () => {
      await withRaw(() => {}, async ({ url }) => {
        const socket = new WebSocketStream(url);
        assert.throws(() => socket.close({ closeCode: 1005 }), RangeError);
        assert.throws(() => socket.close({ closeCode: 1000.5 }), RangeError);
        assert.throws(
          () => socket.close({ reason: "x".repeat(124) }),
          RangeError,
        );
        socket.close();
        await bothReject(socket, (error) => error instanceof WebSocketError);
      });
    });

    it("lets no rejection go unhandled when nobody awaits opened or closed", async () => {
      // Deno's, Bun's and Node's test runners each fail the running test on
      // an unhandled rejection: the sockets below would fail this one.
      await withRaw(
        (c) => c.write("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"),
        async ({ url }) => {
          new WebSocketStream(url);
          new WebSocketStream(url, { handshakeTimeout: 50 });
          new WebSocketStream(url).close();
          new WebSocketStream(url, { signal: AbortSignal.abort() });
          new WebSocketStream(url, { maxMessageSize: -1 });
          await delay(300);
        },
      );
    });
  },
);

describe("WebSocketStream arguments", () => {
  it("throws SyntaxError synchronously for an invalid URL", () => {
    for (
      const url of [
        "ftp://example.com/",
        "ws://example.com/#fragment",
        "relative/path",
      ]
    ) {
      assert.throws(() => new WebSocketStream(url), SyntaxError, url);
    }
  });

  it("throws SyntaxError synchronously for invalid or repeated subprotocols", () => {
    assert.throws(
      () => new WebSocketStream("ws://127.0.0.1:1/", { protocols: ["a,b"] }),
      SyntaxError,
    );
    assert.throws(
      () => new WebSocketStream("ws://127.0.0.1:1/", { protocols: ["a", "a"] }),
      SyntaxError,
    );
  });

  it("throws TypeError synchronously for an invalid header", () => {
    assert.throws(
      () =>
        new WebSocketStream("ws://127.0.0.1:1/", {
          headers: { "x": "a\r\nb" },
        }),
      TypeError,
    );
  });

  it("rejects opened and closed with RangeError for an invalid limit", async () => {
    await bothReject(
      new WebSocketStream("ws://127.0.0.1:1/", { handshakeTimeout: -1 }),
      (error) => error instanceof RangeError,
    );
  });
});

/** Deno's native class, where the runtime exposes it (`--unstable-net`). */
const NativeWebSocketStream = (globalThis as unknown as {
  WebSocketStream?: new (
    url: string,
    options?: { signal?: AbortSignal },
  ) => WebSocketStreamLike;
}).WebSocketStream;

describe("WebSocketStream compared with the runtime's native class", {
  skip: NativeWebSocketStream === undefined
    ? "no native WebSocketStream (Deno needs --unstable-net)"
    : false,
  timeout: TEST_TIMEOUT,
}, () => {
  it("settles opened and closed the same way on a refused upgrade, an abort and an early close", async () => {
    await withRaw(
      (c) => c.write("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"),
      async ({ url }) => {
        for (const Class of [WebSocketStream, NativeWebSocketStream!]) {
          await bothReject(new Class(url), (error) => error instanceof Error);
          const reason = new Error("aborted");
          await bothReject(
            new Class(url, { signal: AbortSignal.abort(reason) }),
            (error) => error === reason,
          );
          const early = new Class(url);
          early.close();
          await bothReject(early, (error) => error instanceof Error);
        }
      },
    );
  });
});
