// The overview: throughput, success, latency and spool reports over a time window, from the
// audit trail. Numbers that clients report are clamped here, so one envelope cannot break it.
import type { Sql } from "../store/open.ts";
import type { WebhookStatus } from "../schema.ts";
import { FAILED_STATUSES, OK_STATUSES } from "../schema.ts";
import { type CostBucket, costByDayAndModel } from "./cost.ts";

/** The overview's cost panel spans this many days, whatever the window. */
export const COST_DAYS = 30;

export const WINDOWS = {
  "15m": { ms: 15 * 60_000, bucketMs: 30_000, label: "15 min" },
  "24h": { ms: 24 * 3_600_000, bucketMs: 30 * 60_000, label: "24 h" },
  "7d": { ms: 7 * 86_400_000, bucketMs: 3 * 3_600_000, label: "7 d" },
} as const;
export type WindowName = keyof typeof WINDOWS;

/** A window name, when `text` is one (own properties only: "valueOf" is not a window). */
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
  /** null when the client sent something other than a number. */
  pending: number | null;
  failed: number | null;
  reportedAt: string;
}

const spoolCount = (sql: Sql, field: "pending" | "failed") =>
  sql`CASE WHEN jsonb_typeof(payload->'source'->'spool'->${field}) = 'number'
    THEN least(greatest((payload->'source'->'spool'->${field})::numeric, 0),
      9007199254740991)::float8 END`;

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
    // must not overwrite a newer report. Counts are whatever a client sent: only JSON numbers
    // count, clamped to what a JS number holds exactly, so no report can break the page.
    sql<SpoolReport[]>`
      SELECT DISTINCT ON (host, project) host, project, pending, failed, reported_at AS "reportedAt"
      FROM (
        SELECT payload->'source'->>'host' AS host, payload->'source'->>'projectDir' AS project,
               ${spoolCount(sql, "pending")} AS pending, ${spoolCount(sql, "failed")} AS failed,
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
