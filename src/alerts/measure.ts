// What the rules look at, read from the audit trail at a given instant. A stranger's rejected
// key (UNAUTHORIZED) is none of the rules' business: it neither counts as traffic, nor as
// latency, nor as a sign of life.
import type { Sql } from "../store/open.ts";
import type { AlertRule } from "./rules.ts";
import { FAILED_STATUSES, OK_STATUSES } from "../schema.ts";

export interface Measurement {
  /** Whether the rule's condition holds. */
  firing: boolean;
  /** A one-line account of the figures, for the message. */
  detail: string;
}

export async function measure(sql: Sql, rule: AlertRule, now: number): Promise<Measurement> {
  switch (rule.kind) {
    case "error_rate": {
      const [row] = await sql<{ total: number; failed: number }[]>`
        SELECT count(*)::int AS total,
               count(*) FILTER (WHERE status::text IN ${sql(FAILED_STATUSES as string[])})::int
                 AS failed
        FROM webhook_events
        WHERE received_at >= ${new Date(now - rule.window)} AND received_at <= ${new Date(now)}
          AND status::text IN ${sql([...OK_STATUSES, ...FAILED_STATUSES])}`;
      const rate = row.total > 0 ? row.failed / row.total : 0;
      return {
        firing: row.total >= rule.minEvents && rate > rule.threshold,
        detail: `${(rate * 100).toFixed(1)}% failed (${row.failed} of ${row.total})`,
      };
    }
    case "p95": {
      const [row] = await sql<{ n: number; p95: number | null }[]>`
        SELECT count(processing_ms)::int AS n,
               percentile_cont(0.95) WITHIN GROUP (ORDER BY processing_ms) AS p95
        FROM webhook_events
        WHERE received_at >= ${new Date(now - rule.window)} AND received_at <= ${new Date(now)}
          AND processing_ms IS NOT NULL AND status <> 'UNAUTHORIZED'`;
      const p95 = row.p95 === null ? null : Number(row.p95);
      return {
        firing: row.n >= rule.minEvents && p95 !== null && p95 > rule.thresholdMs,
        detail: p95 === null
          ? "no timed requests"
          : `p95 ${p95.toFixed(0)} ms over ${row.n} requests`,
      };
    }
    case "no_events": {
      const [row] = await sql<{ last_at: Date | null; open: number }[]>`
        SELECT (SELECT max(received_at) FROM webhook_events
                 WHERE received_at <= ${new Date(now)} AND status <> 'UNAUTHORIZED') AS last_at,
               (SELECT count(*) FROM conversations
                 WHERE ended_at IS NULL
                   AND coalesce(last_event_at, first_seen_at) >= ${new Date(now - rule.openWithin)})
                 ::int AS open`;
      const silentMs = row.last_at ? now - row.last_at.getTime() : Infinity;
      const silent = silentMs > rule.minutes * 60_000;
      const since = row.last_at
        ? `last event ${Math.round(silentMs / 60_000)} min ago`
        : "no events yet";
      return {
        firing: silent && row.open > 0,
        detail: `${since}, ${row.open} open session${row.open === 1 ? "" : "s"}`,
      };
    }
  }
}
