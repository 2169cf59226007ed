// The audit trail: every request (and batch item) gets one webhook_events row, inserted as
// soon as its body is parsed and brought to exactly one final status.
import type { Sql } from "../store/open.ts";
import type { IngestAnswer, IngestStage, WebhookStatus } from "../schema.ts";
import type { RequestMeta } from "./deps.ts";
import { jsonValue, type Tx } from "./process.ts";

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
  conversationId?: string | null;
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

function row(fields: AuditFields, meta: RequestMeta, final?: AuditFinal) {
  return {
    request_id: fields.requestId,
    trace_id: fields.traceId ?? meta.traceId,
    span_id: fields.spanId ?? meta.spanId,
    session_id: fields.sessionId,
    event_type: fields.event,
    conversation_id: final?.conversationId ?? null,
    status: final?.status ?? "RECEIVED",
    stage: final?.stage ?? "audit",
    http_status: final?.httpStatus ?? null,
    error_code: final?.errorCode ?? null,
    error_message: final?.errorMessage ?? null,
    payload: fields.payload ?? null,
    body_sha256: fields.bodySha256,
    response: final ? final.answer : null,
    headers: meta.headers,
    ip: meta.ip,
    user_agent: meta.userAgent,
    attempt: fields.attempt,
    batch_id: meta.batchId ?? null,
    stage_timings: final?.stageTimings ?? null,
    completed: final !== undefined,
    processing_ms: final?.processingMs ?? null,
    key_name: meta.sender?.keyName ?? null,
    instance_id: meta.sender?.instanceId ?? null,
  };
}

/**
 * Inserts audit rows in one statement (one per batch item, or one for a single request),
 * RECEIVED or already final; returns their ids in input order.
 */
export async function insertAuditRows(
  sql: Sql | Tx,
  rows: { fields: AuditFields; meta: RequestMeta; final?: AuditFinal }[],
): Promise<string[]> {
  const records = rows.map(({ fields, meta, final }, ordinal) => ({
    ordinal,
    ...row(fields, meta, final),
  }));
  const inserted = await sql<{ id: string }[]>`
    INSERT INTO webhook_events (
      request_id, trace_id, span_id, session_id, event_type, conversation_id, status, stage,
      http_status, error_code, error_message, payload, body_sha256, response, headers, ip,
      user_agent, attempt, batch_id, stage_timings, completed_at, processing_ms, key_name,
      instance_id
    )
    SELECT x.request_id, x.trace_id, x.span_id, x.session_id, x.event_type, x.conversation_id,
      x.status::webhook_status, x.stage, x.http_status, x.error_code, x.error_message,
      x.payload, x.body_sha256, x.response, x.headers, x.ip, x.user_agent, x.attempt,
      x.batch_id, x.stage_timings, CASE WHEN x.completed THEN clock_timestamp() END,
      x.processing_ms, x.key_name, x.instance_id
    FROM jsonb_to_recordset(${jsonValue(records)}::jsonb) AS x(
      ordinal int, request_id text, trace_id text, span_id text, session_id text,
      event_type text, conversation_id bigint, status text, stage text, http_status int,
      error_code text, error_message text, payload jsonb, body_sha256 text, response jsonb,
      headers jsonb, ip text, user_agent text, attempt int, batch_id text, stage_timings jsonb,
      completed boolean, processing_ms double precision, key_name text, instance_id text
    )
    ORDER BY x.ordinal
    RETURNING id`;
  // Identity values are drawn in insertion order, so ascending ids follow the ordinals.
  return inserted.map((r) => r.id).sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
}

/** Brings a row to its final status (inside the processing transaction, or after it failed). */
export async function finishAuditRow(sql: Sql | Tx, id: string, final: AuditFinal): Promise<void> {
  await sql`
    UPDATE webhook_events SET
      status = ${final.status}::webhook_status,
      stage = ${final.stage},
      http_status = ${final.httpStatus},
      response = ${jsonValue(final.answer)}::jsonb,
      error_code = ${final.errorCode ?? null},
      error_message = ${final.errorMessage ?? null},
      conversation_id = coalesce(${final.conversationId ?? null}::bigint, conversation_id),
      stage_timings = ${jsonValue(final.stageTimings)}::jsonb,
      completed_at = clock_timestamp(),
      processing_ms = ${final.processingMs}
    WHERE id = ${id}`;
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
