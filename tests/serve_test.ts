import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { serve } from "../lib/serve.ts";
import type { ServeHandler, ServeOptions, Server } from "../lib/serve.ts";
import { upgrade } from "../lib/upgrade.ts";
import { getBun, getDeno } from "../lib/transports/_runtime_types.ts";
import { connectBun, listenBun } from "../lib/transports/bun.ts";
import { connectDeno, listenDeno } from "../lib/transports/deno.ts";
import type { TcpConnection, TcpListener } from "../lib/transports/deno.ts";

/** wstream's server runs on Deno and Bun only, for now. */
const SKIP = getDeno() === undefined && getBun() === undefined
  ? "serve() needs Deno or Bun"
  : false;
const TEST_TIMEOUT = 15_000;

/** Starts a server on 127.0.0.1, port 0; always pair with `server.shutdown()`. */
function start(handler: ServeHandler, options: ServeOptions = {}): Server {
  return serve({ port: 0, hostname: "127.0.0.1", ...options }, handler);
}

function connectTcp(port: number): Promise<TcpConnection> {
  return getDeno() !== undefined
    ? connectDeno({ hostname: "127.0.0.1", port })
    : connectBun({ hostname: "127.0.0.1", port });
}

/** Listens with the current runtime's transport and yields the next accepted connection. */
function listenTcp(): {
  listener: TcpListener;
  accepted: () => Promise<TcpConnection>;
} {
  const queue: TcpConnection[] = [];
  const waiting: ((connection: TcpConnection) => void)[] = [];
  const onConnection = (connection: TcpConnection): void => {
    const waiter = waiting.shift();
    if (waiter !== undefined) waiter(connection);
    else queue.push(connection);
  };
  const listener = getDeno() !== undefined
    ? listenDeno({ hostname: "127.0.0.1", port: 0 }, onConnection)
    : listenBun({ hostname: "127.0.0.1", port: 0 }, onConnection);
  return {
    listener,
    accepted: () => {
      const connection = queue.shift();
      if (connection !== undefined) return Promise.resolve(connection);
      return timeout(
        new Promise((resolve) => waiting.push(resolve)),
        5000,
        "accept",
      );
    },
  };
}

function latin1(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

function fromLatin1(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return text;
}

function timeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Timed out: ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Reads everything until the server closes; a reset counts as the end. */
async function readAll(connection: TcpConnection): Promise<string> {
  const reader = connection.readable.getReader();
  let text = "";
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) return text;
      text += fromLatin1(value);
    }
  } catch {
    return text;
  } finally {
    reader.releaseLock();
  }
}

/** Reads until `done(text)` holds; the reader stays locked to the caller. */
async function readUntil(
  connection: TcpConnection,
  done: (text: string) => boolean,
): Promise<string> {
  const reader = connection.readable.getReader();
  let text = "";
  try {
    while (!done(text)) {
      const result = await reader.read();
      if (result.done) throw new Error(`EOF after ${JSON.stringify(text)}`);
      text += fromLatin1(result.value);
    }
    return text;
  } finally {
    reader.releaseLock();
  }
}

interface RawResponse {
  status: number;
  headers: Headers;
  body: string;
  raw: string;
}

