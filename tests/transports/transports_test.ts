/**
 * The TcpConnection contract, checked on every transport the runtime can
 * run: its native one (`listenTcp`/`connectTcp`: Deno, Bun or Node) and the
 * `node:net` one (`listenNode`/`connectNode`, which Deno and Bun run too),
 * over TCP and TLS.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { getBun, getDeno } from "../../lib/transports/_runtime_types.ts";
import { connectTcp, listenTcp } from "../../lib/transports/tcp.ts";
import type {
  TcpConnection,
  TcpConnectOptions,
  TcpListener,
  TcpListenOptions,
} from "../../lib/transports/tcp_connection.ts";
import { connectNode, listenNode } from "../../lib/transports/node.ts";
import { requireChannel } from "../../lib/transports/_socket_channel.ts";
import { generateSelfSignedCert } from "../_certs.ts";
import { readAll } from "../_raw_client.ts";
import { delay, fromLatin1, Inbox, latin1, timeout } from "../_test_utils.ts";

const TEST_TIMEOUT = 20_000;
const RUNTIME = getDeno() !== undefined
  ? "Deno"
  : getBun() !== undefined
  ? "Bun"
  : "Node";

interface Transport {
  name: string;
  listen(
    options: TcpListenOptions,
    onConnection: (connection: TcpConnection) => void,
  ): TcpListener;
  connect(options: TcpConnectOptions): Promise<TcpConnection>;
}

const TRANSPORTS: Transport[] = [
  { name: `native (${RUNTIME})`, listen: listenTcp, connect: connectTcp },
];
if (RUNTIME !== "Node") {
  TRANSPORTS.push({
    name: "node:net",
    listen: listenNode,
    connect: connectNode,
  });
}

/** A listener on 127.0.0.1:0 whose accepted connections queue up. */
async function open(
  transport: Transport,
  options: TcpListenOptions = {},
  onConnection?: (connection: TcpConnection) => void,
): Promise<{
  listener: TcpListener;
  port: number;
  accepted: () => Promise<TcpConnection>;
}> {
  const queue = new Inbox<TcpConnection>("accept");
  const listener = transport.listen(
    { hostname: "127.0.0.1", port: 0, ...options },
    onConnection ?? ((connection) => queue.push(connection)),
  );
  const { port } = await timeout(listener.listening, 5000, "listening");
  return {
    listener,
    port,
    accepted: () => queue.next(5000),
  };
}

