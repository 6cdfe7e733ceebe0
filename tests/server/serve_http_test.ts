/**
 * `serve()` as an HTTP/1.1 server for requests that are not upgrades:
 * request bodies, streamed responses, keep-alive, refusals. Real clients:
 * the runtime's `fetch`, curl (/usr/bin/curl), node:http, raw TCP.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { spawn } from "node:child_process";
import { Agent, request as httpRequest } from "node:http";
import { serve } from "../../lib/server/serve.ts";
import type {
  ServeHandler,
  ServeOptions,
  Server,
} from "../../lib/server/serve.ts";
import { upgrade } from "../../lib/server/upgrade.ts";
import {
  dial,
  MASKED_HELLO,
  parseResponse,
  UPGRADE_HEAD,
} from "../_raw_client.ts";
import {
  delay,
  echoUpgraded,
  fromLatin1,
  latin1,
  timeout,
} from "../_test_utils.ts";
import type { TcpConnection } from "../../lib/transports/tcp_connection.ts";

const TEST_TIMEOUT = 20_000;
const CURL = "/usr/bin/curl";
const IS_CI = (process.env.CI ?? "") !== "" && process.env.CI !== "false" &&
  process.env.CI !== "0";
/** Skip curl tests only when curl is missing and we are not in CI. */
const CURL_SKIP: string | false = !existsSync(CURL) && !IS_CI
  ? `${CURL} is missing`
  : false;
if (CURL_SKIP !== false) console.warn(`serve_http: skipping: ${CURL_SKIP}`);

async function start(
  handler: ServeHandler,
  options: ServeOptions = {},
): Promise<Server> {
  const server = serve({ port: 0, hostname: "127.0.0.1", ...options }, handler);
  await timeout(server.listening, 5000, "listening");
  return server;
}

/** Runs curl with `args`; resolves with its stdout, rejects on failure. */
function curl(
  args: string[],
  onData?: (text: string) => void,
): Promise<string> {
  return timeout(
    new Promise<string>((resolve, reject) => {
      const child = spawn(CURL, ["-sS", "--max-time", "10", ...args]);
      let out = "";
      let err = "";
      child.stdout.on("data", (data: Uint8Array) => {
        out += new TextDecoder().decode(data);
        onData?.(out);
      });
      child.stderr.on("data", (data: Uint8Array) => {
        err += new TextDecoder().decode(data);
      });
      child.on("error", reject);
      child.on(
        "close",
        (code: number | null) =>
          code === 0 ? resolve(out) : reject(new Error(`curl ${code}: ${err}`)),
      );
    }),
    15_000,
    "curl",
  );
}

/** A raw connection that reads responses one at a time. */
class RawHttp {
  #buffer = "";
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly connection: TcpConnection;
  constructor(connection: TcpConnection) {
    this.connection = connection;
    this.#reader = connection.readable.getReader();
    this.#writer = connection.writable.getWriter();
  }
  static async open(port: number): Promise<RawHttp> {
    return new RawHttp(await dial(port));
  }
  send(text: string | Uint8Array): Promise<void> {
    return this.#writer.write(typeof text === "string" ? latin1(text) : text);
  }
  /** Reads until `done(buffer)` returns the length of one response. */
  async #until(done: (text: string) => number): Promise<string> {
    while (true) {
      const end = done(this.#buffer);
      if (end > 0) {
        const text = this.#buffer.slice(0, end);
        this.#buffer = this.#buffer.slice(end);
        return text;
      }
      const { done: eof, value } = await timeout(
        this.#reader.read(),
        5000,
        "a response",
      );
      if (eof) throw new Error(`EOF after ${JSON.stringify(this.#buffer)}`);
      this.#buffer += fromLatin1(value);
    }
  }
  /** The next response, delimited by Content-Length or chunked coding. */
  async response(
    head = false,
  ): Promise<ReturnType<typeof parseResponse>> {
    const raw = await this.#until((text) => {
      const end = text.indexOf("\r\n\r\n");
      if (end < 0) return 0;
      if (head) return end + 4;
      const headText = text.slice(0, end);
      const length = /content-length: (\d+)/i.exec(headText);
      if (length) {
        const total = end + 4 + Number(length[1]);
        return text.length >= total ? total : 0;
      }
      if (/transfer-encoding: chunked/i.test(headText)) {
        const last = text.indexOf("\r\n0\r\n\r\n", end);
        if (text.slice(end + 4).startsWith("0\r\n\r\n")) return end + 9;
        return last < 0 ? 0 : last + 7;
      }
      return end + 4;
    });
    return parseResponse(raw);
  }
  /** The next `count` bytes, as Latin-1. */
  read(count: number): Promise<string> {
    return this.#until((text) => text.length >= count ? count : 0);
  }
  /** Resolves with what arrives until the server closes. */
  async rest(): Promise<string> {
    let text = this.#buffer;
    this.#buffer = "";
    while (true) {
      try {
        const { done, value } = await timeout(
          this.#reader.read(),
          5000,
          "EOF",
        );
        if (done) return text;
        text += fromLatin1(value);
      } catch (error) {
        if ((error as Error).message.startsWith("Timed out")) throw error;
        return text;
      }
    }
  }
  close(): void {
    this.connection.close();
  }
}

