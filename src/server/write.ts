// The SQL writers of a group: one multi-row upsert per table over jsonb_to_recordset, applying
// the merge rules of src/server/rows.ts against the rows already stored.
import type postgres from "postgres";
import type { RowIntents } from "./rows.ts";
import { jsonValue } from "../store/json.ts";

export type Tx = postgres.Sql | postgres.ReservedSql | postgres.TransactionSql;

/**
 * The conversation of recordset row `x`, by its session_id: the group's conversations upsert is
 * sent before every statement that uses this, so no id has to be read back first.
 */
export function conversationIdBySession(tx: Tx) {
  return tx`(SELECT c.id FROM conversations c WHERE c.session_id = x.session_id)`;
}

/**
 * Sends the upsert of the group's conversations without waiting for it: every later statement
 * of the group finds a conversation by session_id, and postgres.js runs them in the order sent.
 */
function conversations(tx: Tx, rows: RowIntents["conversations"]) {
  return tx`
    INSERT INTO conversations AS c (
      session_id, project_dir, cwd, host, user_name, model, start_source, permission_mode,
      transcript_path, started_at, ended_at, end_reason, last_event_at, start_sources, key_name
    )
    SELECT x.session_id, x.project_dir, x.cwd, x.host, x.user_name, x.model, x.start_source,
      x.permission_mode, x.transcript_path, x.started_at, x.ended_at, x.end_reason,
      x.last_event_at, ARRAY(SELECT jsonb_array_elements_text(x.start_sources)), x.key_name
    FROM jsonb_to_recordset(${jsonValue(rows)}::jsonb) AS x(
      session_id text, project_dir text, cwd text, host text, user_name text, model text,
      start_source text, permission_mode text, transcript_path text, started_at timestamptz,
      ended_at timestamptz, end_reason text, last_event_at timestamptz, start_sources jsonb,
      key_name text
    )
    -- The key that first sent events of the session: once set, kept.
    ON CONFLICT (session_id) DO UPDATE SET
      key_name = coalesce(c.key_name, EXCLUDED.key_name),
      project_dir = CASE WHEN c.last_event_at IS NULL OR EXCLUDED.last_event_at >= c.last_event_at
        THEN coalesce(EXCLUDED.project_dir, c.project_dir)
        ELSE coalesce(c.project_dir, EXCLUDED.project_dir) END,
      cwd = CASE WHEN c.last_event_at IS NULL OR EXCLUDED.last_event_at >= c.last_event_at
        THEN coalesce(EXCLUDED.cwd, c.cwd) ELSE coalesce(c.cwd, EXCLUDED.cwd) END,
      host = CASE WHEN c.last_event_at IS NULL OR EXCLUDED.last_event_at >= c.last_event_at
        THEN coalesce(EXCLUDED.host, c.host) ELSE coalesce(c.host, EXCLUDED.host) END,
      user_name = CASE WHEN c.last_event_at IS NULL OR EXCLUDED.last_event_at >= c.last_event_at
        THEN coalesce(EXCLUDED.user_name, c.user_name)
        ELSE coalesce(c.user_name, EXCLUDED.user_name) END,
      permission_mode = CASE
        WHEN c.last_event_at IS NULL OR EXCLUDED.last_event_at >= c.last_event_at
        THEN coalesce(EXCLUDED.permission_mode, c.permission_mode)
        ELSE coalesce(c.permission_mode, EXCLUDED.permission_mode) END,
      transcript_path = CASE
        WHEN c.last_event_at IS NULL OR EXCLUDED.last_event_at >= c.last_event_at
        THEN coalesce(EXCLUDED.transcript_path, c.transcript_path)
        ELSE coalesce(c.transcript_path, EXCLUDED.transcript_path) END,
      model = CASE WHEN EXCLUDED.started_at IS NOT NULL
          AND (c.started_at IS NULL OR EXCLUDED.started_at < c.started_at)
        THEN coalesce(EXCLUDED.model, c.model) ELSE coalesce(c.model, EXCLUDED.model) END,
      start_source = CASE WHEN EXCLUDED.started_at IS NOT NULL
          AND (c.started_at IS NULL OR EXCLUDED.started_at < c.started_at)
        THEN coalesce(EXCLUDED.start_source, c.start_source)
        ELSE coalesce(c.start_source, EXCLUDED.start_source) END,
      started_at = least(c.started_at, EXCLUDED.started_at),
      end_reason = CASE WHEN EXCLUDED.ended_at IS NOT NULL
          AND (c.ended_at IS NULL OR EXCLUDED.ended_at >= c.ended_at)
        THEN coalesce(EXCLUDED.end_reason, c.end_reason) ELSE c.end_reason END,
      ended_at = greatest(c.ended_at, EXCLUDED.ended_at),
      last_event_at = greatest(c.last_event_at, EXCLUDED.last_event_at),
      start_sources = CASE WHEN EXCLUDED.start_sources <@ c.start_sources THEN c.start_sources
        ELSE ARRAY(SELECT DISTINCT s FROM unnest(c.start_sources || EXCLUDED.start_sources) AS s
          ORDER BY s) END`;
}

