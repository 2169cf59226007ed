// Files arrakis owns on this machine: durable writes (a reader sees the old file or the new one,
// never a torn one, and the new one survives a power cut once the call returns), and private
// paths that are never written through a link arrakis did not make: a directory or file that
// is a symlink, or belongs to another user, is refused with an UnsafePathError.
//
// The calls inside are synchronous on purpose: each async file-system op hops to Deno's
// blocking thread pool and back, 65-500 µs on a loaded machine against 15-60 µs for the sync
// call (measured), and the hook makes dozens of them per event. Every caller is a short-lived
// command or a set-up step, never the server's request path.
import { dirname, isAbsolute, join, relative, sep } from "./paths.ts";

/** A path arrakis will not write through (a symlink, another user's, not the expected kind). */
export class UnsafePathError extends Error {
  override name = "UnsafePathError";
}

const OWN_UID = (() => {
  try {
    return Deno.uid();
  } catch {
    return null;
  }
})();

function refuseUnlessOurs(path: string, info: Deno.FileInfo, kind: "directory" | "file"): void {
  if (info.isSymlink) {
    throw new UnsafePathError(`${path} is a symbolic link; arrakis never writes through one`);
  }
  if (kind === "directory" ? !info.isDirectory : !info.isFile) {
    throw new UnsafePathError(`${path} is not a ${kind}`);
  }
  if (OWN_UID !== null && info.uid !== null && info.uid !== OWN_UID) {
    throw new UnsafePathError(`${path} belongs to uid ${info.uid}, not to this user (${OWN_UID})`);
  }
}

