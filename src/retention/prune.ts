// Retention: what is old enough to go, counted (a dry run) or removed in small batches. Each
// batch is one short statement that skips rows others hold, so ingest never waits on it, and
// any number of servers may run it at once: a row already pruned is simply not found again.
import type { Sql } from "../store/open.ts";
import { FAILED_STATUSES } from "../schema.ts";

export interface RetentionPolicy {
  /** Payloads of SUCCESS and DUPLICATE audit rows received longer ago than this are dropped. */
  payloadsMs: number | null;
  /** Sessions whose last event is longer ago than this are deleted, with their audit rows. */
  sessionsMs: number | null;
}

export interface PruneCounts {
  /** Audit rows whose payload is (or would be) dropped; the rows themselves stay. */
  payloads: number;
  /** Sessions deleted, with their messages, tool calls and token usage. */
  sessions: number;
  /** Audit rows of those sessions deleted (failed rows not yet stored again are kept). */
  sessionEvents: number;
}

export interface PruneOptions {
  now?: number;
  /** Rows per payload batch. */
  payloadBatch?: number;
  /** Sessions per deletion batch (each takes its messages and tool calls with it). */
  sessionBatch?: number;
  /** Stop early (the server is shutting down). */
  stopped?: () => boolean;
}

/**
 * Stored rows whose payload may go: written as the predicate of
 * webhook_events_payload_retention_idx (migrations/0004), so each batch reads that index.
 */
const PRUNABLE = "payload IS NOT NULL AND status IN ('SUCCESS', 'DUPLICATE')";

const cutoff = (ms: number | null, now: number) => ms === null ? null : new Date(now - ms);

/** A failed row that no later delivery stored: kept, payload and all, so it can be reprocessed. */
const keptFailure = (sql: Sql) =>
  sql`(e.status::text IN ${sql(FAILED_STATUSES)} AND NOT EXISTS (
    SELECT 1 FROM webhook_events s WHERE s.request_id = e.request_id AND s.status = 'SUCCESS'))`;

/** What a prune would remove now, changing nothing. */
export async function planPrune(
  sql: Sql,
  policy: RetentionPolicy,
  now = Date.now(),
): Promise<PruneCounts> {
  const payloadsBefore = cutoff(policy.payloadsMs, now);
  const sessionsBefore = cutoff(policy.sessionsMs, now);
  const [[payloads], [sessions]] = await Promise.all([
    payloadsBefore
      ? sql<{ n: number }[]>`
        SELECT count(*)::int AS n FROM webhook_events
        WHERE ${sql.unsafe(PRUNABLE)} AND received_at < ${payloadsBefore}`
      : [{ n: 0 }],
    sessionsBefore
      ? sql<{ sessions: number; events: number }[]>`
        WITH old AS (SELECT session_id FROM conversations
          WHERE coalesce(last_event_at, first_seen_at) < ${sessionsBefore})
        SELECT (SELECT count(*) FROM old)::int AS sessions,
          (SELECT count(*) FROM webhook_events e JOIN old USING (session_id)
            WHERE NOT ${keptFailure(sql)})::int AS events`
      : [{ sessions: 0, events: 0 }],
  ]);
  return { payloads: payloads.n, sessions: sessions.sessions, sessionEvents: sessions.events };
}

/** Removes what planPrune counts, batch by batch, and says how much went. */
export async function prune(
  sql: Sql,
  policy: RetentionPolicy,
  options: PruneOptions = {},
): Promise<PruneCounts> {
  const now = options.now ?? Date.now();
  const stopped = options.stopped ?? (() => false);
  const done: PruneCounts = { payloads: 0, sessions: 0, sessionEvents: 0 };
  const payloadsBefore = cutoff(policy.payloadsMs, now);
  const sessionsBefore = cutoff(policy.sessionsMs, now);
  // Sessions first: their audit rows go whole, so their payloads need no separate pass.
  while (sessionsBefore && !stopped()) {
    const [row] = await sql<{ sessions: number; events: number }[]>`
      WITH doomed AS (
        SELECT id, session_id FROM conversations
        WHERE coalesce(last_event_at, first_seen_at) < ${sessionsBefore}
        ORDER BY coalesce(last_event_at, first_seen_at)
        LIMIT ${options.sessionBatch ?? 20}
        FOR UPDATE SKIP LOCKED
      ), events AS (
        DELETE FROM webhook_events e USING doomed d
        WHERE e.session_id = d.session_id AND NOT ${keptFailure(sql)}
        RETURNING 1
      ), sessions AS (
        DELETE FROM conversations c USING doomed d WHERE c.id = d.id RETURNING 1
      )
      SELECT (SELECT count(*) FROM sessions)::int AS sessions,
        (SELECT count(*) FROM events)::int AS events`;
    done.sessions += row.sessions;
    done.sessionEvents += row.events;
    if (row.sessions === 0) break;
  }
  while (payloadsBefore && !stopped()) {
    const [row] = await sql<{ n: number }[]>`
      WITH batch AS (
        SELECT id FROM webhook_events
        WHERE ${sql.unsafe(PRUNABLE)} AND received_at < ${payloadsBefore}
        ORDER BY received_at
        LIMIT ${options.payloadBatch ?? 500}
        FOR UPDATE SKIP LOCKED
      ), pruned AS (
        UPDATE webhook_events w SET payload = NULL FROM batch WHERE w.id = batch.id RETURNING 1
      )
      SELECT count(*)::int AS n FROM pruned`;
    done.payloads += row.n;
    if (row.n === 0) break;
  }
  return done;
}
