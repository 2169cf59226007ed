// Every read the dashboard makes, as postgres.js tagged templates over the tables of
// migrations/0001_init.sql. Pages render what these return; nothing here knows about HTML.
import type { Sql } from "../store/open.ts";
import { findSucceeded } from "../server/audit.ts";
import type {
  ConversationRow,
  MessageRow,
  TokenUsageRow,
  ToolUseRow,
  WebhookEventRow,
  WebhookStatus,
} from "../schema.ts";
import { FAILED_STATUSES, OK_STATUSES, WebhookStatus as WebhookStatusSchema } from "../schema.ts";
import {
  type CostBucket,
  costByDayAndModel,
  type CostTotals,
  type MessageCost,
  messageCosts,
  NO_COST,
  sessionCosts,
} from "../read/cost.ts";
import { type AgentNode, agentTree } from "../read/agents.ts";

/** The overview's cost panel spans this many days, whatever the window. */
export const COST_DAYS = 30;

export const WINDOWS = {
  "15m": { ms: 15 * 60_000, bucketMs: 30_000, label: "15 min" },
  "24h": { ms: 24 * 3_600_000, bucketMs: 30 * 60_000, label: "24 h" },
  "7d": { ms: 7 * 86_400_000, bucketMs: 3 * 3_600_000, label: "7 d" },
} as const;
export type WindowName = keyof typeof WINDOWS;

export function parseWindow(text: string | undefined): WindowName {
  return text !== undefined && text in WINDOWS ? text as WindowName : "15m";
}

export interface Bucket {
  start: number;
  ok: number;
  failed: number;
  p95: number | null;
}

export interface Overview {
  window: WindowName;
  now: number;
  total: number;
  ok: number;
  failed: number;
  inFlight: number;
  successRate: number | null;
  perSecondWindow: number;
  perSecondLastMinute: number;
  p50: number | null;
  p95: number | null;
  byStatus: { status: WebhookStatus; n: number }[];
  byEvent: { event: string; n: number; failed: number }[];
  buckets: Bucket[];
  openSessions: number;
  lastEventAt: Date | null;
  /** The latest spool counts each sending machine and project reported with an event. */
  spools: SpoolReport[];
  /** Dollars by UTC day and model over the last COST_DAYS days. */
  costs: CostBucket[];
}

export interface SpoolReport {
  host: string | null;
  project: string | null;
  pending: number;
  failed: number;
  reportedAt: string;
}

const num = (value: unknown): number | null =>
  value === null || value === undefined ? null : Number(value);

