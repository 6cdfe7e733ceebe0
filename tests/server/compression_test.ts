/**
 * permessage-deflate end to end over real sockets on 127.0.0.1: wstream's
 * serve() and upgrade() against wstream's connect(), with a counting TCP
 * proxy in between to see the bytes on the wire; raw clients for what
 * wstream's client never sends (fragmented compressed messages, bombs).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createConnection, createServer, type Socket } from "node:net";
import { deflateRawSync } from "node:zlib";
import { serve } from "../../lib/server/serve.ts";
import { upgrade } from "../../lib/server/upgrade.ts";
import type { ServerUpgradeOptions } from "../../lib/server/upgrade.ts";
import { connect, type ConnectOptions } from "../../lib/client/connect.ts";
import type { WebSocketStreamLike } from "../../lib/connection/websocket_stream_like.ts";
import {
  echoUpgraded,
  encodeClientFrame,
  listenLocal,
  timeout,
} from "../_test_utils.ts";
import {
  closeFrameInfo,
  RawWebSocket,
  text,
  UPGRADE_HEAD,
} from "../_raw_client.ts";

const DEFAULT_ANSWER =
  "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12";

/** An echo server on port 0 whose upgrades use `options`. */
async function withEchoServer(
  options: ServerUpgradeOptions,
  body: (port: number, sockets: WebSocketStreamLike[]) => Promise<void>,
): Promise<void> {
  const sockets: WebSocketStreamLike[] = [];
  const server = serve(
    { port: 0, hostname: "127.0.0.1" },
    async (request) => echoUpgraded(await upgrade(request, options), sockets),
  );
  try {
    const { port } = await server.listening;
    await body(port, sockets);
  } finally {
    await server.shutdown();
  }
}

/** A TCP proxy counting the bytes the server sends to the client. */
async function withCountingProxy(
  target: number,
  body: (port: number, counted: { toClient: number }) => Promise<void>,
): Promise<void> {
  const counted = { toClient: 0 };
  const sockets = new Set<Socket>();
  const proxy = createServer((client) => {
    const upstream = createConnection(target, "127.0.0.1");
    sockets.add(client).add(upstream);
    client.pipe(upstream);
    upstream.on("data", (chunk: Uint8Array) => {
      counted.toClient += chunk.length;
    });
    upstream.pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
  });
  try {
    const port = await listenLocal(proxy, "proxy");
    await body(port, counted);
  } finally {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => proxy.close(resolve));
  }
}

async function echo(
  port: number,
  messages: (string | Uint8Array)[],
  options: ConnectOptions = {},
): Promise<{ extensions: string; received: (string | Uint8Array)[] }> {
  const socket = await connect(`ws://127.0.0.1:${port}/`, options);
  try {
    const { readable, writable, extensions } = await socket.opened;
    const writer = writable.getWriter();
    const reader = readable.getReader();
    const received: (string | Uint8Array)[] = [];
    for (const message of messages) {
      await writer.write(message);
      const { value } = await timeout(reader.read(), 10_000, "echo");
      received.push(value!);
    }
    return { extensions, received };
  } finally {
    socket.close({ closeCode: 1000 });
    await socket.closed;
  }
}

function json(bytes: number): string {
  const item = { id: 12345, user: "someone", text: "hello there", ok: true };
  let out = "[";
  while (out.length < bytes) out += JSON.stringify(item) + ",";
  return out + "{}]";
}