function parseResponse(raw: string): RawResponse {
  const end = raw.indexOf("\r\n\r\n");
  assert.ok(end > 0, `no response head in ${JSON.stringify(raw)}`);
  const [statusLine = "", ...lines] = raw.slice(0, end).split("\r\n");
  const match = /^HTTP\/1\.1 (\d{3}) /.exec(statusLine);
  assert.ok(match, `bad status line ${JSON.stringify(statusLine)}`);
  const headers = new Headers();
  for (const line of lines) {
    const colon = line.indexOf(":");
    headers.append(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  return {
    status: Number(match[1]),
    headers,
    body: raw.slice(end + 4),
    raw,
  };
}

/** Sends raw bytes (in the given pieces) and reads the response to the end. */
async function exchange(
  port: number,
  ...pieces: (string | Uint8Array)[]
): Promise<RawResponse> {
  const connection = await connectTcp(port);
  try {
    const writer = connection.writable.getWriter();
    for (const piece of pieces) {
      await writer.write(typeof piece === "string" ? latin1(piece) : piece);
    }
    writer.releaseLock();
    return parseResponse(
      await timeout(readAll(connection), 5000, "the server's response"),
    );
  } finally {
    connection.close();
  }
}

const UPGRADE_HEAD = "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
  "Upgrade: websocket\r\nConnection: Upgrade\r\n" +
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
  "Sec-WebSocket-Version: 13\r\n\r\n";

/** A masked client text frame (RFC 6455 §5.7: "Hello" with mask 37 fa 21 3d). */
const MASKED_HELLO = new Uint8Array([
  0x81,
  0x85,
  0x37,
  0xfa,
  0x21,
  0x3d,
  0x7f,
  0x9f,
  0x4d,
  0x51,
  0x58,
]);

describe("serve", { timeout: TEST_TIMEOUT, skip: SKIP }, () => {
  it("answers a plain HTTP request with the handler's response", async () => {
    const seen: Request[] = [];
    const server = start((request) => {
      seen.push(request);
      const headers = new Headers({ "x-test": "yes" });
      headers.append("set-cookie", "a=1");
      headers.append("set-cookie", "b=2");
      return new Response(`hello ${new URL(request.url).search}`, {
        status: 201,
        headers,
      });
    });
    try {
      const response = await fetch(
        `http://127.0.0.1:${server.addr.port}/path?x=1`,
      );
      assert.equal(response.status, 201);
      assert.equal(response.headers.get("x-test"), "yes");
      assert.deepEqual(response.headers.getSetCookie(), ["a=1", "b=2"]);
      assert.equal(await response.text(), "hello ?x=1");
      assert.equal(seen.length, 1);
      assert.equal(seen[0]?.method, "GET");
      assert.equal(
        seen[0]?.url,
        `http://127.0.0.1:${server.addr.port}/path?x=1`,
      );
    } finally {
      await server.shutdown();
    }
  });

  it("writes Content-Length and Connection: close, and no body for HEAD", async () => {
    const server = start(() => new Response("four"));
    try {
      const get = await exchange(
        server.addr.port,
        "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
      );
      assert.equal(get.status, 200);
      assert.equal(get.headers.get("content-length"), "4");
      assert.equal(get.headers.get("connection"), "close");
      assert.equal(get.body, "four");
      const head = await exchange(
        server.addr.port,
        "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n",
      );
      assert.equal(head.status, 200);
      assert.equal(head.headers.get("content-length"), "4");
      assert.equal(head.body, "");
    } finally {
      await server.shutdown();
    }
  });

  it("answers a request with a body without reading it", async () => {
    let body: ReadableStream | null = new ReadableStream();
    const server = start((request) => {
      body = request.body;
      return new Response(`got ${request.method}`);
    });
    try {
      const response = await exchange(
        server.addr.port,
        "POST /form HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
      );
      assert.equal(response.status, 200);
      assert.equal(response.body, "got POST");
      assert.equal(body, null);
    } finally {
      await server.shutdown();
    }
  });

  for (
    const [name, request, status, reason] of [
      [
        "a malformed request line",
        "NONSENSE\r\n\r\n",
        400,
        /Malformed request line "NONSENSE"/,
      ],
      ["a missing Host", "GET / HTTP/1.1\r\n\r\n", 400, /Missing Host/],
      [
        "obsolete line folding",
        "GET / HTTP/1.1\r\nHost: x\r\nA: b\r\n c\r\n\r\n",
        400,
        /Obsolete line folding/,
      ],
      ["HTTP/1.0", "GET / HTTP/1.0\r\n\r\n", 505, /HTTP version not supported/],
      [
        "an unknown method",
        "BREW / HTTP/1.1\r\nHost: x\r\n\r\n",
        501,
        /Method not implemented/,
      ],
    ] as const
  ) {
    it(`answers ${status} with the reason to ${name}, without calling the handler`, async () => {
      let called = false;
      const server = start(() => {
        called = true;
        return new Response("no");
      });
      try {
        const response = await exchange(server.addr.port, request);
        assert.equal(response.status, status);
        assert.match(response.body, reason);
        assert.equal(
          response.headers.get("content-type"),
          "text/plain; charset=utf-8",
        );
        assert.equal(called, false);
      } finally {
        await server.shutdown();
      }
    });
  }

  it("answers 431 to a head over maxHeadSize", async () => {
    const server = start(() => new Response("no"), { maxHeadSize: 1024 });
    try {
      const response = await exchange(
        server.addr.port,
        `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(2000)}\r\n\r\n`,
      );
      assert.equal(response.status, 431);
      assert.match(response.body, /the head exceeds 1024 bytes/);
    } finally {
      await server.shutdown();
    }
  });

  it("drops a client that does not finish its head within handshakeTimeout", async () => {
    let called = false;
    const server = start(() => {
      called = true;
      return new Response("no");
    }, { handshakeTimeout: 200 });
    const connection = await connectTcp(server.addr.port);
    try {
      const writer = connection.writable.getWriter();
      await writer.write(latin1("GET / HTTP/1.1\r\nHost: x\r\n"));
      const started = performance.now();
      const rest = await timeout(readAll(connection), 5000, "the drop");
      const elapsed = performance.now() - started;
      assert.equal(rest, "");
      assert.ok(
        elapsed >= 100 && elapsed < 3000,
        `dropped after ${elapsed} ms`,
      );
      assert.equal(called, false);
    } finally {
      connection.close();
      await server.shutdown();
    }
  });

  it("answers an invalid upgrade with the refusal of answerUpgrade", async () => {
    const server = start(async (request) => (await upgrade(request)).response);
    try {
      const version8 = await exchange(
        server.addr.port,
        UPGRADE_HEAD.replace("Version: 13", "Version: 8"),
      );
      assert.equal(version8.status, 426);
      assert.equal(version8.headers.get("sec-websocket-version"), "13");
      assert.match(version8.body, /Sec-WebSocket-Version/);
      const noKey = await exchange(
        server.addr.port,
        UPGRADE_HEAD.replace(/Sec-WebSocket-Key: .*\r\n/, ""),
      );
      assert.equal(noKey.status, 400);
      assert.match(noKey.body, /Missing Sec-WebSocket-Key/);
      const post = await exchange(
        server.addr.port,
        UPGRADE_HEAD.replace("GET", "POST"),
      );
      assert.equal(post.status, 405);
    } finally {
      await server.shutdown();
    }
  });

  it("answers 500 when the handler throws, or what onError returns", async () => {
    const errors: unknown[] = [];
    const server = start(() => {
      throw new Error("boom");
    }, {
      onError(error) {
        errors.push(error);
        return new Response("sorry", { status: 503 });
      },
    });
    const quiet = start(() => Promise.reject(new Error("boom")), {
      onError: () => {
        throw new Error("onError failed too");
      },
    });
    const originalError = console.error;
    console.error = () => {};
    try {
      const response = await exchange(
        server.addr.port,
        "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
      );
      assert.equal(response.status, 503);
      assert.equal(response.body, "sorry");
      assert.equal((errors[0] as Error).message, "boom");
      const fallback = await exchange(
        quiet.addr.port,
        "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
      );
      assert.equal(fallback.status, 500);
      assert.equal(fallback.body, "Internal Server Error");
    } finally {
      console.error = originalError;
      await server.shutdown();
      await quiet.shutdown();
    }
  });

  it("upgrades, writes the 101 head, and reads frames sent with the request head", async () => {
    const message = Promise.withResolvers<string | Uint8Array>();
    const server = start(async (request) => {
      const { response, socket } = await upgrade(request);
      socket?.opened.then(async ({ readable, writable }) => {
        const reader = readable.getReader();
        const { value } = await reader.read();
        message.resolve(value ?? "");
        await writable.getWriter().write("bye");
        socket.close({ closeCode: 1000 });
      }).catch(message.reject);
      return response;
    });
    const connection = await connectTcp(server.addr.port);
    try {
      const writer = connection.writable.getWriter();
      const both = new Uint8Array(UPGRADE_HEAD.length + MASKED_HELLO.length);
      both.set(latin1(UPGRADE_HEAD));
      both.set(MASKED_HELLO, UPGRADE_HEAD.length);
      await writer.write(both); // Head and first frame in one TCP write.
      assert.equal(
        await timeout(message.promise, 5000, "the message"),
        "Hello",
      );
      const raw = await timeout(
        readUntil(connection, (text) => {
          const end = text.indexOf("\r\n\r\n");
          return end > 0 && text.length >= end + 4 + 9;
        }),
        5000,
        "the answer",
      );
      const end = raw.indexOf("\r\n\r\n") + 4;
      const response = parseResponse(raw.slice(0, end));
      assert.match(raw, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
      assert.equal(response.status, 101);
      assert.equal(
        response.headers.get("sec-websocket-accept"),
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
      );
      assert.equal(response.headers.get("upgrade"), "websocket");
      assert.equal(response.headers.get("content-length"), null);
      // Then an unmasked text frame "bye" and a close frame with 1000.
      assert.equal(raw.slice(end, end + 5), "\x81\x03bye");
      assert.equal(raw.slice(end + 5, end + 9), "\x88\x02\x03\xe8");
    } finally {
      connection.close();
      await server.shutdown();
    }
  });

  it("fails the upgrade's socket when the handler returns another response", async () => {
    const closed = Promise.withResolvers<{ closeCode: number }>();
    const opened = Promise.withResolvers<unknown>();
    const server = start(async (request) => {
      const { socket } = await upgrade(request);
      socket?.opened.then(opened.resolve, opened.resolve);
      socket?.closed.then(closed.resolve);
      return new Response("changed my mind", { status: 403 });
    });
    try {
      const response = await exchange(server.addr.port, UPGRADE_HEAD);
      assert.equal(response.status, 403);
      assert.equal(response.body, "changed my mind");
      assert.ok(
        await timeout(opened.promise, 5000, "opened") instanceof TypeError,
      );
      assert.equal(
        (await timeout(closed.promise, 5000, "closed")).closeCode,
        1006,
      );
    } finally {
      await server.shutdown();
    }
  });

  it("answers 500 to a 1xx response that upgrade() did not produce", async () => {
    const server = start(() =>
      Object.defineProperty(new Response(null), "status", { value: 101 })
    );
    const originalError = console.error;
    console.error = () => {};
    try {
      const response = await exchange(server.addr.port, UPGRADE_HEAD);
      assert.equal(response.status, 500);
    } finally {
      console.error = originalError;
      await server.shutdown();
    }
  });

  it("shuts down when the signal aborts and resolves finished", async () => {
    const controller = new AbortController();
    const listened = Promise.withResolvers<
      { hostname: string; port: number }
    >();
    const server = start(() => new Response("up"), {
      signal: controller.signal,
      onListen: listened.resolve,
    });
    let shutDown = false;
    try {
      const addr = await timeout(listened.promise, 5000, "onListen");
      assert.deepEqual(addr, server.addr);
      assert.equal(addr.hostname, "127.0.0.1");
      assert.ok(addr.port > 0);
      const response = await fetch(`http://127.0.0.1:${addr.port}/`);
      assert.equal(await response.text(), "up");
      // A client still sending its head is disconnected by the shutdown.
      const slow = await connectTcp(addr.port);
      await slow.writable.getWriter().write(latin1("GET / HT"));
      controller.abort();
      await timeout(server.finished, 5000, "finished");
      shutDown = true;
      assert.equal(await timeout(readAll(slow), 5000, "the slow drop"), "");
      slow.close();
      await assert.rejects(connectTcp(addr.port));
    } finally {
      if (!shutDown) await server.shutdown();
    }
  });

  it("shuts down at once when the signal is already aborted", async () => {
    let listened = false;
    const server = start(() => new Response("up"), {
      signal: AbortSignal.abort(),
      onListen: () => listened = true,
    });
    await timeout(server.finished, 5000, "finished");
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(listened, false);
    await assert.rejects(connectTcp(server.addr.port));
  });

  it("rejects invalid options with RangeError", () => {
    const handler = (): Response => new Response();
    assert.throws(() => serve({ port: -1 }, handler), RangeError);
    assert.throws(() => serve({ port: 70000 }, handler), RangeError);
    assert.throws(
      () => serve({ port: 0, maxHeadSize: 0 }, handler),
      RangeError,
    );
    assert.throws(
      () => serve({ port: 0, handshakeTimeout: 0 }, handler),
      RangeError,
    );
  });
});

describe(
  `TCP transport (${getDeno() !== undefined ? "listenDeno" : "listenBun"})`,
  { timeout: TEST_TIMEOUT, skip: SKIP },
  () => {
    it("carries bytes both ways in fresh chunks and ends readable at EOF", async () => {
      const { listener, accepted } = listenTcp();
      const client = await connectTcp(listener.addr.port);
      try {
        const server = await accepted();
        assert.equal(server.remoteAddr.port, client.localAddr.port);
        const clientWriter = client.writable.getWriter();
        const serverReader = server.readable.getReader();
        const chunks: Uint8Array[] = [];
        for (const byte of [1, 2, 3]) {
          await clientWriter.write(new Uint8Array([byte, byte]));
          const { value } = await timeout(serverReader.read(), 5000, "read");
          assert.ok(value !== undefined);
          chunks.push(value);
        }
        // The consumer owns each chunk: no two share memory.
        assert.equal(new Set(chunks.map((chunk) => chunk.buffer)).size, 3);
        assert.deepEqual(chunks.map((chunk) => [...chunk]), [[1, 1], [2, 2], [
          3,
          3,
        ]]);
        assert.equal(chunks[0]?.constructor, Uint8Array); // Not a Buffer.
        const serverWriter = server.writable.getWriter();
        await serverWriter.write(new Uint8Array([9, 8, 7]));
        const clientReader = client.readable.getReader();
        assert.deepEqual(
          (await timeout(clientReader.read(), 5000, "client read")).value,
          new Uint8Array([9, 8, 7]),
        );
        await clientWriter.close(); // FIN
        assert.equal(
          (await timeout(serverReader.read(), 5000, "EOF")).done,
          true,
        );
        await serverWriter.close();
        await serverReader.cancel();
        assert.equal(
          (await timeout(clientReader.read(), 5000, "EOF")).done,
          true,
        );
        await assert.rejects(serverWriter.write(new Uint8Array(1)));
        server.close(); // Idempotent.
        server.close();
      } finally {
        client.close();
        listener.close();
        await listener.closed;
      }
    });

    it("stops reading the socket while the consumer does not read (backpressure)", async () => {
      const { listener, accepted } = listenTcp();
      const client = await connectTcp(listener.addr.port);
      try {
        const server = await accepted();
        const writer = client.writable.getWriter();
        const chunk = new Uint8Array(1024 * 1024);
        let written = 0;
        let stalled: Promise<void> | null = null;
        // Write until a write stays pending: the kernel buffers are full
        // because the server side stopped reading.
        while (stalled === null && written < 256 * 1024 * 1024) {
          const write = writer.write(chunk);
          const done = await Promise.race([
            write.then(() => true),
            new Promise<boolean>((resolve) => setTimeout(resolve, 300, false)),
          ]);
          if (done) written += chunk.length;
          else stalled = write;
        }
        assert.ok(stalled !== null, "no write ever waited");
        assert.ok(
          written < 64 * 1024 * 1024,
          `the client wrote ${written} bytes without the server reading`,
        );
        // Reading everything lets the stalled write complete.
        const reader = server.readable.getReader();
        let read = 0;
        while (read < written + chunk.length) {
          const { done, value } = await timeout(reader.read(), 5000, "read");
          if (done) break;
          read += value.length;
        }
        await timeout(stalled, 5000, "the stalled write");
        assert.equal(read, written + chunk.length);
        server.close();
      } finally {
        client.close();
        listener.close();
      }
    });

    it("lingers on close so that unread input does not reset our last bytes", async () => {
      const { listener, accepted } = listenTcp();
      const client = await connectTcp(listener.addr.port);
      try {
        const server = await accepted();
        // The client sends data the server never reads...
        const clientWriter = client.writable.getWriter();
        await clientWriter.write(new Uint8Array(256 * 1024).fill(1));
        await new Promise((resolve) => setTimeout(resolve, 50));
        // ...and the server answers and closes: writable first, then readable.
        const serverWriter = server.writable.getWriter();
        await serverWriter.write(latin1("last words"));
        await serverWriter.close();
        const cancelled = server.readable.cancel();
        const text = await timeout(readAll(client), 5000, "client read");
        assert.equal(text, "last words");
        client.close();
        await timeout(cancelled, 5000, "the lingering close");
      } finally {
        client.close();
        listener.close();
      }
    });
  },
);