/** Answers with what it read of the body, with method and length. */
const echoBody: ServeHandler = async (request) => {
  const body = new Uint8Array(await request.arrayBuffer());
  let sum = 0;
  for (const byte of body) sum = (sum + byte) % 65521;
  return Response.json({ method: request.method, length: body.length, sum });
};

/** A body of unknown length: `text`, then the end after a pause. */
function slowBody(text: string): ReadableStream<Uint8Array> {
  let sent = false;
  return new ReadableStream({
    async pull(controller) {
      await delay(5);
      if (sent) return controller.close();
      sent = true;
      controller.enqueue(latin1(text));
    },
  });
}

function checksum(bytes: Uint8Array): number {
  let sum = 0;
  for (const byte of bytes) sum = (sum + byte) % 65521;
  return sum;
}

describe("serve request bodies", { timeout: TEST_TIMEOUT }, () => {
  it("delivers a POSTed JSON body from fetch as request.body", async () => {
    const server = await start(async (request) => {
      const data = await request.json();
      return Response.json({
        got: data,
        type: request.headers.get("content-type"),
      });
    });
    try {
      const response = await fetch(`http://127.0.0.1:${server.addr.port}/`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ user: "ada", password: "x" }),
      });
      assert.deepEqual(await response.json(), {
        got: { user: "ada", password: "x" },
        type: "application/json",
      });
    } finally {
      await server.shutdown();
    }
  });

  it("streams a large POST body (6 MiB) from fetch to the handler intact", async () => {
    const big = new Uint8Array(6 * 1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7 + (i >> 10)) & 0xff;
    const server = await start(echoBody);
    try {
      const response = await fetch(`http://127.0.0.1:${server.addr.port}/up`, {
        method: "PUT",
        body: big,
      });
      assert.deepEqual(await response.json(), {
        method: "PUT",
        length: big.length,
        sum: checksum(big),
      });
    } finally {
      await server.shutdown();
    }
  });

  it("reads a chunked upload from fetch with a ReadableStream body", async () => {
    const server = await start(echoBody);
    try {
      const parts = ["first,", "second,", "third"];
      const stream = new ReadableStream<Uint8Array>({
        async pull(controller) {
          const part = parts.shift();
          if (part === undefined) return controller.close();
          await delay(5);
          controller.enqueue(latin1(part));
        },
      });
      const response = await fetch(`http://127.0.0.1:${server.addr.port}/`, {
        method: "POST",
        body: stream,
        duplex: "half",
      } as RequestInit);
      const result = await response.json();
      assert.equal(result.length, "first,second,third".length);
      assert.equal(result.sum, checksum(latin1("first,second,third")));
    } finally {
      await server.shutdown();
    }
  });

  it("reads the body only as the handler reads it (backpressure)", async () => {
    const firstRead = Promise.withResolvers<void>();
    const release = Promise.withResolvers<void>();
    let total = 0;
    const server = await start(async (request) => {
      const reader = request.body!.getReader();
      const first = await reader.read();
      total += first.value?.length ?? 0;
      firstRead.resolve();
      await release.promise;
      while (true) {
        const { done, value } = await reader.read();
        if (done) break;
        total += value.length;
      }
      return new Response(`read ${total}`);
    }, { maxBodySize: 64 * 1024 * 1024 });
    const client = await RawHttp.open(server.addr.port);
    try {
      const size = 40 * 1024 * 1024 - 1;
      await client.send(
        `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${size}\r\nConnection: close\r\n\r\n`,
      );
      const chunk = new Uint8Array(256 * 1024);
      let sent = 0;
      // The server holds at most a socket read or two: writes stall.
      const writing = (async () => {
        while (sent < size) {
          const piece = chunk.subarray(0, Math.min(chunk.length, size - sent));
          await client.send(piece);
          sent += piece.length;
        }
      })();
      writing.catch(() => {});
      await timeout(firstRead.promise, 5000, "first read");
      await delay(300);
      assert.ok(sent < size / 2, `the client could send ${sent} bytes`);
      release.resolve();
      await timeout(writing, 15_000, "the upload");
      const response = await client.response();
      assert.equal(response.body, `read ${size}`);
    } finally {
      release.resolve();
      client.close();
      await server.shutdown();
    }
  });

  it("answers 413 to a Content-Length over maxBodySize without calling the handler", async () => {
    let called = false;
    const server = await start(() => {
      called = true;
      return new Response("no");
    }, { maxBodySize: 1000 });
    const client = await RawHttp.open(server.addr.port);
    try {
      await client.send(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\nabc",
      );
      const response = await client.response();
      assert.equal(response.status, 413);
      assert.match(response.body, /exceeds the server's limit of 1000 bytes/);
      assert.equal(response.headers.get("connection"), "close");
      assert.equal(called, false);
    } finally {
      client.close();
      await server.shutdown();
    }
  });

  it("fails request.body for a chunked body past maxBodySize and answers 413", async () => {
    let failure: unknown = null;
    const server = await start(async (request) => {
      try {
        return new Response(await request.text());
      } catch (error) {
        failure = error;
        throw error;
      }
    }, { maxBodySize: 10 });
    const client = await RawHttp.open(server.addr.port);
    try {
      await client.send(
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
          "6\r\nabcdef\r\n6\r\nghijkl\r\n0\r\n\r\n",
      );
      const response = await client.response();
      assert.equal(response.status, 413);
      assert.match(response.body, /limit of 10 bytes/);
      assert.ok(failure !== null);
      assert.equal(await client.rest(), "");
    } finally {
      client.close();
      await server.shutdown();
    }
  });

  for (
    const [name, request, status, reason, handlerRuns] of [
      [
        "Content-Length with Transfer-Encoding",
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        400,
        /both Content-Length and Transfer-Encoding/,
        false,
      ],
      [
        "a final coding other than chunked",
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
        400,
        /chunked must be the final transfer coding/,
        false,
      ],
      [
        "an unknown transfer coding",
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        501,
        /Transfer coding not implemented/,
        false,
      ],
      [
        "Transfer-Encoding in HTTP/1.0",
        "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
        /HTTP\/1.0/,
        false,
      ],
      [
        "a malformed chunk size",
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3x\r\nabc\r\n0\r\n\r\n",
        400,
        /invalid chunk size line/,
        true,
      ],
      [
        "chunk data without its CRLF",
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n",
        400,
        /followed by CRLF/,
        true,
      ],
      [
        "a chunk-size line that never ends",
        `POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1;${
          "x".repeat(5000)
        }`,
        400,
        /chunk-size line longer than 4096/,
        true,
      ],
    ] as const
  ) {
    it(`answers ${status} to ${name}`, async () => {
      let runs = 0;
      const server = await start(async (request) => {
        runs++;
        return new Response(await request.text());
      });
      const client = await RawHttp.open(server.addr.port);
      try {
        await client.send(request);
        const response = await client.response();
        assert.equal(response.status, status);
        assert.match(response.body, reason);
        assert.equal(
          response.headers.get("content-type"),
          "text/plain; charset=utf-8",
        );
        assert.equal(response.headers.get("connection"), "close");
        assert.equal(runs, handlerRuns ? 1 : 0);
        assert.equal(await client.rest(), "");
      } finally {
        client.close();
        await server.shutdown();
      }
    });
  }

  it("sends 100 Continue once the handler reads a body the client holds back", async () => {
    const server = await start(async (request) =>
      new Response(`got ${await request.text()}`)
    );
    const client = await RawHttp.open(server.addr.port);
    try {
      await client.send(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
      );
      const interim = await client.response();
      assert.equal(interim.status, 100);
      await client.send("hello");
      const response = await client.response();
      assert.equal(response.status, 200);
      assert.equal(response.body, "got hello");
    } finally {
      client.close();
      await server.shutdown();
    }
  });

  it("answers without 100 Continue and closes when the handler ignores the body", async () => {
    const server = await start(() => new Response("nope", { status: 401 }));
    const client = await RawHttp.open(server.addr.port);
    try {
      await client.send(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
      );
      const response = await client.response();
      assert.equal(response.status, 401);
      assert.equal(response.headers.get("connection"), "close");
      assert.equal(await client.rest(), "");
    } finally {
      client.close();
      await server.shutdown();
    }
  });

  it("uploads with curl: --data-binary and a chunked upload", {
    skip: CURL_SKIP,
  }, async () => {
    const server = await start(echoBody);
    try {
      const url = `http://127.0.0.1:${server.addr.port}/`;
      const payload = "name=ada&note=" + "x".repeat(100_000);
      const plain = JSON.parse(await curl(["--data-binary", payload, url]));
      assert.deepEqual(plain, {
        method: "POST",
        length: payload.length,
        sum: checksum(latin1(payload)),
      });
      const chunked = JSON.parse(
        await curl([
          "-H",
          "Transfer-Encoding: chunked",
          "--data-binary",
          payload,
          url,
        ]),
      );
      assert.equal(chunked.length, payload.length);
    } finally {
      await server.shutdown();
    }
  });
});

