/**
 * Private: what every engine behind {@linkcode WebSocketHooksSocket} shares
 * (wstream's codec, the native paths): the close codes of a throwing hook
 * and of the send buffer limit, reporting what a hook threw, and how
 * `upgrade()` switches a `WebSocketConnection` to hooks. Never re-exported.
 *
 * @module
 */

import type {
  WebSocketHooks,
  WebSocketHooksSocket,
} from "./websocket_hooks.ts";

/** The close code of a connection whose hook threw. */
export const HOOK_ERROR_CODE = 1011;
/** The close reason of a connection whose hook threw. */
export const HOOK_ERROR_REASON = "Internal error in a hook";
/** The close code when sends went past the send buffer limit. */
export const SEND_LIMIT_CODE = 1008;
/** The close reason when sends went past the send buffer limit. */
export const SEND_LIMIT_REASON =
  "Send buffer limit exceeded: the peer is not reading";
/** The send buffer limit, as a multiple of `writableHighWaterMark`. */
export const SEND_LIMIT_FACTOR = 16;

/** Hooks of any data type, as the engines hold them. */
// deno-lint-ignore no-explicit-any
export type AnyHooks = WebSocketHooks<any>;
/** A hooks socket of any data type, as the engines hold them. */
// deno-lint-ignore no-explicit-any
export type AnyHooksSocket = WebSocketHooksSocket<any>;

/**
 * Reports what a hook threw: to the `error` hook, else `console.error`;
 * what the `error` hook throws goes to `console.error`. Never throws.
 */
export function reportHookError(
  hooks: AnyHooks,
  ws: AnyHooksSocket,
  error: unknown,
): void {
  if (hooks.error !== undefined) {
    try {
      hooks.error(ws, error);
      return;
    } catch (thrown) {
      error = thrown;
    }
  }
  console.error("wstream: a WebSocket hook threw", error);
}

/** Switches a connection (constructed a moment ago) to hooks. */
type HooksDriver = (
  connection: object,
  hooks: AnyHooks,
  data: unknown,
) => AnyHooksSocket | null;

let driver: HooksDriver | null = null;

/**
 * Registers how a `WebSocketConnection` switches to hooks (its static
 * block does, once).
 */
export function registerHooksDriver(register: HooksDriver): void {
  driver = register;
}

/**
 * Drives `connection` (a `WebSocketConnection` constructed in this turn,
 * before its transport arrived) by `hooks`: it builds no streams, and its
 * `opened` never settles.
 *
 * @returns The socket the hooks get.
 * @throws {TypeError} If `connection` is not a `WebSocketConnection`.
 */
export function driveWithHooks<T>(
  connection: object,
  hooks: WebSocketHooks<T>,
  data: T,
): WebSocketHooksSocket<T> {
  const socket = driver?.(connection, hooks, data) ?? null;
  if (socket === null) {
    throw new TypeError("Only a WebSocketConnection can be driven by hooks");
  }
  return socket;
}
