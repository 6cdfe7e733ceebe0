/**
 * Private: what every socket engine (wstream's codec, the native paths)
 * shares to implement the wstream extras of `WebSocketStreamLike` the same
 * way: `ping()` bookkeeping, the WHATWG conversion of written values, the
 * close that `readable.cancel()` / `writable.abort()` ask for, and the
 * macrotask scheduler. Never re-exported.
 *
 * @module
 */

import { WebSocketError } from "../core/errors.ts";
import { MAX_OUTSTANDING_PINGS } from "./websocket_stream_like.ts";
import type { WebSocketCloseInfo } from "./websocket_stream_like.ts";

/** The close code sent when the application wrote a value that cannot be sent. */
export const UNSENDABLE_WRITE_CODE = 1011;
/** The reason sent with {@linkcode UNSENDABLE_WRITE_CODE}. */
export const UNSENDABLE_WRITE_REASON = "Unsendable value written";

/**
 * Runs `task` after the current event-loop turn: `setImmediate` where the
 * runtime has it (Deno, Bun, Node: no 4 ms clamp for nested timers), else
 * `setTimeout(task, 0)`.
 */
export const scheduleMacrotask: (task: () => void) => void =
  typeof (globalThis as { setImmediate?: unknown }).setImmediate === "function"
    ? (task) =>
      (globalThis as unknown as { setImmediate(task: () => void): void })
        .setImmediate(task)
    : (task) => setTimeout(task, 0);

/**
 * The bytes of a `BufferSource` (any `ArrayBufferView`, `ArrayBuffer` or
 * `SharedArrayBuffer`) as a `Uint8Array` view, without copying; `null` for
 * any other value.
 */
export function bufferSourceBytes(value: unknown): Uint8Array | null {
  if (value instanceof Uint8Array) return value;
  if (ArrayBuffer.isView(value)) {
    return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  }
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (
    typeof SharedArrayBuffer === "function" &&
    value instanceof SharedArrayBuffer
  ) {
    return new Uint8Array(value);
  }
  return null;
}

/**
 * Converts a written value the way the WHATWG `WebSocketStream` write
 * algorithm does: a `string` or `BufferSource` is returned as bytes or
 * text; anything else is converted to a USVString (`${value}`, lone
 * surrogates replaced by U+FFFD; a `Symbol` throws, as in IDL).
 *
 * @returns The text or the bytes to send.
 * @throws Whatever converting it to a string throws (a `TypeError` for a
 * `Symbol`).
 */
export function toSendable(
  message: unknown,
): string | Uint8Array {
  if (typeof message === "string") return message;
  const bytes = bufferSourceBytes(message);
  if (bytes !== null) return bytes;
  // ToString, as IDL does: unlike String(), it throws for a Symbol.
  return `${message}`.toWellFormed();
}

/**
 * The close that `readable.cancel(reason)` or `writable.abort(reason)`
 * asks for: a {@linkcode WebSocketError}'s `closeCode` and `reason` (WHATWG
 * `WebSocketStream`), else `null` (no code given).
 */
export function closeInfoOfReason(
  reason: unknown,
): { closeCode?: number; reason?: string } | null {
  if (!(reason instanceof WebSocketError)) return null;
  const info: { closeCode?: number; reason?: string } = {};
  if (reason.closeCode !== undefined) info.closeCode = reason.closeCode;
  if (reason.reason !== "") info.reason = reason.reason;
  return info;
}

/** What `close()` takes. */
type CloseRequest = (info?: { closeCode?: number; reason?: string }) => void;

/**
 * `readable` was cancelled: closes as its reason says (a
 * {@linkcode WebSocketError}'s code and reason, WHATWG), or, for any other
 * reason (a `break` out of `for await`), at the next macrotask, so that a
 * `close()` in this turn decides the code.
 *
 * @throws {RangeError} If the reason's code cannot be sent (a plain close
 * is scheduled first).
 */
