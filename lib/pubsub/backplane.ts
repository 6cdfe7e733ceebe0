/**
 * The seam between a {@linkcode Hub}-style room registry and the other
 * processes that share its rooms: a backplane forwards each local
 * publication to the other processes and hands their publications back.
 *
 * With no backplane a hub serves one process. `@wstream/wstream/redis`
 * provides one over Redis pub/sub, taking a Redis client the application
 * already has.
 *
 * @module
 */

/**
 * A message as rooms carry it: text as a `string`, binary as bytes.
 *
 * @example Measure a message in bytes
 * ```ts
 * import type { BackplaneMessage } from "@wstream/wstream";
 * import assert from "node:assert/strict";
 *
 * const byteLength = (data: BackplaneMessage): number =>
 *   typeof data === "string" ? new TextEncoder().encode(data).byteLength : data.byteLength;
 * assert.equal(byteLength("héllo"), 6);
 * assert.equal(byteLength(new Uint8Array(3)), 3);
 * ```
 */
export type BackplaneMessage = string | Uint8Array;

/**
 * What a backplane calls back into: the hub that started it.
 *
 * @example What a backplane calls when another process publishes
 * ```ts
 * import type { BackplaneMessage, BackplaneReceiver } from "@wstream/wstream";
 * import assert from "node:assert/strict";
 *
 * const received: [string, BackplaneMessage][] = [];
 * const receiver: BackplaneReceiver = {
 *   message: (topic, data) => received.push([topic, data]),
 *   error: (error) => console.warn("backplane:", error.message),
 * };
 * receiver.message("news", "hello"); // a hub passes its own receiver to start()
 * assert.deepEqual(received, [["news", "hello"]]);
 * ```
 */
export interface BackplaneReceiver {
  /**
   * A message another process published to `topic`. Called in the order
   * that process published, once per message; never for this process's own
   * publications.
   */
  message(topic: string, data: BackplaneMessage): void;
  /**
   * The backplane lost its connection or failed to forward a message: local
   * delivery goes on, and the backplane keeps trying to reconnect (and
   * resubscribe) on its own. Messages published on other processes while it
   * was disconnected are lost for this process.
   */
  error(error: Error): void;
}

/**
 * Forwards publications between processes. A hub calls `start` once, then
 * `subscribe` / `unsubscribe` as its first local subscriber of a topic comes
 * and its last one goes, `publish` for every local publication, and `close`
 * when it is closed.
 *
 * @example A backplane that forwards nothing (one process)
 * ```ts
 * import type { Backplane } from "@wstream/wstream";
 *
 * const none: Backplane = {
 *   start: () => Promise.resolve(),
 *   publish: () => {},
 *   subscribe: () => {},
 *   unsubscribe: () => {},
 *   close: () => Promise.resolve(),
 * };
 * ```
 */
export interface Backplane {
  /**
   * Connects (subscribing to nothing yet) and remembers `receiver`.
   * Resolves once ready to forward; rejects if it cannot start.
   */
  start(receiver: BackplaneReceiver): Promise<void>;
  /**
   * Forwards a publication of this process to every other process with
   * subscribers of `topic`. Never throws: a failure goes to
   * `receiver.error`.
   */
  publish(topic: string, data: BackplaneMessage): void;
  /** This process now has subscribers of `topic`: receive its messages. */
  subscribe(topic: string): void;
  /** This process has no more subscribers of `topic`. */
  unsubscribe(topic: string): void;
  /** Stops forwarding and releases what `start` took (not the user's client). */
  close(): Promise<void>;
}
