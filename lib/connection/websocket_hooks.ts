/**
 * The callback ("hooks") API beside the streams: a handler object with
 * `open`, `message`, `drain`, `pong` and `close` hooks, the shape Bun's
 * `websocket` handlers and crossws have, driven straight from the protocol's
 * events with no stream and no promise per message.
 *
 * @module
 */

import type {
  NetAddr,
  WebSocketCloseInfo,
  WebSocketMessage,
} from "./websocket_stream_like.ts";

/**
 * The socket a hooks-driven connection hands its hooks (and that
 * `upgrade(request, { hooks })` returns): synchronous sends with Bun's
 * return values, the same on every placement.
 *
 * `send()` returns a number, as Bun's `ServerWebSocket.send()` does:
 *
 * - `> 0`: the message was queued, that many bytes (wstream's codec: its
 *   frame's bytes; `Deno.serve`: its length + 2; `Bun.serve`: Bun's
 *   count, 2 for an empty message).
 * - `-1`: the message was queued, and the socket is backpressured: stop
 *   sending until the `drain` hook. On wstream's codec and under
 *   `Deno.serve`, once `writableHighWaterMark` bytes (default 1 MiB) wait
 *   for the OS; under `Bun.serve`, Bun's own verdict (bytes remain queued).
 * - `0`: the message was dropped: the socket is not open (not opened yet,
 *   closing or closed).
 *
 * Every queue stays bounded: an application that goes on sending past `-1`
 * until 16 × `writableHighWaterMark` bytes (16 MiB by default) wait gets
 * the connection closed with 1008 (`"Send buffer limit exceeded: the peer
 * is not reading"`) and `0`.
 *
 * @typeParam T The type of {@linkcode WebSocketHooksSocket.data}.
 *
 * @example Echo with backpressure
 * ```ts
 * import { serve, upgrade, type WebSocketHooksSocket } from "@wstream/wstream";
 *
 * const paused = new Set<WebSocketHooksSocket>();
 * const server = serve({ port: 0 }, async (request) => {
 *   const { response } = await upgrade(request, {
 *     hooks: {
 *       message(ws, data) {
 *         if (ws.send(data) === -1) paused.add(ws); // wait for drain
 *       },
 *       drain(ws) {
 *         paused.delete(ws);
 *       },
 *     },
 *   });
 *   return response;
 * });
 * await server.shutdown();
 * ```
 */
export interface WebSocketHooksSocket<T = undefined> {
  /** The URL of the connection (`ws:` or `wss:`). */
  readonly url: string;
  /** The negotiated subprotocol, or `""`. */
  readonly protocol: string;
  /** The negotiated extensions (`Sec-WebSocket-Extensions` answer), or `""`. */
  readonly extensions: string;
  /**
   * The peer's address, `null` when unknown (as the stream socket's
   * `remoteAddr`).
   */
  readonly remoteAddr: NetAddr | null;
  /** Whether the URL is `wss:`. */
  readonly secure: boolean;
  /**
   * The application's slot for its own per-connection state (the `data`
   * option of `upgrade()`, else `undefined`); wstream never reads it.
   */
  data: T;
  /**
   * `0` before the `open` hook, `1` while open, `2` once closing (a close
   * frame was sent or requested), `3` once closed (as `WebSocket`'s
   * `readyState`).
   */
  readonly readyState: 0 | 1 | 2 | 3;
  /**
   * Bytes queued and not yet taken by the OS (as the stream socket's
   * `bufferedAmount`).
   */
  readonly bufferedAmount: number;
  /**
   * Resolves once the connection is closed, with the code and reason the
   * `close` hook gets.
   */
  readonly closed: Promise<WebSocketCloseInfo>;
  /**
   * Sends a message: a `string` as text, any `BufferSource` as binary
   * (copied, or framed at once on wstream's codec: the buffer may be reused
   * right after).
   *
   * @param data The message.
   * @returns `> 0` bytes queued, `-1` queued but backpressured (wait for
   * the `drain` hook), `0` dropped (the socket is not open).
   * @throws {TypeError} If `data` is neither a string nor a `BufferSource`.
   */
  send(data: string | BufferSource): number;
  /**
   * Starts the closing handshake (RFC 6455 §7.1.2) after the messages
   * already sent. Does nothing once closing.
   *
   * @param code 1000, or 3000-4999 (a server may also send 1001-1003 and
   * 1007-1014); without it, 1000 when a reason is given, else a close frame
   * without a body (Bun: 1000).
   * @param reason At most 123 bytes of UTF-8.
   * @throws {RangeError} If the code cannot be sent or the reason is too long.
   */
  close(code?: number, reason?: string): void;
  /**
   * Drops the connection at once, without a close frame; `closed` reports
   * 1006. Under `Deno.serve`, where Deno cannot drop a connection, sends a
   * 1001 close frame instead.
   */
  terminate(): void;
  /**
   * Sends a ping; its pong goes to the `pong` hook. Under `Deno.serve`,
   * whose WebSocket can neither send a ping nor report a pong, it does
   * nothing and returns 0 (Deno pings by itself every `pingInterval`).
   *
   * @param data At most 125 bytes (a string is sent as UTF-8); without it,
   * an empty ping.
   * @returns The payload's length plus 2 when sent, `0` when the socket is
   * not open.
   * @throws {RangeError} If `data` is over 125 bytes.
   */
  ping(data?: string | BufferSource): number;
}

