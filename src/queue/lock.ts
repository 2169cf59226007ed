// Process locks of a spool: one drainer at a time (drain.lock) and one shipper (shipper.lock).
// They are optimisations only; claims keep two senders apart anyway. An flock is released by
// the kernel when its holder dies, so a killed process never wedges one. A lock file is never
// truncated and never reached through a symlink (see openPrivateFile): a repository or another
// user cannot make arrakis write into some other file by planting a link at its name.
import { join } from "../paths.ts";
import { openPrivateFile } from "../durable.ts";

export interface SpoolLock {
  release(): void;
}
/** Kept for the drain command's callers. */
export type DrainLock = SpoolLock;

/** The shipper's lock file in a spool: a hook that finds it free starts a shipper. */
export const SHIPPER_LOCK = "shipper.lock";
export const DRAIN_LOCK = "drain.lock";

/** Takes `<queueDir>/<name>` without waiting; undefined when another process holds it. */
export async function trySpoolLock(queueDir: string, name: string): Promise<SpoolLock | undefined> {
  const { file, created } = await openPrivateFile(join(queueDir, name), { read: true });
  let locked = false;
  try {
    locked = file.tryLockSync(true);
  } finally {
    if (!locked) file.close();
  }
  if (!locked) return undefined;
  // The first holder's pid, for people wondering who holds it; the flock itself is the truth.
  if (created) {
    try {
      file.writeSync(new TextEncoder().encode(`${Deno.pid}\n`));
    } catch { /* advice only */ }
  }
  return {
    release() {
      try {
        file.close();
      } catch {
        // Already closed.
      }
    },
  };
}

/** Takes the drainer lock without waiting; undefined when another drainer holds it. */
export function tryDrainLock(queueDir: string): Promise<SpoolLock | undefined> {
  return trySpoolLock(queueDir, DRAIN_LOCK);
}

/** Takes the shipper lock without waiting; undefined when a shipper holds it. */
export function tryShipperLock(queueDir: string): Promise<SpoolLock | undefined> {
  return trySpoolLock(queueDir, SHIPPER_LOCK);
}
