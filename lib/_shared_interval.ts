/**
 * One `setInterval` per period, shared by every connection that ticks at that
 * period, instead of one timer per connection: an idle server holding
 * thousands of sockets with keepalive on pays for a `Set` entry each, not a
 * timer each.
 */

interface Group {
  timer: ReturnType<typeof setInterval>;
  callbacks: Set<() => void>;
}

const groups = new Map<number, Group>();

/**
 * Calls `callback` every `ms` milliseconds (the first call within `ms`),
 * alongside every other callback registered with the same period.
 *
 * @param ms The period, in milliseconds.
 * @param callback What to run; an exception is reported and does not stop
 * the other callbacks.
 * @returns A function that stops the calls; the shared timer stops with its
 * last callback.
 */
export function everyInterval(ms: number, callback: () => void): () => void {
  let group = groups.get(ms);
  if (group === undefined) {
    const callbacks = new Set<() => void>();
    const timer = setInterval(() => {
      for (const each of callbacks) {
        try {
          each();
        } catch (error) {
          console.error("wstream: error in a periodic task", error);
        }
      }
    }, ms);
    group = { timer, callbacks };
    groups.set(ms, group);
  }
  const { callbacks } = group;
  callbacks.add(callback);
  return () => {
    if (!callbacks.delete(callback) || callbacks.size > 0) return;
    clearInterval(group.timer);
    groups.delete(ms);
  };
}
