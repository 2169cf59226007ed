// The drainer lock: one drainer at a time per spool, so hooks spawning drains in a burst do not
// pile up processes. It is an optimisation only; claims keep two drainers apart anyway. An
// flock is released by the kernel when its holder dies, so a killed drainer never wedges it.
import { join } from "node:path";

export interface DrainLock {
  release(): void;
}

/** Takes the lock without waiting; undefined when another drainer holds it. */
export async function tryDrainLock(queueDir: string): Promise<DrainLock | undefined> {
  const file = await Deno.open(join(queueDir, "drain.lock"), {
    read: true,
    write: true,
    create: true,
    mode: 0o600,
  });
  let locked = false;
  try {
    locked = await file.tryLock(true);
  } finally {
    if (!locked) file.close();
  }
  if (!locked) return undefined;
  // The holder's pid, for people wondering who holds it; the flock itself is the truth.
  await file.truncate(0).catch(() => {});
  await file.write(new TextEncoder().encode(`${Deno.pid}\n`)).catch(() => 0);
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
