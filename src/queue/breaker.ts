// The circuit breaker of the hook: after `threshold` transport failures in a row, hooks skip
// their send for `cooldownMs` (they still spool), so a burst of events with the server down
// costs no network waits. Its state is one small file shared by every hook process; a lost
// update between two processes only shifts the count by one, which is harmless.
import { dirname, join } from "node:path";

export interface Breaker {
  allowSend(): Promise<boolean>;
  recordSuccess(): Promise<void>;
  recordTransportFailure(): Promise<void>;
}

export interface BreakerState {
  /** Transport failures in a row. */
  failures: number;
  /** Unix ms until which sends are skipped; 0 when closed. */
  openUntil: number;
}

const CLOSED: BreakerState = { failures: 0, openUntil: 0 };

/** Reads the state; a missing or unreadable file is a closed breaker. */
export async function readBreakerState(path: string): Promise<BreakerState> {
  try {
    const value = JSON.parse(await Deno.readTextFile(path));
    const failures = Number(value?.failures);
    const openUntil = Number(value?.openUntil);
    if (!Number.isFinite(failures) || !Number.isFinite(openUntil)) return { ...CLOSED };
    return { failures: Math.max(0, failures), openUntil: Math.max(0, openUntil) };
  } catch {
    return { ...CLOSED };
  }
}

// Atomic (temp + rename) but not fsynced: the state is advice, not data, and the hook's time
// is the product's most visible number.
async function writeState(path: string, state: BreakerState): Promise<void> {
  const temp = join(dirname(path), `.breaker-${crypto.randomUUID()}`);
  try {
    await Deno.writeTextFile(temp, JSON.stringify(state), { mode: 0o600 });
    await Deno.rename(temp, path);
  } catch {
    await Deno.remove(temp).catch(() => {});
  }
}

export function openBreaker(
  path: string,
  opts: { threshold: number; cooldownMs: number; now?: () => number },
): Breaker {
  const now = opts.now ?? Date.now;
  return {
    async allowSend() {
      const state = await readBreakerState(path);
      // Past the cool-down the breaker is half open: the next send is the probe.
      return state.openUntil <= now();
    },
    async recordSuccess() {
      const state = await readBreakerState(path);
      if (state.failures === 0 && state.openUntil === 0) return;
      await writeState(path, { ...CLOSED });
    },
    async recordTransportFailure() {
      const state = await readBreakerState(path);
      const failures = state.failures + 1;
      const openUntil = failures >= opts.threshold ? now() + opts.cooldownMs : state.openUntil;
      await writeState(path, { failures, openUntil });
    },
  };
}
