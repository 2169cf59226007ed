// The SQL for the rows src/record/ extracts: transcript rows (messages, prompts, tool calls
// and results, usage, agents, first/last times) and event rows (agents, permissions, session
// events). Every statement is an idempotent, order-independent upsert, one per table, sent
// without waiting (pipelined: postgres.js runs a connection's queries in the order sent).
import type { Envelope } from "../schema.ts";
import type { EventRows } from "../record/event_rows.ts";
import type { AgentIntent, PromptIntent, TranscriptRows } from "../record/transcript_rows.ts";
import type postgres from "postgres";
import { jsonValue } from "../store/json.ts";

type Tx = postgres.TransactionSql;
/** Statements sent and not yet answered; the group awaits them before it commits. */
export type Sent = Promise<unknown>[];

/**
 * A prompt event and a transcript user line with the same text this close together are one
 * prompt (the hook fires as the line is written); farther apart they are the user repeating it.
 */
export const PROMPT_MATCH_SECONDS = 300;

/** One value per key, later fields filling what earlier ones left null. */
function mergeBy<T extends object>(items: T[], key: (item: T) => string): T[] {
  const merged = new Map<string, T>();
  for (const item of items) {
    const known = merged.get(key(item));
    if (!known) {
      merged.set(key(item), { ...item });
      continue;
    }
    for (const [field, value] of Object.entries(item)) {
      const current = (known as Record<string, unknown>)[field];
      if (current === null || current === undefined) {
        (known as Record<string, unknown>)[field] = value;
      }
    }
  }
  return [...merged.values()];
}

export function storeEventRows(
  tx: Tx,
  env: Envelope,
  conversationId: string,
  rows: EventRows,
  sent: Sent,
): void {
  if (rows.agents.length > 0) sent.push(upsertAgents(tx, env, conversationId, rows.agents));
  const at = env.occurredAt;
  if (rows.sessionEvent) {
    const e = rows.sessionEvent;
    sent.push(tx`
      INSERT INTO session_events (
        request_id, conversation_id, session_id, agent_id, kind, label, text, detail, occurred_at
      ) VALUES (
        ${env.requestId}, ${conversationId}, ${env.sessionId}, ${e.agent_id}, ${e.kind},
        ${e.label}, ${e.text}, ${jsonValue(e.detail)}::jsonb, ${at}::timestamptz
      )
      ON CONFLICT (request_id) DO NOTHING`.execute());
  }
  if (rows.permission) {
    const d = rows.permission;
    // A denial is final: a later "requested" for the same call does not undo it.
    sent.push(tx`
      INSERT INTO tool_uses AS t (
        conversation_id, session_id, tool_use_id, tool_name, tool_input, agent_id, permission,
        permission_reason
      ) VALUES (
        ${conversationId}, ${env.sessionId}, ${d.tool_use_id}, ${d.tool_name},
        ${jsonValue(d.tool_input)}::jsonb, ${d.agent_id}, ${d.permission}, ${d.reason}
      )
      ON CONFLICT (session_id, tool_use_id) DO UPDATE SET
        tool_name = coalesce(t.tool_name, EXCLUDED.tool_name),
        tool_input = coalesce(t.tool_input, EXCLUDED.tool_input),
        agent_id = coalesce(t.agent_id, EXCLUDED.agent_id),
        permission = CASE WHEN 'denied' IN (t.permission, EXCLUDED.permission) THEN 'denied'
          ELSE EXCLUDED.permission END,
        permission_reason = coalesce(EXCLUDED.permission_reason, t.permission_reason)`
      .execute());
  }
}

function upsertAgents(
  tx: Tx,
  env: Envelope,
  conversationId: string,
  agents: AgentIntent[],
): Promise<unknown> {
  return tx`
    INSERT INTO agents AS a (
      conversation_id, session_id, agent_id, agent_type, description, parent_tool_use_id,
      parent_agent_id, transcript_path, started_at, ended_at, last_message
    )
    SELECT ${conversationId}, ${env.sessionId}, x.agent_id, x.agent_type, x.description,
      x.parent_tool_use_id, x.parent_agent_id, x.transcript_path, x.started_at, x.ended_at,
      x.last_message
    FROM jsonb_to_recordset(${jsonValue(mergeBy(agents, (a) => a.agent_id))}::jsonb) AS x(
      agent_id text, agent_type text, description text, parent_tool_use_id text,
      parent_agent_id text, transcript_path text, started_at timestamptz, ended_at timestamptz,
      last_message text
    )
    ON CONFLICT (session_id, agent_id) DO UPDATE SET
      agent_type = coalesce(a.agent_type, EXCLUDED.agent_type),
      description = coalesce(a.description, EXCLUDED.description),
      parent_tool_use_id = coalesce(a.parent_tool_use_id, EXCLUDED.parent_tool_use_id),
      parent_agent_id = coalesce(a.parent_agent_id, EXCLUDED.parent_agent_id),
      transcript_path = coalesce(a.transcript_path, EXCLUDED.transcript_path),
      started_at = least(a.started_at, EXCLUDED.started_at),
      ended_at = greatest(a.ended_at, EXCLUDED.ended_at),
      last_message = coalesce(a.last_message, EXCLUDED.last_message)`.execute();
}

