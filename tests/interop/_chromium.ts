/**
 * Driving `chromium_page.html` from the tests: the page's `window.wstest`
 * functions, called with `page.evaluate()`, on a page loaded from a
 * wstream echo server.
 *
 * Private to the tests; never re-exported.
 *
 * @module
 */

import assert from "node:assert/strict";
import { startEchoServer } from "./_interop_utils.ts";
import type { EchoServer, EchoServerOptions } from "./_interop_utils.ts";
import type { Chromium, PlaywrightPage } from "./_peers.ts";

/** A message as it crosses `page.evaluate()`, or generated in the page. */
export type Spec =
  | { text: string }
  | { bytes: number[] }
  | { random: number; seed: number }
  | { largeText: true };

/** `window.wstest` of `chromium_page.html`. */
export interface PageHarness {
  /** Opens a WebSocket; resolves with its id once open. */
  open(url: string): Promise<number>;
  /** Sends a message. */
  send(id: number, spec: Spec): void;
  /** The next message received. */
  next(id: number): Promise<{ text: string } | { bytes: number[] }>;
  /** Whether the next message received equals `spec`, compared in the page. */
  nextMatches(id: number, spec: Spec): Promise<boolean>;
  /** The socket's `readyState`. */
  readyState(id: number): number;
  /** Calls the socket's `close(code, reason)`. */
  close(id: number, code?: number, reason?: string): void;
  /** The socket's close event. */
  closed(id: number): Promise<
    { code: number; reason: string; wasClean: boolean }
  >;
  /** The concurrency scenario, run in the page. */
  concurrent(
    url: string,
    connections: number,
    messages: number,
  ): Promise<
    { received: number; maxOpen: number; errors: string[]; failed: number }
  >;
}

/**
 * Calls `window.wstest[method](...args)` in the page.
 *
 * @param page A page showing `chromium_page.html`.
 * @param method The harness function.
 * @param args Its (JSON-able) arguments.
 * @returns What it returned, awaited.
 */
export function call<M extends keyof PageHarness>(
  page: PlaywrightPage,
  method: M,
  ...args: Parameters<PageHarness[M]>
): Promise<Awaited<ReturnType<PageHarness[M]>>> {
  return page.evaluate(
    ([name, values]) => {
      const harness = (globalThis as unknown as {
        wstest: Record<string, (...args: unknown[]) => unknown>;
      }).wstest;
      return harness[name]!(...values) as Awaited<ReturnType<PageHarness[M]>>;
    },
    [method as string, args as unknown[]] as const,
  );
}

/**
 * Runs `body` with a fresh wstream echo server and a new page of `browser`
 * loaded from it; closes both afterwards.
 *
 * @param browser A running Chromium, or `undefined` if it failed to launch.
 * @param body The test.
 * @param options Options of the echo server.
 */
export async function withPage(
  browser: Chromium | undefined,
  body: (page: PlaywrightPage, echo: EchoServer) => Promise<void>,
  options: EchoServerOptions = {},
): Promise<void> {
  const echo = await startEchoServer(options);
  let page: PlaywrightPage | undefined;
  try {
    assert.ok(browser !== undefined, "Chromium did not launch");
    page = await browser.context.newPage();
    page.on("pageerror", (error) => console.error("page error:", error));
    await page.goto(`${echo.url.replace(/^ws/, "http")}/`);
    await body(page, echo);
  } finally {
    await page?.close().catch(() => {});
    await echo.close();
  }
}
