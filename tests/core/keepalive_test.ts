import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { KeepaliveMonitor } from "../../lib/core/keepalive.ts";

/** Ticks a monitor and records the actions, as [time, action] pairs. */
function run(
  monitor: KeepaliveMonitor,
  until: number,
  received: readonly number[] = [],
  stalled: (now: number) => boolean = () => false,
): [number, string][] {
  const actions: [number, string][] = [];
  for (let now = 0; now <= until; now += monitor.tickInterval) {
    for (const at of received) {
      if (at > now - monitor.tickInterval && at <= now) monitor.received(at);
    }
    const action = monitor.tick(now, stalled(now));
    if (action !== null) actions.push([now, action]);
    if (action === "dead" || action === "idle" || action === "stalled") break;
  }
  return actions;
}

describe("KeepaliveMonitor", () => {
  test("KeepaliveMonitor is disabled without pings or an idle timeout", () => {
    const monitor = new KeepaliveMonitor({}, 0);
    assert.equal(monitor.tickInterval, 0);
    assert.equal(monitor.tick(1_000_000), null);
  });

  test("KeepaliveMonitor pings every interval while the peer answers", () => {
    const monitor = new KeepaliveMonitor({ pingInterval: 100 }, 0);
    assert.equal(monitor.tickInterval, 50);
    const answers = [110, 210, 310, 410];
    assert.deepEqual(run(monitor, 450, answers), [
      [100, "ping"],
      [200, "ping"],
      [300, "ping"],
      [400, "ping"],
    ]);
  });

  test("KeepaliveMonitor declares a silent peer dead pongTimeout after the ping", () => {
    const monitor = new KeepaliveMonitor(
      { pingInterval: 100, pongTimeout: 40 },
      0,
    );
    assert.deepEqual(run(monitor, 1000), [[100, "ping"], [140, "dead"]]);
  });

  test("KeepaliveMonitor counts any data as an answer, not only pongs", () => {
    const monitor = new KeepaliveMonitor({
      pingInterval: 100,
      pongTimeout: 100,
    }, 0);
    // Data keeps arriving (say, a large message) but no pong: still alive.
    const data = Array.from({ length: 20 }, (_, i) => 150 + i * 50);
    const actions = run(monitor, 1000, data);
    assert.ok(actions.every(([, action]) => action === "ping"), `${actions}`);
  });

  test("KeepaliveMonitor times the pong deadline from the oldest unanswered ping", () => {
    const monitor = new KeepaliveMonitor(
      { pingInterval: 50, pongTimeout: 120 },
      0,
    );
    // Pings at 50 and 100 go unanswered; the deadline runs from 50.
    assert.deepEqual(run(monitor, 1000), [
      [50, "ping"],
      [100, "ping"],
      [150, "ping"],
      [175, "dead"],
    ]);
  });

  test("KeepaliveMonitor reports idle after idleTimeout without data", () => {
    const monitor = new KeepaliveMonitor({ idleTimeout: 300 }, 0);
    assert.equal(monitor.tickInterval, 150);
    // Data at 100; idle from 400 on, seen at the first tick after: 450.
    assert.deepEqual(run(monitor, 10_000, [100]), [[450, "idle"]]);
  });

  for (
    const options of [
      { pingInterval: -1 },
      { pongTimeout: NaN },
      { idleTimeout: Infinity },
    ]
  ) {
    const [[name, value]] = Object.entries(options) as [[string, number]];
    test(`KeepaliveMonitor refuses ${name} ${value} with RangeError`, () => {
      assert.throws(() => new KeepaliveMonitor(options, 0), RangeError);
    });
  }

  test("KeepaliveMonitor gives up on writes stalled for writeStallTimeout", () => {
    const monitor = new KeepaliveMonitor({ writeStallTimeout: 200 }, 0);
    assert.equal(monitor.tickInterval, 100);
    // Stalled from the tick at 300 on: counted from the tick before it.
    assert.deepEqual(run(monitor, 2000, [], (now) => now >= 300), [
      [400, "stalled"],
    ]);
  });

  test("KeepaliveMonitor forgets a stall once the writes make progress", () => {
    const monitor = new KeepaliveMonitor({ writeStallTimeout: 200 }, 0);
    // Progress every other tick: never 200 ms without any.
    assert.deepEqual(run(monitor, 2000, [], (now) => now % 200 !== 0), []);
  });

  test("KeepaliveMonitor does not call a peer dead while our writes (and pings) are stuck", () => {
    const monitor = new KeepaliveMonitor({
      pingInterval: 100,
      pongTimeout: 100,
      writeStallTimeout: 1000,
    }, 0);
    // Nothing is received; the writes stall from 150 on.
    assert.deepEqual(run(monitor, 3000, [], (now) => now >= 150), [
      [100, "ping"],
      [1100, "stalled"],
    ]);
  });

  test("KeepaliveMonitor waits a fresh pongTimeout after a stall ends", () => {
    const monitor = new KeepaliveMonitor({
      pingInterval: 100,
      pongTimeout: 100,
      writeStallTimeout: 1000,
    }, 0);
    // Stalled from 150 to 500: the ping of 100 may only reach the peer
    // now, so it is not held against it; the next ping is.
    assert.deepEqual(
      run(monitor, 3000, [], (now) => now >= 150 && now <= 500),
      [[100, "ping"], [550, "ping"], [650, "dead"]],
    );
  });

  test("KeepaliveMonitor does not call a peer dead while the driver is not reading it, but still idles it out", () => {
    const monitor = new KeepaliveMonitor({
      pingInterval: 100,
      pongTimeout: 100,
      idleTimeout: 1000,
    }, 0);
    // Nothing is received: we are not reading (our application is behind),
    // so its pongs may wait unread. Alive until the idle timeout.
    const actions: [number, string][] = [];
    for (let now = 0; now <= 2000; now += monitor.tickInterval) {
      monitor.notReading(now);
      const action = monitor.tick(now);
      if (action !== null) actions.push([now, action]);
      if (action === "idle" || action === "dead") break;
    }
    assert.ok(actions.slice(0, -1).every(([, action]) => action === "ping"));
    assert.deepEqual(actions.at(-1), [1000, "idle"]);
  });

  test("KeepaliveMonitor rejects a negative writeStallTimeout", () => {
    assert.throws(
      () => new KeepaliveMonitor({ writeStallTimeout: -1 }, 0),
      RangeError,
    );
  });
});