/**
 * The user's prompts from transcript lines. One the UserPromptSubmit hook already stored (same
 * text within PROMPT_MATCH_SECONDS) is not stored again: the line's uuid and content go on
 * that row instead, as addPrompt does from the other side.
 */
function addPrompts(
  tx: Tx,
  env: Envelope,
  conversationId: string,
  prompts: PromptIntent[],
  sent: Sent,
): void {
  const session = env.sessionId;
  const x = jsonValue(prompts);
  const near = (o: string) =>
    tx`(${tx(o)}.occurred_at IS NULL OR x.occurred_at IS NULL
      OR abs(extract(epoch FROM ${tx(o)}.occurred_at - x.occurred_at)) < ${PROMPT_MATCH_SECONDS})`;
  sent.push(tx`
    UPDATE messages o SET transcript_uuid = x.transcript_uuid, parent_uuid = x.parent_uuid,
      content_json = x.content_json
    FROM jsonb_to_recordset(${x}::jsonb) AS x(
      agent_id text, content text, content_json jsonb, transcript_uuid text, parent_uuid text,
      occurred_at timestamptz
    )
    WHERE o.session_id = ${session} AND o.role = 'user' AND o.source = 'prompt'
      AND o.transcript_uuid IS NULL AND x.agent_id IS NULL AND o.content = x.content
      AND ${near("o")}`.execute());
  sent.push(tx`
    INSERT INTO messages AS m (
      conversation_id, session_id, agent_id, role, source, dedupe_key, content, content_json,
      transcript_uuid, parent_uuid, request_id, occurred_at
    )
    SELECT ${conversationId}, ${session}, x.agent_id, 'user', 'transcript', x.dedupe_key,
      x.content, x.content_json, x.transcript_uuid, x.parent_uuid, ${env.requestId},
      x.occurred_at
    FROM jsonb_to_recordset(${x}::jsonb) AS x(
      dedupe_key text, agent_id text, content text, content_json jsonb, transcript_uuid text,
      parent_uuid text, occurred_at timestamptz
    )
    WHERE x.agent_id IS NOT NULL OR NOT EXISTS (
      SELECT 1 FROM messages p
      WHERE p.session_id = ${session} AND p.role = 'user' AND p.source = 'prompt'
        AND (p.transcript_uuid = x.transcript_uuid OR (p.content = x.content AND ${near("p")})))
    ON CONFLICT (session_id, dedupe_key) DO UPDATE SET request_id = EXCLUDED.request_id
      WHERE EXCLUDED.request_id < m.request_id`.execute());
}

