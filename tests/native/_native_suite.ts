/**
 * The behaviour every native path of `upgrade()` must share with wstream's
 * own connection, as one suite that `native_deno_test.ts` runs under
 * `Deno.serve` and `native_bun_test.ts` under `Bun.serve`.
 *
 * Private to the tests; never re-exported.
 *
 * @module
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { upgrade, WebSocketError } from "../../mod.ts";
import type {
  ServerUpgradeOptions,
  WebSocketMessage,
  WebSocketOpenInfo,
  WebSocketStreamLike,
} from "../../mod.ts";
import {
  concat,
  delay,
  encodeClientFrame,
  testBytes,
  timeout,
} from "../_test_utils.ts";
import { openClient, upgradeRequestHead } from "../_shared_handler.ts";
import {
  closeFrameInfo,
  MASKED_HELLO,
  OPCODE_CLOSE,
  RawWebSocket,
  text,
} from "../_raw_client.ts";
import type { Frame } from "../../lib/core/frame.ts";

/** A running native server on 127.0.0.1. */
export interface NativeServer {
  /** Its port. */
  port: number;
  /** Stops it and drops its connections. */
  stop(): Promise<void>;
}

/** Starts the runtime's own server with a handler. */
export type StartNativeServer = (
  handler: (request: Request) => Promise<Response>,
) => Promise<NativeServer>;

/** What the runtime underneath allows, where placements differ. */
export interface NativeFacts {
  /**
   * Whether an answer written (by a `readable` reader) to a message goes out
   * when the client's close frame or a bad frame came in the same read:
   * Bun yes; Deno no (it answers the close, or drops the connection, in the
   * turn it delivered the message, and the write rejects). See the JSDoc
   * of `upgrade()`.
   */
  answersBeforeSameReadClose: boolean;
}

const TEST_TIMEOUT = 20_000;

/** A server whose handler upgrades with `options` and records each socket. */
async function startUpgrading(
  start: StartNativeServer,
  options: ServerUpgradeOptions = {},
  onOpen?: (open: WebSocketOpenInfo, socket: WebSocketStreamLike) => void,
): Promise<NativeServer & { sockets: WebSocketStreamLike[] }> {
  const sockets: WebSocketStreamLike[] = [];
  const server = await start(async (request) => {
    const { response, socket } = await upgrade(request, options);
    if (socket !== null) {
      sockets.push(socket);
      socket.opened.then((open) => onOpen?.(open, socket)).catch(() => {});
    }
    return response;
  });
  return { ...server, sockets };
}

/** Echoes every message back. */
async function echo({ readable, writable }: WebSocketOpenInfo): Promise<void> {
  const writer = writable.getWriter();
  for await (const message of readable) await writer.write(message);
}

/** A hand-driven WebSocket client over `node:net`. */
interface RawClient {
  socket: net.Socket;
  /** The 101 response head. */
  head: string;
  /** Resolves once the server closed or reset the TCP connection. */
  ended: Promise<void>;
}

async function rawClient(
  port: number,
  extraHeaders: Record<string, string> = {},
): Promise<RawClient> {
  const socket = net.connect(port, "127.0.0.1");
  const ended = new Promise<void>((resolve) => {
    socket.on("close", () => resolve());
    socket.on("error", () => resolve());
  });
  socket.write(upgradeRequestHead(port, extraHeaders));
  const head = await timeout(
    new Promise<string>((resolve, reject) => {
      let text = "";
      const onData = (chunk: Buffer): void => {
        text += chunk.toString("latin1");
        const end = text.indexOf("\r\n\r\n");
        if (end < 0) return;
        socket.removeListener("data", onData);
        // Anything after the head is ignored by these tests.
        resolve(text.slice(0, end));
      };
      socket.on("data", onData);
      socket.on("error", reject);
    }),
    5000,
    "the 101 response",
  );
  return { socket, head, ended };
}

/**
 * The README's echo, recording how each write settled: `"written"`, or
 * what it rejected with.
 */
