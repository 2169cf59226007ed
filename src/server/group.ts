// Group commit: items that arrive while a group's transaction commits form the next group, so
// one transaction and one WAL flush serve many requests; an item the database rejects is
// isolated by bisecting its group, never with a savepoint per item.
import type { Sql } from "../store/open.ts";
import type { RequestMeta } from "./deps.ts";
import { type AuditFinal, findSucceeded, insertAuditRows } from "./audit.ts";
import { classifyFailure, errorMessage, sqlState } from "./errors.ts";
import type { Prepared } from "./prepare.ts";
import { type Clock, decide, failureFinal, successFinal } from "./outcome.ts";
import { extract, mergeIntents } from "./rows.ts";
import { writeRows } from "./write.ts";
import { writeRecordRows } from "./process_record.ts";
import { recordIntents } from "./record_intents.ts";
import { eventRows } from "../record/event_rows.ts";

/** One envelope (or rejected body) waiting for its group. */
export interface GroupItem {
  prepared: Prepared;
  meta: RequestMeta;
  /** Milliseconds spent per stage before the group, extended with the group's own. */
  timings: Record<string, number>;
  /** performance.now() when it joined the queue. */
  submittedAt: number;
}

export interface Settled {
  final: AuditFinal & { retryAfter?: number };
  /** The audit row's id, or null when not even that could be written. */
  id: string | null;
}

export interface GroupStats {
  /** Items in the group that committed (or failed). */
  size: number;
  /** Round trips to the database the group cost, retries and bisections included. */
  roundTrips: number;
}

export interface Committer {
  submit(item: GroupItem): Promise<Settled>;
}

export interface CommitterOptions {
  /** Most items per group: bounds one statement's size and one transaction's locks. */
  maxGroup?: number;
  /**
   * Groups committing at once. One leaves the database idle while a commit waits for its WAL
   * flush; a few overlap those waits (PostgreSQL merges their flushes). The embedded store has
   * one connection: one.
   */
  maxInFlight?: number;
  /** Called after each group with its figures (metrics). */
  onGroup?: (stats: GroupStats) => void;
  /** Called when a group fails and its items are isolated or answered ERROR. */
  onFailure?: (error: unknown, size: number) => void;
}

/** Lost deadlock, serialization or uniqueness races (another instance): run the group again. */
const TX_ATTEMPTS = 4;
const RETRIED_STATES = new Set(["40P01", "40001", "23505"]);

function clockOf(item: GroupItem): Clock {
  return {
    timings: item.timings,
    processingMs: Math.round((performance.now() - item.meta.startedAt) * 1000) / 1000,
  };
}

/**
 * One transaction for the group: BEGIN, the dedupe read, then the set-based writes of the
 * conversations, the hook rows and the record rows (src/record/, merged across the group: one
 * statement per table and kind) pipelined with the audit rows, COMMIT: four round trips and a
 * bounded number of statements whatever the group's size.
 *
 * Not on a reserved connection with BEGIN and COMMIT pipelined (two round trips, tried): in
 * postgres.js 3.4.9 releasing a reserved connection whose socket closed puts the dead connection
 * back in the pool, and the next write on it throws an uncatchable TypeError that ends the
 * process (porsager/postgres#1199, #1208); and through the embedded store's socket a statement
 * that failed ahead of a pipelined COMMIT left the group waiting for ever.
 */
async function writeGroup(sql: Sql, items: GroupItem[], count: () => void): Promise<Settled[]> {
  const requestIds = [
    ...new Set(items.map((item) => item.prepared.fields.requestId).filter((id) => id !== null)),
  ];
  const started = performance.now();
  for (const item of items) item.timings.queue = started - item.submittedAt;
  count(); // BEGIN
  const settled = await sql.begin(async (tx) => {
    // Every statement of the group keeps its index probes under a generic plan whatever the
    // statistics (tests/ingest_plans_test.ts): planning one afresh per group (a custom plan,
    // which PostgreSQL keeps choosing for the dedupe read of a few ids) is cost for nothing.
    // Sent ahead of the dedupe read on the same connection: no round trip of its own.
    const plans = tx`SET LOCAL plan_cache_mode = force_generic_plan`.execute();
    if (requestIds.length > 0) count();
    const known = await findSucceeded(tx, requestIds);
    const read = performance.now();
    for (const item of items) item.timings.dedupe = read - started;
    const finals = items.map((item) => {
      const clock = clockOf(item);
      const { fields, envelope, problem } = item.prepared;
      const earlier = fields.requestId ? known.get(fields.requestId) : undefined;
      const decision = decide({ fields, problem, valid: envelope !== undefined }, earlier, clock);
      return decision === "process" ? successFinal(fields, clock) : decision;
    });
    const processed = items.filter((_, i) => finals[i].status === "SUCCESS")
      .map((item) => {
        const envelope = item.prepared.envelope!;
        return { envelope, events: eventRows(envelope) };
      });
    const rows = mergeIntents(
      processed.map(({ envelope, events }) => extract(envelope, events.startSource)),
    );
    const built = performance.now();
    for (const item of items) item.timings.process = built - read;
    count();
    const writes = writeRows(tx, rows);
    // The record rows of every envelope, merged per key: one statement per table and kind.
    const record = writeRecordRows(tx, recordIntents(processed));
    // Sent last: the audit rows find the conversations written before them.
    const audit = insertAuditRows(
      tx,
      items.map((item, i) => ({ fields: item.prepared.fields, meta: item.meta, final: finals[i] })),
    );
    const [ids] = await Promise.all([audit, plans, ...writes, ...record]);
    return { finals, ids };
  });
  count(); // COMMIT
  return items.map((_, i) => ({ final: settled.finals[i], id: settled.ids[i] }));
}

