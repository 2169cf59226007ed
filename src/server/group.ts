// Group commit: items that arrive while a group's transaction commits form the next group, so
// one transaction and one WAL flush serve many requests; an item the database rejects is
// isolated by bisecting its group, never with a savepoint per item.
import type { Sql } from "../store/open.ts";
import type { RequestMeta } from "./deps.ts";
import {
  auditDoc,
  type AuditFinal,
  elapsedMs,
  findSucceeded,
  insertAuditRows,
  type Succeeded,
} from "./audit.ts";
import { classifyFailure, sqlState } from "./errors.ts";
import type { Prepared } from "./prepare.ts";
import { type Clock, decide, failureFinal, successFinal } from "./outcome.ts";
import { extract, mergeIntents } from "./rows.ts";
import { writeGroupRows } from "./write.ts";
import { recordIntents } from "./record_intents.ts";
import { eventRows } from "../record/event_rows.ts";
import { errorMessage } from "../error_message.ts";

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
  /** Queues one request's items together (a batch forms its group whole); answers in order. */
  submit(items: GroupItem[]): Promise<Settled[]>;
}

export interface CommitterOptions {
  /** Most items per group: bounds one statement's size and one transaction's locks. */
  maxGroup?: number;
  /**
   * Session lanes: groups that may commit at once, each over sessions none of the others has
   * (a session's lane is a hash of its id), so they never wait on each other's row locks. A
   * backlog splits into one group per lane; a small one still forms a single group over every
   * lane, since at a few items per group the per-transaction cost outweighs the parallelism.
   * The embedded store has one connection: one.
   */
  lanes?: number;
  /** Items of one lane a backlog needs before that lane gets a group of its own. */
  minLaneGroup?: number;
  /** Called after each group with its figures (metrics). */
  onGroup?: (stats: GroupStats) => void;
  /** Called when a group fails and its items are isolated or answered ERROR. */
  onFailure?: (error: unknown, size: number) => void;
}

/**
 * Lost deadlock or serialization races, and a requestId that already succeeded (the partial
 * unique index on SUCCESS rows): run the group again.
 */
const TX_ATTEMPTS = 4;
const UNIQUE_VIOLATION = "23505";
const RETRIED_STATES = new Set(["40P01", "40001", UNIQUE_VIOLATION]);

function clockOf(item: GroupItem): Clock {
  return {
    timings: item.timings,
    processingMs: elapsedMs(item.meta),
  };
}

/**
 * One statement for the group (src/server/write.ts): the set-based writes of the conversations,
 * the hook rows and the record rows (merged across the group: one statement per table and kind
 * inside it) and the audit rows, in one implicit transaction. One round trip, two when it asks
 * first (the dedupe read, see askFirst), whatever the group's size.
 *
 * Not BEGIN, the statements pipelined, COMMIT (three round trips, the path before): at a few
 * events per group the round trips cost the server and the backends more CPU than the
 * statements (docs/DESIGN.md). Not on a reserved connection with BEGIN and COMMIT pipelined
 * (two round trips, tried): in postgres.js 3.4.9 releasing a reserved connection whose socket
 * closed puts the dead connection back in the pool, and the next write on it throws an
 * uncatchable TypeError that ends the process (porsager/postgres#1199, #1208).
 */
async function writeGroup(
  sql: Sql,
  items: GroupItem[],
  ask: boolean,
  count: () => void,
): Promise<{ settled: Settled[]; metEarlier: boolean }> {
  const requestIds = [
    ...new Set(items.map((item) => item.prepared.fields.requestId).filter((id) => id !== null)),
  ];
  const started = performance.now();
  for (const item of items) item.timings.queue = started - item.submittedAt;
  // Outside the write's transaction: a delivery that succeeds between this read and the write
  // still meets the partial unique index, and the group runs again.
  const asked = ask && requestIds.length > 0;
  if (asked) count();
  const known = asked ? await findSucceeded(sql, requestIds) : new Map<string, Succeeded>();
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
      const keyName = item.meta.sender?.keyName ?? null;
      return { envelope, events: eventRows(envelope), keyName };
    });
  const rows = mergeIntents(
    processed.map(({ envelope, events, keyName }) =>
      extract(envelope, events.startSource, keyName)
    ),
  );
  const built = performance.now();
  for (const item of items) item.timings.process = built - read;
  count();
  const ids = await writeGroupRows(sql, {
    rows,
    record: recordIntents(processed),
    audit: auditDoc(
      items.map((item, i) => ({ fields: item.prepared.fields, meta: item.meta, final: finals[i] })),
    ),
  });
  return {
    settled: items.map((_, i) => ({ final: finals[i], id: ids[i] })),
    metEarlier: known.size > 0,
  };
}

