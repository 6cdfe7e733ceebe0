/**
 * permessage-deflate (RFC 7692) between wstream and real peers over real
 * sockets on 127.0.0.1, in both directions where the peer has both sides:
 * the npm `ws` client and server, python-websockets' client and server
 * (`_python_peer.py` under Debian's `/usr/bin/python3`), headless Chromium,
 * the runtime's own `WebSocket` client, and on Bun, `Bun.serve` and
 * wstream under `Bun.serve` (`bunServeOptions`).
 *
 * Every connection goes through `_byte_counting_proxy.ts`, which keeps the
 * offer and answer as they crossed the wire and counts what each large
 * compressible message cost: each test asserts what both sides report as
 * negotiated, that every echo is byte-for-byte what was sent, and that the
 * large messages crossed compressed (or, with `compression: false` on
 * wstream's side, that nothing was negotiated and they crossed whole).
 * `DEFLATE_INTEROP_LOG=1` prints the headers and byte counts.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { connect } from "../../lib/client/connect.ts";
import { WebSocketStream } from "../../lib/client/websocket_stream.ts";
import type { ClientCompressionOptions } from "../../lib/extensions/compression_options.ts";
import { bunServeOptions } from "../../lib/native/bun_serve.ts";
import { upgrade } from "../../lib/server/upgrade.ts";
import type { WebSocketStreamLike } from "../../lib/connection/websocket_stream_like.ts";
import { Inbox, timeout } from "../_test_utils.ts";
import { withPage } from "./_chromium.ts";
import {
  type ByteCountingProxy,
  startByteCountingProxy,
} from "./_byte_counting_proxy.ts";
import {
  assertSameMessages,
  type EchoDriver,
  FRAGMENT_PREFIX,
  logCosts,
  type Message,
  runEchoScenario,
  wireExtensions,
  wstreamDriver,
} from "./_deflate_scenario.ts";
import {
  Arrivals,
  type EchoServer,
  SERVE_SKIP,
  startEchoServer,
  TEST_TIMEOUT,
} from "./_interop_utils.ts";
import {
  type Chromium,
  launchChromium,
  playwright,
  pythonWebsockets,
  ws,
} from "./_peers.ts";
import type {
  WsPerMessageDeflateOptions,
  WsServer,
  WsSocket,
} from "./_peers.ts";
import { type PythonOpen, startPython } from "./_python_peer.ts";

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** What wstream's servers answer to a bare `client_max_window_bits` offer. */
const WSTREAM_DEFAULT_ANSWER =
  "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12";

const RUNTIME = "Bun" in globalThis
  ? "bun"
  : "Deno" in globalThis
  ? "deno"
  : "node";

/** Splits the UTF-8 (or raw) bytes of a message into `count` fragments. */
function splitBytes(bytes: Uint8Array, count: number): Uint8Array[] {
  const size = Math.ceil(bytes.length / count);
  const parts: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) {
    parts.push(bytes.subarray(i, i + size));
  }
  return parts;
}

/** Bytes as base64 (`btoa` of Latin-1), without spreading large arrays. */
function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

function isFragmented(message: Message): boolean {
  return typeof message === "string" && message.startsWith(FRAGMENT_PREFIX);
}

/**
 * Runs `body` with a wstream echo server (`serve()` + `upgrade()` with
 * `compression`) behind a counting proxy; closes both afterwards.
 */
async function withWstreamServer(
  compression: boolean | undefined,
  body: (echo: EchoServer, proxy: ByteCountingProxy) => Promise<void>,
): Promise<void> {
  const echo = await startEchoServer(
    compression === undefined ? {} : { upgrade: { compression } },
  );
  let proxy: ByteCountingProxy | undefined;
  try {
    proxy = await startByteCountingProxy(echo.port);
    await body(echo, proxy);
  } finally {
    await proxy?.close();
    await echo.close();
  }
}

/** The server's `opened.extensions` of its first connection. */
async function serverExtensions(echo: EchoServer): Promise<string> {
  const socket = await echo.socket(0);
  return (await timeout(socket.opened, 5000, "server opened")).extensions;
}