async function recordedEcho(
  { readable, writable }: WebSocketOpenInfo,
  outcomes: Promise<unknown>[],
): Promise<void> {
  const writer = writable.getWriter();
  try {
    for await (const message of readable) {
      const outcome = writer.write(message).then(() => "written", (e) => e);
      outcomes.push(outcome);
      await outcome;
    }
  } catch {
    // The connection failed: nothing left to echo to.
  }
}

/** The frames a raw client receives until the server's close frame or EOF. */
async function framesUntilClose(client: RawWebSocket): Promise<Frame[]> {
  const frames: Frame[] = [];
  for (let frame = await client.next(); frame !== null;) {
    frames.push(frame);
    if (frame.opcode === OPCODE_CLOSE) break;
    frame = await client.next();
  }
  return frames;
}

/** Reads the rest of `readable` and returns how it ended. */
async function drain(
  readable: ReadableStream<WebSocketMessage>,
): Promise<"ended" | WebSocketError> {
  try {
    for await (const _ of readable) { /* discard */ }
    return "ended";
  } catch (error) {
    assert.ok(error instanceof WebSocketError, `got ${error}`);
    return error;
  }
}

/**
 * Runs the shared suite.
 *
 * @param name The placement, for the test names.
 * @param skip `false`, or why the placement is unavailable here.
 * @param start Starts the runtime's server with a handler.
 * @param facts What the runtime allows, where placements differ.
 */
