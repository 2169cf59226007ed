// Sessions newest first, each with the one definition of its counts and token totals that the
// API, the pages and the exports all show. Keyset paging on (start time, id).
import type { Sql } from "../store/open.ts";
import type { ConversationRow, TokenCounts } from "../schema.ts";
import { isStopCopy } from "./copies.ts";
import { type CostTotals, NO_COST, sessionCosts } from "./cost.ts";
import { decodeCursor, encodeCursor, microsOf, timeOfMicros } from "./cursor.ts";

/** Token sums are numbers: summed as numeric, so no total can overflow a bigint. */
export interface SessionSummary extends ConversationRow, CostTotals, TokenCounts {
  /** started_at, or first_seen_at when SessionStart never arrived: the list's sort key. */
  started: Date;
  first_prompt: string | null;
  /** The person's prompts (subagents' prompts are their own). */
  prompts: number;
  /**
   * Assistant text replies of the main conversation; Stop's copy of a transcript reply is not
   * counted twice. Tool calls, tokens and dollars below include the subagents.
   */
  replies: number;
  tool_uses: number;
  tool_failures: number;
  /** Assistant API messages with usage (one per message.id + requestId). */
  api_calls: number;
}

export interface SessionPage {
  sessions: SessionSummary[];
  nextCursor: string | null;
}

export const DEFAULT_PAGE = 50;
export const MAX_PAGE = 500;

function summaries(sql: Sql, where: ReturnType<Sql>, limit: number) {
  return sql<Raw[]>`
    SELECT c.*, coalesce(c.started_at, c.first_seen_at) AS started,
      ${microsOf(sql, "coalesce(c.started_at, c.first_seen_at)")} AS cursor_at,
      m.first_prompt, m.prompts, m.replies, t.tool_uses, t.tool_failures, u.input_tokens,
      u.output_tokens, u.cache_creation_input_tokens, u.cache_creation_5m_input_tokens,
      u.cache_creation_1h_input_tokens, u.cache_read_input_tokens, u.api_calls
    FROM conversations c
    CROSS JOIN LATERAL (
      SELECT count(*) FILTER (WHERE role = 'user')::int AS prompts,
        count(*) FILTER (WHERE role = 'assistant' AND NOT ${isStopCopy(sql, "x")})::int
          AS replies,
        (SELECT content FROM messages p WHERE p.conversation_id = c.id AND p.role = 'user'
          AND p.agent_id IS NULL AND p.content IS NOT NULL
          ORDER BY p.occurred_at NULLS LAST, p.id LIMIT 1) AS first_prompt
      FROM messages x
      WHERE x.conversation_id = c.id AND x.agent_id IS NULL AND x.content ~ '\\S') m
    CROSS JOIN LATERAL (
      SELECT count(*)::int AS tool_uses,
        count(*) FILTER (WHERE status = 'failure')::int AS tool_failures
      FROM tool_uses WHERE conversation_id = c.id) t
    CROSS JOIN LATERAL (
      SELECT coalesce(sum(input_tokens), 0)::float8 AS input_tokens,
        coalesce(sum(output_tokens), 0)::float8 AS output_tokens,
        coalesce(sum(cache_creation_input_tokens), 0)::float8 AS cache_creation_input_tokens,
        coalesce(sum(cache_creation_5m_input_tokens), 0)::float8
          AS cache_creation_5m_input_tokens,
        coalesce(sum(cache_creation_1h_input_tokens), 0)::float8
          AS cache_creation_1h_input_tokens,
        coalesce(sum(cache_read_input_tokens), 0)::float8 AS cache_read_input_tokens,
        count(*)::int AS api_calls
      FROM token_usage WHERE conversation_id = c.id) u
    WHERE ${where}
    ORDER BY coalesce(c.started_at, c.first_seen_at) DESC, c.id DESC
    LIMIT ${limit}`;
}

type Raw = Omit<SessionSummary, keyof CostTotals> & { cursor_at: string };

/** The rows without their cursor column, each with its dollars (one query for the page). */
async function finish(sql: Sql, rows: Raw[]): Promise<SessionSummary[]> {
  const costs = await sessionCosts(sql, rows.map((row) => String(row.id)));
  return rows.map(({ cursor_at: _cursor, ...row }) => ({
    ...row,
    ...(costs.get(String(row.id)) ?? NO_COST),
  }));
}

export async function listSessions(
  sql: Sql,
  options: { limit?: number; cursor?: string; project?: string; key?: string } = {},
): Promise<SessionPage> {
  const limit = Math.min(options.limit ?? DEFAULT_PAGE, MAX_PAGE);
  const after = decodeCursor(options.cursor, ["micros", "id"]);
  const rows = await summaries(
    sql,
    sql`true
      ${
      after
        ? sql`AND (coalesce(c.started_at, c.first_seen_at), c.id) <
            (${timeOfMicros(sql, after[0])}, ${after[1]}::bigint)`
        : sql``
    }
      ${options.project ? sql`AND c.project_dir = ${options.project}` : sql``}
      ${options.key ? sql`AND c.key_name = ${options.key}` : sql``}`,
    limit + 1,
  );
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    sessions: await finish(sql, page),
    nextCursor: rows.length > limit && last ? encodeCursor([last.cursor_at, last.id]) : null,
  };
}

export async function sessionSummary(
  sql: Sql,
  sessionId: string,
): Promise<SessionSummary | undefined> {
  const rows = await summaries(sql, sql`c.session_id = ${sessionId}`, 1);
  return (await finish(sql, rows))[0];
}