// ------------------------------------------------------------ ws ------

interface WsClient {
  socket: WsSocket;
  /** The `Sec-WebSocket-Extensions` of the 101 that ws received. */
  answer: string | null;
  driver: EchoDriver;
}

async function openWsClient(
  url: string,
  perMessageDeflate: boolean | WsPerMessageDeflateOptions,
): Promise<WsClient> {
  const socket = new (ws.get().WebSocket)(url, { perMessageDeflate });
  const messages = new Inbox<Message>("a message on the ws client");
  let answer: string | null = null;
  socket.on("upgrade", (response) => {
    const value = response.headers["sec-websocket-extensions"];
    answer = value === undefined ? null : String(value);
  });
  socket.on("message", (data, isBinary) => {
    messages.push(isBinary ? new Uint8Array(data) : decoder.decode(data));
  });
  await timeout(
    new Promise<void>((resolve, reject) => {
      socket.on("open", resolve);
      socket.on("error", reject);
    }),
    5000,
    "ws client open",
  );
  return {
    socket,
    get answer() {
      return answer;
    },
    driver: {
      fragments: true,
      async roundTrip(message) {
        if (isFragmented(message)) {
          const parts = splitBytes(encoder.encode(message as string), 4);
          parts.forEach((part, i) => {
            socket.send(part, { binary: false, fin: i === parts.length - 1 });
          });
        } else {
          socket.send(message, { binary: typeof message !== "string" });
        }
        return await messages.next();
      },
    },
  };
}

interface WsPeerServer {
  port: number;
  /** The `Sec-WebSocket-Extensions` lines of every 101 it wrote. */
  answers: (string | null)[];
  /** What each connection received, and its `extensions`. */
  connections: Arrivals<{ socket: WsSocket; received: Message[] }>;
  close(): Promise<void>;
}

/** A ws echo server; echoes `FRAGMENT_PREFIX` texts in 4 fragments. */
async function startWsServer(
  perMessageDeflate: boolean | WsPerMessageDeflateOptions,
): Promise<WsPeerServer> {
  const server: WsServer = new (ws.get().WebSocketServer)({
    port: 0,
    host: "127.0.0.1",
    perMessageDeflate,
  });
  await timeout(
    new Promise<void>((resolve, reject) => {
      server.on("listening", resolve);
      server.on("error", reject);
    }),
    5000,
    "ws listening",
  );
  const answers: (string | null)[] = [];
  server.on("headers", (headers) => {
    const line = headers.find((h) =>
      h.toLowerCase().startsWith("sec-websocket-extensions:")
    );
    answers.push(
      line === undefined ? null : line.slice(line.indexOf(":") + 1).trim(),
    );
  });
  const connections = new Arrivals<{ socket: WsSocket; received: Message[] }>(
    "ws server connection",
  );
  server.on("connection", (socket) => {
    const received: Message[] = [];
    connections.push({ socket, received });
    socket.on("error", () => {});
    socket.on("message", (data, isBinary) => {
      const message = isBinary ? new Uint8Array(data) : decoder.decode(data);
      received.push(message);
      if (isFragmented(message)) {
        const parts = splitBytes(new Uint8Array(data), 4);
        parts.forEach((part, i) => {
          socket.send(part, { binary: false, fin: i === parts.length - 1 });
        });
      } else socket.send(data, { binary: isBinary });
    });
  });
  return {
    port: server.address().port,
    answers,
    connections,
    async close(): Promise<void> {
      for (const socket of server.clients) socket.terminate();
      await timeout(
        new Promise<void>((resolve) => server.close(() => resolve())),
        5000,
        "ws server closed",
      );
    },
  };
}