/**
 * A handler object for a hooks-driven connection: pass it as the `hooks`
 * option of `upgrade()`. Every hook is optional and called synchronously
 * from the receive path: a `send()` in `message` leaves in the same write
 * as the other replies to that read, and before the answer to a close
 * frame read with the message.
 *
 * A hook that throws never takes the server down: what it threw goes to
 * the `error` hook (else `console.error`), and the connection is closed
 * with 1011 (`"Internal error in a hook"`); the messages read after it are
 * not delivered. What `close` and `error` throw is only reported.
 *
 * @typeParam T The type of {@linkcode WebSocketHooksSocket.data}.
 *
 * @example A chat room with hooks and a Hub
 * ```ts
 * import { Hub, serve, upgrade, type WebSocketHooks } from "@wstream/wstream";
 *
 * const hub = new Hub();
 * const hooks: WebSocketHooks<{ name: string }> = {
 *   open(ws) {
 *     hub.subscribe(ws, "room");
 *   },
 *   message(ws, data) {
 *     hub.publish("room", `${ws.data.name}: ${data}`);
 *   },
 *   close(ws, { closeCode }) {
 *     console.log(ws.data.name, "left with", closeCode);
 *   },
 * };
 * const server = serve({ port: 0 }, async (request) => {
 *   const name = new URL(request.url).searchParams.get("name") ?? "anonymous";
 *   return (await upgrade(request, { hooks, data: { name } })).response;
 * });
 * await server.shutdown();
 * await hub.close();
 * ```
 */
export interface WebSocketHooks<T = undefined> {
  /**
   * The connection is open: sends are possible from here on.
   *
   * @param ws The socket.
   */
  open?(ws: WebSocketHooksSocket<T>): void;
  /**
   * A message arrived: a `string` for text, bytes of their own buffer for
   * binary (keep them as long as you like).
   *
   * @param ws The socket.
   * @param data The message.
   */
  message?(ws: WebSocketHooksSocket<T>, data: WebSocketMessage): void;
  /**
   * A socket whose `send()` returned -1 has fallen back under its
   * high-water mark: sending may resume.
   *
   * @param ws The socket.
   */
  drain?(ws: WebSocketHooksSocket<T>): void;
  /**
   * A pong arrived (an answer to `ping()` or to a keepalive ping, or an
   * unsolicited one). Never called under `Deno.serve`, whose WebSocket
   * hides pongs.
   *
   * @param ws The socket.
   * @param data Its payload.
   */
  pong?(ws: WebSocketHooksSocket<T>, data: Uint8Array): void;
  /**
   * The connection is closed (once, also when it never opened): the
   * peer's close code and reason after a clean close, the code we failed
   * it with (1002, 1007, 1008, 1009, 1011), or 1006.
   *
   * @param ws The socket.
   * @param info The close code and reason, as `closed` reports them.
   */
  close?(ws: WebSocketHooksSocket<T>, info: WebSocketCloseInfo): void;
  /**
   * Another hook threw: the connection is being closed with 1011.
   *
   * @default {undefined} `console.error`
   * @param ws The socket.
   * @param error What it threw.
   */
  error?(ws: WebSocketHooksSocket<T>, error: unknown): void;
}
