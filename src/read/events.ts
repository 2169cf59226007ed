// The audit trail: rows newest first with filters and keyset paging, one row in full, the
// deliveries related to it, and the failed rows still waiting to be stored.
import type { Sql } from "../store/open.ts";
import { FAILED_STATUSES, type WebhookEventRow, type WebhookStatus } from "../schema.ts";
import { decodeCursor, encodeCursor } from "./cursor.ts";
import { likePattern } from "./text.ts";

export interface EventFilter {
  statuses?: readonly WebhookStatus[];
  event?: string;
  session?: string;
  /** The name of the API key that sent the rows. */
  key?: string;
  /** received_at >= from */
  from?: Date;
  /** received_at < to */
  to?: Date;
  /** A prefix of a requestId, traceId or session id, or words in the error message. */
  q?: string;
}

/** An audit row without its payload and response (those are on the row's own page). */
export type EventListRow = Omit<WebhookEventRow, "payload" | "response">;

const LIST_COLUMNS = [
  "id",
  "request_id",
  "trace_id",
  "span_id",
  "session_id",
  "event_type",
  "conversation_id",
  "status",
  "stage",
  "http_status",
  "error_code",
  "error_message",
  "body_sha256",
  "headers",
  "ip",
  "user_agent",
  "attempt",
  "batch_id",
  "stage_timings",
  "received_at",
  "completed_at",
  "processing_ms",
  "key_name",
  "instance_id",
];

export async function listEvents(
  sql: Sql,
  filter: EventFilter,
  page: { limit: number; cursor?: string },
): Promise<{ events: EventListRow[]; nextCursor: string | null }> {
  const before = decodeCursor(page.cursor, ["id"])?.[0];
  const q = filter.q;
  const rows = await sql<EventListRow[]>`
    SELECT ${sql(LIST_COLUMNS)} FROM webhook_events
    WHERE true
      ${before ? sql`AND id < ${before}::bigint` : sql``}
      ${filter.statuses?.length ? sql`AND status::text IN ${sql(filter.statuses)}` : sql``}
      ${filter.event ? sql`AND event_type = ${filter.event}` : sql``}
      ${filter.session ? sql`AND session_id = ${filter.session}` : sql``}
      ${filter.key ? sql`AND key_name = ${filter.key}` : sql``}
      ${filter.from ? sql`AND received_at >= ${filter.from}` : sql``}
      ${filter.to ? sql`AND received_at < ${filter.to}` : sql``}
      ${
    q
      ? sql`AND (request_id LIKE ${likePattern(q, "prefix")}
              OR trace_id LIKE ${likePattern(q, "prefix")}
              OR session_id LIKE ${likePattern(q, "prefix")}
              OR error_message ILIKE ${likePattern(q, "contains")})`
      : sql``
  }
    ORDER BY id DESC
    LIMIT ${page.limit + 1}`;
  const events = rows.slice(0, page.limit);
  return {
    events,
    nextCursor: rows.length > page.limit ? encodeCursor([String(events.at(-1)!.id)]) : null,
  };
}

export async function eventTypes(sql: Sql): Promise<string[]> {
  const rows = await sql<{ event_type: string }[]>`
    SELECT DISTINCT event_type FROM webhook_events WHERE event_type IS NOT NULL
    ORDER BY event_type LIMIT 100`;
  return rows.map((row) => row.event_type);
}

export async function getEvent(sql: Sql, id: string): Promise<WebhookEventRow | undefined> {
  if (!/^\d{1,18}$/.test(id)) return undefined;
  const [row] = await sql<WebhookEventRow[]>`SELECT * FROM webhook_events WHERE id = ${id}`;
  return row;
}

/** Every other delivery in the same trace (retries, reprocessing) or of the same requestId. */
export function relatedEvents(sql: Sql, row: WebhookEventRow): Promise<EventListRow[]> {
  return sql<EventListRow[]>`
    SELECT ${sql(LIST_COLUMNS)} FROM webhook_events
    WHERE id <> ${row.id}
      AND (trace_id = ${row.trace_id ?? ""} OR request_id = ${row.request_id ?? ""})
    ORDER BY id
    LIMIT 200`;
}

export async function hasSucceeded(sql: Sql, requestId: string): Promise<boolean> {
  const [row] = await sql`
    SELECT 1 FROM webhook_events WHERE request_id = ${requestId} AND status = 'SUCCESS' LIMIT 1`;
  return row !== undefined;
}

/** A failed row is resolved once a delivery of the same requestId succeeded. */
const unresolved = (sql: Sql) =>
  sql`NOT EXISTS (SELECT 1 FROM webhook_events s
        WHERE s.request_id = e.request_id AND s.status = 'SUCCESS')`;

export async function unresolvedFailures(sql: Sql, sessionId: string): Promise<number> {
  const [row] = await sql<{ n: number }[]>`
    SELECT count(*)::int AS n FROM webhook_events e
    WHERE session_id = ${sessionId} AND status::text IN ${sql(FAILED_STATUSES)}
      AND ${unresolved(sql)}`;
  return row.n;
}

export interface FailedRow extends EventListRow {
  has_payload: boolean;
  resolved: boolean;
}

export async function failedEvents(
  sql: Sql,
  options: { code?: string; includeResolved?: boolean; cursor?: string; limit?: number },
): Promise<
  { groups: { code: string; n: number }[]; rows: FailedRow[]; nextCursor: string | null }
> {
  const limit = options.limit ?? 100;
  const before = decodeCursor(options.cursor, ["id"])?.[0];
  const which = options.includeResolved ? sql`` : sql`AND ${unresolved(sql)}`;
  const statuses = sql(FAILED_STATUSES);
  const [groups, rows] = await Promise.all([
    sql<{ code: string; n: number }[]>`
      SELECT coalesce(error_code, status::text) AS code, count(*)::int AS n
      FROM webhook_events e WHERE status::text IN ${statuses} ${which}
      GROUP BY 1 ORDER BY n DESC, code`,
    sql<FailedRow[]>`
      SELECT ${sql(LIST_COLUMNS)}, payload IS NOT NULL AS has_payload,
             NOT ${unresolved(sql)} AS resolved
      FROM webhook_events e
      WHERE status::text IN ${statuses} ${which}
        ${options.code ? sql`AND coalesce(error_code, status::text) = ${options.code}` : sql``}
        ${before ? sql`AND id < ${before}::bigint` : sql``}
      ORDER BY id DESC LIMIT ${limit + 1}`,
  ]);
  const page = rows.slice(0, limit);
  return {
    groups,
    rows: page,
    nextCursor: rows.length > limit ? encodeCursor([String(page.at(-1)!.id)]) : null,
  };
}