describe("permessage-deflate: the npm ws client → wstream serve()", {
  timeout: TEST_TIMEOUT,
  skip: SERVE_SKIP || ws.skip,
}, () => {
  async function run(
    name: string,
    perMessageDeflate: boolean | WsPerMessageDeflateOptions,
    compression: boolean | undefined,
    expected: { offer: string | null; answer: string | null },
  ): Promise<void> {
    await withWstreamServer(compression, async (echo, proxy) => {
      const client = await openWsClient(
        `ws://127.0.0.1:${proxy.port}/echo`,
        perMessageDeflate,
      );
      try {
        const wire = wireExtensions(proxy);
        assert.deepEqual(wire, expected, "offer and answer on the wire");
        assert.equal(client.answer, expected.answer, "ws's 101 answer");
        assert.equal(
          client.socket.extensions,
          expected.answer === null ? "" : "permessage-deflate",
          "ws's extensions",
        );
        assert.equal(
          await serverExtensions(echo),
          expected.answer ?? "",
          "wstream's opened.extensions",
        );
        const compressed = expected.answer !== null;
        const { sent, costs } = await runEchoScenario(client.driver, proxy, {
          toServer: compressed,
          toClient: compressed,
        });
        assertSameMessages(echo.received[0]!, sent, "wstream server");
        logCosts(`ws client → wstream serve(): ${name}`, wire, costs);
      } finally {
        client.socket.terminate();
      }
    });
  }

  it("negotiates ws's default offer (context takeover) and echoes compressed, fragmented too", async () => {
    await run("default", true, undefined, {
      offer: "permessage-deflate; client_max_window_bits",
      answer: WSTREAM_DEFAULT_ANSWER,
    });
  });

  it("honours ws asking server_max_window_bits=10 and client_no_context_takeover", async () => {
    await run(
      "serverMaxWindowBits 10, clientNoContextTakeover",
      { serverMaxWindowBits: 10, clientNoContextTakeover: true },
      true,
      {
        offer:
          "permessage-deflate; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits",
        answer:
          "permessage-deflate; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12",
      },
    );
  });

  it("honours ws asking for the smallest windows, 8 bits both ways", async () => {
    // zlib cannot deflate with 8 bits: each side compresses with 9 and
    // only ever refers 250 bytes back, which an 8-bit inflater accepts.
    await run(
      "serverMaxWindowBits 8, clientMaxWindowBits 8",
      { serverMaxWindowBits: 8, clientMaxWindowBits: 8 },
      true,
      {
        offer:
          "permessage-deflate; server_max_window_bits=8; client_max_window_bits=8",
        answer:
          "permessage-deflate; server_max_window_bits=8; client_max_window_bits=8",
      },
    );
  });

  it("negotiates nothing with compression: false and sends the large messages whole", async () => {
    await run("wstream compression: false", true, false, {
      offer: "permessage-deflate; client_max_window_bits",
      answer: null,
    });
  });
});

describe("permessage-deflate: wstream connect() → the npm ws server", {
  timeout: TEST_TIMEOUT,
  skip: ws.skip,
}, () => {
  async function run(
    name: string,
    perMessageDeflate: boolean | WsPerMessageDeflateOptions,
    api: "connect" | "WebSocketStream",
    compression: boolean | ClientCompressionOptions | undefined,
    expected: { offer: string | null; answer: string | null },
  ): Promise<void> {
    const server = await startWsServer(perMessageDeflate);
    let proxy: ByteCountingProxy | undefined;
    let socket: WebSocketStreamLike | undefined;
    try {
      proxy = await startByteCountingProxy(server.port);
      const url = `ws://127.0.0.1:${proxy.port}/echo`;
      const options = compression === undefined ? {} : { compression };
      socket = api === "connect"
        ? await timeout(connect(url, options), 10_000, "connect")
        : new WebSocketStream(url, options);
      const driver = await wstreamDriver(socket, true);
      const wire = wireExtensions(proxy);
      assert.deepEqual(wire, expected, "offer and answer on the wire");
      assert.deepEqual(server.answers, [expected.answer], "ws's 101 answer");
      const peer = await server.connections.get(0);
      assert.equal(
        peer.socket.extensions,
        expected.answer === null ? "" : "permessage-deflate",
        "ws's extensions",
      );
      assert.equal(
        (await socket.opened).extensions,
        expected.answer ?? "",
        "wstream's opened.extensions",
      );
      const compressed = expected.answer !== null;
      const { sent, costs } = await runEchoScenario(driver, proxy, {
        toServer: compressed,
        toClient: compressed,
      });
      assertSameMessages(peer.received, sent, "ws server");
      logCosts(`wstream ${api}() → ws server: ${name}`, wire, costs);
      await driver.close();
    } finally {
      socket?.close();
      await proxy?.close();
      await server.close();
    }
  }

  it("negotiates with ws's default server (context takeover) and echoes compressed, fragmented replies too", async () => {
    await run("default", true, "connect", undefined, {
      offer: "permessage-deflate; client_max_window_bits",
      // ws leaves client_max_window_bits out: we compress with 15 bits.
      answer: "permessage-deflate",
    });
  });

  it("follows ws answering server_max_window_bits=10 and client_no_context_takeover (WebSocketStream)", async () => {
    await run(
      "serverMaxWindowBits 10, clientNoContextTakeover",
      { serverMaxWindowBits: 10, clientNoContextTakeover: true },
      "WebSocketStream",
      true,
      {
        offer: "permessage-deflate; client_max_window_bits",
        answer:
          "permessage-deflate; client_no_context_takeover; server_max_window_bits=10",
      },
    );
  });

  it("offers nothing with compression: false and sends the large messages whole", async () => {
    await run("wstream compression: false", true, "connect", false, {
      offer: null,
      answer: null,
    });
  });
});

