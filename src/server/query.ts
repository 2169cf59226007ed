// The read API: sessions (newest first, with counts and token totals), one session as a
// timeline, and the audit trail with filters. Keyset pagination with opaque cursors.
import { Hono } from "hono";
import { parseDuration } from "../config.ts";
import { WebhookStatus } from "../schema.ts";
import type { ServerDeps } from "./deps.ts";
import {
  costByDayAndModel,
  costByProject,
  messageCosts,
  NO_COST,
  sessionCosts,
} from "../read/cost.ts";
import { agentTree } from "../read/agents.ts";

const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 500;
const TIMELINE_MAX = 10_000;

class BadQuery extends Error {}

function limitOf(text: string | undefined): number {
  if (text === undefined) return DEFAULT_LIMIT;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new BadQuery("limit must be a positive integer");
  return Math.min(n, MAX_LIMIT);
}

function encodeCursor(value: unknown): string {
  return btoa(JSON.stringify(value)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function decodeCursor<T>(
  text: string | undefined,
  check: (value: unknown) => value is T,
): T | null {
  if (!text) return null;
  try {
    const value = JSON.parse(atob(text.replace(/-/g, "+").replace(/_/g, "/")));
    if (check(value)) return value;
  } catch { /* fall through */ }
  throw new BadQuery("cursor is not one this server issued");
}

function sinceOf(text: string | undefined): Date | null {
  if (!text) return null;
  const duration = parseDuration(text);
  if (duration !== undefined) return new Date(Date.now() - duration);
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new BadQuery("since must be an ISO time or a duration like 15m");
  return new Date(ms);
}

const isSessionCursor = (v: unknown): v is [string, string] =>
  Array.isArray(v) && v.length === 2 && typeof v[0] === "string" && /^\d+$/.test(String(v[1]));
const isEventCursor = (v: unknown): v is string => typeof v === "string" && /^\d+$/.test(v);

export function queryRoutes(deps: ServerDeps): Hono {
  const app = new Hono();
  const { sql } = deps;

  app.onError((error, c) => {
    if (error instanceof BadQuery) {
      return c.json({ status: "INVALID", message: error.message }, 400);
    }
    throw error;
  });

  app.get("/sessions", async (c) => {
    const limit = limitOf(c.req.query("limit"));
    const cursor = decodeCursor(c.req.query("cursor"), isSessionCursor);
    const key = c.req.query("key");
    const rows = await sql`
      SELECT c.*, coalesce(c.started_at, c.first_seen_at)::text AS sort_at,
        m.prompts, m.assistant_messages, t.tool_uses, t.tool_failures,
        u.input_tokens, u.output_tokens, u.cache_creation_input_tokens, u.cache_read_input_tokens
      FROM conversations c
      CROSS JOIN LATERAL (
        SELECT count(*) FILTER (WHERE role = 'user' AND agent_id IS NULL)::int AS prompts,
          count(*) FILTER (WHERE role = 'assistant')::int AS assistant_messages
        FROM messages WHERE conversation_id = c.id) m
      CROSS JOIN LATERAL (
        SELECT count(*)::int AS tool_uses,
          count(*) FILTER (WHERE status = 'failure')::int AS tool_failures
        FROM tool_uses WHERE conversation_id = c.id) t
      CROSS JOIN LATERAL (
        SELECT coalesce(sum(input_tokens), 0)::float8 AS input_tokens,
          coalesce(sum(output_tokens), 0)::float8 AS output_tokens,
          coalesce(sum(cache_creation_input_tokens), 0)::float8 AS cache_creation_input_tokens,
          coalesce(sum(cache_read_input_tokens), 0)::float8 AS cache_read_input_tokens
        FROM token_usage WHERE conversation_id = c.id) u
      WHERE ${
      cursor
        ? sql`(coalesce(c.started_at, c.first_seen_at), c.id) < (${cursor[0]}::timestamptz, ${
          cursor[1]
        }::bigint)`
        : sql`true`
    }
        ${key ? sql`AND c.key_name = ${key}` : sql``}
      ORDER BY coalesce(c.started_at, c.first_seen_at) DESC, c.id DESC
      LIMIT ${limit + 1}`;
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    const costs = await sessionCosts(sql, page.map((row) => String(row.id)));
    return c.json({
      sessions: page.map(({ sort_at: _sortAt, ...row }) => ({
        ...row,
        ...(costs.get(String(row.id)) ?? NO_COST),
      })),
      nextCursor: rows.length > limit && last ? encodeCursor([last.sort_at, last.id]) : null,
    });
  });

  app.get("/sessions/:sessionId", async (c) => {
    const sessionId = c.req.param("sessionId");
    const [conversation] = await sql`SELECT * FROM conversations WHERE session_id = ${sessionId}`;
    if (!conversation) {
      return c.json({ status: "NOT_FOUND", message: `no session ${sessionId}` }, 404);
    }
    const [messages, tools, [totals], [events], usage, costs, agents] = await Promise.all([
      sql`SELECT * FROM messages WHERE conversation_id = ${conversation.id}
          ORDER BY occurred_at NULLS LAST, id LIMIT ${TIMELINE_MAX}`,
      sql`SELECT * FROM tool_uses WHERE conversation_id = ${conversation.id}
          ORDER BY coalesce(pre_at, post_at) NULLS LAST, id LIMIT ${TIMELINE_MAX}`,
      sql`SELECT coalesce(sum(input_tokens), 0)::float8 AS input_tokens,
            coalesce(sum(output_tokens), 0)::float8 AS output_tokens,
            coalesce(sum(cache_creation_input_tokens), 0)::float8 AS cache_creation_input_tokens,
            coalesce(sum(cache_creation_5m_input_tokens), 0)::float8
              AS cache_creation_5m_input_tokens,
            coalesce(sum(cache_creation_1h_input_tokens), 0)::float8
              AS cache_creation_1h_input_tokens,
            coalesce(sum(cache_read_input_tokens), 0)::float8 AS cache_read_input_tokens
          FROM token_usage WHERE conversation_id = ${conversation.id}`,
      // Events processed for this session: a DUPLICATE delivery is not another event.
      sql`SELECT count(*)::int AS events FROM webhook_events
          WHERE session_id = ${sessionId} AND status = 'SUCCESS'`,
      messageCosts(sql, conversation.id),
      sessionCosts(sql, [conversation.id]),
      agentTree(sql, conversation.id),
    ]);
    // Each API message's usage and dollars go on its first transcript block.
    const usageOf = new Map(usage.map((u) => [`${u.message_id}\u0000${u.api_request_id}`, u]));
    const at = (value: unknown) => value instanceof Date ? value.getTime() : Infinity;
    const timeline = [
      ...messages.map((m) => {
        const key = `${m.message_id}\u0000${m.api_request_id}`;
        const own = usageOf.get(key);
        usageOf.delete(key);
        return {
          kind: "message" as const,
          at: m.occurred_at,
          ...m,
          ...(own ? { usage: own } : {}),
        };
      }),
      ...tools.map((t) => ({ kind: "tool_use" as const, at: t.pre_at ?? t.post_at, ...t })),
    ].sort((a, b) => at(a.at) - at(b.at));
    return c.json({
      conversation,
      totals: { ...totals, ...events, ...(costs.get(String(conversation.id)) ?? NO_COST) },
      agents,
      timeline,
    });
  });

  app.get("/cost", async (c) => {
    const since = sinceOf(c.req.query("since") ?? "30d")!;
    const [byDayAndModel, byProject] = await Promise.all([
      costByDayAndModel(sql, since),
      costByProject(sql, since),
    ]);
    return c.json({ since, by_day_and_model: byDayAndModel, by_project: byProject });
  });

  app.get("/events", async (c) => {
    const limit = limitOf(c.req.query("limit"));
    const cursor = decodeCursor(c.req.query("cursor"), isEventCursor);
    const statusText = c.req.query("status");
    const statuses = statusText ? statusText.split(",") : [];
    for (const status of statuses) {
      if (!WebhookStatus.safeParse(status).success) {
        throw new BadQuery(`status must be one of ${WebhookStatus.options.join(", ")}`);
      }
    }
    const event = c.req.query("event");
    const session = c.req.query("session");
    const key = c.req.query("key");
    const since = sinceOf(c.req.query("since"));
    const q = c.req.query("q")?.trim();
    const rows = await sql`
      SELECT id, request_id, trace_id, span_id, session_id, event_type, conversation_id, status,
        stage, http_status, error_code, error_message, body_sha256, headers, ip, user_agent,
        attempt, batch_id, stage_timings, received_at, completed_at, processing_ms, key_name,
        instance_id
      FROM webhook_events
      WHERE true
        ${cursor ? sql`AND id < ${cursor}::bigint` : sql``}
        ${statuses.length ? sql`AND status = ANY(${statuses}::webhook_status[])` : sql``}
        ${event ? sql`AND event_type = ${event}` : sql``}
        ${session ? sql`AND session_id = ${session}` : sql``}
        ${key ? sql`AND key_name = ${key}` : sql``}
        ${since ? sql`AND received_at >= ${since}` : sql``}
        ${
      q
        ? sql`AND (request_id = ${q} OR trace_id = ${q} OR session_id = ${q}
              OR error_message ILIKE ${"%" + q.replace(/[%_\\]/g, "\\$&") + "%"})`
        : sql``
    }
      ORDER BY id DESC
      LIMIT ${limit + 1}`;
    const page = rows.slice(0, limit);
    return c.json({
      events: page,
      nextCursor: rows.length > limit ? encodeCursor(String(page.at(-1)!.id)) : null,
    });
  });

  app.get("/events/:id", async (c) => {
    const id = c.req.param("id");
    if (!/^\d{1,18}$/.test(id)) throw new BadQuery("event id must be a number");
    const [row] = await sql`SELECT * FROM webhook_events WHERE id = ${id}`;
    if (!row) return c.json({ status: "NOT_FOUND", message: `no event ${id}` }, 404);
    return c.json(row);
  });

  return app;
}
