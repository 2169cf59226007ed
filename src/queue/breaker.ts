// The circuit breaker: after `threshold` failed batches in a row with the server unreachable,
// nothing is sent for `cooldownMs`, so an outage costs one probe per cool-down instead of a
// connection attempt per batch. It is state in the sending process alone: a file that anyone
// could write is not trusted to silence sending.

export interface Breaker {
  /** Unix ms before which no send is tried; at most now() when closed or half open. */
  openUntil(): number;
  recordSuccess(): void;
  /**
   * A batch found the server unreachable (or shedding load). `retryAfterMs`, the server's own
   * word, holds sending back at least that long even below the threshold.
   */
  recordUnavailable(retryAfterMs?: number): void;
}

export function createBreaker(
  opts: { threshold: number; cooldownMs: number; now?: () => number },
): Breaker {
  const now = opts.now ?? Date.now;
  let failures = 0;
  let openUntil = 0;
  return {
    openUntil: () => openUntil,
    recordSuccess() {
      failures = 0;
      openUntil = 0;
    },
    recordUnavailable(retryAfterMs) {
      failures++;
      // Past the cool-down the breaker is half open: one failed probe reopens it at once.
      if (failures >= opts.threshold) openUntil = Math.max(openUntil, now() + opts.cooldownMs);
      if (retryAfterMs !== undefined) openUntil = Math.max(openUntil, now() + retryAfterMs);
    },
  };
}