// ------------------------------------------------ python-websockets ------

describe("permessage-deflate: python-websockets client → wstream serve()", {
  timeout: TEST_TIMEOUT,
  skip: SERVE_SKIP || pythonWebsockets.skip,
}, () => {
  async function run(
    compression: boolean | undefined,
    expected: { offer: string | null; answer: string | null },
  ): Promise<void> {
    await withWstreamServer(compression, async (echo, proxy) => {
      const python = startPython([
        "client",
        "deflate",
        `ws://127.0.0.1:${proxy.port}/echo`,
      ]);
      try {
        const { open } = await python.next() as { open: PythonOpen };
        const wire = wireExtensions(proxy);
        assert.deepEqual(wire, expected, "offer and answer on the wire");
        assert.equal(open.offer, expected.offer, "python's offer");
        assert.equal(open.answer, expected.answer, "python's 101 answer");
        assert.equal(
          await serverExtensions(echo),
          expected.answer ?? "",
          "wstream's opened.extensions",
        );
        if (expected.answer === null) {
          assert.deepEqual(open.extensions, [], "python's ws.extensions");
        } else {
          // python's view of what it agreed: its own (local) window is
          // what we answered as client_max_window_bits.
          assert.deepEqual(open.extensions, [{
            name: "permessage-deflate",
            remote_no_context_takeover: false,
            local_no_context_takeover: false,
            remote_max_window_bits: 12,
            local_max_window_bits: 12,
          }], "python's ws.extensions");
        }
        const driver: EchoDriver = {
          fragments: true,
          async roundTrip(message) {
            python.send({
              send: typeof message === "string" ? "text" : "binary",
              data: typeof message === "string" ? message : toBase64(message),
              fragments: isFragmented(message) ? 4 : 1,
            });
            const answer = await python.next();
            assert.equal(
              answer.echo,
              true,
              `python got a different echo (${JSON.stringify(answer)})`,
            );
            return message;
          },
        };
        const compressed = expected.answer !== null;
        const { sent, costs } = await runEchoScenario(driver, proxy, {
          toServer: compressed,
          toClient: compressed,
        });
        assertSameMessages(echo.received[0]!, sent, "wstream server");
        python.send({ close: 1000 });
        assert.deepEqual(await python.next(), { closed: 1000 });
        logCosts(
          `python client → wstream serve(): compression ${compression}`,
          wire,
          costs,
        );
      } finally {
        await python.kill();
      }
    });
  }

  it("negotiates python's default offer and echoes compressed, fragmented too", async () => {
    await run(undefined, {
      offer: "permessage-deflate; client_max_window_bits",
      answer: WSTREAM_DEFAULT_ANSWER,
    });
  });

  it("negotiates nothing with compression: false and sends the large messages whole", async () => {
    await run(false, {
      offer: "permessage-deflate; client_max_window_bits",
      answer: null,
    });
  });
});

