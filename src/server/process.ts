// Turning one validated envelope into rows. Every write is an idempotent upsert whose result
// does not depend on arrival order: events may come in any order, any number of times.
import type postgres from "postgres";
import type { Envelope } from "../schema.ts";
import { type EventRows, eventRows } from "../record/event_rows.ts";
import { PROMPT_MATCH_SECONDS, storeEventRows, storeTranscriptRows } from "./process_record.ts";
import { jsonValue } from "../store/json.ts";
import { transcriptRows } from "../record/transcript_rows.ts";

export type Tx = postgres.TransactionSql;

export { jsonValue };

function isoOrNull(text: unknown): string | null {
  if (typeof text !== "string") return null;
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : null;
}

function str(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}

/**
 * One row per session_id. Current-state fields come from the latest event, the start from the
 * earliest SessionStart, the end from the latest SessionEnd: the same rows in any order.
 */
async function upsertConversation(
  tx: Tx,
  env: Envelope,
  startSources: string[],
): Promise<string> {
  const p = env.payload as Record<string, unknown>;
  const at = isoOrNull(env.occurredAt);
  const isStart = env.event === "SessionStart";
  const isEnd = env.event === "SessionEnd";
  const [row] = await tx<{ id: string }[]>`
    INSERT INTO conversations AS c (
      session_id, project_dir, cwd, host, user_name, model, start_source, permission_mode,
      transcript_path, started_at, ended_at, end_reason, last_event_at, start_sources
    ) VALUES (
      ${env.sessionId}, ${str(env.source.projectDir)}, ${str(p.cwd) ?? str(env.source.cwd)},
      ${str(env.source.host)}, ${str(env.source.user)}, ${isStart ? str(p.model) : null},
      ${isStart ? str(p.source) : null}, ${str(p.permission_mode)}, ${str(p.transcript_path)},
      ${isStart ? at : null}::timestamptz, ${isEnd ? at : null}::timestamptz,
      ${isEnd ? str(p.reason) : null}, ${at}::timestamptz, ${startSources}::text[]
    )
    ON CONFLICT (session_id) DO UPDATE SET
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
          ORDER BY s) END
    RETURNING id`;
  return row.id;
}

async function addMessage(
  tx: Tx,
  env: Envelope,
  conversationId: string,
  message: { role: "user" | "assistant"; source: "prompt" | "stop"; key: string; text: string },
): Promise<void> {
  await tx`
    INSERT INTO messages (
      conversation_id, session_id, role, source, dedupe_key, content, request_id, occurred_at
    ) VALUES (
      ${conversationId}, ${env.sessionId}, ${message.role}, ${message.source}, ${message.key},
      ${message.text}, ${env.requestId}, ${isoOrNull(env.occurredAt)}::timestamptz
    )
    ON CONFLICT (session_id, dedupe_key) DO NOTHING`;
}

/**
 * A UserPromptSubmit prompt. When the transcript already gave this prompt (same text, within
 * PROMPT_MATCH_SECONDS) that row becomes the prompt's; the transcript side merges into a prompt
 * row the same way, so either order ends in one identical row.
 */
async function addPrompt(tx: Tx, env: Envelope, conversationId: string, text: string) {
  const p = env.payload as Record<string, unknown>;
  const at = isoOrNull(env.occurredAt);
  const key = `prompt:${str(p.prompt_id) ?? env.requestId}`;
  const claimed = await tx`
    UPDATE messages SET dedupe_key = ${key}, source = 'prompt', request_id = ${env.requestId},
      occurred_at = ${at}::timestamptz
    WHERE id = (
      SELECT o.id FROM messages o
      WHERE o.session_id = ${env.sessionId} AND o.role = 'user' AND o.source = 'transcript'
        AND o.agent_id IS NULL AND o.content = ${text}
        AND (o.occurred_at IS NULL OR ${at}::timestamptz IS NULL
          OR abs(extract(epoch FROM o.occurred_at - ${at}::timestamptz)) < ${PROMPT_MATCH_SECONDS})
      ORDER BY o.occurred_at NULLS LAST, o.id LIMIT 1)
    AND NOT EXISTS (
      SELECT 1 FROM messages WHERE session_id = ${env.sessionId} AND dedupe_key = ${key})`;
  if (claimed.count > 0) return;
  await tx`
    INSERT INTO messages (
      conversation_id, session_id, role, source, dedupe_key, content, request_id, occurred_at
    ) VALUES (
      ${conversationId}, ${env.sessionId}, 'user', 'prompt', ${key}, ${text}, ${env.requestId},
      ${at}::timestamptz
    )
    ON CONFLICT (session_id, dedupe_key) DO NOTHING`;
}