export async function overview(sql: Sql, window: WindowName, now = Date.now()): Promise<Overview> {
  const { ms, bucketMs } = WINDOWS[window];
  const since = new Date(now - ms);
  const minuteAgo = new Date(now - 60_000);
  const bucketSec = bucketMs / 1000;
  const [byStatus, byEvent, [totals], buckets, [sessions], spools, costs] = await Promise.all([
    sql<{ status: WebhookStatus; n: number }[]>`
      SELECT status, count(*)::int AS n FROM webhook_events
      WHERE received_at >= ${since} GROUP BY status ORDER BY n DESC`,
    sql<{ event: string; n: number; failed: number }[]>`
      SELECT coalesce(event_type, '(unknown)') AS event, count(*)::int AS n,
             count(*) FILTER (WHERE status::text IN ${
      sql(FAILED_STATUSES as string[])
    })::int AS failed
      FROM webhook_events WHERE received_at >= ${since}
      GROUP BY 1 ORDER BY n DESC, event LIMIT 30`,
    sql<{ p50: number | null; p95: number | null; last_minute: number; last_at: Date | null }[]>`
      SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY processing_ms) AS p50,
             percentile_cont(0.95) WITHIN GROUP (ORDER BY processing_ms) AS p95,
             count(*) FILTER (WHERE received_at >= ${minuteAgo})::int AS last_minute,
             (SELECT max(received_at) FROM webhook_events) AS last_at
      FROM webhook_events WHERE received_at >= ${since}`,
    sql<{ b: string; ok: number; failed: number; p95: number | null }[]>`
      SELECT floor(extract(epoch FROM received_at) / ${bucketSec})::bigint AS b,
             count(*) FILTER (WHERE status::text IN ${sql(OK_STATUSES as string[])})::int AS ok,
             count(*) FILTER (WHERE status::text IN ${
      sql(FAILED_STATUSES as string[])
    })::int AS failed,
             percentile_cont(0.95) WITHIN GROUP (ORDER BY processing_ms) AS p95
      FROM webhook_events WHERE received_at >= ${since}
      GROUP BY b ORDER BY b`,
    sql<{ open: number }[]>`
      SELECT count(*)::int AS open FROM conversations
      WHERE ended_at IS NULL AND coalesce(last_event_at, first_seen_at) >= ${new Date(
      now - 86_400_000,
    )}`,
    // By the time the hook saw the counts (occurredAt), not by arrival: a backlog drained late
    // must not overwrite a newer report.
    sql<SpoolReport[]>`
      SELECT DISTINCT ON (host, project) host, project, pending, failed, reported_at AS "reportedAt"
      FROM (
        SELECT payload->'source'->>'host' AS host, payload->'source'->>'projectDir' AS project,
               (payload->'source'->'spool'->>'pending')::int AS pending,
               (payload->'source'->'spool'->>'failed')::int AS failed,
               payload->>'occurredAt' AS reported_at
        FROM webhook_events
        WHERE received_at >= ${since} AND status IN ('SUCCESS', 'DUPLICATE')
          AND jsonb_typeof(payload->'source'->'spool') = 'object'
      ) reports
      ORDER BY host, project, reported_at DESC
      LIMIT 50`,
    costByDayAndModel(sql, new Date(now - COST_DAYS * 86_400_000)),
  ]);
  const count = (statuses: readonly WebhookStatus[]) =>
    byStatus.filter((row) => statuses.includes(row.status)).reduce((sum, row) => sum + row.n, 0);
  const total = byStatus.reduce((sum, row) => sum + row.n, 0);
  const inFlight = count(["RECEIVED", "PROCESSING"]);
  const ok = count(OK_STATUSES);
  const failed = count(FAILED_STATUSES);
  // A full series (empty buckets included) so the charts keep a stable time axis.
  const first = Math.floor((now - ms) / bucketMs);
  const last = Math.floor(now / bucketMs);
  const found = new Map(buckets.map((row) => [Number(row.b), row]));
  const series: Bucket[] = [];
  for (let b = first; b <= last; b++) {
    const row = found.get(b);
    series.push({
      start: b * bucketMs,
      ok: row?.ok ?? 0,
      failed: row?.failed ?? 0,
      p95: num(row?.p95),
    });
  }
  return {
    window,
    now,
    total,
    ok,
    failed,
    inFlight,
    successRate: ok + failed > 0 ? ok / (ok + failed) : null,
    perSecondWindow: total / (ms / 1000),
    perSecondLastMinute: totals.last_minute / 60,
    p50: num(totals.p50),
    p95: num(totals.p95),
    byStatus,
    byEvent,
    buckets: series,
    openSessions: sessions.open,
    lastEventAt: totals.last_at,
    spools,
    costs,
  };
}

// ---------------------------------------------------------------------------------------------
// Audit log
// ---------------------------------------------------------------------------------------------

export interface EventFilter {
  status?: WebhookStatus;
  event?: string;
  session?: string;
  /** The name of the API key that sent the rows. */
  key?: string;
  from?: Date;
  to?: Date;
  /** requestId or traceId, or a prefix of one. */
  q?: string;
  /** Only rows with an id below this (keyset pagination, newest first). */
  before?: string;
}

