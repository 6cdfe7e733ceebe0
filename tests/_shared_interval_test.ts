import { test } from "node:test";
import assert from "node:assert/strict";
import { everyInterval } from "../lib/_shared_interval.ts";
import { delay } from "./_test_utils.ts";

test("everyInterval runs every callback of a period, survives a throwing one, and stops each on request", async () => {
  const calls = { a: 0, b: 0 };
  const originalError = console.error;
  console.error = () => {}; // the throwing callback is reported; keep output clean
  try {
    const stopA = everyInterval(10, () => calls.a++);
    const stopThrowing = everyInterval(10, () => {
      throw new Error("boom");
    });
    const stopB = everyInterval(10, () => calls.b++);
    await delay(55);
    assert.ok(calls.a >= 3 && calls.b >= 3, JSON.stringify(calls));
    stopA();
    const afterStop = calls.a;
    await delay(35);
    assert.equal(calls.a, afterStop);
    assert.ok(calls.b > afterStop - 1);
    stopB();
    stopThrowing();
    stopThrowing(); // idempotent
  } finally {
    console.error = originalError;
  }
});
