// Per-source counters over fixed one-minute windows: how many times a client address did
// something (an unauthenticated request, a failed sign-in) this minute, in bounded memory.

export interface Throttle {
  /** Counts one more for `source`; false with the seconds to wait once past the limit. */
  hit(source: string, now: number): { allowed: true } | { allowed: false; retryAfter: number };
  /** Whether `source` is past the limit now, without counting. */
  blocked(source: string, now: number): number | undefined;
}

const WINDOW_MS = 60_000;
/** Sources remembered at most; past it the stale ones go, then (a flood of addresses) all. */
const MAX_SOURCES = 10_000;

export function createThrottle(perMinute: number): Throttle {
  const windows = new Map<string, { start: number; count: number }>();
  const windowOf = (now: number) => now - (now % WINDOW_MS);
  const retryAfter = (now: number) =>
    Math.max(1, Math.ceil((windowOf(now) + WINDOW_MS - now) / 1000));

  const evict = (now: number) => {
    const current = windowOf(now);
    for (const [source, entry] of windows) if (entry.start !== current) windows.delete(source);
    if (windows.size >= MAX_SOURCES) windows.clear();
  };

  return {
    hit(source, now) {
      const start = windowOf(now);
      let entry = windows.get(source);
      if (!entry || entry.start !== start) {
        if (!entry && windows.size >= MAX_SOURCES) evict(now);
        entry = { start, count: 0 };
        windows.set(source, entry);
      }
      entry.count++;
      return entry.count <= perMinute
        ? { allowed: true }
        : { allowed: false, retryAfter: retryAfter(now) };
    },
    blocked(source, now) {
      const entry = windows.get(source);
      if (!entry || entry.start !== windowOf(now) || entry.count < perMinute) return undefined;
      return retryAfter(now);
    },
  };
}