export function nativeAdapterSuite(
  name: string,
  skip: string | false,
  start: StartNativeServer,
  facts: NativeFacts,
): void {
  describe(`upgrade() under ${name}`, { timeout: TEST_TIMEOUT, skip }, () => {
    it("answers 101 and echoes first frames sent in the same write as the request head", async () => {
      // The README's handler: it awaits upgrade() only, so the runtime is
      // asked to upgrade in the turn the request arrived.
      const server = await startUpgrading(start, {}, (open) => {
        echo(open).catch(() => {});
      });
      let client: RawWebSocket | null = null;
      try {
        client = await RawWebSocket.open(server.port, { after: MASKED_HELLO });
        assert.equal(text(await client.next()), "Hello");
        await client.send(OPCODE_CLOSE, new Uint8Array([0x03, 0xe8]));
        assert.deepEqual(
          closeFrameInfo(await client.next()),
          { closeCode: 1000, reason: "" },
        );
        assert.deepEqual(
          await timeout(server.sockets[0]!.closed, 5000, "closed"),
          { closeCode: 1000, reason: "" },
        );
      } finally {
        client?.close();
        await server.stop();
      }
    });

    it(
      facts.answersBeforeSameReadClose
        ? "echoes a message read together with the client's close frame before answering the close"
        : "rejects the write answering a message read together with the client's close frame (the runtime closed first)",
      async () => {
        const outcomes: Promise<unknown>[] = [];
        const server = await startUpgrading(start, {}, (open) => {
          recordedEcho(open, outcomes);
        });
        const client = await RawWebSocket.open(server.port);
        try {
          await timeout(server.sockets[0]!.opened, 5000, "opened");
          await client.write(concat([
            encodeClientFrame({ opcode: 1, payload: "Hello" }),
            encodeClientFrame({
              opcode: OPCODE_CLOSE,
              payload: new Uint8Array([0x03, 0xe8]),
            }),
          ]));
          const frames = await framesUntilClose(client);
          const close = frames.pop() ?? null;
          assert.deepEqual(closeFrameInfo(close), {
            closeCode: 1000,
            reason: "",
          });
          const outcome = await timeout(outcomes[0]!, 5000, "the echo");
          if (facts.answersBeforeSameReadClose) {
            assert.deepEqual(frames.map(text), ["Hello"]);
            assert.equal(outcome, "written");
          } else {
            // Never a write reported as written that did not go out.
            assert.deepEqual(frames, []);
            assert.ok(outcome instanceof TypeError, `got ${outcome}`);
          }
          assert.deepEqual(
            await timeout(server.sockets[0]!.closed, 5000, "closed"),
            { closeCode: 1000, reason: "" },
          );
        } finally {
          client.close();
          await server.stop();
        }
      },
    );

    it(
      facts.answersBeforeSameReadClose
        ? "echoes a message read together with a frame of a reserved opcode before closing with 1002"
        : "rejects the write answering a message read together with a frame of a reserved opcode (the runtime dropped the connection first)",
      async () => {
        const outcomes: Promise<unknown>[] = [];
        const server = await startUpgrading(start, {}, (open) => {
          recordedEcho(open, outcomes);
        });
        const client = await RawWebSocket.open(server.port);
        try {
          await timeout(server.sockets[0]!.opened, 5000, "opened");
          await client.write(concat([
            encodeClientFrame({ opcode: 1, payload: "Hello" }),
            encodeClientFrame({ opcode: 3, payload: "" }),
          ]));
          const frames = await framesUntilClose(client);
          const outcome = await timeout(outcomes[0]!, 5000, "the echo");
          const closed = await timeout(
            server.sockets[0]!.closed,
            5000,
            "closed",
          );
          if (facts.answersBeforeSameReadClose) {
            assert.equal(text(frames[0] ?? null), "Hello");
            assert.equal(outcome, "written");
            assert.equal(closeFrameInfo(frames[1] ?? null).closeCode, 1002);
            assert.equal(frames.length, 2);
            assert.equal(closed.closeCode, 1002);
          } else {
            // Dropped without a close frame (see the JSDoc of upgrade()).
            assert.deepEqual(frames, []);
            assert.ok(outcome instanceof Error, `got ${outcome}`);
            assert.deepEqual(closed, { closeCode: 1006, reason: "" });
          }
        } finally {
          client.close();
          await server.stop();
        }
      },
    );

    it("makes writes wait once the client stops reading, after a bounded amount", async () => {
      const writerReady = Promise.withResolvers<{
        writer: WritableStreamDefaultWriter<
          string | BufferSource | ArrayBufferView
        >;
      }>();
      const server = await startUpgrading(start, {}, ({ writable }) => {
        writerReady.resolve({ writer: writable.getWriter() });
      });
      const client = await rawClient(server.port);
      try {
        client.socket.pause(); // Stop reading: the kernel buffers fill up.
        const { writer } = await timeout(writerReady.promise, 5000, "opened");
        const chunk = new Uint8Array(256 * 1024);
        const limit = 256 * 1024 * 1024;
        let written = 0;
        let blocked = false;
        while (written < limit) {
          blocked = !(await Promise.race([
            writer.ready.then(() => true),
            delay(500).then(() => false),
          ]));
          if (blocked) break;
          writer.write(chunk).catch(() => {});
          written += chunk.length;
        }
        assert.ok(blocked, `writes never waited after ${written} bytes`);
        // Kernel buffers (a few MiB on loopback) + the 1 MiB high-water mark
        // + the stream's 16 queued writes.
        assert.ok(
          written < 64 * 1024 * 1024,
          `waited only after ${written} bytes`,
        );

        let read = 0;
        client.socket.on("data", (data: Buffer) => read += data.length);
        client.socket.resume();
        await timeout(writer.ready, 10_000, "writes to resume");
        assert.ok(read > 0);
        client.socket.destroy();
        assert.deepEqual(
          await timeout(server.sockets[0]!.closed, 7000, "closed"),
          { closeCode: 1006, reason: "" },
        );
      } finally {
        client.socket.destroy();
        await server.stop();
      }
    });

    it("ends readable after a clean close by the client, reporting its code and reason", async () => {
      const endings: Promise<"ended" | WebSocketError>[] = [];
      const server = await startUpgrading(start, {}, ({ readable }) => {
        endings.push(drain(readable));
      });
      try {
        const client = await openClient(`ws://127.0.0.1:${server.port}/`);
        client.ws.send("one");
        client.ws.close(4000, "bye ✓");
        const event = await timeout(client.closed, 5000, "client closed");
        assert.equal(event.code, 4000);
        const [socket] = server.sockets;
        assert.deepEqual(
          await timeout(socket!.closed, 5000, "server closed"),
          { closeCode: 4000, reason: "bye ✓" },
        );
        assert.equal(await timeout(endings[0]!, 5000, "readable"), "ended");
      } finally {
        await server.stop();
      }
    });

    it("reports 1006 and errors readable when the client drops the connection", async () => {
      const endings: Promise<"ended" | WebSocketError>[] = [];
      const server = await startUpgrading(start, {}, ({ readable }) => {
        endings.push(drain(readable));
      });
      try {
        const client = await rawClient(server.port);
        await timeout(server.sockets[0]!.opened, 5000, "opened");
        client.socket.destroy();
        assert.deepEqual(
          await timeout(server.sockets[0]!.closed, 5000, "closed"),
          { closeCode: 1006, reason: "" },
        );
        const ending = await timeout(endings[0]!, 5000, "readable");
        assert.ok(ending instanceof WebSocketError);
        assert.equal(ending.closeCode, 1006);
      } finally {
        await server.stop();
      }
    });

    it("validates close() arguments with RangeError", async () => {
      const server = await startUpgrading(start);
      try {
        const client = await openClient(`ws://127.0.0.1:${server.port}/`);
        const socket = server.sockets[0]!;
        await timeout(socket.opened, 5000, "opened");
        for (
          const closeCode of [999, 1004, 1005, 1006, 1015, 2999, 5000, 1.5]
        ) {
          assert.throws(
            () => socket.close({ closeCode }),
            RangeError,
            `${closeCode}`,
          );
        }
        assert.throws(
          () => socket.close({ closeCode: 4000, reason: "é".repeat(62) }),
          RangeError,
        );
        // Nothing was sent: the connection is still usable.
        const { writable } = await socket.opened;
        await writable.getWriter().write("still open");
        assert.equal(await client.next(), "still open");
        socket.close({ closeCode: 1001, reason: "é".repeat(61) }); // 122 bytes
        const event = await timeout(client.closed, 5000, "client closed");
        assert.equal(event.code, 1001);
        assert.equal(event.reason, "é".repeat(61));
      } finally {
        await server.stop();
      }
    });

    it("sends the close frame after the writes already made, and refuses later ones", async () => {
      const big = testBytes(3 << 20, 3);
      const late = Promise.withResolvers<unknown>();
      const server = await startUpgrading(start, {}, ({ writable }, socket) => {
        const writer = writable.getWriter();
        writer.write(big).catch(() => {});
        writer.write(big).catch(() => {});
        writer.write("last").catch(() => {});
        socket.close({ closeCode: 4002, reason: "after" });
        writer.write("too late").then(late.resolve, late.resolve);
      });
      try {
        const client = await openClient(`ws://127.0.0.1:${server.port}/`);
        assert.deepEqual(
          new Uint8Array(await client.next() as ArrayBuffer),
          big,
        );
        assert.deepEqual(
          new Uint8Array(await client.next() as ArrayBuffer),
          big,
        );
        assert.equal(await client.next(), "last");
        const event = await timeout(client.closed, 5000, "client closed");
        assert.equal(event.code, 4002);
        assert.equal(event.reason, "after");
        // Refused: by the sink (TypeError) while the close is under way, or
        // with the WebSocketError of the closed stream once it is over (at
        // once on Bun, which reports the close as soon as it is sent).
        const refusal = await timeout(late.promise, 5000, "late write");
        assert.ok(
          refusal instanceof TypeError || refusal instanceof WebSocketError,
          `got ${refusal}`,
        );
        assert.deepEqual(
          await timeout(server.sockets[0]!.closed, 5000, "server closed"),
          { closeCode: 4002, reason: "after" },
        );
      } finally {
        await server.stop();
      }
    });

    for (
      const [kind, fits, over] of [
        ["binary", new Uint8Array(1024), new Uint8Array(1025)],
        // 513 UTF-16 units, 1026 bytes of UTF-8.
        ["text", "x".repeat(1024), "é".repeat(513)],
      ] as const
    ) {
      it(`closes with 1009 on a ${kind} message over maxMessageSize`, async () => {
        const endings: Promise<"ended" | WebSocketError>[] = [];
        const server = await startUpgrading(
          start,
          { maxMessageSize: 1024 },
          (open) => {
            endings.push(echo(open).then(() => "ended", (error) => error));
          },
        );
        try {
          const client = await openClient(`ws://127.0.0.1:${server.port}/`);
          client.ws.send(fits);
          const echoed = await client.next();
          assert.equal(
            typeof echoed === "string" ? echoed.length : echoed.byteLength,
            1024,
          );
          client.ws.send(over);
          const event = await timeout(client.closed, 5000, "client closed");
          assert.equal(event.code, 1009);
          const closed = await timeout(
            server.sockets[0]!.closed,
            5000,
            "closed",
          );
          assert.equal(closed.closeCode, 1009);
          assert.equal(closed.reason, event.reason);
          const ending = await timeout(endings[0]!, 5000, "readable");
          assert.ok(ending instanceof WebSocketError);
          assert.equal(ending.closeCode, 1009);
        } finally {
          await server.stop();
        }
      });
    }

    it("closes with 1008 when unread messages exceed maxUnreadBytes", async () => {
      const server = await startUpgrading(start, { maxUnreadBytes: 64 * 1024 });
      try {
        const client = await openClient(`ws://127.0.0.1:${server.port}/`);
        // Four fill the limit, the fifth is over it. (A client that goes on
        // sending after the close frame is dropped by Deno without a clean
        // close on its side; the server side still reports 1008.)
        for (let i = 0; i < 5; i++) client.ws.send(new Uint8Array(16 * 1024));
        const event = await timeout(client.closed, 5000, "client closed");
        assert.equal(event.code, 1008);
        assert.match(event.reason, /unread/i);
        const socket = server.sockets[0]!;
        assert.deepEqual(
          await timeout(socket.closed, 5000, "closed"),
          { closeCode: 1008, reason: event.reason },
        );
        const { readable } = await socket.opened;
        await assert.rejects(
          readable.getReader().read(),
          (error: unknown) =>
            error instanceof WebSocketError && error.closeCode === 1008,
        );
      } finally {
        await server.stop();
      }
    });

    it("closes with 1001 after idleTimeout without messages", async () => {
      const server = await startUpgrading(start, {
        idleTimeout: 300,
        pingInterval: 0,
      });
      try {
        const client = await openClient(`ws://127.0.0.1:${server.port}/`);
        const event = await timeout(client.closed, 5000, "client closed");
        assert.equal(event.code, 1001);
        assert.equal(event.reason, "Idle timeout");
        assert.deepEqual(
          await timeout(server.sockets[0]!.closed, 5000, "closed"),
          { closeCode: 1001, reason: "Idle timeout" },
        );
      } finally {
        await server.stop();
      }
    });

    it("drops a client that stops answering keepalive pings, with 1006", async () => {
      const server = await startUpgrading(start, {
        pingInterval: 1000,
        pongTimeout: 500,
        idleTimeout: 0,
      });
      const client = await rawClient(server.port);
      try {
        client.socket.on("data", () => {}); // Reads, never answers.
        const socket = server.sockets[0]!;
        await timeout(socket.opened, 5000, "opened");
        assert.deepEqual(
          await timeout(socket.closed, 8000, "closed"),
          { closeCode: 1006, reason: "" },
        );
      } finally {
        client.socket.destroy();
        await server.stop();
      }
    });

    it("answers the chosen subprotocol and extra headers, and no subprotocol when none is chosen", async () => {
      let server = await startUpgrading(start, {
        protocols: ["b"],
        headers: { "x-served-by": "wstream" },
      });
      try {
        const client = await rawClient(server.port, {
          "Sec-WebSocket-Protocol": "a, b",
        });
        assert.match(client.head, /^HTTP\/1\.1 101 /);
        assert.match(client.head, /\r\nsec-websocket-protocol: b\r\n/i);
        assert.match(client.head, /\r\nx-served-by: wstream\r\n/i);
        assert.equal(
          (await timeout(server.sockets[0]!.opened, 5000, "opened")).protocol,
          "b",
        );
        assert.equal(server.sockets[0]!.url, `ws://127.0.0.1:${server.port}/`);
        client.socket.destroy();
      } finally {
        await server.stop();
      }
      server = await startUpgrading(start);
      try {
        const client = await rawClient(server.port, {
          "Sec-WebSocket-Protocol": "a, b",
        });
        assert.match(client.head, /^HTTP\/1\.1 101 /);
        assert.doesNotMatch(client.head, /sec-websocket-protocol/i);
        assert.equal(
          (await timeout(server.sockets[0]!.opened, 5000, "opened")).protocol,
          "",
        );
        client.socket.destroy();
      } finally {
        await server.stop();
      }
    });

    it("sends a close() made in the handler, before the 101 went out, once open", async () => {
      const sockets: WebSocketStreamLike[] = [];
      const server = await start(async (request) => {
        const { response, socket } = await upgrade(request);
        socket!.close({ closeCode: 4003, reason: "early" });
        sockets.push(socket!);
        return response;
      });
      try {
        const client = await openClient(`ws://127.0.0.1:${server.port}/`);
        const event = await timeout(client.closed, 5000, "client closed");
        assert.equal(event.code, 4003);
        assert.equal(event.reason, "early");
        assert.deepEqual(
          await timeout(sockets[0]!.closed, 5000, "closed"),
          { closeCode: 4003, reason: "early" },
        );
      } finally {
        await server.stop();
      }
    });

    it("refuses a second upgrade() of the same request with TypeError", async () => {
      const errors: unknown[] = [];
      const server = await start(async (request) => {
        const first = await upgrade(request);
        await upgrade(request).catch((error) => errors.push(error));
        return first.response;
      });
      try {
        const client = await openClient(`ws://127.0.0.1:${server.port}/`);
        assert.equal(errors.length, 1);
        assert.ok(errors[0] instanceof TypeError);
        assert.match((errors[0] as Error).message, /already called/);
        client.ws.close();
        await timeout(client.closed, 5000, "client closed");
      } finally {
        await server.stop();
      }
    });

    it("sends ArrayBuffer and typed-array views as binary, strings as text", async () => {
      const server = await startUpgrading(start, {}, async ({ writable }) => {
        const writer = writable.getWriter();
        await writer.write(new Uint8Array([1, 2, 3]).buffer);
        await writer.write(
          new DataView(new Uint8Array([0, 4, 5, 0]).buffer, 1, 2),
        );
        await writer.write(new Uint16Array([0x0706]));
        await writer.write("text");
      });
      try {
        const client = await openClient(`ws://127.0.0.1:${server.port}/`);
        const bytes = async (): Promise<number[]> =>
          Array.from(new Uint8Array(await client.next() as ArrayBuffer));
        assert.deepEqual(await bytes(), [1, 2, 3]);
        assert.deepEqual(await bytes(), [4, 5]);
        assert.deepEqual(await bytes(), [6, 7]);
        assert.equal(await client.next(), "text");
        client.ws.close();
        await timeout(client.closed, 5000, "client closed");
      } finally {
        await server.stop();
      }
    });

    it("delivers text as string and binary as a plain Uint8Array of its own buffer", async () => {
      const received = Promise.withResolvers<WebSocketMessage[]>();
      const server = await startUpgrading(start, {}, async ({ readable }) => {
        const messages: WebSocketMessage[] = [];
        for await (const message of readable) {
          messages.push(message);
          if (messages.length === 2) break;
        }
        received.resolve(messages);
      });
      try {
        const client = await rawClient(server.port);
        client.socket.write(encodeClientFrame({ opcode: 1, payload: "hé" }));
        client.socket.write(
          encodeClientFrame({ opcode: 2, payload: new Uint8Array([9, 8]) }),
        );
        const [text, binary] = await timeout(
          received.promise,
          5000,
          "messages",
        );
        assert.equal(text, "hé");
        assert.ok(binary instanceof Uint8Array);
        assert.equal(Object.getPrototypeOf(binary), Uint8Array.prototype);
        assert.deepEqual(Array.from(binary), [9, 8]);
        assert.equal(binary.byteOffset, 0);
        assert.equal(binary.buffer.byteLength, 2);
        client.socket.destroy();
      } finally {
        await server.stop();
      }
    });
  });
}
