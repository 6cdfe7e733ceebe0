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
  /**
   * How long our writes may wait for the peer with no progress at all (it
   * stopped reading: TCP's window is closed) before it is given up on; 0
   * disables it. While writes are stalled, a missing pong is not counted
   * against the peer, which cannot have received our ping.
   * @default {0}
   */
  writeStallTimeout?: number | undefined;
}

/**
 * What the driver must do now: send a ping, close the connection as idle
 * (1001), drop a dead peer (report 1006), give up on a peer that stopped
 * reading (`"stalled"`: close with 1008 if the close frame can still get
 * out, then drop it), or nothing (`null`).
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
export type KeepaliveAction = "ping" | "idle" | "dead" | "stalled" | null;

/**
 * Decides when to ping, when a connection is idle and when its peer is
 * dead, from timestamps alone: no timers inside. A driver calls
 * {@linkcode KeepaliveMonitor.received} whenever bytes arrive and
 * {@linkcode KeepaliveMonitor.tick} every
 * {@linkcode KeepaliveMonitor.tickInterval} milliseconds, and acts on the
 * answer. Anything received counts as a sign of life, so a pong stuck behind
 * a large message does not get a busy peer dropped. A driver that passes
 * `writesStalled` to `tick` also gets `"stalled"` once its writes made no
 * progress for `writeStallTimeout`.
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
  readonly #writeStallTimeout: number;
  #lastReceived: number;
  /**
   * The last time a missing answer could not be held against the peer:
   * bytes arrived, or we were not reading it.
   */
  #lastAlive: number;
  /** The previous tick's time. */
  #lastTick: number;
  /** Since when writes have been stalled, or -1. */
  #stalledSince = -1;
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
    const writeStallTimeout = options.writeStallTimeout ?? 0;
    for (
      const [name, value] of [
        ["pingInterval", pingInterval],
        ["pongTimeout", pongTimeout],
        ["idleTimeout", idleTimeout],
        ["writeStallTimeout", writeStallTimeout],
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
    this.#writeStallTimeout = writeStallTimeout;
    this.#lastReceived = now;
    this.#lastAlive = now;
    this.#lastPing = now;
    this.#lastTick = now;
    const periods = [pingInterval, pongTimeout, idleTimeout, writeStallTimeout]
      .filter((ms) => ms > 0);
    this.tickInterval =
      pingInterval === 0 && idleTimeout === 0 && writeStallTimeout === 0
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
    this.#lastAlive = now;
  }

  /**
   * Records that the driver is not reading the peer right now (its own
   * backpressure: the application is behind): a pong may be waiting unread,
   * so a missing one is not held against the peer. Does not count as
   * activity for the idle timeout.
   *
   * @param now The current time.
   */
  notReading(now: number): void {
    this.#lastAlive = now;
  }

  /**
   * Decides what to do at `now`. After `"ping"` the driver sends a ping;
   * after `"idle"`, `"dead"` or `"stalled"` the monitor has done its job.
   *
   * @param now The current time.
   * @param writesStalled Whether bytes have waited to be written since the
   * previous tick with none of them taken by the transport.
   * @returns The action due, or `null`.
   */
  tick(now: number, writesStalled = false): KeepaliveAction {
    const previousTick = this.#lastTick;
    this.#lastTick = now;
    if (!writesStalled) {
      if (this.#stalledSince >= 0) {
        // A ping sent during the stall may only now reach the peer.
        this.#stalledSince = -1;
        this.#pingSentAt = -1;
      }
    } else if (this.#stalledSince < 0) {
      this.#stalledSince = previousTick;
    }
    if (
      this.#idleTimeout > 0 && now - this.#lastReceived >= this.#idleTimeout
    ) {
      return "idle";
    }
    if (this.#stalledSince >= 0) {
      return this.#writeStallTimeout > 0 &&
          now - this.#stalledSince >= this.#writeStallTimeout
        ? "stalled"
        : null;
    }
    if (this.#pingInterval === 0) return null;
    if (
      this.#pingSentAt >= 0 && this.#lastAlive < this.#pingSentAt &&
      now - this.#pingSentAt >= this.#pongTimeout
    ) {
      return "dead";
    }
    if (now - this.#lastPing < this.#pingInterval) return null;
    this.#lastPing = now;
    if (this.#pingSentAt < 0 || this.#lastAlive >= this.#pingSentAt) {
      this.#pingSentAt = now;
    }
    return "ping";
  }
}
