// How far each transcript of a session has been captured, kept in <queueDir>/state/<session>.json
// (0600) under a per-session flock, so two hooks of one session never take the same lines.
//
// Protocol (see docs/HOOK.md): under the lock, write an intent {requestId, from, to}, spool the
// envelope carrying lines [from, to), then commit offset = to. A hook killed between the spool
// write and the commit leaves the intent behind; the next hook finds the spooled file by its
// requestId and commits the offset instead of reading the same lines into a second event.
// Killed after its temp file was complete but before the rename, the record is promoted into
// pending/ by that next hook: its lines must not wait, invisible, for a spool recovery that
// only runs when some later shipper drains the spool.
import { join } from "../paths.ts";
import {
  ensurePrivateDir,
  lockWithin,
  openPrivateFile,
  renameDurable,
  TEMP_PREFIX,
  writeFileDurable,
} from "../durable.ts";

export interface FileOffset {
  offset: number;
  ino: number | null;
  /** Lines [from, to) are being spooled in envelope requestId. */
  intent?: { requestId: string; from: number; to: number };
}

export interface SessionState {
  version: 1;
  sessionId: string;
  files: Record<string, FileOffset>;
}

export interface SessionStateHandle {
  state: SessionState;
  save(): Promise<void>;
  release(): void;
}

/** File-system-safe name for a session id (ids are UUIDs; anything else is hashed). */
export async function sessionKey(sessionId: string): Promise<string> {
  if (/^[A-Za-z0-9_-]{1,128}$/.test(sessionId)) return sessionId;
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(sessionId));
  return "h-" + Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Locks the session's state and loads it. Undefined when the lock is not granted in time:
 * the caller then captures no transcript lines this time (they stay for the next event).
 */
export async function openSessionState(
  queueDir: string,
  sessionId: string,
  lockTimeoutMs: number,
): Promise<SessionStateHandle | undefined> {
  const dir = join(queueDir, "state");
  // The spool itself was checked before anything is written into it (see capture.ts).
  await ensurePrivateDir(dir, queueDir);
  const key = await sessionKey(sessionId);
  const { file: lockFile } = await openPrivateFile(join(dir, `${key}.lock`), { read: true });
  if (!(await lockWithin(lockFile, lockTimeoutMs))) {
    // The pending lock request dies with the descriptor (and with the process at exit).
    lockFile.close();
    return undefined;
  }
  const path = join(dir, `${key}.json`);
  let state: SessionState;
  try {
    state = await loadState(path, sessionId);
  } catch (error) {
    lockFile.close();
    throw error;
  }
  let released = false;
  return {
    state,
    save: () => writeFileDurable(path, JSON.stringify(state)),
    release() {
      if (released) return;
      released = true;
      // Closing the descriptor drops the flock.
      lockFile.close();
    },
  };
}

/** Read synchronously, as the rest of the hook's files (src/durable.ts says why). */
// deno-lint-ignore require-await
async function loadState(path: string, sessionId: string): Promise<SessionState> {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return { version: 1, sessionId, files: {} };
    throw error;
  }
  try {
    const value = JSON.parse(text);
    if (value?.version === 1 && value.files && typeof value.files === "object") return value;
  } catch { /* a torn state file cannot happen (durable writes), but never trust it blindly */ }
  throw new Error(`${path}: unreadable transcript state; remove it to recapture from the start`);
}

/**
 * Settles an intent left by a hook that died between spooling and committing: the lines count
 * as captured when the envelope is in the spool (pending/, failed/, leased in processing/, or a
 * complete temp file awaiting recovery).
 */
export async function settleIntent(file: FileOffset, queueDir: string): Promise<boolean> {
  const intent = file.intent;
  if (!intent) return false;
  if (await isSpooled(queueDir, intent.requestId)) file.offset = intent.to;
  delete file.intent;
  return true;
}

async function isSpooled(queueDir: string, requestId: string): Promise<boolean> {
  for (const dir of ["pending", "failed"]) {
    try {
      await Deno.lstat(join(queueDir, dir, `${requestId}.json`));
      return true;
    } catch { /* not there */ }
  }
  try {
    // A drainer's claim renames the file to <requestId>.<leaseUntil>.json.
    for await (const entry of Deno.readDir(join(queueDir, "processing"))) {
      if (entry.name.startsWith(`${requestId}.`)) return true;
    }
  } catch { /* no processing directory */ }
  return await promoteCompleteTemp(join(queueDir, "pending"), requestId);
}

/**
 * A hook killed after its record was synced but before the rename leaves a complete temp file:
 * those lines are spooled too. Its writer held the session lock we now hold, so it is dead: the
 * temp is renamed into pending/ at once (the spool's own recovery, spool.recoverExpired, waits
 * until a temp is clearly orphaned and runs only when a shipper drains). Only read after a
 * crash (an intent left behind), so normal hooks never pay for it.
 */
async function promoteCompleteTemp(pendingDir: string, requestId: string): Promise<boolean> {
  try {
    for await (const entry of Deno.readDir(pendingDir)) {
      if (!entry.name.startsWith(TEMP_PREFIX)) continue;
      const temp = join(pendingDir, entry.name);
      try {
        const text = await Deno.readTextFile(temp);
        if (!text.includes(requestId) || JSON.parse(text)?.envelope?.requestId !== requestId) {
          continue;
        }
      } catch {
        continue; // torn or gone: not a spooled record
      }
      try {
        // Its writer may have died inside the fsync: flush the bytes before they become live.
        using file = await Deno.open(temp, { read: true });
        await file.sync();
        await renameDurable(temp, join(pendingDir, `${requestId}.json`));
      } catch (error) {
        // NotFound: a shipper's recovery renamed it first, so it is in the spool all the same.
        // Otherwise the spool's recovery delivers it later and these lines are read again into
        // the next event: a duplicate the server drops by line uuid, never a gap.
        return error instanceof Deno.errors.NotFound;
      }
      return true;
    }
  } catch { /* no pending directory */ }
  return false;
}