async function upsertToolUse(tx: Tx, env: Envelope, conversationId: string): Promise<void> {
  const p = env.payload as Record<string, unknown>;
  const at = isoOrNull(env.occurredAt);
  const duration = typeof p.duration_ms === "number" ? p.duration_ms : null;
  if (env.event === "PreToolUse") {
    // The Pre event's name and input are authoritative; a Post that came first only filled gaps.
    await tx`
      INSERT INTO tool_uses AS t (
        conversation_id, session_id, tool_use_id, tool_name, tool_input, pre_at, agent_id
      ) VALUES (
        ${conversationId}, ${env.sessionId}, ${p.tool_use_id as string}, ${str(p.tool_name)},
        ${jsonValue(p.tool_input)}::jsonb, ${at}::timestamptz, ${str(p.agent_id)}
      )
      ON CONFLICT (tool_use_id) DO UPDATE SET
        agent_id = coalesce(t.agent_id, EXCLUDED.agent_id),
        tool_name = coalesce(EXCLUDED.tool_name, t.tool_name),
        tool_input = coalesce(EXCLUDED.tool_input, t.tool_input),
        pre_at = least(t.pre_at, EXCLUDED.pre_at)`;
    return;
  }
  const failed = env.event === "PostToolUseFailure";
  await tx`
    INSERT INTO tool_uses AS t (
      conversation_id, session_id, tool_use_id, tool_name, tool_input, tool_response, error,
      status, duration_ms, post_at, agent_id
    ) VALUES (
      ${conversationId}, ${env.sessionId}, ${p.tool_use_id as string}, ${str(p.tool_name)},
      ${jsonValue(p.tool_input)}::jsonb, ${failed ? null : jsonValue(p.tool_response)}::jsonb,
      ${failed ? jsonValue(p.error) : null}::jsonb, ${failed ? "failure" : "success"},
      ${duration}, ${at}::timestamptz, ${str(p.agent_id)}
    )
    ON CONFLICT (tool_use_id) DO UPDATE SET
      agent_id = coalesce(t.agent_id, EXCLUDED.agent_id),
      tool_name = coalesce(t.tool_name, EXCLUDED.tool_name),
      tool_input = coalesce(t.tool_input, EXCLUDED.tool_input),
      tool_response = EXCLUDED.tool_response,
      error = EXCLUDED.error,
      status = EXCLUDED.status,
      duration_ms = EXCLUDED.duration_ms,
      post_at = EXCLUDED.post_at`;
}

/** Stores one envelope; returns the conversation it belongs to. */
export async function processEnvelope(tx: Tx, env: Envelope): Promise<string> {
  const events: EventRows = eventRows(env);
  const conversationId = await upsertConversation(
    tx,
    env,
    events.startSource ? [events.startSource] : [],
  );
  const p = env.payload as Record<string, unknown>;
  switch (env.event) {
    case "UserPromptSubmit":
      await addPrompt(tx, env, conversationId, String(p.prompt));
      break;
    case "PreToolUse":
    case "PostToolUse":
    case "PostToolUseFailure":
      await upsertToolUse(tx, env, conversationId);
      break;
    case "Stop":
      if (typeof p.last_assistant_message === "string") {
        await addMessage(tx, env, conversationId, {
          role: "assistant",
          source: "stop",
          key: `stop:${env.requestId}`,
          text: p.last_assistant_message,
        });
      }
      break;
      // SessionStart and SessionEnd live on the conversation row; the events eventRows knows
      // become agents, permissions and session events below; the rest (and unknown events)
      // are kept in the audit trail, linked to the conversation.
  }
  await storeEventRows(tx, env, conversationId, events);
  if (env.transcript && env.transcript.length > 0) {
    const agent = events.transcriptAgent;
    const rows = transcriptRows(env.transcript, {
      agentId: agent?.agentId ?? null,
      agentPath: agent?.path ?? null,
    });
    await storeTranscriptRows(tx, env, conversationId, rows);
  }
  return conversationId;
}
