/**
 * One `setInterval` per period, shared by every connection that ticks at that
 * period, instead of one timer per connection: an idle server holding
 * thousands of sockets with keepalive on pays for a `Set` entry each, not a
 * timer each.
 */

/** What a shared interval calls: one object per registration. */
export interface Ticker {
  /** Runs once per period. */
  tick(): void;
}

interface Group {
  timer: ReturnType<typeof setInterval>;
  tickers: Set<Ticker>;
}

const groups = new Map<number, Group>();

/**
 * Calls `ticker.tick()` every `ms` milliseconds (the first call within
 * `ms`), alongside every other ticker registered with the same period. A
 * ticker is an object with a method rather than a closure: what a
 * connection keeps per registration is one `Set` entry.
 *
 * @param ms The period, in milliseconds.
 * @param ticker What to run; an exception is reported and does not stop
 * the other tickers. Registering it twice is one registration.
 */
export function everyInterval(ms: number, ticker: Ticker): void {
  let group = groups.get(ms);
  if (group === undefined) {
    const tickers = new Set<Ticker>();
    const timer = setInterval(() => {
      for (const each of tickers) {
        try {
          each.tick();
        } catch (error) {
          console.error("wstream: error in a periodic task", error);
        }
      }
    }, ms);
    group = { timer, tickers };
    groups.set(ms, group);
  }
  group.tickers.add(ticker);
}

/**
 * Stops the calls of {@linkcode everyInterval}`(ms, ticker)`; the shared
 * timer stops with its last ticker. Does nothing if not registered.
 *
 * @param ms The period it was registered with.
 * @param ticker The ticker.
 */
export function stopInterval(ms: number, ticker: Ticker): void {
  const group = groups.get(ms);
  if (group === undefined || !group.tickers.delete(ticker)) return;
  if (group.tickers.size > 0) return;
  clearInterval(group.timer);
  groups.delete(ms);
}