describe("permessage-deflate: wstream connect() → python-websockets server", {
  timeout: TEST_TIMEOUT,
  skip: pythonWebsockets.skip,
}, () => {
  async function run(
    compression: boolean | undefined,
    expected: { offer: string | null; answer: string | null },
  ): Promise<void> {
    const python = startPython(["server", "deflate"]);
    let proxy: ByteCountingProxy | undefined;
    let socket: WebSocketStreamLike | undefined;
    try {
      const { port } = await python.next() as { port: number };
      proxy = await startByteCountingProxy(port);
      socket = await timeout(
        connect(
          `ws://127.0.0.1:${proxy.port}/echo`,
          compression === undefined ? {} : { compression },
        ),
        10_000,
        "connect",
      );
      const driver = await wstreamDriver(socket, true);
      const wire = wireExtensions(proxy);
      assert.deepEqual(wire, expected, "offer and answer on the wire");
      const { open } = await python.next() as { open: PythonOpen };
      assert.equal(open.offer, expected.offer, "python saw the offer");
      assert.equal(open.answer, expected.answer, "python's answer");
      assert.equal(
        (await socket.opened).extensions,
        expected.answer ?? "",
        "wstream's opened.extensions",
      );
      if (expected.answer !== null) {
        assert.deepEqual(open.extensions, [{
          name: "permessage-deflate",
          remote_no_context_takeover: false,
          local_no_context_takeover: false,
          remote_max_window_bits: 12,
          local_max_window_bits: 12,
        }], "python's ws.extensions");
      } else assert.deepEqual(open.extensions, [], "python's ws.extensions");
      const compressed = expected.answer !== null;
      const { costs } = await runEchoScenario(driver, proxy, {
        toServer: compressed,
        toClient: compressed,
      });
      logCosts(
        `wstream connect() → python server: compression ${compression}`,
        wire,
        costs,
      );
      await driver.close();
    } finally {
      socket?.close();
      await proxy?.close();
      await python.kill();
    }
  }

  it("negotiates python's default answer and echoes compressed, fragmented replies too", async () => {
    await run(undefined, {
      offer: "permessage-deflate; client_max_window_bits",
      answer: WSTREAM_DEFAULT_ANSWER,
    });
  });

  it("offers nothing with compression: false and sends the large messages whole", async () => {
    await run(false, { offer: null, answer: null });
  });
});

// -------------------------------------------------------- Chromium ------

/** Installed in the page: a WebSocket that echoes through the test. */
interface DeflatePage {
  open(url: string): Promise<string>;
  roundTrip(
    message: { text: string } | { base64: string },
  ): Promise<{ text: string } | { base64: string }>;
  close(arg?: undefined): Promise<number>;
}

let browser: Chromium | undefined;