describe("permessage-deflate over real sockets (wstream ↔ wstream)", () => {
  it("negotiates by default and echoes text, binary, empty and large messages", async () => {
    await withEchoServer({}, async (port, sockets) => {
      const binary = new Uint8Array(5000).map((_, i) => i % 7);
      const messages = [
        "hello",
        "",
        new Uint8Array(0),
        binary,
        json(300_000),
        "héllo wörld ✓ ".repeat(100),
        ...Array.from({ length: 20 }, (_, i) => json(200) + i),
      ];
      const { extensions, received } = await echo(port, messages);
      assert.equal(extensions, DEFAULT_ANSWER);
      assert.deepEqual(received, messages);
      assert.equal((await sockets[0]!.opened).extensions, DEFAULT_ANSWER);
    });
  });

  it("puts fewer bytes on the wire than a large compressible message", async () => {
    await withEchoServer({}, async (port) => {
      await withCountingProxy(port, async (proxyPort, counted) => {
        const message = json(200_000);
        const { received } = await echo(proxyPort, [message]);
        assert.equal(received[0], message);
        // 101 head + the echoed message + the close frame.
        assert.ok(
          counted.toClient < message.length / 5,
          `${counted.toClient} bytes for a ${message.length}-byte message`,
        );
      });
    });
  });

  it("sends the message uncompressed with compression off on the server", async () => {
    await withEchoServer({ compression: false }, async (port, sockets) => {
      await withCountingProxy(port, async (proxyPort, counted) => {
        const message = json(50_000);
        const { extensions } = await echo(proxyPort, [message]);
        assert.equal(extensions, "");
        assert.equal((await sockets[0]!.opened).extensions, "");
        assert.ok(counted.toClient > message.length);
      });
    });
  });

  it("takes serve()'s compression option for upgrades that set none", async () => {
    for (
      const [compression, expected] of [
        [false, ""],
        [
          { serverMaxWindowBits: 10 },
          "permessage-deflate; server_max_window_bits=10; client_max_window_bits=12",
        ],
      ] as const
    ) {
      const server = serve(
        { port: 0, hostname: "127.0.0.1", compression },
        async (request) => echoUpgraded(await upgrade(request), []),
      );
      try {
        const { port } = await server.listening;
        const { extensions } = await echo(port, [json(1000)]);
        assert.equal(extensions, expected);
      } finally {
        await server.shutdown();
      }
    }
    assert.throws(
      () =>
        serve({ port: 0, compression: { memLevel: 10 } }, () => new Response()),
      RangeError,
    );
  });

  it("negotiates nothing when the client turns compression off", async () => {
    await withEchoServer({}, async (port, sockets) => {
      const { extensions, received } = await echo(port, [json(1000)], {
        compression: false,
      });
      assert.equal(extensions, "");
      assert.equal(received.length, 1);
      assert.equal((await sockets[0]!.opened).extensions, "");
    });
  });

  for (const takeover of [true, false]) {
    it(`echoes 50 messages with context takeover ${takeover ? "on" : "off"}`, async () => {
      const compression = takeover
        ? {}
        : { serverNoContextTakeover: true, clientNoContextTakeover: true };
      await withEchoServer({ compression }, async (port) => {
        const messages = Array.from({ length: 50 }, (_, i) => json(500) + i);
        const { extensions, received } = await echo(port, messages, {
          compression: { clientMaxWindowBits: 10 },
        });
        assert.equal(
          extensions,
          takeover
            ? "permessage-deflate; server_max_window_bits=12; client_max_window_bits=10"
            : "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12; client_max_window_bits=10",
        );
        assert.deepEqual(received, messages);
      });
    });
  }

  it("fails the client handshake when the server answers a parameter not offered", async () => {
    const server = createServer((socket) => {
      socket.once("data", async (chunk: Uint8Array) => {
        const key = /sec-websocket-key: *(\S+)/i.exec(
          new TextDecoder().decode(chunk),
        )![1]!;
        const digest = await crypto.subtle.digest(
          "SHA-1",
          new TextEncoder().encode(
            key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11",
          ),
        );
        const accept = btoa(String.fromCharCode(...new Uint8Array(digest)));
        socket.write(
          "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" +
            `Connection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n` +
            "Sec-WebSocket-Extensions: permessage-deflate; x-unknown\r\n\r\n",
        );
      });
      socket.on("error", () => {});
    });
    try {
      const port = await listenLocal(server);
      await assert.rejects(
        connect(`ws://127.0.0.1:${port}/`),
        (error: unknown) =>
          (error as { code?: string }).code === "WS_ERR_HANDSHAKE_EXTENSION" &&
          /unknown parameter x-unknown/.test((error as Error).message),
      );
    } finally {
      server.close();
    }
  });
});

describe("permessage-deflate over real sockets (raw client)", () => {
  const deflateHead = (extensions: string) =>
    UPGRADE_HEAD.replace(
      "\r\n\r\n",
      `\r\nSec-WebSocket-Extensions: ${extensions}\r\n\r\n`,
    );

  it("refuses a malformed Sec-WebSocket-Extensions with 400", async () => {
    await withEchoServer({}, async (port) => {
      await assert.rejects(
        RawWebSocket.open(port, {
          head: deflateHead("permessage-deflate; a="),
        }),
        /400/,
      );
    });
  });

  it("inflates a compressed message fragmented over 3 frames", async () => {
    // threshold: the echo comes back uncompressed, for the raw parser.
    await withEchoServer({ compression: { threshold: 1e9 } }, async (port) => {
      const raw = await RawWebSocket.open(port, {
        head: deflateHead("permessage-deflate"),
      });
      try {
        assert.equal(
          raw.response.headers.get("sec-websocket-extensions"),
          "permessage-deflate; server_max_window_bits=12",
        );
        const message = "fragment ".repeat(1000);
        const all = deflateRawSync(new TextEncoder().encode(message), {
          finishFlush: 2,
        });
        const wire = all.subarray(0, all.length - 4);
        const third = Math.floor(wire.length / 3);
        const writer = raw;
        await writer.write(encodeClientFrame({
          fin: false,
          rsv: 4,
          opcode: 1,
          payload: wire.subarray(0, third),
        }));
        await writer.write(encodeClientFrame({
          fin: false,
          opcode: 0,
          payload: wire.subarray(third, 2 * third),
        }));
        await writer.write(encodeClientFrame({
          opcode: 0,
          payload: wire.subarray(2 * third),
        }));
        assert.equal(text(await raw.next()), message);
      } finally {
        raw.close();
      }
    });
  });

  it("closes a decompression bomb with 1009 while memory stays bounded", async () => {
    // 256 MiB of zeros deflate to ~256 KiB; the server allows 1 MiB.
    const bomb = deflateRawSync(new Uint8Array(256 * 1024 * 1024), {
      finishFlush: 2,
    });
    const payload = bomb.subarray(0, bomb.length - 4);
    await withEchoServer(
      { maxMessageSize: 1024 * 1024 },
      async (port, sockets) => {
        const before = process.memoryUsage().rss;
        const raw = await RawWebSocket.open(port, {
          head: deflateHead("permessage-deflate"),
        });
        try {
          await raw.write(encodeClientFrame({ rsv: 4, opcode: 2, payload }));
          const info = closeFrameInfo(await raw.next(10_000));
          assert.equal(info.closeCode, 1009);
          const grown = process.memoryUsage().rss - before;
          assert.ok(grown < 64 * 1024 * 1024, `RSS grew by ${grown} bytes`);
          assert.equal((await sockets[0]!.closed).closeCode, 1009);
        } finally {
          raw.close();
        }
      },
    );
  });
});
