// Files arrakis owns on this machine: durable writes (a reader sees the old file or the new one,
// never a torn one, and the new one survives a power cut once the call returns), and private
// paths that are never written through a link arrakis did not make: a directory or file that
// is a symlink, or belongs to another user, is refused with an UnsafePathError.
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

async function lstatOrUndefined(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/**
 * One directory: created 0700 when missing, else checked (`follow`: a symlink the user made is
 * followed, the directory it names must still be ours), and made 0700 again if it drifted.
 */
async function ensureOneDir(path: string, parentsToo: boolean, follow: boolean): Promise<boolean> {
  let info = await lstatOrUndefined(path);
  let created = false;
  if (info === undefined) {
    try {
      await Deno.mkdir(path, { recursive: parentsToo, mode: 0o700 });
      created = true;
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    }
    info = await Deno.lstat(path);
  }
  if (follow && info.isSymlink) info = await Deno.stat(path);
  refuseUnlessOurs(path, info, "directory");
  if (info.mode !== null && (info.mode & 0o777) !== 0o700) await Deno.chmod(path, 0o700);
  return created;
}

/**
 * Makes `path` a private directory (0700). With `root` (where the user's configuration puts
 * arrakis: ARRAKIS_HOME, or the parent of a directory a variable names), every directory below
 * root down to `path` must be ours and no symlink; root itself may be a link the user made but
 * must name a directory of theirs. Without `root`, only `path` is checked, following a link.
 * True when `path` itself was created now.
 */
export async function ensurePrivateDir(path: string, root?: string): Promise<boolean> {
  if (root === undefined) return await ensureOneDir(path, true, true);
  const below = relative(root, path);
  if (below.startsWith("..") || isAbsolute(below)) {
    throw new Error(`${path} is not inside ${root}`);
  }
  const created = await ensureOneDir(root, true, true);
  if (below === "") return created;
  let current = root;
  let made = false;
  for (const part of below.split(sep)) {
    current = join(current, part);
    made = await ensureOneDir(current, false, false);
  }
  return made;
}

/** `*` in dir/.gitignore unless one is there: what arrakis keeps must never be committed. */
export async function writeGitignore(dir: string): Promise<void> {
  try {
    await Deno.writeTextFile(join(dir, ".gitignore"), "*\n", { createNew: true, mode: 0o600 });
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
export async function openPrivateFile(
  path: string,
  options: { append?: boolean; read?: boolean } = {},
): Promise<PrivateFile> {
  for (let tries = 0;; tries++) {
    const info = await lstatOrUndefined(path);
    if (info === undefined) {
      try {
        // createNew is O_CREAT|O_EXCL: it never follows a symlink planted at the name.
        const file = await Deno.open(path, {
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
    const file = await Deno.open(path, { read: options.read, write: true, append: options.append });
    const opened = await file.stat();
    if (opened.ino !== info.ino || opened.dev !== info.dev) {
      file.close();
      throw new UnsafePathError(`${path} changed while it was being opened`);
    }
    if (opened.mode !== null && (opened.mode & 0o777) !== 0o600) await Deno.chmod(path, 0o600);
    return { file, created: false };
  }
}

/**
 * Reads a small private file (a key), refusing a symlink or another user's file; undefined when
 * it does not exist.
 */
export async function readPrivateText(path: string): Promise<string | undefined> {
  const info = await lstatOrUndefined(path);
  if (info === undefined) return undefined;
  refuseUnlessOurs(path, info, "file");
  const file = await Deno.open(path, { read: true });
  try {
    const opened = await file.stat();
    if (opened.ino !== info.ino || opened.dev !== info.dev) {
      throw new UnsafePathError(`${path} changed while it was being opened`);
    }
    const bytes = new Uint8Array(opened.size);
    let filled = 0;
    while (filled < bytes.length) {
      const n = await file.read(bytes.subarray(filled));
      if (n === null) break;
      filled += n;
    }
    return new TextDecoder().decode(bytes.subarray(0, filled));
  } finally {
    file.close();
  }
}

/** Flushes a directory's entries so a rename or unlink in it survives a crash. */
export async function syncDir(path: string): Promise<void> {
  const dir = await Deno.open(path, { read: true });
  try {
    await dir.sync();
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
  const file = await Deno.open(temp, { write: true, createNew: true, mode: 0o600 });
  try {
    let written = 0;
    while (written < bytes.length) written += await file.write(bytes.subarray(written));
    await file.sync();
  } catch (error) {
    file.close();
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
  file.close();
  await options.beforeRename?.(temp);
  try {
    await Deno.rename(temp, path);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
  await syncDir(dir);
}

/** Renames durably: both directories are flushed so the move survives a crash. */
export async function renameDurable(from: string, to: string): Promise<void> {
  await Deno.rename(from, to);
  await syncDir(dirname(to));
  if (dirname(from) !== dirname(to)) await syncDir(dirname(from));
}
