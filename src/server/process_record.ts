// The SQL for a group's record rows (src/server/record_intents.ts merged them per key): one
// multi-row statement per table and kind over jsonb_to_recordset, whatever the group's size,
// each an idempotent upsert that applies against the stored row the rule the merge applied
// within the group. Sent without waiting (pipelined: postgres.js runs a connection's queries
// in the order sent), after the group's conversations and hook rows (src/server/write.ts),
// whose ids they find by session_id.
import type postgres from "postgres";
import type { RecordIntents } from "./record_intents.ts";
import { jsonValue } from "../store/json.ts";
import { conversationIdBySession, type Tx } from "./write.ts";

/**
 * A prompt event and a transcript user line with the same text this close together are one
 * prompt (the hook fires as the line is written); farther apart they are the user repeating it.
 */
export const PROMPT_MATCH_SECONDS = 300;

/** `a` and `b` (timestamptz columns) are close enough for a prompt and its line to be one. */
function near(tx: Tx, a: string, b: string) {
  return tx`(${tx(a)}.occurred_at IS NULL OR ${tx(b)}.occurred_at IS NULL
    OR abs(extract(epoch FROM ${tx(a)}.occurred_at - ${
    tx(b)
  }.occurred_at)) < ${PROMPT_MATCH_SECONDS})`;
}

function sessionEvents(tx: Tx, rows: RecordIntents["sessionEvents"]) {
  return tx`
    INSERT INTO session_events (
      request_id, conversation_id, session_id, agent_id, kind, label, text, detail, occurred_at
    )
    SELECT x.request_id, ${
    conversationIdBySession(tx)
  }, x.session_id, x.agent_id, x.kind, x.label, x.text,
      x.detail, x.occurred_at
    FROM jsonb_to_recordset(${jsonValue(rows)}::jsonb) AS x(
      request_id text, session_id text, agent_id text, kind text,
      label text, text text, detail jsonb, occurred_at timestamptz
    )
    ON CONFLICT (request_id) DO NOTHING`;
}

function agents(tx: Tx, rows: RecordIntents["agents"]) {
  return tx`
    INSERT INTO agents AS a (
      conversation_id, session_id, agent_id, agent_type, description, parent_tool_use_id,
      parent_agent_id, transcript_path, started_at, ended_at, last_message
    )
    SELECT ${conversationIdBySession(tx)}, x.session_id, x.agent_id, x.agent_type, x.description,
      x.parent_tool_use_id, x.parent_agent_id, x.transcript_path, x.started_at, x.ended_at,
      x.last_message
    FROM jsonb_to_recordset(${jsonValue(rows)}::jsonb) AS x(
      session_id text, agent_id text, agent_type text, description text,
      parent_tool_use_id text, parent_agent_id text, transcript_path text,
      started_at timestamptz, ended_at timestamptz, last_message text
    )
    ON CONFLICT (session_id, agent_id) DO UPDATE SET
      agent_type = coalesce(a.agent_type, EXCLUDED.agent_type),
      description = coalesce(a.description, EXCLUDED.description),
      parent_tool_use_id = coalesce(a.parent_tool_use_id, EXCLUDED.parent_tool_use_id),
      parent_agent_id = coalesce(a.parent_agent_id, EXCLUDED.parent_agent_id),
      transcript_path = coalesce(a.transcript_path, EXCLUDED.transcript_path),
      started_at = least(a.started_at, EXCLUDED.started_at),
      ended_at = greatest(a.ended_at, EXCLUDED.ended_at),
      last_message = coalesce(a.last_message, EXCLUDED.last_message)`;
}

function permissions(tx: Tx, rows: RecordIntents["permissions"]) {
  // A denial is final: a later "requested" for the same call does not undo it.
  return tx`
    INSERT INTO tool_uses AS t (
      conversation_id, session_id, tool_use_id, tool_name, tool_input, agent_id, permission,
      permission_reason
    )
    SELECT ${conversationIdBySession(tx)}, x.session_id, x.tool_use_id, x.tool_name, x.tool_input,
      x.agent_id, x.permission, x.reason
    FROM jsonb_to_recordset(${jsonValue(rows)}::jsonb) AS x(
      session_id text, tool_use_id text, tool_name text,
      tool_input jsonb, agent_id text, permission text, reason text
    )
    ON CONFLICT (session_id, tool_use_id) DO UPDATE SET
      tool_name = coalesce(t.tool_name, EXCLUDED.tool_name),
      tool_input = coalesce(t.tool_input, EXCLUDED.tool_input),
      agent_id = coalesce(t.agent_id, EXCLUDED.agent_id),
      permission = CASE WHEN 'denied' IN (t.permission, EXCLUDED.permission) THEN 'denied'
        ELSE EXCLUDED.permission END,
      permission_reason = coalesce(EXCLUDED.permission_reason, t.permission_reason)`;
}