function parseDate(text: string | undefined): Date | undefined {
  if (!text) return undefined;
  // datetime-local inputs carry no zone; the form labels them UTC.
  const zoned = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?$/.test(text) ? `${text}Z` : text;
  const date = new Date(zoned);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** Reads the filter from query parameters, dropping anything malformed. */
export function parseEventFilter(query: Record<string, string | undefined>): EventFilter {
  const status = WebhookStatusSchema.safeParse(query.status);
  const trimmed = (value: string | undefined) => value?.trim().slice(0, 256) || undefined;
  return {
    status: status.success ? status.data : undefined,
    event: trimmed(query.event),
    session: trimmed(query.session),
    key: trimmed(query.key),
    from: parseDate(query.from),
    to: parseDate(query.to),
    q: trimmed(query.q)?.toLowerCase(),
    before: /^\d{1,18}$/.test(query.before ?? "") ? query.before : undefined,
  };
}

export type EventListRow = Pick<
  WebhookEventRow,
  | "id"
  | "request_id"
  | "trace_id"
  | "session_id"
  | "event_type"
  | "status"
  | "stage"
  | "http_status"
  | "error_code"
  | "received_at"
  | "processing_ms"
  | "attempt"
>;

function likePrefix(text: string): string {
  return text.replace(/[\\%_]/g, (ch) => `\\${ch}`) + "%";
}

export async function listEvents(
  sql: Sql,
  filter: EventFilter,
  limit = 50,
): Promise<{ rows: EventListRow[]; next: string | undefined }> {
  const rows = await sql<EventListRow[]>`
    SELECT id, request_id, trace_id, session_id, event_type, status, stage, http_status,
           error_code, received_at, processing_ms, attempt
    FROM webhook_events
    WHERE true
      ${filter.status ? sql`AND status = ${filter.status}::webhook_status` : sql``}
      ${filter.event ? sql`AND event_type = ${filter.event}` : sql``}
      ${filter.session ? sql`AND session_id = ${filter.session}` : sql``}
      ${filter.key ? sql`AND key_name = ${filter.key}` : sql``}
      ${filter.from ? sql`AND received_at >= ${filter.from}` : sql``}
      ${filter.to ? sql`AND received_at < ${filter.to}` : sql``}
      ${
    filter.q
      ? sql`AND (request_id LIKE ${likePrefix(filter.q)} OR trace_id LIKE ${likePrefix(filter.q)})`
      : sql``
  }
      ${filter.before ? sql`AND id < ${filter.before}` : sql``}
    ORDER BY id DESC
    LIMIT ${limit + 1}`;
  const more = rows.length > limit;
  const page = rows.slice(0, limit);
  return { rows: page, next: more ? String(page[page.length - 1].id) : undefined };
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
    SELECT id, request_id, trace_id, session_id, event_type, status, stage, http_status,
           error_code, received_at, processing_ms, attempt
    FROM webhook_events
    WHERE id <> ${row.id}
      AND (trace_id = ${row.trace_id ?? ""} OR request_id = ${row.request_id ?? ""})
    ORDER BY id
    LIMIT 200`;
}

export async function hasSucceeded(sql: Sql, requestId: string): Promise<boolean> {
  return (await findSucceeded(sql, [requestId])).has(requestId);
}

// ---------------------------------------------------------------------------------------------
// Failed events
// ---------------------------------------------------------------------------------------------

export interface FailedRow extends EventListRow {
  error_message: string | null;
  has_payload: boolean;
  resolved: boolean;
}

export async function failedEvents(
  sql: Sql,
  options: { code?: string; includeResolved?: boolean; before?: string; limit?: number },
): Promise<{ groups: { code: string; n: number }[]; rows: FailedRow[]; next?: string }> {
  const limit = options.limit ?? 100;
  const unresolved = options.includeResolved ? sql`` : sql`AND NOT EXISTS (
      SELECT 1 FROM webhook_events s WHERE s.request_id = e.request_id AND s.status = 'SUCCESS')`;
  const statuses = sql(FAILED_STATUSES as string[]);
  const [groups, rows] = await Promise.all([
    sql<{ code: string; n: number }[]>`
      SELECT coalesce(error_code, status::text) AS code, count(*)::int AS n
      FROM webhook_events e WHERE status::text IN ${statuses} ${unresolved}
      GROUP BY 1 ORDER BY n DESC, code`,
    sql<FailedRow[]>`
      SELECT id, request_id, trace_id, session_id, event_type, status, stage, http_status,
             error_code, received_at, processing_ms, attempt, error_message,
             payload IS NOT NULL AS has_payload,
             EXISTS (SELECT 1 FROM webhook_events s
                     WHERE s.request_id = e.request_id AND s.status = 'SUCCESS') AS resolved
      FROM webhook_events e
      WHERE status::text IN ${statuses} ${unresolved}
        ${options.code ? sql`AND coalesce(error_code, status::text) = ${options.code}` : sql``}
        ${options.before ? sql`AND id < ${options.before}` : sql``}
      ORDER BY id DESC LIMIT ${limit + 1}`,
  ]);
  const more = rows.length > limit;
  const page = rows.slice(0, limit);
  return { groups, rows: page, next: more ? String(page[page.length - 1].id) : undefined };
}

// ---------------------------------------------------------------------------------------------
// Sessions and conversations
// ---------------------------------------------------------------------------------------------

export interface SessionListRow {
  id: string;
  session_id: string;
  project_dir: string | null;
  cwd: string | null;
  model: string | null;
  started: Date;
  ended_at: Date | null;
  last_at: Date | null;
  end_reason: string | null;
  prompts: number;
  tool_calls: number;
  tool_failures: number;
  input_tokens: string;
  output_tokens: string;
  cache_tokens: string;
  first_prompt: string | null;
  cost: CostTotals;
}

export async function listSessions(
  sql: Sql,
  options: { q?: string; key?: string; offset?: number; limit?: number },
): Promise<{ rows: SessionListRow[]; more: boolean }> {
  const limit = options.limit ?? 50;
  const q = options.q?.trim().slice(0, 500);
  const pattern = q ? "%" + q.replace(/[\\%_]/g, (ch) => `\\${ch}`) + "%" : undefined;
  const rows = await sql<Omit<SessionListRow, "cost">[]>`
    SELECT c.id, c.session_id, c.project_dir, c.cwd, c.model,
           coalesce(c.started_at, c.first_seen_at) AS started, c.ended_at,
           coalesce(c.ended_at, c.last_event_at) AS last_at, c.end_reason,
           (SELECT coalesce(nullif(count(*) FILTER (WHERE m.source = 'prompt'), 0), count(*))
              FROM messages m WHERE m.conversation_id = c.id AND m.role = 'user'
                AND m.agent_id IS NULL)::int AS prompts,
           (SELECT count(*) FROM tool_uses t WHERE t.conversation_id = c.id)::int AS tool_calls,
           (SELECT count(*) FROM tool_uses t
              WHERE t.conversation_id = c.id AND t.status = 'failure')::int AS tool_failures,
           u.input_tokens, u.output_tokens, u.cache_tokens,
           (SELECT m.content FROM messages m
              WHERE m.conversation_id = c.id AND m.role = 'user' AND m.content IS NOT NULL
                AND m.agent_id IS NULL
              ORDER BY m.occurred_at NULLS LAST, m.id LIMIT 1) AS first_prompt
    FROM conversations c
    CROSS JOIN LATERAL (
      SELECT coalesce(sum(input_tokens), 0)::text AS input_tokens,
             coalesce(sum(output_tokens), 0)::text AS output_tokens,
             coalesce(sum(cache_read_input_tokens + cache_creation_input_tokens), 0)::text
               AS cache_tokens
      FROM token_usage tu WHERE tu.conversation_id = c.id) u
    WHERE true
      ${
    pattern
      ? sql`AND EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id
                  AND m.role = 'user' AND m.content ILIKE ${pattern})`
      : sql``
  }
      ${options.key ? sql`AND c.key_name = ${options.key}` : sql``}
    ORDER BY coalesce(c.started_at, c.first_seen_at) DESC, c.id DESC
    LIMIT ${limit + 1} OFFSET ${options.offset ?? 0}`;
  const page = rows.slice(0, limit);
  const costs = await sessionCosts(sql, page.map((row) => String(row.id)));
  return {
    rows: page.map((row) => ({ ...row, cost: costs.get(String(row.id)) ?? NO_COST })),
    more: rows.length > limit,
  };
}

export interface Conversation {
  conversation: ConversationRow;
  messages: MessageRow[];
  tools: ToolUseRow[];
  usage: TokenUsageRow[];
  failedEvents: number;
  /** Dollars per API message, by message_id. */
  costs: Map<string, MessageCost>;
  cost: CostTotals;
  agents: AgentNode[];
}

export async function getConversation(
  sql: Sql,
  sessionId: string,
): Promise<Conversation | undefined> {
  const [conversation] = await sql<ConversationRow[]>`
    SELECT * FROM conversations WHERE session_id = ${sessionId}`;
  if (!conversation) return undefined;
  const [messages, tools, usage, [failed], costs, cost, agents] = await Promise.all([
    sql<MessageRow[]>`
      SELECT * FROM messages WHERE conversation_id = ${conversation.id}
      ORDER BY coalesce(occurred_at, created_at), id LIMIT 5000`,
    sql<ToolUseRow[]>`
      SELECT * FROM tool_uses WHERE conversation_id = ${conversation.id}
      ORDER BY coalesce(pre_at, post_at), id LIMIT 5000`,
    sql<TokenUsageRow[]>`
      SELECT * FROM token_usage WHERE conversation_id = ${conversation.id}
      ORDER BY occurred_at NULLS LAST`,
    sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM webhook_events e
      WHERE session_id = ${sessionId} AND status::text IN ${sql(FAILED_STATUSES as string[])}
        AND NOT EXISTS (SELECT 1 FROM webhook_events s
                        WHERE s.request_id = e.request_id AND s.status = 'SUCCESS')`,
    messageCosts(sql, conversation.id),
    sessionCosts(sql, [conversation.id]),
    agentTree(sql, conversation.id),
  ]);
  return {
    conversation,
    messages,
    tools,
    usage,
    failedEvents: failed.n,
    costs: new Map(costs.map((row) => [row.message_id, row])),
    cost: cost.get(String(conversation.id)) ?? NO_COST,
    agents,
  };
}
