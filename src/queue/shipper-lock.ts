// The shipper lock: at most one resident shipper per spool. An flock on <queueDir>/shipper.lock,
// released by the kernel when its holder dies, so a SIGKILLed shipper never wedges it. The file
// is opened read-only and never truncated or written, and a symlink or anything but a plain
// file there is refused: the lock must never become a way to touch a file elsewhere.
import { join } from "node:path";

export interface ShipperLock {
  release(): void;
}

export class LockRefused extends Error {
  override name = "LockRefused";
}

/** The lock file of a spool (the hook probes the same file before it starts a shipper). */
export function shipperLockPath(queueDir: string): string {
  return join(queueDir, "shipper.lock");
}

/** Opens the lock file without following a link: created new, or an existing plain file. */
async function openLockFile(path: string): Promise<Deno.FsFile> {
  try {
    // O_CREAT|O_EXCL never follows a link, even a dangling one.
    return await Deno.open(path, { write: true, createNew: true, mode: 0o600 });
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
  }
  const seen = await Deno.lstat(path);
  if (!seen.isFile) {
    throw new LockRefused(`${path} is not a plain file (a link or a directory); refusing it`);
  }
  const file = await Deno.open(path, { read: true });
  const opened = await file.stat();
  if (opened.ino !== seen.ino || opened.dev !== seen.dev) {
    file.close();
    throw new LockRefused(`${path} was replaced while it was opened; refusing it`);
  }
  return file;
}

/** Takes the lock without waiting; undefined when another shipper holds it. */
export async function tryShipperLock(queueDir: string): Promise<ShipperLock | undefined> {
  const file = await openLockFile(shipperLockPath(queueDir));
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