describe("permessage-deflate: headless Chromium → wstream serve()", {
  timeout: TEST_TIMEOUT,
  skip: SERVE_SKIP || playwright.skip,
}, () => {
  before(async () => {
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
  });

  async function run(
    compression: boolean | undefined,
    expectedAnswer: string | null,
  ): Promise<void> {
    await withPage(browser, async (page, echo) => {
      const proxy = await startByteCountingProxy(echo.port);
      try {
        /** Calls `window.deflateTest[method](arg)` in the page. */
        const call = <M extends keyof DeflatePage>(
          method: M,
          arg: Parameters<DeflatePage[M]>[0],
        ): ReturnType<DeflatePage[M]> =>
          page.evaluate(
            ([name, value]) => {
              const harness = (globalThis as unknown as {
                deflateTest: Record<string, (arg: unknown) => unknown>;
              }).deflateTest;
              return harness[name]!(value);
            },
            [method as string, arg as unknown] as const,
          ) as ReturnType<DeflatePage[M]>;
        await page.evaluate(() => {
          const g = globalThis as unknown as { deflateTest: DeflatePage };
          let socket: WebSocket;
          const inbox: (string | ArrayBuffer)[] = [];
          const waiters: ((m: string | ArrayBuffer) => void)[] = [];
          g.deflateTest = {
            open(url) {
              socket = new WebSocket(url);
              socket.binaryType = "arraybuffer";
              socket.onmessage = (event) => {
                const waiter = waiters.shift();
                if (waiter) waiter(event.data);
                else inbox.push(event.data);
              };
              return new Promise((resolve, reject) => {
                socket.onopen = () => resolve(socket.extensions);
                socket.onerror = () => reject(new Error("WebSocket error"));
              });
            },
            async roundTrip(message) {
              socket.send(
                "text" in message
                  ? message.text
                  : Uint8Array.from(atob(message.base64), (c) =>
                    c.charCodeAt(0)),
              );
              const echoed = inbox.shift() ??
                await new Promise<string | ArrayBuffer>((resolve) =>
                  waiters.push(resolve)
                );
              if (typeof echoed === "string") return { text: echoed };
              let binary = "";
              for (const byte of new Uint8Array(echoed)) {
                binary += String.fromCharCode(byte);
              }
              return { base64: btoa(binary) };
            },
            close() {
              return new Promise((resolve) => {
                socket.onclose = (event) => resolve(event.code);
                socket.close(1000);
              });
            },
          };
        }, undefined);
        const pageExtensions = await call(
          "open",
          `ws://127.0.0.1:${proxy.port}/echo`,
        );
        const wire = wireExtensions(proxy);
        assert.deepEqual(wire, {
          offer: "permessage-deflate; client_max_window_bits",
          answer: expectedAnswer,
        }, "offer and answer on the wire");
        assert.equal(
          pageExtensions,
          expectedAnswer ?? "",
          "Chromium's ws.extensions",
        );
        assert.equal(
          await serverExtensions(echo),
          expectedAnswer ?? "",
          "wstream's opened.extensions",
        );
        const driver: EchoDriver = {
          fragments: false,
          async roundTrip(message) {
            const echoed = await timeout(
              call(
                "roundTrip",
                typeof message === "string"
                  ? { text: message }
                  : { base64: toBase64(message) },
              ),
              10_000,
              "an echo in Chromium",
            );
            return "text" in echoed ? echoed.text : fromBase64(echoed.base64);
          },
        };
        const compressed = expectedAnswer !== null;
        const { sent, costs } = await runEchoScenario(driver, proxy, {
          toServer: compressed,
          toClient: compressed,
        });
        assertSameMessages(echo.received[0]!, sent, "wstream server");
        assert.equal(await call("close", undefined), 1000);
        logCosts(
          `Chromium → wstream serve(): compression ${compression}`,
          wire,
          costs,
        );
      } finally {
        await proxy.close();
      }
    }, compression === undefined ? {} : { upgrade: { compression } });
  }

  it("negotiates Chromium's own offer and echoes compressed", async () => {
    await run(undefined, WSTREAM_DEFAULT_ANSWER);
  });

  it("negotiates nothing with compression: false and sends the large messages whole", async () => {
    await run(false, null);
  });
});

// ---------------------------------------- the runtime's own client ------

/**
 * What the runtime's `WebSocket` does, as observed on the pinned versions:
 * Deno's offers no extension; Bun's offers permessage-deflate and
 * compresses; Node's (undici) offers it and inflates what it receives but
 * sends its own messages uncompressed (allowed: RFC 7692 §6, a sender may
 * leave any message uncompressed).
 */
const NATIVE_CLIENT = {
  deno: { offer: null, compresses: false },
  bun: {
    offer: "permessage-deflate; client_max_window_bits",
    compresses: true,
  },
  node: {
    offer: "permessage-deflate; client_max_window_bits",
    compresses: false,
  },
}[RUNTIME];

