/**
 * wstream's server (`serve` + `upgrade`) against headless Chromium's own
 * WebSocket under load: many connections from one page at once (see
 * `chromium_client_test.ts` for the setup).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  assertConcurrentLogs,
  CONCURRENT_CONNECTIONS,
  MESSAGES_PER_CONNECTION,
  SERVE_SKIP,
  SLOW_TEST_TIMEOUT,
} from "./_interop_utils.ts";
import { call, withPage } from "./_chromium.ts";
import { launchChromium, playwright } from "./_peers.ts";
import type { Chromium } from "./_peers.ts";

let browser: Chromium | undefined;

describe("wstream server with many headless Chromium WebSockets", {
  // Usually 5-10 s; Chromium opens one WebSocket at a time per server
  // address, so a loaded machine stretches it.
  timeout: SLOW_TEST_TIMEOUT,
  skip: SERVE_SKIP || playwright.skip,
}, () => {
  before(async () => {
    browser = await launchChromium(); // Bounded: 15 s launch timeout.
  });

  after(async () => {
    await browser?.close();
  });

  it(
    `echoes ${CONCURRENT_CONNECTIONS} concurrent connections × ${MESSAGES_PER_CONNECTION} messages in order`,
    async () => {
      await withPage(browser, async (page, echo) => {
        const result = await call(
          page,
          "concurrent",
          echo.url,
          CONCURRENT_CONNECTIONS,
          MESSAGES_PER_CONNECTION,
        );
        assert.deepEqual(result, {
          received: CONCURRENT_CONNECTIONS * MESSAGES_PER_CONNECTION,
          maxOpen: CONCURRENT_CONNECTIONS,
          errors: [],
          failed: 0,
        });
        await assertConcurrentLogs(echo);
      });
    },
  );
});
