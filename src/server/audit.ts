// The audit trail: every request (and batch item) gets one webhook_events row, written once in
// its final state: inside the transaction that stores its data, or alone when nothing is stored.
import type { Sql } from "../store/open.ts";
import type { IngestAnswer, IngestStage, WebhookStatus } from "../schema.ts";
import type { RequestMeta } from "./deps.ts";
import { type AuditDoc, writeGroupRows } from "./write.ts";

/** What is known about a request when its audit row is first written. */
export interface AuditFields {
  requestId: string | null;
  traceId: string | null;
  spanId: string | null;
  sessionId: string | null;
  event: string | null;
  attempt: number | null;
  /** Redacted payload (the envelope), or null when it could not be stored. */
  payload: unknown;
  bodySha256: string | null;
}

/** The end of a request: its one final status and the answer it got. */
export interface AuditFinal {
  status: WebhookStatus;
  stage: IngestStage;
  httpStatus: number;
  answer: IngestAnswer;
  errorCode?: string | null;
  errorMessage?: string | null;
  stageTimings: Record<string, number>;
  processingMs: number;
}

export const EMPTY_FIELDS: AuditFields = {
  requestId: null,
  traceId: null,
  spanId: null,
  sessionId: null,
  event: null,
  attempt: null,
  payload: null,
  bodySha256: null,
};

/** Milliseconds since a request started, to the microsecond (performance.now() is finer). */
export function elapsedMs(meta: RequestMeta): number {
  return toMicrosecond(performance.now() - meta.startedAt);
}

function toMicrosecond(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** Stage timings as stored: to the microsecond, without float noise in every audit row. */
function storedTimings(timings: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [stage, ms] of Object.entries(timings)) out[stage] = toMicrosecond(ms);
  return out;
}

/**
 * An audit row's own fields, at the positions the group's statement reads them
 * (migrations/0010_row_arrays.sql): an array, so that no row repeats the key names.
 */
function itemTuple(fields: AuditFields, meta: RequestMeta, final: AuditFinal): unknown[] {
  return [
    fields.requestId,
    fields.traceId ?? meta.traceId,
    fields.spanId ?? meta.spanId,
    fields.sessionId,
    fields.event,
    // A stored event links to its conversation, found by session_id in the same statement.
    final.status === "SUCCESS",
    final.status,
    final.stage,
    final.httpStatus,
    final.errorCode ?? null,
    final.errorMessage ?? null,
    fields.payload ?? null,
    fields.bodySha256,
    final.answer,
    fields.attempt,
    storedTimings(final.stageTimings),
    final.processingMs,
  ];
}

/**
 * What every audit row of one request holds alike, at the statement's positions: headers, ip,
 * user_agent, batch_id, key_name, instance_id. Sent once per request (auditDoc).
 */
function requestTuple(meta: RequestMeta): unknown[] {
  return [
    meta.headers,
    meta.ip,
    meta.userAgent,
    meta.batchId ?? null,
    meta.sender?.keyName ?? null,
    meta.sender?.instanceId ?? null,
  ];
}

/**
 * Audit rows as the group's statement takes them (src/server/write.ts), in input order, each
 * ending with its request's index in `requests`. A batch's items share their request's fields
 * (its headers object among them): each distinct set is listed once.
 */
export function auditDoc(
  rows: { fields: AuditFields; meta: RequestMeta; final: AuditFinal }[],
): AuditDoc {
  const requests: unknown[][] = [];
  const byHeaders = new Map<object, number[]>();
  const audit = rows.map(({ fields, meta, final }) => {
    const shared = requestTuple(meta);
    const listed = byHeaders.get(meta.headers) ?? [];
    let index = listed.find((i) => requests[i].every((value, at) => value === shared[at]));
    if (index === undefined) {
      index = requests.push(shared) - 1;
      byHeaders.set(meta.headers, [...listed, index]);
    }
    return [...itemTuple(fields, meta, final), index];
  });
  return { audit, requests };
}

/** Inserts final audit rows alone (a rejected request, a failed group's); returns their ids. */
export function insertAuditRows(
  sql: Sql,
  rows: { fields: AuditFields; meta: RequestMeta; final: AuditFinal }[],
): Promise<string[]> {
  return writeGroupRows(sql, { audit: auditDoc(rows) });
}

/** A committed SUCCESS row for a requestId: what later deliveries of it are compared with. */
export interface Succeeded {
  id: string;
  bodySha256: string | null;
  response: Record<string, unknown> | null;
}

/**
 * "Has this requestId already succeeded?", the one place it is asked: the SUCCESS rows of the
 * given requestIds (at most one each, by the partial unique index), by requestId. One index
 * probe per requestId, whatever the statistics: postgres.js prepares statements, and a generic
 * plan made while the table was empty stays cached as it grows. `request_id = ANY(...)` became
 * a scan of every SUCCESS row through the status index (20 ms a group at 6,000 rows); a plain
 * join on the unnested ids became a nested loop with the whole partial index as its outer side
 * (200-700 ms a group at 8,000 rows, batches at 32 sessions). The LIMIT keeps the lateral
 * subquery from being pulled up into a join the planner could reorder.
 */
export async function findSucceeded(
  sql: Sql,
  requestIds: string[],
): Promise<Map<string, Succeeded>> {
  if (requestIds.length === 0) return new Map();
  const rows = await sql<
    {
      id: string;
      request_id: string;
      body_sha256: string | null;
      response: Record<string, unknown> | null;
    }[]
  >`
    SELECT w.id, w.request_id, w.body_sha256, w.response
    FROM unnest(${requestIds}::text[]) AS r(request_id)
    CROSS JOIN LATERAL (
      SELECT w.id, w.request_id, w.body_sha256, w.response FROM webhook_events w
      WHERE w.request_id = r.request_id AND w.status = 'SUCCESS'
      LIMIT 1
    ) w`;
  return new Map(rows.map((row) => [
    row.request_id,
    { id: row.id, bodySha256: row.body_sha256, response: row.response },
  ]));
}

/**
 * Rows left RECEIVED or PROCESSING by a server that died mid-request: the client never got a
 * 200 for them and will retry, so they end as ERROR. Only rows of instances that are gone (no
 * heartbeat for `staleMs`, stopped, or unknown): a live peer is still working on its own.
 */
export async function sweepStale(
  sql: Sql,
  self: { instanceId: string; staleMs: number },
): Promise<number> {
  const rows = await sql`
    UPDATE webhook_events SET
      status = 'ERROR', error_code = 'INTERRUPTED',
      error_message = 'the server stopped before this request finished',
      completed_at = clock_timestamp()
    WHERE status IN ('RECEIVED', 'PROCESSING')
      AND instance_id IS DISTINCT FROM ${self.instanceId}
      AND NOT EXISTS (
        SELECT 1 FROM instances i
        WHERE i.id = webhook_events.instance_id AND i.stopped_at IS NULL
          AND i.heartbeat_at > now() - make_interval(secs => ${self.staleMs / 1000}))
    RETURNING id`;
  return rows.length;
}
