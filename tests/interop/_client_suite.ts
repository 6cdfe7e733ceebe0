/**
 * The scenarios of wstream's client (`connect()` and `WebSocketStream`)
 * against a real server, written once: each server test file
 * (`ws_server_test.ts`, `deno_server_test.ts`, `bun_server_test.ts`)
 * describes how to start its echo server and control its connections, and
 * calls {@linkcode describeClientSuite}.
 *
 * Private to the tests; never re-exported.
 *
 * @module
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { connect } from "../../lib/client/connect.ts";
import type { ConnectOptions } from "../../lib/client/connect.ts";
import type {
  WebSocketMessage,
  WebSocketStreamLike,
} from "../../lib/connection/websocket_stream_like.ts";
import { WebSocketStream } from "../../lib/client/websocket_stream.ts";
import { generateSelfSignedCert } from "../_certs.ts";
import type { TestCert } from "../_certs.ts";
import { delay, testBytes, timeout } from "../_test_utils.ts";
import {
  CONCURRENT_CONNECTIONS,
  concurrentMessage,
  isOpen,
  largeText,
  MESSAGES_PER_CONNECTION,
  openSilentPeer,
  startTcpRelay,
  TEST_TIMEOUT,
} from "./_interop_utils.ts";

/** The server side of one connection of a {@linkcode PeerServer}. */
export interface PeerConnection {
  /** Every message received, in order (text as string, binary as bytes). */
  readonly received: (string | Uint8Array)[];
  /** The close code and reason the server saw. */
  readonly closed: Promise<{ code: number; reason: string }>;
  /** How many pings the server received, or `null` if it cannot tell. */
  pings(): number | null;
  /**
   * Sends a ping and resolves once the pong came back; `null` when the
   * server cannot ping on demand (see {@linkcode PeerServerKind.idlePings}).
   */
  ping: (() => Promise<void>) | null;
  /** Starts the closing handshake. */
  close(code: number, reason: string): void;
  /**
   * Destroys the TCP connection without a close frame (when the kind's
   * `canDrop`).
   */
  drop: (() => void) | null;
}

/** An echo server: every message is sent back with its type. */
export interface PeerServer {
  /** Its port on 127.0.0.1. */
  readonly port: number;
  /** The server side of the `index`-th accepted connection. */
  connection(index: number): Promise<PeerConnection>;
  /** Stops the server and drops what is left. */
  close(): Promise<void>;
}

/** Options of {@linkcode PeerServerKind.start}. */
export interface PeerServerOptions {
  /** Serve wss with this certificate and key. */
  tls?: TestCert;
  /**
   * For servers that ping only when idle: make them ping within about a
   * second (see {@linkcode PeerServerKind.idlePings}).
   */
  eagerPings?: boolean;
}

/** A kind of server the suite runs against. */
export interface PeerServerKind {
  /** Its name in test names, such as "the npm ws server". */
  readonly name: string;
  /** The `skip` option of the suite: the reason it cannot run here. */
  readonly skip: string | false;
  /**
   * When the server cannot ping on demand but pings on its own after this
   * many milliseconds of silence (with `eagerPings`) and drops a peer that
   * does not answer: the suite then checks the wstream client keeps the
   * connection alive for longer, beside a silent control that is dropped.
   */
  readonly idlePings?: number;
  /**
   * Whether its connections can be dropped (`drop`); if not, the suite
   * cuts a TCP relay in front of the server instead.
   */
  readonly canDrop: boolean;
  /**
   * Starts an echo server on 127.0.0.1, port 0.
   *
   * @param options TLS and ping settings.
   * @returns The server, once it listens.
   */
  start(options: PeerServerOptions): Promise<PeerServer>;
}

/** A wstream client connection with a reader and a writer. */
interface Client {
  socket: WebSocketStreamLike;
  next(ms?: number): Promise<WebSocketMessage>;
  /** Resolves with how `readable` ended: "done" or the error's name. */
  end(): Promise<string>;
  write(message: string | Uint8Array): Promise<void>;
}

