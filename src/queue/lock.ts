// Process locks of a spool: one drainer at a time (drain.lock) and one resident shipper
// (shipper.lock). Claims keep two senders apart anyway; the shipper lock is what keeps hooks
// from starting a shipper each. An flock is released by the kernel when its holder dies, so a
// killed process never wedges one. A lock file is created with O_EXCL or opened read-only after
// lstat says it is a plain file, and never truncated or written: a link planted at its name
// cannot make arrakis touch a file elsewhere.
import { join } from "node:path";

export interface SpoolLock {
  release(): void;
}

export const SHIPPER_LOCK = "shipper.lock";
export const DRAIN_LOCK = "drain.lock";

/** Opens a lock file without following a link: created new, or an existing plain file. */
async function openLockFile(path: string): Promise<Deno.FsFile> {
  try {
    // O_CREAT|O_EXCL never follows a link, even a dangling one.
    return await Deno.open(path, { write: true, createNew: true, mode: 0o600 });
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
  }
  const seen = await Deno.lstat(path);
  if (!seen.isFile) {
    throw new Error(`${path} is not a plain file (a link or a directory); refusing it`);
  }
  const file = await Deno.open(path, { read: true });
  const opened = await file.stat();
  if (opened.ino !== seen.ino || opened.dev !== seen.dev) {
    file.close();
    throw new Error(`${path} was replaced while it was opened; refusing it`);
  }
  return file;
}

/** Takes `<queueDir>/<name>` without waiting; undefined when another process holds it. */
export async function trySpoolLock(queueDir: string, name: string): Promise<SpoolLock | undefined> {
  const file = await openLockFile(join(queueDir, name));
  let locked = false;
  try {
    locked = await file.tryLock(true);
  } finally {
    if (!locked) file.close();
  }
  if (!locked) return undefined;
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
