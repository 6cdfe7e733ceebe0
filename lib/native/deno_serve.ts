/**
 * The `Deno.serve` path of `upgrade()`: `Deno.serve` gives no raw
 * socket, so after `answerUpgrade()` accepted the request,
 * `Deno.upgradeWebSocket` does the upgrade and wstream drives Deno's
 * WebSocket behind the same socket shape as everywhere else.
 *
 * Internal: reached through `upgrade()` only, so it is not
 * re-exported from `mod.ts`.
 *
 * What differs from wstream's own codec on this path (Deno's WebSocket API
 * gives no way to do otherwise):
 *
 * - Reading cannot be paused: Deno reads and delivers every message. A
 *   message that arrives while `maxUnreadBytes` are already unread in
 *   `readable` closes the connection with 1008.
 * - Write backpressure comes from polling `bufferedAmount` (Deno has no
 *   drain event) every few milliseconds while a write waits.
 * - Keepalive pings are Deno's own: `pingInterval` becomes Deno's
 *   `idleTimeout` (whole seconds; Deno waits as long for the pong, so
 *   `pongTimeout` does not apply), and pongs are not visible, so a peer
 *   answering them counts as active for `idleTimeout`.
 * - A peer that breaks the protocol is dropped by Deno without a close
 *   frame: `closed` reports 1006, not 1002/1007.
 * - Deno answers a close frame (or drops a protocol violator) as soon as it
 *   reads it, in the turn it delivered the message before it; only a send
 *   from that message's event would go out first. So an answer to a
 *   message read together with a close frame or a bad frame is not sent:
 *   its write rejects (Deno's `send()` would drop it silently).
 * - A peer that never answers our close frame is reported as 1006 after
 *   `closeTimeout`, but Deno keeps its TCP connection until its keepalive
 *   gives up on it (never with `pingInterval: 0`).
 * - A peer that goes on sending data after our close frame is dropped by
 *   Deno without a clean close: `closed` reports 1006, or the code wstream
 *   failed the connection with (1008, 1009).
 * - Deno closes the request's headers once it upgraded it: read what the
 *   handler needs from them before `upgrade()`.
 *
 * @module
 */

import type { UpgradeAnswer } from "../core/handshake.ts";
import { NativeSocket } from "./_native_socket.ts";
import type { NativeEndpoint, NativeSocketOptions } from "./_native_socket.ts";
import type {
  WebSocketMessage,
  WebSocketStreamLike,
} from "../connection/websocket_stream_like.ts";

/** The part of Deno's server-side `WebSocket` wstream uses. */
interface DenoServerWebSocket {
  binaryType: string;
  readonly bufferedAmount: number;
  /** 1 while open; Deno's `send()` silently drops a message otherwise. */
  readonly readyState: number;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: "open", listener: () => void): void;
  addEventListener(
    type: "message",
    listener: (event: { data: unknown }) => void,
  ): void;
  addEventListener(
    type: "close",
    listener: (
      event: { code: number; reason: string; wasClean: boolean },
    ) => void,
  ): void;
}

/** `Deno.upgradeWebSocket`, as wstream calls it. */
type DenoUpgradeWebSocket = (
  request: Request,
  options: { protocol?: string; idleTimeout?: number },
) => { socket: DenoServerWebSocket; response: Response };

/** The handshake's own headers, which Deno's 101 response already has. */
const HANDSHAKE_HEADERS = new Set([
  "upgrade",
  "connection",
  "sec-websocket-accept",
  "sec-websocket-protocol",
  "sec-websocket-extensions",
]);

/** `WebSocket.OPEN`. */
const OPEN = 1;
/** `WebSocket.CLOSING`. */
const CLOSING = 2;

/** Requests already upgraded, to refuse a second `upgrade()` clearly. */
const upgraded = new WeakSet<Request>();

/**
 * Tells whether `Deno.upgradeWebSocket` already took this request (Deno
 * closes its headers then, so check before reading them).
 *
 * @param request Any request.
 * @returns `true` once {@linkcode upgradeDeno} upgraded it.
 */
export function upgradedByDeno(request: Request): boolean {
  return upgraded.has(request);
}

/**
 * Upgrades a request of `Deno.serve` with `Deno.upgradeWebSocket`, after
 * `answerUpgrade()` accepted it.
 *
 * @param request The request, which `answerUpgrade()` accepted.
 * @param answer The accepted answer: its protocol and extra headers are
 * carried over to Deno's 101 response.
 * @param options The socket's options; `pingInterval` sets Deno's own
 * keepalive.
 * @returns Deno's 101 response (the handler must return it) and the
 * socket, or `null` when not running on Deno or when the request did not
 * come from `Deno.serve`.
 */
export function upgradeDeno(
  request: Request,
  answer: Extract<UpgradeAnswer, { accepted: true }>,
  options: NativeSocketOptions,
):
  | {
    response: Response;
    socket: WebSocketStreamLike;
    hooksSocket: NativeSocket["hooksSocket"];
  }
  | null {
  const upgradeWebSocket = (globalThis as {
    Deno?: { upgradeWebSocket?: DenoUpgradeWebSocket };
  }).Deno?.upgradeWebSocket;
  if (upgradeWebSocket === undefined) return null;
  const pingInterval = options.pingInterval ?? 0;
  const denoOptions: { protocol?: string; idleTimeout: number } = {
    // Deno pings after this many idle seconds and closes without a pong.
    idleTimeout: pingInterval > 0
      ? Math.max(1, Math.ceil(pingInterval / 1000))
      : 0,
  };
  if (answer.protocol !== "") denoOptions.protocol = answer.protocol;
  const { socket, response } = upgradeWebSocket(request, denoOptions);
  // Deno consumes a Deno.serve request it upgrades; any other Request is
  // left as it was, and its socket would never open.
  if (!request.bodyUsed) return null;
  upgraded.add(request);
  for (const [name, value] of answer.response.headers) {
    if (!HANDSHAKE_HEADERS.has(name)) response.headers.append(name, value);
  }

  const native = new NativeSocket({ ...options });
  const endpoint: NativeEndpoint = {
    send: (message) => {
      // Deno's send() returns without sending once Deno read the peer's
      // close frame or failed the connection: refuse the write instead of
      // reporting a message that never went out as written.
      if (socket.readyState !== OPEN) {
        throw new TypeError("Deno's WebSocket is closing or closed");
      }
      socket.send(message);
      return true;
    },
    sendCounted: (message) => {
      // From a message event, Deno still sends while its readyState says
      // closing (it read a close frame with the message): a hook's answer
      // goes out first.
      if (socket.readyState > CLOSING) return 0;
      socket.send(message);
      return (typeof message === "string"
        ? message.length
        : message.byteLength) + 2;
    },
    bufferedAmount: () => socket.bufferedAmount,
    drainEvents: false,
    close: (code, reason) => {
      if (code === undefined) socket.close();
      else socket.close(code, reason);
    },
    terminate: null,
    ping: null,
  };
  socket.binaryType = "arraybuffer";
  socket.addEventListener("open", () => native.open(endpoint));
  socket.addEventListener("message", (event) => {
    const data = event.data;
    native.receive(
      (typeof data === "string"
        ? data
        : new Uint8Array(data as ArrayBuffer)) as WebSocketMessage,
    );
  });
  socket.addEventListener("close", (event) => {
    native.ended(
      event.wasClean
        ? { closeCode: event.code, reason: event.reason }
        : { closeCode: 1006, reason: "" },
      event.wasClean,
    );
  });
  return { response, socket: native.socket, hooksSocket: native.hooksSocket };
}