function toolCalls(tx: Tx, rows: RecordIntents["toolCalls"]) {
  // What the hook saw wins; the transcript fills what no hook event delivered.
  return tx`
    INSERT INTO tool_uses AS t (
      conversation_id, session_id, tool_use_id, tool_name, tool_input, agent_id, pre_at
    )
    SELECT ${conversationIdBySession(tx)}, x.session_id, x.tool_use_id, x.tool_name, x.tool_input,
      x.agent_id, x.pre_at
    FROM jsonb_to_recordset(${jsonValue(rows)}::jsonb) AS x(
      session_id text, tool_use_id text, tool_name text,
      tool_input jsonb, agent_id text, pre_at timestamptz
    )
    ON CONFLICT (session_id, tool_use_id) DO UPDATE SET
      tool_name = coalesce(t.tool_name, EXCLUDED.tool_name),
      tool_input = coalesce(t.tool_input, EXCLUDED.tool_input),
      agent_id = coalesce(t.agent_id, EXCLUDED.agent_id),
      pre_at = least(t.pre_at, EXCLUDED.pre_at)`;
}

function toolResults(tx: Tx, rows: RecordIntents["toolResults"]) {
  return tx`
    INSERT INTO tool_uses AS t (
      conversation_id, session_id, tool_use_id, tool_response, error, status, agent_id,
      post_at
    )
    SELECT ${
    conversationIdBySession(tx)
  }, x.session_id, x.tool_use_id, x.tool_response, x.error, x.status,
      x.agent_id, x.post_at
    FROM jsonb_to_recordset(${jsonValue(rows)}::jsonb) AS x(
      session_id text, tool_use_id text, tool_response jsonb,
      error jsonb, status text, agent_id text, post_at timestamptz
    )
    ON CONFLICT (session_id, tool_use_id) DO UPDATE SET
      tool_response = CASE WHEN t.status = 'pending' THEN EXCLUDED.tool_response
        ELSE t.tool_response END,
      error = CASE WHEN t.status = 'pending' THEN EXCLUDED.error ELSE t.error END,
      status = CASE WHEN t.status = 'pending' THEN EXCLUDED.status ELSE t.status END,
      agent_id = coalesce(t.agent_id, EXCLUDED.agent_id),
      post_at = coalesce(t.post_at, EXCLUDED.post_at)`;
}

function assistant(tx: Tx, rows: RecordIntents["assistant"]) {
  // A line re-sent with a later event keeps the earliest requestId (UUIDv7: minted first), so
  // the row does not depend on which delivery arrived first.
  return tx`
    INSERT INTO messages AS m (
      conversation_id, session_id, agent_id, role, source, dedupe_key, content, content_json,
      model, message_id, api_request_id, transcript_uuid, parent_uuid, request_id, occurred_at
    )
    SELECT ${conversationIdBySession(tx)}, x.session_id, x.agent_id, 'assistant', 'transcript',
      x.dedupe_key, x.content, x.content_json, x.model, x.message_id, x.api_request_id,
      x.transcript_uuid, x.parent_uuid, x.request_id, x.occurred_at
    FROM jsonb_to_recordset(${jsonValue(rows)}::jsonb) AS x(
      session_id text, dedupe_key text, agent_id text, content text,
      content_json jsonb, model text, message_id text, api_request_id text,
      transcript_uuid text, parent_uuid text, request_id text, occurred_at timestamptz
    )
    ON CONFLICT (session_id, dedupe_key) DO UPDATE SET request_id = EXCLUDED.request_id
      WHERE EXCLUDED.request_id < m.request_id`;
}