/** The lane of a session: a stable hash of its id, so all of its rows stay in one lane. */
export function laneOf(sessionId: string | null, lanes: number): number {
  if (lanes <= 1 || sessionId === null) return 0;
  let hash = 0;
  for (let i = 0; i < sessionId.length; i++) hash = (hash * 31 + sessionId.charCodeAt(i)) | 0;
  return (hash >>> 0) % lanes;
}

/**
 * The lanes the next group takes, or none: every free lane when nothing commits and the
 * backlog is small (one group, as without lanes); one lane when the backlog gives two lanes a
 * group of their own; a free lane beside a committing group only once it has that many items.
 */
export function lanesForNextGroup(
  held: ReadonlySet<number>,
  backlog: readonly number[],
  minLaneGroup: number,
): Set<number> {
  const free = new Set(backlog.keys().filter((lane) => !held.has(lane)));
  const big = [...free].filter((lane) => backlog[lane] >= minLaneGroup);
  if (free.size === backlog.length && big.length < 2) return free;
  return new Set(big.slice(0, 1));
}

interface Waiting {
  item: GroupItem;
  lane: number;
  resolve: (settled: Settled) => void;
}

export function createCommitter(sql: Sql, options: CommitterOptions = {}): Committer {
  const maxGroup = options.maxGroup ?? 500;
  const lanes = Math.max(1, options.lanes ?? 1);
  const minLaneGroup = options.minLaneGroup ?? 32;
  const waiting: Waiting[] = [];
  /** Items waiting per lane. */
  const backlog = new Array<number>(lanes).fill(0);
  /** Lanes held by groups now committing. */
  const held = new Set<number>();

  /** requestIds in groups now committing. */
  const committing = new Set<string>();

  const eligible = (entry: Waiting, from: ReadonlySet<number>) =>
    from.has(entry.lane) &&
    (entry.item.prepared.fields.requestId === null ||
      !committing.has(entry.item.prepared.fields.requestId));

  /**
   * The next group of those lanes, in arrival order. A requestId already in this group or in one
   * committing waits for a later group, so that it meets the committed first delivery
   * (DUPLICATE) instead of racing it.
   */
  function take(from: ReadonlySet<number>) {
    const group: Waiting[] = [];
    for (let i = 0; i < waiting.length && group.length < maxGroup;) {
      if (!eligible(waiting[i], from)) {
        i++;
        continue;
      }
      const [entry] = waiting.splice(i, 1);
      const requestId = entry.item.prepared.fields.requestId;
      if (requestId !== null) committing.add(requestId);
      backlog[entry.lane]--;
      group.push(entry);
    }
    return group;
  }

  /**
   * Whether the next group asks "has this requestId already succeeded?" before it writes. Nearly
   * every delivery is a first one, so a group writes without asking (a round trip less): the
   * partial unique index on SUCCESS requestIds rejects a group holding one that succeeded, and
   * the group runs again, asking. Once a group has met one, the next ones ask first until one
   * finds none: duplicates come in runs (a re-import, a batch re-sent after its answer was lost).
   */
  let askFirst = false;

  async function attempt(items: GroupItem[], stats: GroupStats): Promise<Settled[]> {
    let ask = askFirst;
    for (let round = 1;; round++) {
      try {
        const { settled, metEarlier } = await writeGroup(
          sql,
          items,
          ask,
          () => stats.roundTrips++,
        );
        askFirst = metEarlier;
        return settled;
      } catch (error) {
        const state = sqlState(error);
        if (round < TX_ATTEMPTS && state !== undefined && RETRIED_STATES.has(state)) {
          if (state === UNIQUE_VIOLATION) ask = askFirst = true;
          continue;
        }
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

  /** Starts a group for every lane that may have one now; each group's end looks again. */
  function schedule(): void {
    for (;;) {
      const from = lanesForNextGroup(held, backlog, minLaneGroup);
      if (from.size === 0) return;
      const group = take(from);
      // Everything waiting is a requestId still committing elsewhere: that group's end runs it.
      if (group.length === 0) return;
      void commit(group, from);
    }
  }

  async function commit(group: Waiting[], from: Set<number>): Promise<void> {
    for (const lane of from) held.add(lane);
    const stats: GroupStats = { size: group.length, roundTrips: 0 };
    try {
      const settled = await settle(group.map((entry) => entry.item), stats);
      group.forEach((entry, i) => entry.resolve(settled[i]));
      options.onGroup?.(stats);
    } finally {
      // Whatever happened to this group, its lanes and requestIds go to the next ones.
      for (const entry of group) {
        const requestId = entry.item.prepared.fields.requestId;
        if (requestId !== null) committing.delete(requestId);
      }
      for (const lane of from) held.delete(lane);
      schedule();
    }
  }

  return {
    submit(items) {
      const settled = items.map((item) =>
        new Promise<Settled>((resolve) => {
          const lane = laneOf(item.prepared.fields.sessionId, lanes);
          backlog[lane]++;
          waiting.push({ item, lane, resolve });
        })
      );
      schedule();
      return Promise.all(settled);
    },
  };
}