export function storeTranscriptRows(
  tx: Tx,
  env: Envelope,
  conversationId: string,
  rows: TranscriptRows,
  sent: Sent,
): void {
  const session = env.sessionId;
  if (rows.messages.length > 0) {
    // A line re-sent with a later event keeps the earliest requestId (UUIDv7: minted first),
    // so the row does not depend on which delivery arrived first.
    sent.push(tx`
      INSERT INTO messages AS m (
        conversation_id, session_id, agent_id, role, source, dedupe_key, content, content_json,
        model, message_id, api_request_id, transcript_uuid, parent_uuid, request_id, occurred_at
      )
      SELECT ${conversationId}, ${session}, x.agent_id, 'assistant', 'transcript', x.dedupe_key,
        x.content, x.content_json, x.model, x.message_id, x.api_request_id, x.transcript_uuid,
        x.parent_uuid, ${env.requestId}, x.occurred_at
      FROM jsonb_to_recordset(${jsonValue(rows.messages)}::jsonb) AS x(
        dedupe_key text, agent_id text, content text, content_json jsonb, model text,
        message_id text, api_request_id text, transcript_uuid text, parent_uuid text,
        occurred_at timestamptz
      )
      ON CONFLICT (session_id, dedupe_key) DO UPDATE SET request_id = EXCLUDED.request_id
        WHERE EXCLUDED.request_id < m.request_id`.execute());
  }
  const prompts = mergeBy(rows.prompts, (p) => p.dedupe_key);
  if (prompts.length > 0) addPrompts(tx, env, conversationId, prompts, sent);
  const calls = mergeBy(rows.toolCalls, (c) => c.tool_use_id);
  if (calls.length > 0) {
    // What the hook saw wins; the transcript fills what no hook event delivered.
    sent.push(tx`
      INSERT INTO tool_uses AS t (
        conversation_id, session_id, tool_use_id, tool_name, tool_input, agent_id, pre_at
      )
      SELECT ${conversationId}, ${session}, x.tool_use_id, x.tool_name, x.tool_input,
        x.agent_id, x.pre_at
      FROM jsonb_to_recordset(${jsonValue(calls)}::jsonb) AS x(
        tool_use_id text, tool_name text, tool_input jsonb, agent_id text, pre_at timestamptz
      )
      ON CONFLICT (session_id, tool_use_id) DO UPDATE SET
        tool_name = coalesce(t.tool_name, EXCLUDED.tool_name),
        tool_input = coalesce(t.tool_input, EXCLUDED.tool_input),
        agent_id = coalesce(t.agent_id, EXCLUDED.agent_id),
        pre_at = least(t.pre_at, EXCLUDED.pre_at)`.execute());
  }
  const results = mergeBy(rows.toolResults, (r) => r.tool_use_id);
  if (results.length > 0) {
    sent.push(tx`
      INSERT INTO tool_uses AS t (
        conversation_id, session_id, tool_use_id, tool_response, error, status, agent_id,
        post_at
      )
      SELECT ${conversationId}, ${session}, x.tool_use_id, x.tool_response, x.error, x.status,
        x.agent_id, x.post_at
      FROM jsonb_to_recordset(${jsonValue(results)}::jsonb) AS x(
        tool_use_id text, tool_response jsonb, error jsonb, status text, agent_id text,
        post_at timestamptz
      )
      ON CONFLICT (session_id, tool_use_id) DO UPDATE SET
        tool_response = CASE WHEN t.status = 'pending' THEN EXCLUDED.tool_response
          ELSE t.tool_response END,
        error = CASE WHEN t.status = 'pending' THEN EXCLUDED.error ELSE t.error END,
        status = CASE WHEN t.status = 'pending' THEN EXCLUDED.status ELSE t.status END,
        agent_id = coalesce(t.agent_id, EXCLUDED.agent_id),
        post_at = coalesce(t.post_at, EXCLUDED.post_at)`.execute());
  }
  if (rows.usage.length > 0) {
    // Later blocks of one message may carry grown counts: keep the largest, whatever the order.
    sent.push(tx`
      INSERT INTO token_usage AS u (
        message_id, api_request_id, conversation_id, session_id, agent_id, model, input_tokens,
        output_tokens, cache_creation_input_tokens, cache_creation_5m_input_tokens,
        cache_creation_1h_input_tokens, cache_read_input_tokens, occurred_at
      )
      SELECT x.message_id, x.api_request_id, ${conversationId}, ${session}, x.agent_id, x.model,
        x.input_tokens, x.output_tokens, x.cache_creation_input_tokens,
        x.cache_creation_5m_input_tokens, x.cache_creation_1h_input_tokens,
        x.cache_read_input_tokens, x.occurred_at
      FROM jsonb_to_recordset(${jsonValue(rows.usage)}::jsonb) AS x(
        message_id text, api_request_id text, agent_id text, model text, input_tokens bigint,
        output_tokens bigint, cache_creation_input_tokens bigint,
        cache_creation_5m_input_tokens bigint, cache_creation_1h_input_tokens bigint,
        cache_read_input_tokens bigint, occurred_at timestamptz
      )
      ON CONFLICT (message_id, api_request_id) DO UPDATE SET
        model = coalesce(u.model, EXCLUDED.model),
        agent_id = coalesce(u.agent_id, EXCLUDED.agent_id),
        input_tokens = greatest(u.input_tokens, EXCLUDED.input_tokens),
        output_tokens = greatest(u.output_tokens, EXCLUDED.output_tokens),
        cache_creation_input_tokens = greatest(u.cache_creation_input_tokens,
          EXCLUDED.cache_creation_input_tokens),
        cache_creation_5m_input_tokens = greatest(u.cache_creation_5m_input_tokens,
          EXCLUDED.cache_creation_5m_input_tokens),
        cache_creation_1h_input_tokens = greatest(u.cache_creation_1h_input_tokens,
          EXCLUDED.cache_creation_1h_input_tokens),
        cache_read_input_tokens = greatest(u.cache_read_input_tokens,
          EXCLUDED.cache_read_input_tokens),
        occurred_at = least(u.occurred_at, EXCLUDED.occurred_at)`.execute());
  }
  if (rows.agents.length > 0) sent.push(upsertAgents(tx, env, conversationId, rows.agents));
  if (rows.first) {
    // The transcript's first and last lines bound the session (an imported one has no
    // SessionStart); its first assistant model names it when no SessionStart did.
    const model = rows.messages.find((m) => m.model && m.agent_id === null)?.model ?? null;
    sent.push(tx`
      UPDATE conversations SET
        started_at = least(started_at, ${rows.first}::timestamptz),
        last_event_at = greatest(last_event_at, ${rows.last}::timestamptz),
        model = coalesce(model, ${model})
      WHERE id = ${conversationId}`.execute());
  }
}