describe(
  `permessage-deflate: ${RUNTIME}'s own WebSocket client → wstream serve()`,
  {
    timeout: TEST_TIMEOUT,
    skip: SERVE_SKIP ||
      (typeof WebSocket === "undefined" ? "no global WebSocket" : false),
  },
  () => {
    it("negotiates what the runtime offers and echoes byte for byte", async () => {
      await withWstreamServer(undefined, async (echo, proxy) => {
        const socket = new WebSocket(`ws://127.0.0.1:${proxy.port}/echo`);
        socket.binaryType = "arraybuffer";
        const messages = new Inbox<Message>("a native client message");
        socket.addEventListener("message", (event) => {
          const data = event.data as string | ArrayBuffer;
          messages.push(typeof data === "string" ? data : new Uint8Array(data));
        });
        try {
          await timeout(
            new Promise<void>((resolve, reject) => {
              socket.addEventListener("open", () => resolve(), { once: true });
              socket.addEventListener(
                "error",
                () => reject(new Error("WebSocket error")),
                { once: true },
              );
            }),
            5000,
            "native client open",
          );
          const expectedAnswer = NATIVE_CLIENT.offer === null
            ? null
            : WSTREAM_DEFAULT_ANSWER;
          const wire = wireExtensions(proxy);
          assert.deepEqual(wire, {
            offer: NATIVE_CLIENT.offer,
            answer: expectedAnswer,
          }, "offer and answer on the wire");
          assert.equal(
            socket.extensions,
            expectedAnswer ?? "",
            "ws.extensions",
          );
          assert.equal(
            await serverExtensions(echo),
            expectedAnswer ?? "",
            "wstream's opened.extensions",
          );
          const driver: EchoDriver = {
            fragments: false,
            async roundTrip(message) {
              socket.send(message as string | Uint8Array<ArrayBuffer>);
              return await messages.next();
            },
          };
          const { sent, costs } = await runEchoScenario(driver, proxy, {
            toServer: NATIVE_CLIENT.compresses,
            toClient: expectedAnswer !== null,
          });
          assertSameMessages(echo.received[0]!, sent, "wstream server");
          logCosts(`${RUNTIME} WebSocket → wstream serve()`, wire, costs);
        } finally {
          socket.close();
        }
      });
    });
  },
);

// ------------------------------------------------------------- Bun ------

/** Bun's `ServerWebSocket` (the parts used here). */
interface BunServerWebSocket {
  /** `compress`: deflate this message if the connection negotiated it. */
  send(data: string | Uint8Array, compress?: boolean): number;
  terminate(): void;
}

/** The parts of the `Bun` namespace used here. */
interface BunApi {
  serve(options: {
    port: number;
    hostname: string;
    fetch(
      request: Request,
      server: { upgrade(request: Request): boolean },
    ): Response | undefined | Promise<Response | undefined>;
    websocket: {
      perMessageDeflate: boolean;
      message(ws: BunServerWebSocket, message: string | Uint8Array): void;
      open?(ws: BunServerWebSocket): void;
    };
  }): { port: number; stop(closeActiveConnections?: boolean): Promise<void> };
}

const bun = (globalThis as unknown as { Bun?: BunApi }).Bun;

/**
 * What `Bun.serve` (`perMessageDeflate: true`) answers to the offer of
 * wstream, ws and browsers, `permessage-deflate; client_max_window_bits`:
 * its shared compressor keeps no context either way.
 */
const BUN_ANSWER =
  "permessage-deflate; client_no_context_takeover; server_no_context_takeover";