/**
 * The group's UserPromptSubmit prompts. One whose text a stored transcript user line gave
 * (within PROMPT_MATCH_SECONDS) takes that row over (the earliest such line, each line for one
 * prompt); the others are inserted. Sent before the group's lines, which merge into a prompt
 * row the same way (a later statement sees this one's rows): either arrival order, in one
 * group or in two, ends in one identical row.
 */
function hookPrompts(tx: Tx, rows: RecordIntents["hookPrompts"]) {
  return tx`
    WITH x AS (
      SELECT * FROM jsonb_to_recordset(${jsonValue(rows)}::jsonb) AS x(
        session_id text, dedupe_key text, content text,
        request_id text, occurred_at timestamptz
      )
    ), target AS (
      SELECT DISTINCT ON (o.id) o.id, x.session_id, x.dedupe_key
      FROM x CROSS JOIN LATERAL (
        SELECT o.id FROM messages o
        WHERE o.session_id = x.session_id AND o.role = 'user' AND o.source = 'transcript'
          AND o.agent_id IS NULL AND o.content = x.content AND ${near(tx, "o", "x")}
        ORDER BY o.occurred_at NULLS LAST, o.id LIMIT 1
      ) o
      -- A key already stored is not claimed again (the rename would break its uniqueness).
      -- Asked as a scalar subquery, so it is an index probe for the few prompts that found a
      -- line: as NOT EXISTS it became an anti join reading every message of the table.
      WHERE (SELECT 1 FROM messages k
        WHERE k.session_id = x.session_id AND k.dedupe_key = x.dedupe_key) IS NULL
      ORDER BY o.id, x.occurred_at NULLS LAST, x.dedupe_key
    ), claimed AS (
      UPDATE messages m SET dedupe_key = x.dedupe_key, source = 'prompt',
        request_id = x.request_id, occurred_at = x.occurred_at
      FROM target t JOIN x ON x.session_id = t.session_id AND x.dedupe_key = t.dedupe_key
      WHERE m.id = t.id
      RETURNING x.session_id, x.dedupe_key
    )
    INSERT INTO messages (
      conversation_id, session_id, role, source, dedupe_key, content, request_id, occurred_at
    )
    SELECT ${conversationIdBySession(tx)}, x.session_id, 'user', 'prompt', x.dedupe_key, x.content,
      x.request_id, x.occurred_at
    FROM x
    WHERE NOT EXISTS (
      SELECT 1 FROM claimed c WHERE c.session_id = x.session_id AND c.dedupe_key = x.dedupe_key)
    ON CONFLICT (session_id, dedupe_key) DO NOTHING`;
}

/**
 * The user's prompts from transcript lines. One the UserPromptSubmit hook already stored (same
 * text within PROMPT_MATCH_SECONDS) is not stored again: the line's uuid and content go on
 * that row instead, as hookPrompts does from the other side. Two statements: the fill, then
 * the insert that sees it.
 */
function lines(tx: Tx, rows: RecordIntents["lines"]) {
  const x = jsonValue(rows);
  return [
    tx`
      UPDATE messages o SET transcript_uuid = x.transcript_uuid, parent_uuid = x.parent_uuid,
        content_json = x.content_json
      FROM jsonb_to_recordset(${x}::jsonb) AS x(
        session_id text, agent_id text, content text, content_json jsonb, transcript_uuid text,
        parent_uuid text, occurred_at timestamptz
      )
      WHERE o.session_id = x.session_id AND o.role = 'user' AND o.source = 'prompt'
        AND o.transcript_uuid IS NULL AND x.agent_id IS NULL AND o.content = x.content
        AND ${near(tx, "o", "x")}`,
    tx`
      INSERT INTO messages AS m (
        conversation_id, session_id, agent_id, role, source, dedupe_key, content, content_json,
        transcript_uuid, parent_uuid, request_id, occurred_at
      )
      SELECT ${
      conversationIdBySession(tx)
    }, x.session_id, x.agent_id, 'user', 'transcript', x.dedupe_key,
        x.content, x.content_json, x.transcript_uuid, x.parent_uuid, x.request_id,
        x.occurred_at
      FROM jsonb_to_recordset(${x}::jsonb) AS x(
        session_id text, dedupe_key text, agent_id text, content text,
        content_json jsonb, transcript_uuid text, parent_uuid text, request_id text,
        occurred_at timestamptz
      )
      WHERE x.agent_id IS NOT NULL OR NOT EXISTS (
        SELECT 1 FROM messages p
        WHERE p.session_id = x.session_id AND p.role = 'user' AND p.source = 'prompt'
          AND (p.transcript_uuid = x.transcript_uuid
            OR (p.content = x.content AND ${near(tx, "p", "x")})))
      ON CONFLICT (session_id, dedupe_key) DO UPDATE SET request_id = EXCLUDED.request_id
        WHERE EXCLUDED.request_id < m.request_id`,
  ];
}