async function openClient(
  url: string,
  options: ConnectOptions = {},
  api: "connect" | "WebSocketStream" = "connect",
): Promise<Client> {
  const socket: WebSocketStreamLike = api === "connect"
    ? await timeout(connect(url, options), 10_000, `connect(${url})`)
    : new WebSocketStream(url, options);
  const { readable, writable } = await timeout(socket.opened, 10_000, "opened");
  const reader = readable.getReader();
  const writer = writable.getWriter();
  return {
    socket,
    async next(ms = 10_000): Promise<WebSocketMessage> {
      const { done, value } = await timeout(reader.read(), ms, "a message");
      assert.equal(done, false, "readable ended early");
      return value!;
    },
    end(): Promise<string> {
      return timeout(
        reader.read().then(
          ({ done }) => done ? "done" : "a message",
          (error: Error) => error.name,
        ),
        10_000,
        "the end of readable",
      );
    },
    write: (message) => writer.write(message),
  };
}

/**
 * Declares the suite of client scenarios against one kind of server: over
 * ws (every scenario) and wss (echo, 1 MiB, close), the self-signed
 * certificate of `tests/_certs.ts` trusted through `tls.caCerts`.
 *
 * @param kind The server and how to control it.
 */
export function describeClientSuite(kind: PeerServerKind): void {
  describe(`wstream client with ${kind.name}`, {
    timeout: TEST_TIMEOUT,
    skip: kind.skip,
  }, () => {
    /** Runs `body` with a fresh server; closes everything afterwards. */
    async function withServer(
      body: (server: PeerServer, url: string) => Promise<void>,
      options: PeerServerOptions = {},
    ): Promise<void> {
      const server = await kind.start(options);
      try {
        const scheme = options.tls === undefined ? "ws" : "wss";
        await body(server, `${scheme}://127.0.0.1:${server.port}`);
      } finally {
        await server.close();
      }
    }

    for (const api of ["connect", "WebSocketStream"] as const) {
      it(`echoes text, binary and empty messages with their types (${api})`, async () => {
        await withServer(async (server, url) => {
          const client = await openClient(`${url}/echo`, {}, api);
          try {
            await client.write("hello ✓");
            await client.write(new Uint8Array([0, 1, 2, 255]));
            await client.write("");
            await client.write(new Uint8Array(0));
            assert.equal(await client.next(), "hello ✓");
            assert.deepEqual(
              await client.next(),
              new Uint8Array([0, 1, 2, 255]),
            );
            assert.equal(await client.next(), "");
            assert.deepEqual(await client.next(), new Uint8Array(0));
            assert.deepEqual((await server.connection(0)).received, [
              "hello ✓",
              new Uint8Array([0, 1, 2, 255]),
              "",
              new Uint8Array(0),
            ]);
          } finally {
            client.socket.close();
          }
          assert.equal(
            (await timeout(client.socket.closed, 5000, "closed")).closeCode,
            1005,
          );
        });
      });
    }

    it("echoes a 1 MiB binary message and a 1 MiB text message", async () => {
      await withServer(async (_server, url) => {
        const client = await openClient(`${url}/echo`);
        try {
          const binary = testBytes(1 << 20, 42);
          const text = largeText();
          await client.write(binary);
          await client.write(text);
          assert.deepEqual(await client.next(), binary);
          assert.ok(await client.next() === text, "the 1 MiB text");
        } finally {
          client.socket.close({ closeCode: 1000 });
        }
      });
    });

    it(
      `echoes ${CONCURRENT_CONNECTIONS} concurrent connections × ${MESSAGES_PER_CONNECTION} messages in order`,
      async () => {
        await withServer(async (server, url) => {
          const clients: Client[] = [];
          try {
            const opening = [];
            for (let c = 0; c < CONCURRENT_CONNECTIONS; c++) {
              opening.push(openClient(`${url}/c${c}`));
            }
            const settled = await Promise.allSettled(opening);
            for (const result of settled) {
              if (result.status === "fulfilled") clients.push(result.value);
            }
            const failed = settled.find((result) =>
              result.status === "rejected"
            );
            if (failed?.status === "rejected") throw failed.reason;
            const encoder = new TextEncoder();
            await Promise.all(clients.map(async (client, c) => {
              const writes = [];
              for (let i = 0; i < MESSAGES_PER_CONNECTION; i++) {
                const text = concurrentMessage(c, i);
                writes.push(
                  client.write(i % 10 === 9 ? encoder.encode(text) : text),
                );
              }
              for (let i = 0; i < MESSAGES_PER_CONNECTION; i++) {
                const text = concurrentMessage(c, i);
                assert.deepEqual(
                  await client.next(),
                  i % 10 === 9 ? encoder.encode(text) : text,
                );
              }
              await Promise.all(writes);
            }));
            // All were open at once; now each closes with 1000.
            for (const [c, client] of clients.entries()) {
              client.socket.close({ closeCode: 1000, reason: `done ${c}` });
            }
            const infos = await timeout(
              Promise.all(clients.map((client) => client.socket.closed)),
              10_000,
              "clients closed",
            );
            for (const info of infos) assert.equal(info.closeCode, 1000);
            // The server received every connection's messages in order.
            for (let index = 0; index < CONCURRENT_CONNECTIONS; index++) {
              const connection = await server.connection(index);
              const log = connection.received;
              const c = Number(/^c(\d+) /.exec(String(log[0]))?.[1]);
              assert.equal(log.length, MESSAGES_PER_CONNECTION);
              log.forEach((message, i) => {
                const text = concurrentMessage(c, i);
                assert.deepEqual(
                  message,
                  i % 10 === 9 ? encoder.encode(text) : text,
                );
              });
              assert.equal(
                (await timeout(connection.closed, 5000, "server closed")).code,
                1000,
              );
            }
          } finally {
            for (const client of clients) {
              try {
                client.socket.close();
              } catch {
                // Already closing.
              }
            }
          }
        });
      },
    );

    it("has its keepalive pings (pingInterval) answered by the server", async () => {
      await withServer(async (server, url) => {
        const client = await openClient(`${url}/echo`, {
          pingInterval: 100,
          pongTimeout: 400,
        });
        try {
          // Nothing but pings and pongs for 1 s: a server that did not
          // answer would be dropped after 500 ms.
          await delay(1000);
          assert.equal(await isOpen(client.socket), true, "still open");
          const pings = (await server.connection(0)).pings();
          if (pings !== null) assert.ok(pings >= 3, `${pings} pings`);
          await client.write("still there");
          assert.equal(await client.next(), "still there");
        } finally {
          client.socket.close({ closeCode: 1000 });
        }
        assert.equal(
          (await timeout(client.socket.closed, 5000, "closed")).closeCode,
          1000,
        );
      });
    });

    if (kind.idlePings === undefined) {
      it("answers the server's pings with pongs", async () => {
        await withServer(async (server, url) => {
          const client = await openClient(`${url}/echo`);
          try {
            const connection = await server.connection(0);
            assert.ok(connection.ping !== null);
            for (let i = 0; i < 3; i++) {
              await timeout(connection.ping(), 5000, `pong #${i}`);
            }
            assert.equal(await isOpen(client.socket), true);
          } finally {
            client.socket.close({ closeCode: 1000 });
          }
        });
      });
    } else {
      const idle = kind.idlePings;
      it("answers the server's idle pings, so the server keeps it", async () => {
        await withServer(async (server, url) => {
          const client = await openClient(`${url}/echo`);
          // The control: a peer that never answers is dropped.
          const control = await openSilentPeer(server.port);
          try {
            const silent = await server.connection(1);
            await timeout(silent.closed, idle * 3, "the control dropped");
            // Both were pinged alike; one more round for good measure.
            await delay(idle);
            assert.equal(await isOpen(client.socket), true, "still open");
            await client.write("still there");
            assert.equal(await client.next(), "still there");
          } finally {
            control.close();
            client.socket.close({ closeCode: 1000 });
          }
        }, { eagerPings: true });
      });
    }

    it("completes a close it starts with 4000 and a reason", async () => {
      await withServer(async (server, url) => {
        const client = await openClient(`${url}/echo`);
        await client.write("before close");
        assert.equal(await client.next(), "before close");
        client.socket.close({ closeCode: 4000, reason: "bye ✓" });
        const connection = await server.connection(0);
        assert.deepEqual(
          await timeout(connection.closed, 5000, "server closed"),
          { code: 4000, reason: "bye ✓" },
        );
        const info = await timeout(client.socket.closed, 5000, "closed");
        // `closed` reports the close frame the server echoed.
        assert.equal(info.closeCode, 4000);
        assert.ok(
          info.reason === "bye ✓" || info.reason === "",
          `reason ${JSON.stringify(info.reason)}`,
        );
        assert.equal(await client.end(), "done");
      });
    });

    it("completes a close the server starts with 1001 and a reason", async () => {
      await withServer(async (server, url) => {
        const client = await openClient(`${url}/echo`);
        await client.write("hi");
        assert.equal(await client.next(), "hi");
        const connection = await server.connection(0);
        connection.close(1001, "server going away");
        assert.deepEqual(
          await timeout(client.socket.closed, 5000, "closed"),
          { closeCode: 1001, reason: "server going away" },
        );
        assert.equal(await client.end(), "done");
        const seen = await timeout(connection.closed, 5000, "server closed");
        assert.equal(seen.code, 1001);
      });
    });

    it("reports 1006 when the server drops TCP", async () => {
      await withServer(async (server) => {
        // Through a relay when the server itself cannot drop a connection.
        const relay = kind.canDrop ? null : await startTcpRelay(server.port);
        try {
          const port = relay?.port ?? server.port;
          const client = await openClient(`ws://127.0.0.1:${port}/echo`);
          await client.write("hi");
          assert.equal(await client.next(), "hi");
          if (relay !== null) relay.dropAll();
          else (await server.connection(0)).drop!();
          assert.deepEqual(
            await timeout(client.socket.closed, 5000, "closed"),
            { closeCode: 1006, reason: "" },
          );
          assert.equal(await client.end(), "WebSocketError");
        } finally {
          await relay?.close();
        }
      });
    });

    it("echoes text, binary and 1 MiB and closes over wss (self-signed certificate)", async () => {
      const cert = generateSelfSignedCert();
      await withServer(async (server, url) => {
        assert.match(url, /^wss:/);
        const client = await openClient(`${url}/echo`, {
          tls: { caCerts: [cert.cert] },
        });
        await client.write("secure ✓");
        await client.write(new Uint8Array([1, 2, 3]));
        const binary = testBytes(1 << 20, 7);
        await client.write(binary);
        assert.equal(await client.next(), "secure ✓");
        assert.deepEqual(await client.next(), new Uint8Array([1, 2, 3]));
        assert.deepEqual(await client.next(), binary);
        client.socket.close({ closeCode: 4001, reason: "tls done" });
        const connection = await server.connection(0);
        assert.deepEqual(
          await timeout(connection.closed, 5000, "server closed"),
          { code: 4001, reason: "tls done" },
        );
        assert.equal(
          (await timeout(client.socket.closed, 5000, "closed")).closeCode,
          4001,
        );
      }, { tls: cert });
    });

    it("refuses a wss server whose certificate it does not trust", async () => {
      const cert = generateSelfSignedCert();
      await withServer(async (_server, url) => {
        await assert.rejects(
          timeout(connect(`${url}/echo`), 10_000, "connect"),
          (error: Error) => error.message.includes(url),
        );
      }, { tls: cert });
    });
  });
}