function lstatOrUndefined(path: string): Deno.FileInfo | undefined {
  try {
    return Deno.lstatSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/**
 * One directory: created 0700 when missing, else checked (`follow`: a symlink the user made is
 * followed, the directory it names must still be ours), and made 0700 again if it drifted.
 */
function ensureOneDir(path: string, parentsToo: boolean, follow: boolean): boolean {
  let info = lstatOrUndefined(path);
  let created = false;
  if (info === undefined) {
    try {
      Deno.mkdirSync(path, { recursive: parentsToo, mode: 0o700 });
      created = true;
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    }
    info = Deno.lstatSync(path);
  }
  if (follow && info.isSymlink) info = Deno.statSync(path);
  refuseUnlessOurs(path, info, "directory");
  if (info.mode !== null && (info.mode & 0o777) !== 0o700) Deno.chmodSync(path, 0o700);
  return created;
}

/**
 * Makes `path` a private directory (0700). With `root` (where the user's configuration puts
 * arrakis: ARRAKIS_HOME, or the parent of a directory a variable names), every directory below
 * root down to `path` must be ours and no symlink, and is made 0700. Root itself is the user's:
 * it may be a link and may belong to anyone (it is /tmp for ARRAKIS_QUEUE_DIR=/tmp/q); it must
 * name a directory, and is created 0700 when missing, but never chmod'ed. Without `root`, `path`
 * is treated as such a root itself: created 0700 when missing, else left as it is (it may be a
 * directory the user shares, as /tmp for ARRAKIS_CONFIG=/tmp/client.json).
 * True when `path` itself was created now.
 */
// deno-lint-ignore require-await
export async function ensurePrivateDir(path: string, root?: string): Promise<boolean> {
  if (root === undefined) return ensureRoot(path);
  const below = relative(root, path);
  if (below.startsWith("..") || isAbsolute(below)) {
    throw new Error(`${path} is not inside ${root}`);
  }
  const created = ensureRoot(root);
  if (below === "") return created;
  let current = root;
  let made = false;
  for (const part of below.split(sep)) {
    current = join(current, part);
    made = ensureOneDir(current, false, false);
  }
  return made;
}

/** The user's directory a private tree hangs from: made 0700 if missing, else left as it is. */
function ensureRoot(root: string): boolean {
  try {
    if (Deno.statSync(root).isDirectory) return false;
    throw new UnsafePathError(`${root} is not a directory`);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return ensureOneDir(root, true, true);
}

/** `*` in dir/.gitignore unless one is there: what arrakis keeps must never be committed. */
// deno-lint-ignore require-await
export async function writeGitignore(dir: string): Promise<void> {
  try {
    Deno.writeTextFileSync(join(dir, ".gitignore"), "*\n", { createNew: true, mode: 0o600 });
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
  }
}

export interface PrivateFile {
  file: Deno.FsFile;
  /** True when this call created the file (so it holds nothing yet). */
  created: boolean;
}

/**
 * Opens a file of a private directory for writing, without following a symlink and without
 * truncating: a new file is created exclusively (0600); an existing one must be a regular file
 * of ours, and is checked again after opening (same inode) so a swap in between is refused.
 */
// deno-lint-ignore require-await
export async function openPrivateFile(
  path: string,
  options: { append?: boolean; read?: boolean } = {},
): Promise<PrivateFile> {
  return openPrivateFileSync(path, options);
}

/** openPrivateFile for a caller that cannot wait (a log file rotating inside a log call). */
export function openPrivateFileSync(
  path: string,
  options: { append?: boolean; read?: boolean } = {},
): PrivateFile {
  for (let tries = 0;; tries++) {
    const info = lstatOrUndefined(path);
    if (info === undefined) {
      try {
        // createNew is O_CREAT|O_EXCL: it never follows a symlink planted at the name.
        const file = Deno.openSync(path, {
          read: options.read,
          write: true,
          append: options.append,
          createNew: true,
          mode: 0o600,
        });
        return { file, created: true };
      } catch (error) {
        if (error instanceof Deno.errors.AlreadyExists && tries < 3) continue;
        throw error;
      }
    }
    refuseUnlessOurs(path, info, "file");
    const file = Deno.openSync(path, { read: options.read, write: true, append: options.append });
    const opened = file.statSync();
    if (opened.ino !== info.ino || opened.dev !== info.dev) {
      file.close();
      throw new UnsafePathError(`${path} changed while it was being opened`);
    }
    if (opened.mode !== null && (opened.mode & 0o777) !== 0o600) Deno.chmodSync(path, 0o600);
    return { file, created: false };
  }
}

/**
 * Waits up to `waitMs` for an exclusive lock on `file`; whether it was granted. Most of the
 * time nobody holds it, and it is taken at once without the async wait's thread hop. A request
 * not granted in time cannot be cancelled: it dies with the descriptor (or the process).
 */
export async function lockWithin(file: Deno.FsFile, waitMs: number): Promise<boolean> {
  if (file.tryLockSync(true)) return true;
  let timer: ReturnType<typeof setTimeout> | undefined;
  return await Promise.race([
    file.lock(true).then(() => true),
    new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), waitMs)),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Reads a small private file (a key), refusing a symlink or another user's file; undefined when
 * it does not exist.
 */
// deno-lint-ignore require-await
export async function readPrivateText(path: string): Promise<string | undefined> {
  const info = lstatOrUndefined(path);
  if (info === undefined) return undefined;
  refuseUnlessOurs(path, info, "file");
  const file = Deno.openSync(path, { read: true });
  try {
    const opened = file.statSync();
    if (opened.ino !== info.ino || opened.dev !== info.dev) {
      throw new UnsafePathError(`${path} changed while it was being opened`);
    }
    const bytes = new Uint8Array(opened.size);
    let filled = 0;
    while (filled < bytes.length) {
      const n = file.readSync(bytes.subarray(filled));
      if (n === null) break;
      filled += n;
    }
    return new TextDecoder().decode(bytes.subarray(0, filled));
  } finally {
    file.close();
  }
}

/** Flushes a directory's entries so a rename or unlink in it survives a crash. */
// deno-lint-ignore require-await
export async function syncDir(path: string): Promise<void> {
  const dir = Deno.openSync(path, { read: true });
  try {
    dir.syncSync();
  } finally {
    dir.close();
  }
}

/** Temp files of writeFileDurable start with this; a crash can leave one behind. */
export const TEMP_PREFIX = ".tmp-";

export interface DurableWriteOptions {
  /** Called with the temp file's path once it is complete and synced, before the rename. */
  beforeRename?: (temp: string) => void | Promise<void>;
}

/**
 * Writes data to path atomically and durably, with mode 0600. The temp file is created
 * exclusively and the rename replaces a link at `path` rather than following it.
 */
export async function writeFileDurable(
  path: string,
  data: Uint8Array | string,
  options: DurableWriteOptions = {},
): Promise<void> {
  const dir = dirname(path);
  const temp = join(dir, `${TEMP_PREFIX}${crypto.randomUUID()}`);
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const file = Deno.openSync(temp, { write: true, createNew: true, mode: 0o600 });
  try {
    let written = 0;
    while (written < bytes.length) written += file.writeSync(bytes.subarray(written));
    file.syncSync();
  } catch (error) {
    file.close();
    removeQuietly(temp);
    throw error;
  }
  file.close();
  await options.beforeRename?.(temp);
  try {
    Deno.renameSync(temp, path);
  } catch (error) {
    removeQuietly(temp);
    throw error;
  }
  await syncDir(dir);
}

function removeQuietly(path: string): void {
  try {
    Deno.removeSync(path);
  } catch { /* already gone */ }
}

/** Renames durably: both directories are flushed so the move survives a crash. */
export async function renameDurable(from: string, to: string): Promise<void> {
  Deno.renameSync(from, to);
  await syncDir(dirname(to));
  if (dirname(from) !== dirname(to)) await syncDir(dirname(from));
}
