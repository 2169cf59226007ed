// The durable spool: one JSON file per envelope, in a directory per delivery state.
//
//   pending/<requestId>.json                   waiting (maybe in backoff: delivery.nextAttemptAt)
//   processing/<requestId>.<leaseUntil>.json   claimed by a drainer until leaseUntil (Unix ms)
//   failed/<requestId>.json                    dead letter, with the reason and server answer
//   corrupt/<original name>.<ms>               torn, unreadable or unsigned files, moved aside
//
// Every record is signed with the user's spool key (src/queue/spool-file.ts): a file whose
// signature does not hold was not written by arrakis and is quarantined, never sent.
// A rename is the claim: two drainers racing for one file see one rename succeed and one fail
// with NotFound, so a file is never sent by two drainers at once. The lease lives in the file
// name, so claiming and stamping the lease are one atomic step. requestIds are UUIDv7, so the
// lexical order of names is arrival order.
import { join } from "node:path";
import { type Envelope, SpoolRecord } from "../schema.ts";
import type { DeliveryOutcome } from "../client.ts";
import { renameDurable, syncDir, TEMP_PREFIX, writeFileDurable } from "../durable.ts";
import { localPaths } from "../config-core.ts";
import { equalInConstantTime, hmacSha256 } from "./hmac.ts";
import { backoffDelayMs, DEFAULT_MAX_ATTEMPTS, DEFAULT_RETRY_SCHEDULE_MS } from "./backoff.ts";
import {
  encodeRecord,
  ensureSpoolDirs,
  putRecord,
  SIGNED_TEXT_END,
  signedBytes,
  spoolKey,
  spoolKeyBytes,
} from "./spool-file.ts";

export { newRecord } from "./spool-file.ts";

export type SpoolState = "pending" | "processing" | "failed";
export const SPOOL_STATES: readonly SpoolState[] = ["pending", "processing", "failed"];

export interface SpoolItem {
  /** The envelope's requestId. */
  id: string;
  path: string;
  record: SpoolRecord;
}

export interface ClaimOptions {
  /** Claim items still in backoff too (the manual push). */
  ignoreBackoff?: boolean;
  /** Only these requestIds. */
  ids?: ReadonlySet<string>;
  /** Never these requestIds (a drainer skips what it already tried in this run). */
  skip?: ReadonlySet<string>;
  /**
   * At most this many bytes of files in one claim (always at least one file): a batch whose
   * files fit also fits as a request body, the envelopes being smaller than their records.
   */
  maxBytes?: number;
}

/** An item as read, with its file's size. */
interface Sized {
  item: SpoolItem;
  bytes: number;
}

const utf8 = new TextDecoder();

export interface SpoolStats {
  pending: number;
  /** Pending items whose backoff has passed. */
  due: number;
  processing: number;
  failed: number;
  corrupt: number;
  /** Age in ms of the oldest item not yet delivered (pending, processing or failed). */
  oldestAgeMs: number | null;
  bytes: number;
}

export interface Spool {
  dir: string;
  /** Durably writes a new envelope into pending/. */
  put(envelope: Envelope): Promise<SpoolItem>;
  /** Delivered: removes the file durably, wherever it is now (pending/ or processing/). */
  complete(item: SpoolItem): Promise<void>;
  /** Removes many delivered files with one directory flush per directory. */
  completeMany(items: SpoolItem[]): Promise<void>;
  /**
   * Records a failed try: retryable → back to pending/ with a backoff (failed/ once attempts
   * run out); permanent → failed/ at once with the server's answer.
   */
  recordFailure(
    item: SpoolItem,
    outcome: DeliveryOutcome,
    now?: Date,
  ): Promise<"pending" | "failed">;
  /** The envelope as it goes on the wire for the next try: attempt = delivery.attempts + 1. */
  envelopeForSend(item: SpoolItem): Envelope;
  /** Claims up to `limit` due pending items, oldest first, moving them to processing/. */
  claim(limit: number, options?: ClaimOptions): Promise<SpoolItem[]>;
  /** Gives a claimed item back to pending/ untouched. */
  release(item: SpoolItem): Promise<void>;
  /**
   * Returns processing/ files whose lease has passed to pending/, untouched, and complete temp
   * files a writer killed before its rename left (see recoverTemps). Counts both.
   */
  recoverExpired(): Promise<number>;
  /** Reads every item in one state (corrupt files are moved aside), oldest first. */
  list(state: SpoolState): Promise<SpoolItem[]>;
  /** Finds an item by requestId in any state. */
  find(id: string): Promise<{ state: SpoolState; item: SpoolItem } | undefined>;
  /** Makes a pending item due now (clears its backoff). */
  clearBackoff(item: SpoolItem): Promise<boolean>;
  /** Moves a dead letter back to pending/, attempts reset, due now. False if it was gone. */
  revive(item: SpoolItem): Promise<boolean>;
  /** Deletes a dead letter. */
  purge(item: SpoolItem): Promise<boolean>;
  /**
   * Takes in a record from elsewhere (an old unsigned spool the user vouches for), signed now,
   * into pending/ or failed/. Undefined when this spool already holds its requestId.
   */
  adopt(record: SpoolRecord, state: "pending" | "failed"): Promise<SpoolItem | undefined>;
  stats(): Promise<SpoolStats>;
  /** How many files wait in pending/ (names only, nothing read: cheap on a big backlog). */
  countPending(): Promise<number>;
  /** How many corrupt files this spool moved aside since it was opened. */
  corruptMoved(): number;
  /** What a resident shipper waits for: counts (names only) and the next known due times. */
  outlook(): Promise<SpoolOutlook>;
  /** Forgets the backoff times this instance has seen, so the next claim reads them again. */
  forgetBackoff(): void;
}

