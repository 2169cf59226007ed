// When to try a failed delivery again: the configured schedule with full jitter (a random
// delay in [0, step]) so a fleet of hooks does not retry in step, never sooner than the
// server's Retry-After.

/** The default schedule of the seed system: 1 min, 5 min, 15 min, 1 h, 2 h. */
export const DEFAULT_RETRY_SCHEDULE_MS = [60_000, 300_000, 900_000, 3_600_000, 7_200_000];
export const DEFAULT_MAX_ATTEMPTS = 5;

/**
 * The delay before the next try after `attempts` failed ones (1 = the first failed). The last
 * step repeats when attempts outrun the schedule.
 */
export function backoffDelayMs(
  attempts: number,
  schedule: readonly number[],
  retryAfterMs: number | undefined,
  random: () => number = Math.random,
): number {
  const steps = schedule.length > 0 ? schedule : DEFAULT_RETRY_SCHEDULE_MS;
  const step = steps[Math.min(Math.max(attempts, 1), steps.length) - 1];
  const jittered = Math.floor(random() * (step + 1));
  return Math.max(jittered, retryAfterMs ?? 0);
}
