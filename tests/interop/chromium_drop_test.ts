/**
 * wstream's server (`serve` + `upgrade`) when headless Chromium vanishes:
 * the browser's network service, the process that owns its sockets, is
 * killed (see `chromium_client_test.ts` for the setup).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { SERVE_SKIP, startEchoServer, TEST_TIMEOUT } from "./_interop_utils.ts";
import { timeout } from "../_test_utils.ts";
import { call } from "./_chromium.ts";
import { launchChromium, playwright } from "./_peers.ts";
import type { Chromium } from "./_peers.ts";

describe("wstream server when headless Chromium's network process dies", {
  timeout: TEST_TIMEOUT,
  skip: SERVE_SKIP || playwright.skip ||
    (process.platform === "linux" ? false : "finds processes in /proc"),
}, () => {
  it("reports 1006 on the server", async () => {
    // A browser of its own, whose network service (the process that owns
    // its sockets) is killed with SIGKILL: no close frame is sent.
    const echo = await startEchoServer();
    let doomed: Chromium | undefined;
    try {
      doomed = await launchChromium();
      const page = await doomed.context.newPage();
      await page.goto(`http://127.0.0.1:${echo.port}/`);
      await call(page, "open", `${echo.url}/echo`);
      const socket = await echo.socket(0);
      doomed.killNetworkService();
      assert.deepEqual(await timeout(socket.closed, 5000, "server closed"), {
        closeCode: 1006,
        reason: "",
      });
    } finally {
      await doomed?.close();
      await echo.close();
    }
  });
});