for (const transport of TRANSPORTS) {
  describe(`TCP transport ${transport.name}`, {
    timeout: TEST_TIMEOUT,
  }, () => {
    it("carries bytes both ways in fresh chunks and ends readable at EOF", async () => {
      const { listener, port, accepted } = await open(transport);
      const client = await transport.connect({ hostname: "127.0.0.1", port });
      try {
        assert.equal(listener.addr.port, port);
        const server = await accepted();
        assert.equal(server.remoteAddr.port, client.localAddr.port);
        assert.equal(server.localAddr.port, port);
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
        assert.deepEqual(chunks.map((chunk) => [...chunk]), [
          [1, 1],
          [2, 2],
          [3, 3],
        ]);
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
        // Half-closed by the client: the server can still answer, later.
        await delay(100);
        await serverWriter.write(latin1("late"));
        assert.equal(
          fromLatin1(
            (await timeout(clientReader.read(), 5000, "late")).value ??
              new Uint8Array(),
          ),
          "late",
        );
        await serverWriter.close();
        await serverReader.cancel();
        assert.equal(
          (await timeout(clientReader.read(), 5000, "EOF")).done,
          true,
        );
        await timeout(server.closed, 5000, "server closed");
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
      const { listener, port, accepted } = await open(transport);
      const client = await transport.connect({ hostname: "127.0.0.1", port });
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
      const { listener, port, accepted } = await open(transport);
      const client = await transport.connect({ hostname: "127.0.0.1", port });
      try {
        const server = await accepted();
        // The client sends data the server never reads...
        const clientWriter = client.writable.getWriter();
        await clientWriter.write(new Uint8Array(256 * 1024).fill(1));
        await delay(50);
        // ...and the server answers and closes: writable first, then readable.
        const serverWriter = server.writable.getWriter();
        await serverWriter.write(latin1("last words"));
        await serverWriter.close();
        const cancelled = server.readable.cancel();
        const text = await timeout(readAll(client), 5000, "client read");
        assert.equal(text, "last words");
        client.close();
        await timeout(cancelled, 5000, "the lingering close");
        await timeout(server.closed, 5000, "server closed");
      } finally {
        client.close();
        listener.close();
      }
    });

    it("sends FIN after a write still in flight when closeWrite() is called", async () => {
      const { listener, port, accepted } = await open(transport);
      const client = await transport.connect({ hostname: "127.0.0.1", port });
      try {
        const server = requireChannel(await accepted());
        // More than the kernel buffers take at once: the write waits for
        // the client to read while closeWrite() is already asked for.
        const big = new Uint8Array(16 * 1024 * 1024).fill(5);
        const written = server.write(big);
        const closedWrite = server.closeWrite();
        await delay(50);
        const reader = client.readable.getReader();
        let received = 0;
        while (true) {
          const { done, value } = await timeout(reader.read(), 5000, "read");
          if (done) break;
          assert.ok(value.every((byte) => byte === 5));
          received += value.length;
        }
        assert.equal(received, big.length);
        await timeout(written, 5000, "the write");
        await timeout(closedWrite, 5000, "closeWrite");
      } finally {
        client.close();
        listener.close();
      }
    });

    it("resolves closed and ends readable when the peer goes away", async () => {
      const { listener, port, accepted } = await open(transport);
      const client = await transport.connect({ hostname: "127.0.0.1", port });
      try {
        const server = await accepted();
        let closed = false;
        server.closed.then(() => closed = true);
        await delay(20);
        assert.equal(closed, false);
        client.close();
        assert.equal(await timeout(readAll(server), 5000, "EOF"), "");
        server.close();
        await timeout(server.closed, 5000, "closed");
        await timeout(client.closed, 5000, "client closed");
      } finally {
        client.close();
        listener.close();
      }
    });

    it("speaks TLS with cert and key, verifying with caCerts and serverName", async () => {
      const { cert, key } = generateSelfSignedCert();
      const { listener, port } = await open(
        transport,
        { cert, key },
        (connection) => {
          connection.readable.pipeTo(connection.writable).catch(() => {
            connection.close();
          });
        },
      );
      try {
        for (
          const tls of [{ caCerts: [cert] }, {
            caCerts: [cert],
            serverName: "localhost",
          }]
        ) {
          const client = await timeout(
            transport.connect({ hostname: "127.0.0.1", port, tls }),
            5000,
            "TLS connect",
          );
          try {
            const writer = client.writable.getWriter();
            await writer.write(latin1("over TLS"));
            await writer.close();
            assert.equal(
              await timeout(readAll(client), 5000, "echo"),
              "over TLS",
            );
          } finally {
            client.close();
          }
        }
        // Neither an unknown issuer nor a name the certificate lacks passes.
        await assert.rejects(
          timeout(
            transport.connect({ hostname: "127.0.0.1", port, tls: {} }),
            5000,
            "unknown issuer",
          ),
          (error: Error) => !error.message.startsWith("Timed out"),
        );
        await assert.rejects(
          timeout(
            transport.connect({
              hostname: "127.0.0.1",
              port,
              tls: { caCerts: [cert], serverName: "other.example" },
            }),
            5000,
            "wrong name",
          ),
          (error: Error) => !error.message.startsWith("Timed out"),
        );
        // Plain TCP to a TLS listener gets no plain bytes back.
        const plain = await transport.connect({ hostname: "127.0.0.1", port });
        try {
          await plain.writable.getWriter().write(
            latin1("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
          );
          const answer = await timeout(readAll(plain), 5000, "plain answer");
          assert.doesNotMatch(answer, /HTTP\/1\.1/);
        } finally {
          plain.close();
        }
      } finally {
        listener.close();
      }
    });

    it("refuses a cert without a key, and reports a port in use", async () => {
      const { cert } = generateSelfSignedCert();
      assert.throws(
        () => transport.listen({ port: 0, cert }, () => {}),
        TypeError,
      );
      const { listener, port } = await open(transport);
      try {
        let second: TcpListener | undefined;
        await assert.rejects(async () => {
          second = transport.listen({ hostname: "127.0.0.1", port }, () => {});
          await second.listening;
        });
        second?.close();
      } finally {
        listener.close();
      }
    });

    it("rejects connecting to a closed port", async () => {
      const { listener, port } = await open(transport);
      listener.close();
      await listener.closed;
      await assert.rejects(
        timeout(
          transport.connect({ hostname: "127.0.0.1", port }),
          5000,
          "refused",
        ),
        (error: Error) => !error.message.startsWith("Timed out"),
      );
    });
  });
}
