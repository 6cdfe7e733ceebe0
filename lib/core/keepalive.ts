/**
 * Keepalive pings and idle timeouts as a sans-I/O decision maker.
 *
 * @module
 */

/**
 * Options of {@linkcode KeepaliveMonitor}, in milliseconds.
 *
 * @example Ping every 30 s, give up 10 s after an unanswered ping
 * ```ts
 * import { KeepaliveMonitor, type KeepaliveOptions } from "@wstream/wstream/core";
 * import assert from "node:assert/strict";
 *
 * const options: KeepaliveOptions = { pingInterval: 30_000, pongTimeout: 10_000 };
 * const monitor = new KeepaliveMonitor(options, 0);
 * assert.equal(monitor.tick(30_000), "ping");
 * assert.equal(monitor.tick(40_000), "dead");
 * ```
 */
export interface KeepaliveOptions {
  /**
   * Send a ping every this many milliseconds; 0 disables pings.
   * @default {0}
   */
  pingInterval?: number | undefined;
  /**
   * How long after a ping the peer must have sent something (a pong or any
   * data) before it is considered dead.
   * @default {pingInterval}
   */
  pongTimeout?: number | undefined;
  /**
   * Close after this many milliseconds without receiving anything; 0
   * disables it.
   * @default {0}
   */
  idleTimeout?: number | undefined;
}

/**
 * What the driver must do now: send a ping, close the connection as idle
 * (1001), drop a dead peer (report 1006), or nothing (`null`).
 *
 * @example Act on an idle timeout
 * ```ts
 * import { type KeepaliveAction, KeepaliveMonitor } from "@wstream/wstream/core";
 * import assert from "node:assert/strict";
 *
 * const monitor = new KeepaliveMonitor({ idleTimeout: 60_000 }, 0);
 * const action: KeepaliveAction = monitor.tick(60_000);
 * assert.equal(action, "idle"); // close with 1001 Going Away
 * ```
 */
export type KeepaliveAction = "ping" | "idle" | "dead" | null;

/**
 * Decides when to ping, when a connection is idle and when its peer is
 * dead, from timestamps alone: no timers inside. A driver calls
 * {@linkcode KeepaliveMonitor.received} whenever bytes arrive and
 * {@linkcode KeepaliveMonitor.tick} every
 * {@linkcode KeepaliveMonitor.tickInterval} milliseconds, and acts on the
 * answer. Anything received counts as a sign of life, so a pong stuck behind
 * a large message does not get a busy peer dropped.
 *
 * @example Drive it by hand
 * ```ts
 * import { KeepaliveMonitor } from "@wstream/wstream/core";
 * import assert from "node:assert/strict";
 *
 * const monitor = new KeepaliveMonitor({ pingInterval: 100, pongTimeout: 50 }, 0);
 * assert.equal(monitor.tick(100), "ping");
 * assert.equal(monitor.tick(120), null); // waiting for an answer
 * assert.equal(monitor.tick(150), "dead"); // nothing came back in 50 ms
 * ```
 */
export class KeepaliveMonitor {
  /**
   * How often to call {@linkcode KeepaliveMonitor.tick}, in milliseconds;
   * 0 when neither pings nor the idle timeout are enabled.
   */
  readonly tickInterval: number;
  readonly #pingInterval: number;
  readonly #pongTimeout: number;
  readonly #idleTimeout: number;
  #lastReceived: number;
  #lastPing: number;
  /** When the oldest unanswered ping went out, or -1. */
  #pingSentAt = -1;

  /**
   * Creates a monitor.
   *
   * @param options The intervals, in milliseconds.
   * @param now The current time, such as `Date.now()`.
   * @throws {RangeError} If an interval is negative or not finite.
   */
  constructor(options: KeepaliveOptions, now: number) {
    const pingInterval = options.pingInterval ?? 0;
    const pongTimeout = options.pongTimeout ?? pingInterval;
    const idleTimeout = options.idleTimeout ?? 0;
    for (
      const [name, value] of [
        ["pingInterval", pingInterval],
        ["pongTimeout", pongTimeout],
        ["idleTimeout", idleTimeout],
      ] as const
    ) {
      if (!(Number.isFinite(value) && value >= 0)) {
        throw new RangeError(
          `Cannot use ${name} ${value}: use a non-negative number of milliseconds`,
        );
      }
    }
    this.#pingInterval = pingInterval;
    this.#pongTimeout = pongTimeout;
    this.#idleTimeout = idleTimeout;
    this.#lastReceived = now;
    this.#lastPing = now;
    const periods = [pingInterval, pongTimeout, idleTimeout].filter((ms) =>
      ms > 0
    );
    this.tickInterval = pingInterval === 0 && idleTimeout === 0
      ? 0
      : Math.max(1, Math.min(...periods) / 2);
  }

  /**
   * Records that something arrived from the peer.
   *
   * @param now The current time.
   */
  received(now: number): void {
    this.#lastReceived = now;
  }

  /**
   * Decides what to do at `now`. After `"ping"` the driver sends a ping;
   * after `"idle"` or `"dead"` the monitor has done its job.
   *
   * @param now The current time.
   * @returns The action due, or `null`.
   */
  tick(now: number): KeepaliveAction {
    if (
      this.#idleTimeout > 0 && now - this.#lastReceived >= this.#idleTimeout
    ) {
      return "idle";
    }
    if (this.#pingInterval === 0) return null;
    if (
      this.#pingSentAt >= 0 && this.#lastReceived < this.#pingSentAt &&
      now - this.#pingSentAt >= this.#pongTimeout
    ) {
      return "dead";
    }
    if (now - this.#lastPing < this.#pingInterval) return null;
    this.#lastPing = now;
    if (this.#pingSentAt < 0 || this.#lastReceived >= this.#pingSentAt) {
      this.#pingSentAt = now;
    }
    return "ping";
  }
}
