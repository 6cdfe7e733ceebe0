/**
 * A transparent TCP relay that counts the bytes it forwards each way and
 * keeps the HTTP heads of each connection (the WebSocket offer and the
 * answer, as they really crossed the wire), so that the compression tests
 * can show what a message cost on the wire. `node:net` only: it runs on
 * Deno, Bun and Node.
 *
 * Private to the tests; never re-exported.
 *
 * @module
 */

import net from "node:net";
import { listenLocal, timeout } from "../_test_utils.ts";

/** The longest HTTP head kept; the rest of a longer head is not recorded. */
const MAX_HEAD = 16 * 1024;

/** What one relayed TCP connection carried. */
export interface RelayedConnection {
  /** Bytes forwarded from the client to the server. */
  toServer: number;
  /** Bytes forwarded from the server to the client. */
  toClient: number;
  /** The client's HTTP request head (up to the blank line), once complete. */
  requestHead: string;
  /** The server's HTTP response head (up to the blank line), once complete. */
  responseHead: string;
}

/** Byte totals at one moment. */
export interface ByteCounts {
  /** Client to server, over every connection. */
  toServer: number;
  /** Server to client, over every connection. */
  toClient: number;
}

/** A running {@linkcode startByteCountingProxy}. */
export interface ByteCountingProxy {
  /** The proxy's port on 127.0.0.1. */
  readonly port: number;
  /** Every connection relayed so far, in accept order. */
  readonly connections: readonly RelayedConnection[];
  /** The totals so far, over every connection. */
  counts(): ByteCounts;
  /**
   * The bytes forwarded each way while `action` ran (it must only resolve
   * once everything it sent has arrived, such as an echo received whole).
   *
   * @param action What to measure.
   * @returns Its result and the bytes each way.
   */
  measure<T>(
    action: () => Promise<T>,
  ): Promise<{ result: T; toServer: number; toClient: number }>;
  /** Destroys every relayed connection and stops listening. */
  close(): Promise<void>;
}

/**
 * Collects a head: appends `chunk` (Latin-1) to `head` until it holds the
 * blank line.
 */
function appendHead(head: string, chunk: Uint8Array): string {
  if (head.includes("\r\n\r\n") || head.length >= MAX_HEAD) return head;
  let text = head;
  for (const byte of chunk.subarray(0, MAX_HEAD - head.length)) {
    text += String.fromCharCode(byte);
  }
  const end = text.indexOf("\r\n\r\n");
  return end === -1 ? text : text.slice(0, end + 4);
}

/**
 * The value of a header in an HTTP head, header lines of the same name
 * joined with ", " (RFC 9110 §5.3), or `null` if absent.
 *
 * @param head An HTTP request or response head.
 * @param name The header name, any case.
 * @returns The value, or `null`.
 */
export function headerValue(head: string, name: string): string | null {
  const values: string[] = [];
  for (const line of head.split("\r\n").slice(1)) {
    const colon = line.indexOf(":");
    if (colon === -1) continue;
    if (line.slice(0, colon).trim().toLowerCase() !== name.toLowerCase()) {
      continue;
    }
    values.push(line.slice(colon + 1).trim());
  }
  return values.length === 0 ? null : values.join(", ");
}

/**
 * Starts a counting relay on 127.0.0.1 (port 0) to `127.0.0.1:targetPort`.
 *
 * @param targetPort The server's port.
 * @returns The proxy, once it listens.
 */
export async function startByteCountingProxy(
  targetPort: number,
): Promise<ByteCountingProxy> {
  const sockets = new Set<net.Socket>();
  const connections: RelayedConnection[] = [];
  const server = net.createServer((inbound) => {
    const record: RelayedConnection = {
      toServer: 0,
      toClient: 0,
      requestHead: "",
      responseHead: "",
    };
    connections.push(record);
    const outbound = net.connect({ host: "127.0.0.1", port: targetPort });
    for (const socket of [inbound, outbound]) {
      sockets.add(socket);
      socket.on("error", () => {});
      socket.on("close", () => {
        sockets.delete(socket);
        inbound.destroy();
        outbound.destroy();
      });
    }
    inbound.on("data", (chunk: Uint8Array) => {
      record.toServer += chunk.length;
      record.requestHead = appendHead(record.requestHead, chunk);
    });
    outbound.on("data", (chunk: Uint8Array) => {
      record.toClient += chunk.length;
      record.responseHead = appendHead(record.responseHead, chunk);
    });
    inbound.pipe(outbound);
    outbound.pipe(inbound);
  });
  const port = await listenLocal(server, "counting proxy listening");
  const counts = (): ByteCounts => ({
    toServer: connections.reduce((sum, c) => sum + c.toServer, 0),
    toClient: connections.reduce((sum, c) => sum + c.toClient, 0),
  });
  return {
    port,
    connections,
    counts,
    async measure<T>(action: () => Promise<T>) {
      const before = counts();
      const result = await action();
      const after = counts();
      return {
        result,
        toServer: after.toServer - before.toServer,
        toClient: after.toClient - before.toClient,
      };
    },
    close(): Promise<void> {
      for (const socket of sockets) socket.destroy();
      sockets.clear();
      return timeout(
        new Promise<void>((resolve) => server.close(() => resolve())),
        5000,
        "counting proxy closed",
      );
    },
  };
}