describe("serve responses and keep-alive", { timeout: TEST_TIMEOUT }, () => {
  it("streams server-sent events: each chunk arrives before the stream ends (fetch)", async () => {
    const gate = Promise.withResolvers<void>();
    let cancelled = false;
    const server = await start(() => {
      let step = 0;
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (step === 1) await gate.promise;
          if (step === 2) return controller.close();
          controller.enqueue(latin1(`data: ${step++}\n\n`));
        },
        cancel() {
          cancelled = true;
        },
      });
      return new Response(body, {
        headers: { "content-type": "text/event-stream" },
      });
    });
    try {
      const response = await fetch(`http://127.0.0.1:${server.addr.port}/`);
      assert.equal(response.headers.get("content-type"), "text/event-stream");
      const reader = response.body!.getReader();
      const first = await timeout(reader.read(), 5000, "the first event");
      assert.equal(new TextDecoder().decode(first.value), "data: 0\n\n");
      gate.resolve(); // Only now may the stream go on and end.
      let rest = "";
      while (true) {
        const { done, value } = await timeout(reader.read(), 5000, "events");
        if (done) break;
        rest += new TextDecoder().decode(value);
      }
      assert.equal(rest, "data: 1\n\n");
      assert.equal(cancelled, false);
    } finally {
      gate.resolve();
      await server.shutdown();
    }
  });

  it(
    "streams server-sent events to curl -N, and cancels the stream when curl goes away",
    {
      skip: CURL_SKIP,
    },
    async () => {
      const cancelled = Promise.withResolvers<void>();
      let produced = 0;
      const server = await start(() =>
        new Response(
          new ReadableStream<Uint8Array>({
            async pull(controller) {
              if (produced > 0) await delay(50);
              controller.enqueue(latin1(`data: ${produced++}\n\n`));
            },
            cancel() {
              cancelled.resolve();
            },
          }),
          { headers: { "content-type": "text/event-stream" } },
        )
      );
      try {
        // curl stops after --max-time; it saw events long before that.
        const seen: string[] = [];
        await curl(
          ["-N", "--max-time", "1", `http://127.0.0.1:${server.addr.port}/`],
          (text) => seen.push(text),
        ).catch(() => {}); // Exit 28: the time limit.
        assert.ok(seen.length >= 3, `events seen: ${seen.length}`);
        assert.match(seen[0]!, /^data: 0\n\n/);
        await timeout(cancelled.promise, 5000, "the body's cancel");
      } finally {
        await server.shutdown();
      }
    },
  );

  it("reuses one connection for two URLs in one curl call", {
    skip: CURL_SKIP,
  }, async () => {
    const ports = new Set<number>();
    const server = await start((request, info) => {
      ports.add(info.remoteAddr.port);
      return new Response(new URL(request.url).pathname);
    });
    try {
      const base = `http://127.0.0.1:${server.addr.port}`;
      const out = await curl([
        "-w",
        " connects=%{num_connects}\\n",
        `${base}/one`,
        `${base}/two`,
      ]);
      assert.equal(out, "/one connects=1\n/two connects=0\n");
      assert.equal(ports.size, 1);
    } finally {
      await server.shutdown();
    }
  });

  it("keeps a node:http keepAlive agent's socket for the next request", async () => {
    const ports: number[] = [];
    const server = await start(async (request, info) => {
      ports.push(info.remoteAddr.port);
      return new Response(`${request.method} ${await request.text()}`);
    });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const get = (method: string, body?: string) =>
      timeout(
        new Promise<string>((resolve, reject) => {
          const req = httpRequest({
            host: "127.0.0.1",
            port: server.addr.port,
            method,
            path: "/",
            agent,
          }, (response) => {
            let text = "";
            response.on("data", (data: Uint8Array) => text += fromLatin1(data));
            response.on("end", () => resolve(text));
            response.on("error", reject);
          });
          req.on("error", reject);
          req.end(body);
        }),
        5000,
        "node:http",
      );
    try {
      assert.equal(await get("POST", "one"), "POST one");
      assert.equal(await get("PUT", "two"), "PUT two");
      assert.equal(await get("GET"), "GET ");
      assert.equal(ports.length, 3);
      assert.equal(new Set(ports).size, 1, "one TCP connection");
    } finally {
      agent.destroy();
      await server.shutdown();
    }
  });

  it("does not let an unread body break the next request on the connection", async () => {
    const server = await start((request) =>
      new Response(`saw ${new URL(request.url).pathname}`)
    );
    const client = await RawHttp.open(server.addr.port);
    try {
      await client.send(
        "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nGET /evil H",
      );
      assert.equal((await client.response()).body, "saw /a");
      await client.send(
        "POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nGET \r\n0\r\n\r\n",
      );
      assert.equal((await client.response()).body, "saw /b");
      await client.send("GET /c HTTP/1.1\r\nHost: x\r\n\r\n");
      assert.equal((await client.response()).body, "saw /c");
    } finally {
      client.close();
      await server.shutdown();
    }
  });

  it("answers pipelined requests in order", async () => {
    const server = await start(async (request) => {
      const path = new URL(request.url).pathname;
      if (path === "/slow") await delay(50);
      return new Response(`${path} ${await request.text()}`);
    });
    const client = await RawHttp.open(server.addr.port);
    try {
      await client.send(
        "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n" +
          "POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi" +
          "GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
      );
      assert.equal((await client.response()).body, "/slow ");
      assert.equal((await client.response()).body, "/body hi");
      const last = await client.response();
      assert.equal(last.body, "/last ");
      assert.equal(last.headers.get("connection"), "close");
      assert.equal(await client.rest(), "");
    } finally {
      client.close();
      await server.shutdown();
    }
  });

  it("uses chunked coding for a body of unknown length, none for HEAD and 204", async () => {
    const server = await start((request) => {
      if (new URL(request.url).pathname === "/empty") {
        return new Response(null, { status: 204 });
      }
      return new Response(slowBody("part"));
    });
    const client = await RawHttp.open(server.addr.port);
    try {
      await client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
      const get = await client.response();
      assert.equal(get.headers.get("transfer-encoding"), "chunked");
      assert.equal(get.body, "4\r\npart\r\n0\r\n\r\n");
      await client.send("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
      const head = await client.response(true);
      assert.equal(head.status, 200);
      assert.equal(head.body, "");
      await client.send("GET /empty HTTP/1.1\r\nHost: x\r\n\r\n");
      const empty = await client.response();
      assert.equal(empty.status, 204);
      assert.equal(empty.headers.get("content-length"), null);
      assert.equal(empty.headers.get("transfer-encoding"), null);
    } finally {
      client.close();
      await server.shutdown();
    }
  });

  it("closes rather than lie when the body is shorter than the handler's Content-Length", async () => {
    const errors: unknown[] = [];
    const original = console.error;
    console.error = (error: unknown) => errors.push(error);
    const server = await start(() =>
      new Response(
        new ReadableStream({
          async pull(controller) {
            await delay(1);
            controller.enqueue(latin1("short"));
            await delay(1);
            controller.close();
          },
        }),
        { headers: { "content-length": "10" } },
      )
    );
    const client = await RawHttp.open(server.addr.port);
    try {
      await client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
      const raw = await client.rest();
      assert.match(raw, /content-length: 10\r\n/);
      assert.ok(raw.endsWith("\r\n\r\nshort"), raw);
      assert.equal(errors.length, 1);
    } finally {
      console.error = original;
      client.close();
      await server.shutdown();
    }
  });

  it("serves HTTP/1.0: close-delimited unless it asks for keep-alive", async () => {
    const server = await start(() => new Response(slowBody("streamed")));
    try {
      const plain = await RawHttp.open(server.addr.port);
      try {
        await plain.send("GET / HTTP/1.0\r\n\r\n");
        const response = parseResponse(await plain.rest());
        assert.equal(response.headers.get("transfer-encoding"), null);
        assert.equal(response.headers.get("connection"), "close");
        assert.equal(response.body, "streamed");
      } finally {
        plain.close();
      }
      const kept = await RawHttp.open(server.addr.port);
      try {
        await kept.send(
          "HEAD / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        );
        const first = await kept.response(true);
        assert.equal(first.headers.get("connection"), "keep-alive");
        await kept.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        assert.equal(parseResponse(await kept.rest()).body, "streamed");
      } finally {
        kept.close();
      }
    } finally {
      await server.shutdown();
    }
  });

  it("closes an idle keep-alive connection after keepAliveTimeout, and at once on shutdown", async () => {
    const server = await start(() => new Response("ok"), {
      keepAliveTimeout: 200,
    });
    try {
      const idle = await RawHttp.open(server.addr.port);
      try {
        await idle.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert.equal((await idle.response()).body, "ok");
        const started = Date.now();
        assert.equal(await idle.rest(), "");
        const waited = Date.now() - started;
        assert.ok(waited >= 150 && waited < 3000, `closed after ${waited} ms`);
      } finally {
        idle.close();
      }
    } finally {
      await server.shutdown();
    }
    const server2 = await start(() => new Response("ok"));
    const idle = await RawHttp.open(server2.addr.port);
    try {
      await idle.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
      assert.equal((await idle.response()).body, "ok");
      const started = Date.now();
      await timeout(server2.shutdown(), 2000, "shutdown");
      assert.equal(await idle.rest(), "");
      assert.ok(Date.now() - started < 2000);
    } finally {
      idle.close();
      await server2.shutdown();
    }
  });

  it("upgrades to WebSocket on the second request of a kept-alive connection", async () => {
    const server = await start(async (request) => {
      if (request.headers.get("upgrade") === null) return new Response("page");
      return echoUpgraded(await upgrade(request), []);
    });
    const client = await RawHttp.open(server.addr.port);
    try {
      await client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
      assert.equal((await client.response()).body, "page");
      await client.send(UPGRADE_HEAD);
      const switching = await client.response();
      assert.equal(switching.status, 101);
      await client.send(MASKED_HELLO);
      // The echo: an unmasked text frame "Hello".
      assert.equal(await client.read(7), "\x81\x05Hello");
    } finally {
      client.close();
      await server.shutdown();
    }
  });
});
