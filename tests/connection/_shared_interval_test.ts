import { test } from "node:test";
import assert from "node:assert/strict";
import {
  everyInterval,
  stopInterval,
} from "../../lib/connection/_shared_interval.ts";
import { delay } from "../_test_utils.ts";

test("everyInterval ticks every ticker of a period, survives a throwing one, and stopInterval stops each", async () => {
  const calls = { a: 0, b: 0 };
  const a = { tick: () => calls.a++ };
  const b = { tick: () => calls.b++ };
  const throwing = {
    tick: () => {
      throw new Error("boom");
    },
  };
  const originalError = console.error;
  console.error = () => {}; // the throwing ticker is reported; keep output clean
  try {
    everyInterval(10, a);
    everyInterval(10, throwing);
    everyInterval(10, b);
    everyInterval(10, b); // Registering twice is one registration.
    await delay(55);
    assert.ok(calls.a >= 3 && calls.b >= 3, JSON.stringify(calls));
    assert.ok(calls.b <= calls.a + 1, "b ticks once per period");
    stopInterval(10, a);
    const afterStop = calls.a;
    await delay(35);
    assert.equal(calls.a, afterStop);
    assert.ok(calls.b > afterStop - 1);
    stopInterval(10, b);
    stopInterval(10, throwing);
    stopInterval(10, throwing); // idempotent
  } finally {
    console.error = originalError;
  }
});
