/**
 * Raw HTTP/1.1 and WebSocket clients for server tests: bytes written by
 * hand, responses and frames parsed by hand (frames with the library's
 * `FrameParser` in the client role). Private to the tests.
 *
 * @module
 */
import assert from "node:assert/strict";
import { FrameParser } from "../lib/core/frame_parser.ts";
import type { Frame } from "../lib/core/frame.ts";
import { connectTcp } from "../lib/transports/tcp.ts";
import type {
  TcpConnection,
  TlsConnectOptions,
} from "../lib/transports/tcp_connection.ts";
import type { WebSocketCloseInfo } from "../lib/connection/websocket_stream_like.ts";
import {
  encodeClientFrame,
  fromLatin1,
  latin1,
  timeout,
} from "./_test_utils.ts";

/** Opens a TCP (or TLS) connection to 127.0.0.1. */
export function dial(
  port: number,
  tls?: TlsConnectOptions,
): Promise<TcpConnection> {
  return connectTcp({
    hostname: "127.0.0.1",
    port,
    ...(tls === undefined ? {} : { tls }),
  });
}

/** Reads everything until the peer closes; a reset counts as the end. */
export async function readAll(connection: TcpConnection): Promise<string> {
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
export async function readUntil(
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

export interface RawResponse {
  status: number;
  headers: Headers;
  body: string;
  raw: string;
}

export function parseResponse(raw: string): RawResponse {
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
export async function exchange(
  port: number,
  ...pieces: (string | Uint8Array)[]
): Promise<RawResponse> {
  const connection = await dial(port);
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

export const UPGRADE_HEAD = "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
  "Upgrade: websocket\r\nConnection: Upgrade\r\n" +
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
  "Sec-WebSocket-Version: 13\r\n\r\n";

/** A masked client text frame (RFC 6455 §5.7: "Hello" with mask 37 fa 21 3d). */
export const MASKED_HELLO = new Uint8Array([
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

export const OPCODE_TEXT = 0x1;
export const OPCODE_CLOSE = 0x8;
export const OPCODE_PING = 0x9;
export const OPCODE_PONG = 0xa;

/** A hand-driven WebSocket client over a raw TCP or TLS connection. */
export class RawWebSocket {
  readonly connection: TcpConnection;
  /** The server's 101 head. */
  readonly response: RawResponse;
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #parser = new FrameParser({ role: "client" });

  private constructor(
    connection: TcpConnection,
    reader: ReadableStreamDefaultReader<Uint8Array>,
    response: RawResponse,
    rest: Uint8Array,
  ) {
    this.connection = connection;
    this.#reader = reader;
    this.#writer = connection.writable.getWriter();
    this.response = response;
    this.#parser.push(rest);
  }

  /** Connects and completes the opening handshake (asserting 101). */
  static async open(
    port: number,
    options: {
      /** The request path. @default {"/ws"} */
      path?: string;
      /** The whole request head. @default {UPGRADE_HEAD with `path`} */
      head?: string;
      /** Bytes sent in the same write as the head (first frames). */
      after?: Uint8Array;
      /** Connect with TLS. */
      tls?: TlsConnectOptions;
    } = {},
  ): Promise<RawWebSocket> {
    const connection = await dial(port, options.tls);
    try {
      const writer = connection.writable.getWriter();
      const head = latin1(
        options.head ??
          UPGRADE_HEAD.replace("GET /ws", `GET ${options.path ?? "/ws"}`),
      );
      const after = options.after ?? new Uint8Array(0);
      const both = new Uint8Array(head.length + after.length);
      both.set(head);
      both.set(after, head.length);
      await writer.write(both);
      writer.releaseLock();
      const reader = connection.readable.getReader();
      let bytes = new Uint8Array(0);
      let end = -1;
      while (end < 0) {
        const { done, value } = await timeout(reader.read(), 5000, "101");
        if (done) throw new Error(`EOF after ${fromLatin1(bytes)}`);
        const joined = new Uint8Array(bytes.length + value.length);
        joined.set(bytes);
        joined.set(value, bytes.length);
        bytes = joined;
        end = fromLatin1(bytes).indexOf("\r\n\r\n");
      }
      const response = parseResponse(fromLatin1(bytes.subarray(0, end + 4)));
      assert.equal(response.status, 101, response.raw);
      return new RawWebSocket(
        connection,
        reader,
        response,
        bytes.slice(end + 4),
      );
    } catch (error) {
      connection.close();
      throw error;
    }
  }

  /** The next frame, or `null` at EOF (or reset). */
  async next(ms = 5000): Promise<Frame | null> {
    while (true) {
      const frame = this.#parser.next();
      if (frame !== null) return frame;
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await timeout(this.#reader.read(), ms, "a frame");
      } catch (error) {
        if ((error as Error).message.startsWith("Timed out")) throw error;
        return null; // Reset.
      }
      if (result.done) {
        this.close(); // As a client does once the server closed TCP.
        return null;
      }
      this.#parser.push(result.value);
    }
  }

  /** Writes bytes as they are (frames built by hand). */
  write(bytes: Uint8Array): Promise<void> {
    return this.#writer.write(bytes);
  }

  /** Sends a masked frame. */
  send(opcode: number, payload: Uint8Array | string = ""): Promise<void> {
    return this.#writer.write(encodeClientFrame({ opcode, payload }));
  }

  /** Answers a close frame with the same code, as RFC 6455 §5.5.1 asks. */
  answerClose(frame: Frame): Promise<void> {
    return this.send(OPCODE_CLOSE, frame.payload.subarray(0, 2));
  }

  close(): void {
    this.connection.close();
  }
}

export function closeFrameInfo(frame: Frame | null): WebSocketCloseInfo {
  assert.ok(frame !== null, "expected a close frame, got EOF");
  assert.equal(frame.opcode, OPCODE_CLOSE);
  const payload = frame.payload;
  return {
    closeCode: payload.length >= 2 ? (payload[0]! << 8) | payload[1]! : 1005,
    reason: new TextDecoder().decode(payload.subarray(2)),
  };
}

export function text(frame: Frame | null): string {
  assert.ok(frame !== null, "expected a frame, got EOF");
  assert.equal(frame.opcode, OPCODE_TEXT);
  return new TextDecoder().decode(frame.payload);
}