describe(
  "permessage-deflate: wstream connect() → Bun.serve (perMessageDeflate: true)",
  {
    timeout: TEST_TIMEOUT,
    skip: bun === undefined ? "Bun only" : false,
  },
  () => {
    it("negotiates Bun's answer and echoes compressed", async () => {
      const received: Message[] = [];
      const server = bun!.serve({
        port: 0,
        hostname: "127.0.0.1",
        fetch(request, server) {
          return server.upgrade(request)
            ? undefined
            : new Response("WebSocket only", { status: 400 });
        },
        websocket: {
          perMessageDeflate: true,
          message(ws, message) {
            received.push(
              typeof message === "string" ? message : new Uint8Array(message),
            );
            // Bun compresses only the messages sent with `compress: true`.
            ws.send(message, true);
          },
        },
      });
      let proxy: ByteCountingProxy | undefined;
      let socket: WebSocketStreamLike | undefined;
      try {
        proxy = await startByteCountingProxy(server.port);
        socket = await timeout(
          connect(`ws://127.0.0.1:${proxy.port}/echo`),
          10_000,
          "connect",
        );
        const driver = await wstreamDriver(socket, false);
        const wire = wireExtensions(proxy);
        assert.equal(wire.offer, "permessage-deflate; client_max_window_bits");
        assert.equal(wire.answer, BUN_ANSWER, "Bun's answer");
        assert.equal((await socket.opened).extensions, wire.answer);
        const { sent, costs } = await runEchoScenario(driver, proxy, {
          toServer: true,
          toClient: true,
        });
        assertSameMessages(received, sent, "Bun.serve");
        logCosts("wstream connect() → Bun.serve", wire, costs);
        await driver.close();
      } finally {
        socket?.close();
        await proxy?.close();
        await timeout(server.stop(true), 5000, "Bun.serve stop");
      }
    });
  },
);

describe(
  "permessage-deflate: wstream under Bun.serve (bunServeOptions, compression: true)",
  {
    timeout: TEST_TIMEOUT,
    skip: bun === undefined ? "Bun only" : ws.skip,
  },
  () => {
    async function run(client: "ws" | "wstream"): Promise<void> {
      const sockets = new Arrivals<WebSocketStreamLike>("Bun.serve socket");
      const received: Message[] = [];
      const server = bun!.serve(
        {
          port: 0,
          hostname: "127.0.0.1",
          ...bunServeOptions(async (request) => {
            const { response, socket } = await upgrade(request);
            if (socket === null) return response;
            sockets.push(socket);
            socket.opened.then(async ({ readable, writable }) => {
              const writer = writable.getWriter();
              for await (const message of readable) {
                received.push(message);
                await writer.write(message);
              }
            }).catch(() => {});
            return response;
          }, { compression: true }),
        } as unknown as Parameters<BunApi["serve"]>[0],
      );
      let proxy: ByteCountingProxy | undefined;
      let wsClient: WsClient | undefined;
      let wstream: WebSocketStreamLike | undefined;
      try {
        proxy = await startByteCountingProxy(server.port);
        const url = `ws://127.0.0.1:${proxy.port}/echo`;
        let driver: EchoDriver;
        if (client === "ws") {
          wsClient = await openWsClient(url, true);
          driver = { ...wsClient.driver, fragments: true };
        } else {
          wstream = await timeout(connect(url), 10_000, "connect");
          driver = await wstreamDriver(wstream, false);
        }
        const wire = wireExtensions(proxy);
        assert.equal(wire.offer, "permessage-deflate; client_max_window_bits");
        assert.equal(wire.answer, BUN_ANSWER, "Bun's answer");
        if (wsClient !== undefined) {
          assert.equal(wsClient.answer, wire.answer, "ws's 101 answer");
        }
        if (wstream !== undefined) {
          assert.equal(
            (await wstream.opened).extensions,
            wire.answer,
            "the wstream client's opened.extensions",
          );
        }
        const serverSocket = await sockets.get(0);
        assert.equal(
          (await timeout(serverSocket.opened, 5000, "opened")).extensions,
          wire.answer,
          "socket.extensions under Bun.serve reports Bun's answer",
        );
        const { sent, costs } = await runEchoScenario(driver, proxy, {
          toServer: true,
          toClient: true,
        });
        assertSameMessages(received, sent, "wstream under Bun.serve");
        logCosts(`${client} client → wstream under Bun.serve`, wire, costs);
      } finally {
        wsClient?.socket.terminate();
        wstream?.close();
        await proxy?.close();
        await timeout(server.stop(true), 5000, "Bun.serve stop");
      }
    }

    it("reports Bun's answer to the ws client as socket.extensions and echoes compressed", async () => {
      await run("ws");
    });

    it("reports Bun's answer to the wstream client on both sides and echoes compressed", async () => {
      await run("wstream");
    });
  },
);