export function createCommitter(sql: Sql, options: CommitterOptions = {}): Committer {
  const maxGroup = options.maxGroup ?? 500;
  const maxInFlight = options.maxInFlight ?? 1;
  const waiting: { item: GroupItem; resolve: (settled: Settled) => void }[] = [];
  let running = 0;

  /** requestIds in groups now committing. */
  const committing = new Set<string>();

  /**
   * The next group, in arrival order. A requestId already in this group or in one committing
   * waits for a later group, so that it meets the committed first delivery (DUPLICATE) instead
   * of racing it.
   */
  function take() {
    const group: typeof waiting = [];
    for (let i = 0; i < waiting.length && group.length < maxGroup;) {
      const requestId = waiting[i].item.prepared.fields.requestId;
      if (requestId !== null && committing.has(requestId)) {
        i++;
        continue;
      }
      if (requestId !== null) committing.add(requestId);
      group.push(...waiting.splice(i, 1));
    }
    return group;
  }

  async function attempt(items: GroupItem[], stats: GroupStats): Promise<Settled[]> {
    for (let round = 1;; round++) {
      try {
        return await writeGroup(sql, items, () => stats.roundTrips++);
      } catch (error) {
        const state = sqlState(error);
        if (round < TX_ATTEMPTS && state !== undefined && RETRIED_STATES.has(state)) continue;
        throw error;
      }
    }
  }

  /** Writes a group; when the database rejects it, halves it until the culprit stands alone. */
  async function settle(items: GroupItem[], stats: GroupStats): Promise<Settled[]> {
    try {
      return await attempt(items, stats);
    } catch (error) {
      const kind = classifyFailure(error);
      options.onFailure?.(error, items.length);
      if (kind !== "unavailable" && items.length > 1) {
        const half = Math.ceil(items.length / 2);
        return [
          ...await settle(items.slice(0, half), stats),
          ...await settle(items.slice(half), stats),
        ];
      }
      // Alone, or the database is gone: the items fail, and their rows are written afterwards.
      const finals = items.map((item) =>
        failureFinal(
          kind,
          sqlState(error),
          errorMessage(error),
          item.prepared.fields,
          "process",
          clockOf(item),
        )
      );
      let ids: (string | null)[] = items.map(() => null);
      try {
        stats.roundTrips++;
        ids = await insertAuditRows(
          sql,
          items.map((item, i) => ({
            fields: item.prepared.fields,
            meta: item.meta,
            final: finals[i],
          })),
        );
      } catch { /* still down: the client got a 5xx and keeps the event */ }
      return items.map((_, i) => ({ final: finals[i], id: ids[i] }));
    }
  }

  async function run(): Promise<void> {
    running++;
    try {
      while (waiting.length > 0) {
        const group = take();
        // Everything waiting is a requestId still committing elsewhere: that group's end runs it.
        if (group.length === 0) break;
        const stats: GroupStats = { size: group.length, roundTrips: 0 };
        const settled = await settle(group.map((entry) => entry.item), stats);
        for (const entry of group) {
          const requestId = entry.item.prepared.fields.requestId;
          if (requestId !== null) committing.delete(requestId);
        }
        group.forEach((entry, i) => entry.resolve(settled[i]));
        options.onGroup?.(stats);
      }
    } finally {
      running--;
    }
  }

  return {
    submit(item) {
      return new Promise((resolve) => {
        waiting.push({ item, resolve });
        if (running < maxInFlight) void run();
      });
    },
  };
}