export interface SpoolOutlook {
  pending: number;
  processing: number;
  /** Earliest nextAttemptAt (Unix ms) still ahead among the items this instance saw in backoff. */
  nextDueAt: number | null;
  /** Earliest lease end (Unix ms) in processing/. */
  leaseEndsAt: number | null;
  /**
   * When the youngest-to-age temp in pending/ becomes old enough to recover (Unix ms): a hook
   * killed between its write and its rename leaves one, and it must not be left behind by a
   * shipper that goes idle first.
   */
  tempRecoverableAt: number | null;
}

export interface SpoolOptions {
  /** Where the checks of the spool's directories start (config.queueRoot; default: env's). */
  root?: string;
  /** The key that signs records (config.spoolKeyFile; default: the environment's). */
  keyFile?: string;
  retryScheduleMs?: number[];
  maxAttempts?: number;
  leaseMs?: number;
  now?: () => Date;
  /** Jitter source in [0, 1); injectable so tests can pin the delay. */
  random?: () => number;
}

const JSON_NAME = /^([0-9a-f-]{36})\.json$/;
const LEASED_NAME = /^([0-9a-f-]{36})\.(\d+)\.json$/;
/** A complete temp file this old was left by a writer killed before its rename. */
const ORPHAN_TEMP_MS = 10_000;
/** An incomplete temp file this old is a torn write: moved aside. */
const STALE_TEMP_MS = 3_600_000;

/** The environment's trust root when `dir` is its spool, else the parent of `dir`. */
function rootFor(dir: string, paths: { queueDir: string; queueRoot: string }): string {
  return dir === paths.queueDir ? paths.queueRoot : join(dir, "..");
}

/**
 * A spool file's path: `dir` is one of the spool's directories, normalized once when it is
 * opened, and `name` a plain entry name, so node:path's join, which normalizes the whole path
 * again on every call, cost a drain about a microsecond per call and event for nothing.
 */
function inDir(dir: string, name: string): string {
  return `${dir}/${name}`;
}

/** The directory of a path made by inDir. */
function dirOf(path: string): string {
  return path.slice(0, path.lastIndexOf("/"));
}

function isNotFound(error: unknown): boolean {
  return error instanceof Deno.errors.NotFound;
}