export function closeForCancel(reason: unknown, close: CloseRequest): void {
  const info = closeInfoOfReason(reason);
  if (info !== null) {
    try {
      close(info);
      return;
    } catch (error) {
      scheduleMacrotask(() => close());
      throw error;
    }
  }
  scheduleMacrotask(() => close());
}

/**
 * `writable` was aborted: closes with the reason's code and reason when it
 * is a sendable {@linkcode WebSocketError}, else without a code.
 */
export function closeForAbort(reason: unknown, close: CloseRequest): void {
  const info = closeInfoOfReason(reason) ?? {};
  try {
    close(info);
  } catch {
    close();
  }
}

/** Calls a user callback; what it throws is reported, never propagated. */
export function callUser<T>(callback: ((value: T) => void) | null, value: T) {
  if (callback === null) return;
  try {
    callback(value);
  } catch (error) {
    const report = (globalThis as { reportError?: (error: unknown) => void })
      .reportError;
    if (typeof report === "function") report(error);
    else console.error("wstream: an onpong callback threw", error);
  }
}

/** The bytes of a `ping()` payload argument. */
export function pingPayload(
  data: string | BufferSource | undefined,
): Uint8Array {
  if (data === undefined) return randomPayload();
  const bytes = typeof data === "string"
    ? new TextEncoder().encode(data)
    : data instanceof ArrayBuffer
    ? new Uint8Array(data.slice(0))
    : new Uint8Array(
      data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength),
    );
  if (bytes.length > 125) {
    throw new RangeError(
      `Cannot ping with ${bytes.length} bytes of data: a ping carries at most 125 bytes`,
    );
  }
  return bytes;
}

let pingCounter = 0;

/** 8 bytes: a process-wide counter and 4 random bytes. */
function randomPayload(): Uint8Array {
  const bytes = new Uint8Array(8);
  crypto.getRandomValues(bytes.subarray(4));
  new DataView(bytes.buffer).setUint32(0, pingCounter = (pingCounter + 1) | 0);
  return bytes;
}

interface OutstandingPing {
  data: Uint8Array;
  sentAt: number;
  resolve(rtt: number): void;
  reject(error: unknown): void;
}

/**
 * The pings waiting for their pong (python-websockets semantics): a pong
 * acknowledges the ping with the same payload and every ping sent before
 * it; at most {@linkcode MAX_OUTSTANDING_PINGS} wait at once.
 */
export class PingTracker {
  #waiting: OutstandingPing[] = [];

  /**
   * Registers a ping about to be sent.
   *
   * @returns The promise of its round-trip time in milliseconds.
   * @throws {RangeError} If too many pings wait, or one with the same
   * payload does.
   */
  add(data: Uint8Array): Promise<number> {
    const waiting = this.#waiting;
    if (waiting.length >= MAX_OUTSTANDING_PINGS) {
      throw new RangeError(
        `Cannot ping: ${MAX_OUTSTANDING_PINGS} pings already wait for their pong`,
      );
    }
    if (waiting.some((ping) => sameBytes(ping.data, data))) {
      throw new RangeError(
        "Cannot ping with the data of a ping still waiting for its pong: use other data or none",
      );
    }
    const { promise, resolve, reject } = Promise.withResolvers<number>();
    waiting.push({ data, sentAt: performance.now(), resolve, reject });
    return promise;
  }

  /** A pong arrived: settles its ping and every earlier one. */
  pong(data: Uint8Array): void {
    const waiting = this.#waiting;
    if (waiting.length === 0) return;
    const index = waiting.findIndex((ping) => sameBytes(ping.data, data));
    if (index < 0) return;
    const now = performance.now();
    for (const ping of waiting.splice(0, index + 1)) {
      ping.resolve(Math.max(0, now - ping.sentAt));
    }
  }

  /** The connection closed: every waiting ping rejects. */
  closed(info: WebSocketCloseInfo): void {
    const waiting = this.#waiting;
    if (waiting.length === 0) return;
    this.#waiting = [];
    for (const ping of waiting) {
      ping.reject(
        new WebSocketError(
          `WebSocket closed with code ${info.closeCode} before the pong arrived`,
          info,
        ),
      );
    }
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
