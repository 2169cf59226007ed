// Durable file writes: a reader sees the old file or the new one, never a torn one, and the
// new one survives a power cut once the call returns (temp file, fsync, rename, fsync dir).
import { dirname, join } from "node:path";

/** Creates a directory tree with mode 0700 (payloads and keys live in these). */
export async function ensurePrivateDir(path: string): Promise<void> {
  await Deno.mkdir(path, { recursive: true, mode: 0o700 });
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

/** Writes data to path atomically and durably, with mode 0600. */
export async function writeFileDurable(path: string, data: Uint8Array | string): Promise<void> {
  const dir = dirname(path);
  const temp = join(dir, `.tmp-${crypto.randomUUID()}`);
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