/** Opens (creating, 0700) a spool directory. */
export async function openSpool(dir: string, options: SpoolOptions = {}): Promise<Spool> {
  const schedule = options.retryScheduleMs ?? DEFAULT_RETRY_SCHEDULE_MS;
  const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  const leaseMs = options.leaseMs ?? 120_000;
  const now = options.now ?? (() => new Date());
  const random = options.random ?? Math.random;
  const dirs = {
    pending: join(dir, "pending"),
    processing: join(dir, "processing"),
    failed: join(dir, "failed"),
    corrupt: join(dir, "corrupt"),
  };
  const paths = options.root === undefined || options.keyFile === undefined
    ? localPaths(Deno.env.toObject())
    : undefined;
  await ensureSpoolDirs(dir, options.root ?? rootFor(dir, paths!), [
    "pending",
    "processing",
    "failed",
    "corrupt",
  ]);
  const keyFile = options.keyFile ?? paths!.spoolKeyFile;
  const key = await spoolKey(keyFile);
  const mac = hmacSha256(await spoolKeyBytes(keyFile));
  let corruptCount = 0;

  const encode = (record: SpoolRecord) => encodeRecord(key, record);

  // The reading side's file calls are synchronous, like src/durable.ts's and for its reason: an
  // async call hops to Deno's blocking thread pool and back for every file, which cost a drain
  // more than the work itself (measured: docs/QUEUE.md). A batch's files block the event loop a
  // few ms at most; the sends in flight meanwhile progress outside it.

  /** Moves an unreadable file aside; never throws (a read-only spool just keeps it). */
  function quarantine(path: string, name: string): void {
    corruptCount++;
    try {
      Deno.renameSync(path, join(dirs.corrupt, `${name}.${now().getTime()}`));
    } catch {
      // Read-only or already gone: listing it again later costs nothing.
    }
  }

  /**
   * Reads and checks one file (signature, then structure): the record, or undefined when it is
   * gone or was quarantined.
   */
  function readItem(path: string, name: string, id: string): SpoolItem | undefined {
    return readSized(path, name, id)?.item;
  }

  /** readItem, with the file's size in bytes (a batch's budget counts them). */
  function readSized(path: string, name: string, id: string): Sized | undefined {
    let bytes: Uint8Array;
    try {
      bytes = Deno.readFileSync(path);
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
    const record = parseRecord(bytes);
    if (record === undefined || record.envelope.requestId !== id) {
      quarantine(path, name);
      return undefined;
    }
    return { item: { id, path, record }, bytes: bytes.length };
  }

  /**
   * A file's record when it is signed with our key and well formed. The signature is checked
   * first (HMAC-SHA256 over the bytes it covers, compared in constant time), so nothing of an
   * unsigned, forged or foreign-key file is decoded or parsed.
   */
  function parseRecord(bytes: Uint8Array): SpoolRecord | undefined {
    const claimed = signedBytes(bytes);
    if (
      claimed === undefined ||
      !equalInConstantTime(
        mac(bytes.subarray(0, claimed.signedLength), SIGNED_TEXT_END),
        claimed.mac,
      )
    ) {
      return undefined;
    }
    let signed: unknown;
    try {
      // The whole file, signature field and all: the schema below drops that field, and the
      // text needs no copy cut to the signed part.
      signed = JSON.parse(utf8.decode(bytes));
    } catch {
      return undefined;
    }
    const record = SpoolRecord.safeParse(signed);
    return record.success ? record.data : undefined;
  }

  /** Entry names of one state's directory that look like spool files, oldest first. */
  function names(state: SpoolState): string[] {
    return unsortedNames(state).sort();
  }

  /** names() in the directory's order, for counting (a sort of a big backlog is not free). */
  function unsortedNames(state: SpoolState): string[] {
    const result: string[] = [];
    for (const entry of Deno.readDirSync(dirs[state])) {
      if (!entry.isFile || entry.name.startsWith(".")) continue;
      result.push(entry.name);
    }
    return result;
  }

  function idOf(state: SpoolState, name: string): string | undefined {
    const match = (state === "processing" ? LEASED_NAME : JSON_NAME).exec(name) ??
      JSON_NAME.exec(name);
    return match?.[1];
  }

  function isDue(record: SpoolRecord, at: Date): boolean {
    const next = record.delivery.nextAttemptAt;
    return next === null || Date.parse(next) <= at.getTime();
  }

  /** Unlinks a file; false when it was gone. The caller flushes its directory. */
  function unlink(path: string): boolean {
    try {
      Deno.removeSync(path);
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
    return true;
  }

  function findLeased(id: string): string[] {
    const found: string[] = [];
    for (const name of names("processing")) {
      if (name.startsWith(`${id}.`)) found.push(inDir(dirs.processing, name));
    }
    return found;
  }

  async function exists(path: string): Promise<boolean> {
    try {
      await Deno.lstat(path);
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }

  // Per spool instance: the sorted pending listing a drainer works through, and when items
  // seen in backoff become due, so a drain over a big backlog lists once and reads each file
  // once instead of once per batch.
  let listing: string[] = [];
  let cursor = 0;
  const notDueUntil = new Map<string, number>();

  /**
   * Claims one pending file: the rename is the claim (no fsync: a claim lost in a crash leaves
   * the file pending, which is safe), then the claimed file, now ours alone, is read.
   */
  function claimOne(
    name: string,
    id: string,
    at: Date,
    ignoreBackoff: boolean,
  ): Sized | undefined {
    const leasedName = `${id}.${at.getTime() + leaseMs}.json`;
    const leased = inDir(dirs.processing, leasedName);
    try {
      Deno.renameSync(inDir(dirs.pending, name), leased);
    } catch (error) {
      if (isNotFound(error)) return undefined; // another drainer (or a completing hook) won
      throw error;
    }
    const read = readSized(leased, leasedName, id);
    if (!read) return undefined;
    const { record } = read.item;
    if (!ignoreBackoff && !isDue(record, at)) {
      notDueUntil.set(id, Date.parse(record.delivery.nextAttemptAt!));
      releaseItem(read.item);
      return undefined;
    }
    return read;
  }

  /** Gives a claimed item back to pending/ untouched (no fsync: like a claim, see claimOne). */
  function releaseItem(item: SpoolItem): void {
    const target = inDir(dirs.pending, `${item.id}.json`);
    try {
      Deno.renameSync(item.path, target);
      item.path = target;
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  /**
   * A writer killed between its temp file's fsync and the rename leaves a complete, signed
   * record under a temp name. When no file of that requestId exists any more (a new event, or
   * an update whose original is gone), it is renamed into pending/; when one does, the temp is
   * an update that never landed and the original stands. A torn temp is moved aside once stale.
   */
  async function recoverTemps(at: number): Promise<number> {
    let recovered = 0;
    for (const state of ["pending", "processing", "failed"] as const) {
      const names: string[] = [];
      try {
        // Synchronous like the rest of the reading side: this lists a whole backlog's pending/
        // at the start of every drain, and an async listing is a promise per entry.
        for (const entry of Deno.readDirSync(dirs[state])) {
          if (entry.isFile && entry.name.startsWith(TEMP_PREFIX)) names.push(entry.name);
        }
      } catch {
        continue; // unreadable: nothing to recover from here
      }
      for (const name of names) {
        const path = join(dirs[state], name);
        try {
          const info = await Deno.lstat(path);
          const age = at - (info.mtime?.getTime() ?? at);
          if (age < ORPHAN_TEMP_MS) continue; // maybe a live writer about to rename it
          const record = parseRecord(Deno.readFileSync(path));
          if (record === undefined) {
            if (age > STALE_TEMP_MS) quarantine(path, name);
            continue;
          }
          const id = record.envelope.requestId;
          if (await spool.find(id)) {
            await Deno.remove(path);
            continue;
          }
          await renameDurable(path, join(dirs.pending, `${id}.json`));
          recovered++;
        } catch (error) {
          if (!isNotFound(error)) throw error;
        }
      }
    }
    return recovered;
  }

  const spool: Spool = {
    dir,

    put: (envelope) => putRecord(dir, envelope, { key }),

    async complete(item) {
      await spool.completeMany([item]);
    },

    async completeMany(items) {
      // Unlinks first, then one flush per directory touched: a crash before the flush can only
      // bring back files of delivered items, which the resend finds DUPLICATE (docs/QUEUE.md).
      const touched = new Set<string>();
      for (const item of items) {
        // A drainer may have claimed (renamed) the file since this item was read: then it is
        // under pending/ or processing/ by its requestId.
        const paths = unlink(item.path)
          ? [item.path]
          : [inDir(dirs.pending, `${item.id}.json`), ...findLeased(item.id)].filter(unlink);
        for (const path of paths) touched.add(dirOf(path));
      }
      for (const path of touched) await syncDir(path);
    },

    async recordFailure(item, outcome, at = now()) {
      if (outcome.kind === "delivered") {
        await spool.complete(item);
        return "pending";
      }
      const previous = item.record.delivery;
      const attempts = previous.attempts + 1;
      const stamp = at.toISOString();
      const exhausted = outcome.kind === "permanent" || attempts >= maxAttempts;
      const delivery: SpoolRecord["delivery"] = {
        attempts,
        firstAttemptAt: previous.firstAttemptAt ?? stamp,
        lastAttemptAt: stamp,
        nextAttemptAt: exhausted ? null : new Date(
          at.getTime() +
            backoffDelayMs(
              attempts,
              schedule,
              outcome.kind === "retryable" ? outcome.retryAfterMs : undefined,
              random,
            ),
        ).toISOString(),
        lastError: outcome.kind === "retryable" && exhausted
          ? `gave up after ${attempts} attempts: ${outcome.error}`
          : outcome.error,
        lastHttpStatus: outcome.httpStatus,
      };
      if (outcome.kind === "permanent" && outcome.answer !== undefined) {
        delivery.lastAnswer = outcome.answer;
      }
      const record: SpoolRecord = {
        version: 1,
        envelope: { ...item.record.envelope, attempt: Math.max(1, attempts) },
        delivery,
      };
      // If the file is gone, someone else delivered or took it over: do not resurrect it.
      if (!await exists(item.path)) return exhausted ? "failed" : "pending";
      await writeFileDurable(item.path, await encode(record));
      const target = exhausted
        ? join(dirs.failed, `${item.id}.json`)
        : join(dirs.pending, `${item.id}.json`);
      if (target !== item.path) {
        try {
          await renameDurable(item.path, target);
        } catch (error) {
          if (!isNotFound(error)) throw error;
        }
      }
      item.path = target;
      item.record = record;
      if (!exhausted) notDueUntil.set(item.id, Date.parse(delivery.nextAttemptAt!));
      return exhausted ? "failed" : "pending";
    },

    envelopeForSend(item) {
      return { ...item.record.envelope, attempt: item.record.delivery.attempts + 1 };
    },

    // deno-lint-ignore require-await
    async claim(limit, options = {}) {
      const claimed: SpoolItem[] = [];
      const maxBytes = options.maxBytes ?? Infinity;
      let bytes = 0;
      let relisted = false;
      while (claimed.length < limit) {
        if (cursor >= listing.length) {
          // Once per call at most: new arrivals and returned items show up here.
          if (relisted) break;
          listing = names("pending");
          cursor = 0;
          relisted = true;
          if (listing.length === 0) break;
        }
        const name = listing[cursor++];
        const id = idOf("pending", name);
        if (id === undefined) {
          quarantine(join(dirs.pending, name), name);
          continue;
        }
        if (options.ids && !options.ids.has(id)) continue;
        if (options.skip?.has(id)) continue;
        const at = now();
        if (!options.ignoreBackoff && (notDueUntil.get(id) ?? 0) > at.getTime()) continue;
        const read = claimOne(name, id, at, options.ignoreBackoff === true);
        if (!read) continue;
        if (claimed.length > 0 && bytes + read.bytes > maxBytes) {
          // Over the budget: back untouched, and first in line for the next claim.
          releaseItem(read.item);
          cursor--;
          break;
        }
        claimed.push(read.item);
        bytes += read.bytes;
      }
      return claimed;
    },

    // deno-lint-ignore require-await
    async release(item) {
      releaseItem(item);
    },

    async recoverExpired() {
      let recovered = 0;
      const at = now().getTime();
      for (const name of unsortedNames("processing")) {
        const leased = LEASED_NAME.exec(name);
        const id = leased?.[1] ?? JSON_NAME.exec(name)?.[1];
        const from = join(dirs.processing, name);
        if (id === undefined) {
          quarantine(from, name);
          continue;
        }
        if (leased && Number(leased[2]) > at) continue;
        try {
          Deno.renameSync(from, join(dirs.pending, `${id}.json`));
          recovered++;
        } catch (error) {
          if (!isNotFound(error)) throw error;
        }
      }
      // One flush of each directory for all the returns: a crash before it leaves a returned
      // file under its expired lease, which the next drain returns again.
      if (recovered > 0) {
        await syncDir(dirs.pending);
        await syncDir(dirs.processing);
      }
      return recovered + await recoverTemps(at);
    },

    // deno-lint-ignore require-await
    async list(state) {
      const items: SpoolItem[] = [];
      for (const name of names(state)) {
        const id = idOf(state, name);
        const path = join(dirs[state], name);
        if (id === undefined) {
          quarantine(path, name);
          continue;
        }
        const item = readItem(path, name, id);
        if (item) items.push(item);
      }
      return items;
    },

    // deno-lint-ignore require-await
    async find(id) {
      for (const state of SPOOL_STATES) {
        const paths = state === "processing" ? findLeased(id) : [join(dirs[state], `${id}.json`)];
        for (const path of paths) {
          const name = path.slice(dirs[state].length + 1);
          const item = readItem(path, name, id);
          if (item) return { state, item };
        }
      }
      return undefined;
    },

    async clearBackoff(item) {
      if (item.record.delivery.nextAttemptAt === null) return true;
      if (!await exists(item.path)) return false;
      const record: SpoolRecord = {
        ...item.record,
        delivery: { ...item.record.delivery, nextAttemptAt: null },
      };
      await writeFileDurable(item.path, await encode(record));
      item.record = record;
      notDueUntil.delete(item.id);
      return true;
    },

    async revive(item) {
      if (!await exists(item.path)) return false;
      const record: SpoolRecord = {
        ...item.record,
        delivery: { ...item.record.delivery, attempts: 0, nextAttemptAt: null },
      };
      await writeFileDurable(item.path, await encode(record));
      const target = join(dirs.pending, `${item.id}.json`);
      try {
        await renameDurable(item.path, target);
      } catch (error) {
        if (isNotFound(error)) return false;
        throw error;
      }
      item.path = target;
      item.record = record;
      notDueUntil.delete(item.id);
      return true;
    },

    async adopt(record, state) {
      const id = record.envelope.requestId;
      if (await spool.find(id)) return undefined;
      const path = join(dirs[state], `${id}.json`);
      await writeFileDurable(path, await encode(record));
      return { id, path, record };
    },

    async purge(item) {
      const removed = unlink(item.path);
      if (removed) await syncDir(join(item.path, ".."));
      return removed;
    },

    async stats() {
      const at = now().getTime();
      const result: SpoolStats = {
        pending: 0,
        due: 0,
        processing: 0,
        failed: 0,
        corrupt: 0,
        oldestAgeMs: null,
        bytes: 0,
      };
      let oldest: number | null = null;
      for (const state of SPOOL_STATES) {
        for (const item of await spool.list(state)) {
          result[state]++;
          if (state === "pending" && isDue(item.record, new Date(at))) result.due++;
          const occurred = Date.parse(item.record.envelope.occurredAt);
          if (!Number.isNaN(occurred) && (oldest === null || occurred < oldest)) oldest = occurred;
          try {
            result.bytes += (await Deno.stat(item.path)).size;
          } catch {
            // Moved while counting: not worth failing the stats for.
          }
        }
      }
      for await (const entry of Deno.readDir(dirs.corrupt)) {
        if (entry.isFile) result.corrupt++;
      }
      result.oldestAgeMs = oldest === null ? null : Math.max(0, at - oldest);
      return result;
    },

    // deno-lint-ignore require-await
    async countPending() {
      return unsortedNames("pending").length;
    },

    corruptMoved() {
      return corruptCount;
    },

    async outlook() {
      const pendingNames = unsortedNames("pending");
      const present = new Set(pendingNames.map((name) => idOf("pending", name)));
      let nextDueAt: number | null = null;
      const at = now().getTime();
      for (const [id, until] of notDueUntil) {
        // Gone, or due already (a pass claims those; remembering them would only wake it again).
        if (!present.has(id) || until <= at) notDueUntil.delete(id);
        else if (nextDueAt === null || until < nextDueAt) nextDueAt = until;
      }
      const processingNames = unsortedNames("processing");
      let leaseEndsAt: number | null = null;
      for (const name of processingNames) {
        const until = Number(LEASED_NAME.exec(name)?.[2] ?? NaN);
        if (Number.isFinite(until) && (leaseEndsAt === null || until < leaseEndsAt)) {
          leaseEndsAt = until;
        }
      }
      let tempRecoverableAt: number | null = null;
      for await (const entry of Deno.readDir(dirs.pending)) {
        if (!entry.isFile || !entry.name.startsWith(TEMP_PREFIX)) continue;
        const mtime = (await Deno.lstat(join(dirs.pending, entry.name)).catch(() => undefined))
          ?.mtime?.getTime();
        const ready = mtime === undefined ? undefined : mtime + ORPHAN_TEMP_MS;
        if (ready !== undefined && ready > at && (tempRecoverableAt ?? Infinity) > ready) {
          tempRecoverableAt = ready;
        }
      }
      return {
        pending: pendingNames.length,
        processing: processingNames.length,
        nextDueAt,
        leaseEndsAt,
        tempRecoverableAt,
      };
    },

    forgetBackoff() {
      notDueUntil.clear();
    },
  };
  return spool;
}
