/**
 * wstream's server (`serve` + `upgrade`) against headless Chromium's own
 * WebSocket: the server serves `chromium_page.html`, whose script opens
 * WebSockets back to it; the test drives it with `page.evaluate()` through
 * playwright-core and the system Chromium (see `_peers.ts`).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  assertKeptBesideSilentPeer,
  SERVE_SKIP,
  serverClosed,
  TEST_TIMEOUT,
} from "./_interop_utils.ts";
import { generateSelfSignedCert } from "../_certs.ts";
import { timeout } from "../_test_utils.ts";
import { call, withPage } from "./_chromium.ts";
import type { Spec } from "./_chromium.ts";
import { launchChromium, playwright } from "./_peers.ts";
import type { Chromium } from "./_peers.ts";

let browser: Chromium | undefined;

describe("wstream server with headless Chromium's WebSocket", {
  timeout: TEST_TIMEOUT,
  skip: SERVE_SKIP || playwright.skip,
}, () => {
  before(async () => {
    // Bounded: 15 s launch timeout. The flag lets the wss test use the
    // self-signed test certificate.
    browser = await launchChromium(["--ignore-certificate-errors"]);
  });

  after(async () => {
    await browser?.close();
  });

  it("echoes text, binary and empty messages with their types", async () => {
    await withPage(browser, async (page, echo) => {
      const id = await call(page, "open", `${echo.url}/echo`);
      const messages: Spec[] = [
        { text: "hello ✓" },
        { bytes: [0, 1, 2, 255] },
        { text: "" },
        { bytes: [] },
      ];
      for (const message of messages) await call(page, "send", id, message);
      for (const message of messages) {
        assert.deepEqual(await call(page, "next", id), message);
      }
      assert.deepEqual(echo.received[0], [
        "hello ✓",
        new Uint8Array([0, 1, 2, 255]),
        "",
        new Uint8Array(0),
      ]);
    });
  });

  it("echoes a 1 MiB binary message and a 1 MiB text message", async () => {
    await withPage(browser, async (page, echo) => {
      const id = await call(page, "open", `${echo.url}/echo`);
      const binary = { random: 1 << 20, seed: 42 };
      const text = { largeText: true } as const;
      await call(page, "send", id, binary);
      await call(page, "send", id, text);
      assert.equal(await call(page, "nextMatches", id, binary), true);
      assert.equal(await call(page, "nextMatches", id, text), true);
      const [received] = echo.received;
      assert.ok(received !== undefined);
      assert.equal((received[0] as Uint8Array).length, 1 << 20);
      assert.equal(typeof received[1], "string");
    });
  });

  it("keeps a connection whose peer answers keepalive pings, with pingInterval", async () => {
    await withPage(browser, async (page, echo) => {
      const id = await call(page, "open", `${echo.url}/echo`);
      const socket = await echo.socket(0);
      // The page sends nothing: only Chromium's pongs keep it alive.
      await assertKeptBesideSilentPeer(echo, socket);
      assert.equal(await call(page, "readyState", id), 1);
      await call(page, "close", id, 1000, "");
      const info = await timeout(socket.closed, 5000, "closed");
      assert.equal(info.closeCode, 1000);
    }, { upgrade: { pingInterval: 100, pongTimeout: 400 } });
  });

  it("completes a close started by Chromium with 4000 and a reason", async () => {
    await withPage(browser, async (page, echo) => {
      const id = await call(page, "open", `${echo.url}/echo`);
      await call(page, "send", id, { text: "before close" });
      assert.deepEqual(await call(page, "next", id), { text: "before close" });
      await call(page, "close", id, 4000, "bye ✓");
      assert.deepEqual(await call(page, "closed", id), {
        code: 4000,
        reason: "bye ✓",
        wasClean: true,
      });
      assert.deepEqual(await serverClosed(echo), {
        closeCode: 4000,
        reason: "bye ✓",
      });
    });
  });

  it("completes a close started by the server with 1001 and a reason", async () => {
    await withPage(browser, async (page, echo) => {
      const id = await call(page, "open", `${echo.url}/echo`);
      const socket = await echo.socket(0);
      socket.close({ closeCode: 1001, reason: "server going away" });
      assert.deepEqual(await call(page, "closed", id), {
        code: 1001,
        reason: "server going away",
        wasClean: true,
      });
      assert.deepEqual(await timeout(socket.closed, 5000, "server closed"), {
        closeCode: 1001,
        reason: "server going away",
      });
    });
  });

  it("echoes and closes over wss with a self-signed certificate", async () => {
    // The page itself comes over https from the same wstream server;
    // Chromium runs with --ignore-certificate-errors.
    await withPage(browser, async (page, echo) => {
      assert.match(echo.url, /^wss:/);
      const id = await call(page, "open", `${echo.url}/echo`);
      const binary = { random: 1 << 20, seed: 9 };
      await call(page, "send", id, { text: "secure ✓" });
      await call(page, "send", id, binary);
      assert.deepEqual(await call(page, "next", id), { text: "secure ✓" });
      assert.equal(await call(page, "nextMatches", id, binary), true);
      await call(page, "close", id, 4001, "tls done");
      assert.deepEqual(await call(page, "closed", id), {
        code: 4001,
        reason: "tls done",
        wasClean: true,
      });
      assert.deepEqual(await serverClosed(echo), {
        closeCode: 4001,
        reason: "tls done",
      });
    }, { tls: generateSelfSignedCert() });
  });
});