function usage(tx: Tx, rows: RecordIntents["usage"]) {
  // Later blocks of one message may carry grown counts: keep the largest, whatever the order.
  return tx`
    INSERT INTO token_usage AS u (
      message_id, api_request_id, conversation_id, session_id, agent_id, model, input_tokens,
      output_tokens, cache_creation_input_tokens, cache_creation_5m_input_tokens,
      cache_creation_1h_input_tokens, cache_read_input_tokens, occurred_at
    )
    SELECT x.message_id, x.api_request_id, ${conversationIdBySession(tx)}, x.session_id, x.agent_id,
      x.model, x.input_tokens, x.output_tokens, x.cache_creation_input_tokens,
      x.cache_creation_5m_input_tokens, x.cache_creation_1h_input_tokens,
      x.cache_read_input_tokens, x.occurred_at
    FROM jsonb_to_recordset(${jsonValue(rows)}::jsonb) AS x(
      message_id text, api_request_id text, session_id text,
      agent_id text, model text, input_tokens bigint, output_tokens bigint,
      cache_creation_input_tokens bigint, cache_creation_5m_input_tokens bigint,
      cache_creation_1h_input_tokens bigint, cache_read_input_tokens bigint,
      occurred_at timestamptz
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
      occurred_at = least(u.occurred_at, EXCLUDED.occurred_at)`;
}

function bounds(tx: Tx, rows: RecordIntents["bounds"]) {
  // The transcript's first and last lines bound the session (an imported one has no
  // SessionStart); its first assistant model names it when no SessionStart did. Every row's
  // conversation was upserted earlier in the group, so this only ever takes the DO UPDATE arm:
  // an upsert finds each row through its arbiter index, where `UPDATE ... FROM` let a generic
  // plan made on a near-empty table hash-join a sequential scan of every conversation.
  return tx`
    INSERT INTO conversations AS c (session_id, started_at, last_event_at, model)
    SELECT x.session_id, x.first, x.last, x.model
    FROM jsonb_to_recordset(${jsonValue(rows)}::jsonb) AS x(
      session_id text, first timestamptz, last timestamptz, model text
    )
    ON CONFLICT (session_id) DO UPDATE SET
      started_at = least(c.started_at, EXCLUDED.started_at),
      last_event_at = greatest(c.last_event_at, EXCLUDED.last_event_at),
      model = coalesce(c.model, EXCLUDED.model)`;
}

/**
 * Sends the group's record rows, one statement per non-empty kind, without waiting: the
 * caller awaits them before the commit. Tool uses go permission, call, result (the order one
 * envelope's rows took); prompts before the lines that merge into them.
 */
export function writeRecordRows(tx: Tx, rows: RecordIntents): Promise<unknown>[] {
  const queries: postgres.PendingQuery<postgres.Row[]>[] = [];
  if (rows.sessionEvents.length > 0) queries.push(sessionEvents(tx, rows.sessionEvents));
  if (rows.agents.length > 0) queries.push(agents(tx, rows.agents));
  if (rows.permissions.length > 0) queries.push(permissions(tx, rows.permissions));
  if (rows.toolCalls.length > 0) queries.push(toolCalls(tx, rows.toolCalls));
  if (rows.toolResults.length > 0) queries.push(toolResults(tx, rows.toolResults));
  if (rows.assistant.length > 0) queries.push(assistant(tx, rows.assistant));
  if (rows.hookPrompts.length > 0) queries.push(hookPrompts(tx, rows.hookPrompts));
  if (rows.lines.length > 0) queries.push(...lines(tx, rows.lines));
  if (rows.usage.length > 0) queries.push(usage(tx, rows.usage));
  if (rows.bounds.length > 0) queries.push(bounds(tx, rows.bounds));
  return queries.map((query) => query.execute());
}