function messages(tx: Tx, rows: RowIntents["messages"]) {
  return tx`
    INSERT INTO messages AS m (
      conversation_id, session_id, role, source, dedupe_key, content, content_json, model,
      message_id, api_request_id, transcript_uuid, parent_uuid, request_id, occurred_at
    )
    SELECT ${conversationIdBySession(tx)},
      x.session_id, x.role, x.source, x.dedupe_key, x.content, x.content_json,
      x.model, x.message_id, x.api_request_id, x.transcript_uuid, x.parent_uuid, x.request_id,
      x.occurred_at
    FROM jsonb_to_recordset(${jsonValue(rows)}::jsonb) AS x(
      session_id text, role text, source text, dedupe_key text, content text,
      content_json jsonb, model text, message_id text, api_request_id text,
      transcript_uuid text, parent_uuid text, request_id text, occurred_at timestamptz
    )
    ON CONFLICT (session_id, dedupe_key) DO UPDATE SET
      role = EXCLUDED.role, source = EXCLUDED.source, content = EXCLUDED.content,
      content_json = EXCLUDED.content_json, model = EXCLUDED.model,
      message_id = EXCLUDED.message_id, api_request_id = EXCLUDED.api_request_id,
      transcript_uuid = EXCLUDED.transcript_uuid, parent_uuid = EXCLUDED.parent_uuid,
      request_id = EXCLUDED.request_id, occurred_at = EXCLUDED.occurred_at
      WHERE m.request_id IS NULL OR EXCLUDED.request_id < m.request_id`;
}

function toolUses(tx: Tx, rows: RowIntents["toolUses"]) {
  return tx`
    INSERT INTO tool_uses AS t (
      conversation_id, session_id, tool_use_id, tool_name, tool_input, tool_response, error,
      status, duration_ms, pre_at, post_at, agent_id
    )
    SELECT ${conversationIdBySession(tx)},
      x.session_id, x.tool_use_id, x.tool_name, x.tool_input, x.tool_response,
      x.error, x.status, x.duration_ms, x.pre_at, x.post_at, x.agent_id
    FROM jsonb_to_recordset(${jsonValue(rows)}::jsonb) AS x(
      session_id text, tool_use_id text, tool_name text, tool_input jsonb, tool_response jsonb,
      error jsonb, status text, duration_ms double precision, pre_at timestamptz,
      post_at timestamptz, agent_id text
    )
    -- A hook's Post is the outcome: it replaces one taken from a transcript's tool result
    -- (which only fills a pending row: src/server/process_record.ts).
    ON CONFLICT (session_id, tool_use_id) DO UPDATE SET
      agent_id = coalesce(t.agent_id, EXCLUDED.agent_id),
      tool_name = CASE WHEN EXCLUDED.pre_at IS NOT NULL
        THEN coalesce(EXCLUDED.tool_name, t.tool_name)
        ELSE coalesce(t.tool_name, EXCLUDED.tool_name) END,
      tool_input = CASE WHEN EXCLUDED.pre_at IS NOT NULL
        THEN coalesce(EXCLUDED.tool_input, t.tool_input)
        ELSE coalesce(t.tool_input, EXCLUDED.tool_input) END,
      pre_at = least(t.pre_at, EXCLUDED.pre_at),
      tool_response = CASE WHEN EXCLUDED.post_at IS NOT NULL THEN EXCLUDED.tool_response
        ELSE t.tool_response END,
      error = CASE WHEN EXCLUDED.post_at IS NOT NULL THEN EXCLUDED.error
        ELSE t.error END,
      status = CASE WHEN EXCLUDED.post_at IS NOT NULL THEN EXCLUDED.status
        ELSE t.status END,
      duration_ms = CASE WHEN EXCLUDED.post_at IS NOT NULL THEN EXCLUDED.duration_ms
        ELSE t.duration_ms END,
      post_at = coalesce(EXCLUDED.post_at, t.post_at)`;
}

/**
 * Sends the statements that store a group's merged conversations, then its tool uses and
 * messages (which find their conversation by session_id), without waiting: they travel in one
 * pipelined round trip, and postgres.js runs them in the order sent (a query not executed here
 * would start only when awaited, possibly after a later one).
 */
export function writeRows(tx: Tx, rows: RowIntents): Promise<unknown>[] {
  const writes: postgres.PendingQuery<postgres.Row[]>[] = [];
  if (rows.conversations.length > 0) writes.push(conversations(tx, rows.conversations));
  if (rows.messages.length > 0) writes.push(messages(tx, rows.messages));
  if (rows.toolUses.length > 0) writes.push(toolUses(tx, rows.toolUses));
  return writes.map((query) => query.execute());
}
