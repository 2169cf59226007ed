// Turning one validated envelope into rows. Every write is an idempotent upsert whose result
// does not depend on arrival order: events may come in any order, any number of times.
import type postgres from "postgres";
import type { Envelope, TranscriptLine } from "../schema.ts";

export type Tx = postgres.TransactionSql;

/**
 * A jsonb parameter: postgres.js learns the type from the `::jsonb` cast and serialises the
 * value with JSON.stringify itself (a pre-stringified value would be stored as a JSON string).
 */
// deno-lint-ignore no-explicit-any
export function jsonValue(value: unknown): any {
  return value === undefined ? null : value;
}

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
async function upsertConversation(tx: Tx, env: Envelope): Promise<string> {
  const p = env.payload as Record<string, unknown>;
  const at = isoOrNull(env.occurredAt);
  const isStart = env.event === "SessionStart";
  const isEnd = env.event === "SessionEnd";
  const [row] = await tx<{ id: string }[]>`
    INSERT INTO conversations AS c (
      session_id, project_dir, cwd, host, user_name, model, start_source, permission_mode,
      transcript_path, started_at, ended_at, end_reason, last_event_at
    ) VALUES (
      ${env.sessionId}, ${str(env.source.projectDir)}, ${str(p.cwd) ?? str(env.source.cwd)},
      ${str(env.source.host)}, ${str(env.source.user)}, ${isStart ? str(p.model) : null},
      ${isStart ? str(p.source) : null}, ${str(p.permission_mode)}, ${str(p.transcript_path)},
      ${isStart ? at : null}::timestamptz, ${isEnd ? at : null}::timestamptz,
      ${isEnd ? str(p.reason) : null}, ${at}::timestamptz
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
      last_event_at = greatest(c.last_event_at, EXCLUDED.last_event_at)
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

async function upsertToolUse(tx: Tx, env: Envelope, conversationId: string): Promise<void> {
  const p = env.payload as Record<string, unknown>;
  const at = isoOrNull(env.occurredAt);
  const duration = typeof p.duration_ms === "number" ? p.duration_ms : null;
  if (env.event === "PreToolUse") {
    // The Pre event's name and input are authoritative; a Post that came first only filled gaps.
    await tx`
      INSERT INTO tool_uses AS t (
        conversation_id, session_id, tool_use_id, tool_name, tool_input, pre_at
      ) VALUES (
        ${conversationId}, ${env.sessionId}, ${p.tool_use_id as string}, ${str(p.tool_name)},
        ${jsonValue(p.tool_input)}::jsonb, ${at}::timestamptz
      )
      ON CONFLICT (tool_use_id) DO UPDATE SET
        tool_name = coalesce(EXCLUDED.tool_name, t.tool_name),
        tool_input = coalesce(EXCLUDED.tool_input, t.tool_input),
        pre_at = least(t.pre_at, EXCLUDED.pre_at)`;
    return;
  }
  const failed = env.event === "PostToolUseFailure";
  await tx`
    INSERT INTO tool_uses AS t (
      conversation_id, session_id, tool_use_id, tool_name, tool_input, tool_response, error,
      status, duration_ms, post_at
    ) VALUES (
      ${conversationId}, ${env.sessionId}, ${p.tool_use_id as string}, ${str(p.tool_name)},
      ${jsonValue(p.tool_input)}::jsonb, ${failed ? null : jsonValue(p.tool_response)}::jsonb,
      ${failed ? jsonValue(p.error) : null}::jsonb, ${failed ? "failure" : "success"},
      ${duration}, ${at}::timestamptz
    )
    ON CONFLICT (tool_use_id) DO UPDATE SET
      tool_name = coalesce(t.tool_name, EXCLUDED.tool_name),
      tool_input = coalesce(t.tool_input, EXCLUDED.tool_input),
      tool_response = EXCLUDED.tool_response,
      error = EXCLUDED.error,
      status = EXCLUDED.status,
      duration_ms = EXCLUDED.duration_ms,
      post_at = EXCLUDED.post_at`;
}

function isAssistantLine(line: TranscriptLine): boolean {
  return typeof line.uuid === "string" &&
    (line.type === "assistant" || line.message?.role === "assistant");
}

/** The readable text of a message's content: text blocks joined, or the string itself. */
export function contentText(content: unknown): string | null {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return null;
  const texts = content
    .filter((block) => block && typeof block === "object" && block.type === "text")
    .map((block) => String((block as { text?: unknown }).text ?? ""));
  return texts.length > 0 ? texts.join("\n\n") : null;
}

const USAGE_FIELDS = [
  "input_tokens",
  "output_tokens",
  "cache_creation_input_tokens",
  "cache_read_input_tokens",
] as const;

/**
 * Assistant transcript lines become messages (once per line uuid) and token usage (once per
 * message.id + requestId: Claude Code repeats usage on every content block of one message).
 */
async function addTranscript(tx: Tx, env: Envelope, conversationId: string): Promise<void> {
  const lines = (env.transcript ?? []).filter(isAssistantLine);
  if (lines.length === 0) return;
  const seen = new Set<string>();
  const messages = [];
  const usage = new Map<string, Record<string, unknown>>();
  for (const line of lines) {
    const key = `transcript:${line.uuid}`;
    const occurredAt = isoOrNull(line.timestamp);
    if (!seen.has(key)) {
      seen.add(key);
      messages.push({
        dedupe_key: key,
        content: contentText(line.message?.content),
        content_json: line.message?.content ?? null,
        model: str(line.message?.model),
        message_id: str(line.message?.id),
        api_request_id: str(line.requestId),
        transcript_uuid: line.uuid,
        parent_uuid: str(line.parentUuid),
        occurred_at: occurredAt,
      });
    }
    const messageId = line.message?.id;
    const tokens = line.message?.usage;
    if (typeof messageId !== "string" || typeof line.requestId !== "string" || !tokens) continue;
    const usageKey = JSON.stringify([messageId, line.requestId]);
    const current = usage.get(usageKey) ?? {
      message_id: messageId,
      api_request_id: line.requestId,
      model: str(line.message?.model),
      occurred_at: occurredAt,
    };
    for (const field of USAGE_FIELDS) {
      current[field] = Math.max(Number(current[field] ?? 0), Number(tokens[field] ?? 0));
    }
    if (occurredAt && (!current.occurred_at || occurredAt < String(current.occurred_at))) {
      current.occurred_at = occurredAt;
    }
    usage.set(usageKey, current);
  }
  // A line re-sent with a later event keeps the earliest requestId (UUIDv7: minted first), so
  // the row does not depend on which delivery arrived first.
  await tx`
    INSERT INTO messages AS m (
      conversation_id, session_id, role, source, dedupe_key, content, content_json, model,
      message_id, api_request_id, transcript_uuid, parent_uuid, request_id, occurred_at
    )
    SELECT ${conversationId}, ${env.sessionId}, 'assistant', 'transcript', x.dedupe_key,
      x.content, x.content_json, x.model, x.message_id, x.api_request_id, x.transcript_uuid,
      x.parent_uuid, ${env.requestId}, x.occurred_at
    FROM jsonb_to_recordset(${jsonValue(messages)}::jsonb) AS x(
      dedupe_key text, content text, content_json jsonb, model text, message_id text,
      api_request_id text, transcript_uuid text, parent_uuid text, occurred_at timestamptz
    )
    ON CONFLICT (session_id, dedupe_key) DO UPDATE SET request_id = EXCLUDED.request_id
      WHERE EXCLUDED.request_id < m.request_id`;
  if (usage.size === 0) return;
  // Later blocks of one message may carry grown counts: keep the largest, whatever the order.
  await tx`
    INSERT INTO token_usage AS u (
      message_id, api_request_id, conversation_id, session_id, model, input_tokens,
      output_tokens, cache_creation_input_tokens, cache_read_input_tokens, occurred_at
    )
    SELECT x.message_id, x.api_request_id, ${conversationId}, ${env.sessionId}, x.model,
      x.input_tokens, x.output_tokens, x.cache_creation_input_tokens,
      x.cache_read_input_tokens, x.occurred_at
    FROM jsonb_to_recordset(${jsonValue([...usage.values()])}::jsonb) AS x(
      message_id text, api_request_id text, model text, input_tokens bigint,
      output_tokens bigint, cache_creation_input_tokens bigint, cache_read_input_tokens bigint,
      occurred_at timestamptz
    )
    ON CONFLICT (message_id, api_request_id) DO UPDATE SET
      model = coalesce(u.model, EXCLUDED.model),
      input_tokens = greatest(u.input_tokens, EXCLUDED.input_tokens),
      output_tokens = greatest(u.output_tokens, EXCLUDED.output_tokens),
      cache_creation_input_tokens = greatest(u.cache_creation_input_tokens,
        EXCLUDED.cache_creation_input_tokens),
      cache_read_input_tokens = greatest(u.cache_read_input_tokens,
        EXCLUDED.cache_read_input_tokens),
      occurred_at = least(u.occurred_at, EXCLUDED.occurred_at)`;
}

/** Stores one envelope; returns the conversation it belongs to. */
export async function processEnvelope(tx: Tx, env: Envelope): Promise<string> {
  const conversationId = await upsertConversation(tx, env);
  const p = env.payload as Record<string, unknown>;
  switch (env.event) {
    case "UserPromptSubmit":
      await addMessage(tx, env, conversationId, {
        role: "user",
        source: "prompt",
        key: `prompt:${str(p.prompt_id) ?? env.requestId}`,
        text: String(p.prompt),
      });
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
      // SessionStart and SessionEnd live on the conversation row; Notification, PreCompact,
      // SubagentStop and unknown events are kept in the audit trail, linked to it.
  }
  await addTranscript(tx, env, conversationId);
  return conversationId;
}
