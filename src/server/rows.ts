// Envelopes as row intents, and the merge of a group's intents into one row per key: pure, so
// that new event types extend the extraction and the SQL writers stay one statement per table.
// Every merge rule is the one its table's upsert applies (migrations/0010_row_arrays.sql), so
// merging in memory first gives the same rows as writing each envelope on its own, in any order.
import type { ConversationRow, Envelope, MessageRow, ToolUseRow } from "../schema.ts";

/** A conversations row as one envelope sees it; times as ISO text, as jsonb_to_recordset reads them. */
export interface ConversationIntent extends
  Pick<
    ConversationRow,
    | "session_id"
    | "project_dir"
    | "cwd"
    | "host"
    | "user_name"
    | "model"
    | "start_source"
    | "permission_mode"
    | "transcript_path"
    | "end_reason"
    | "key_name"
  > {
  started_at: string | null;
  ended_at: string | null;
  last_event_at: string | null;
  /** Every SessionStart source seen (startup, resume, clear, compact), sorted. */
  start_sources: string[];
}

export interface MessageIntent extends
  Pick<
    MessageRow,
    | "session_id"
    | "role"
    | "source"
    | "dedupe_key"
    | "content"
    | "content_json"
    | "model"
    | "message_id"
    | "api_request_id"
    | "transcript_uuid"
    | "parent_uuid"
  > {
  request_id: string;
  occurred_at: string | null;
}

/** Pre fields are set when a PreToolUse is in the intent (pre_at), Post fields by post_at. */
export interface ToolUseIntent extends
  Pick<
    ToolUseRow,
    | "session_id"
    | "tool_use_id"
    | "tool_name"
    | "tool_input"
    | "tool_response"
    | "error"
    | "status"
    | "duration_ms"
    | "agent_id"
  > {
  pre_at: string | null;
  post_at: string | null;
}

export interface RowIntents {
  conversations: ConversationIntent[];
  messages: MessageIntent[];
  toolUses: ToolUseIntent[];
}

export function isoOrNull(text: unknown): string | null {
  if (typeof text !== "string") return null;
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : null;
}

export function str(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}

/** ISO timestamps compare as text; null sorts below every time. */
function later(a: string | null, b: string | null): boolean {
  return a !== null && (b === null || a >= b);
}

export function least(a: string | null, b: string | null): string | null {
  return a === null ? b : b === null ? a : a < b ? a : b;
}

export function greatest(a: string | null, b: string | null): string | null {
  return a === null ? b : b === null ? a : a > b ? a : b;
}

function conversationOf(
  env: Envelope,
  startSource: string | undefined,
  keyName: string | null,
): ConversationIntent {
  const p = env.payload as Record<string, unknown>;
  const at = isoOrNull(env.occurredAt);
  const isStart = env.event === "SessionStart";
  const isEnd = env.event === "SessionEnd";
  return {
    session_id: env.sessionId,
    project_dir: str(env.source.projectDir),
    cwd: str(p.cwd) ?? str(env.source.cwd),
    host: str(env.source.host),
    user_name: str(env.source.user),
    model: isStart ? str(p.model) : null,
    start_source: isStart ? str(p.source) : null,
    permission_mode: str(p.permission_mode),
    transcript_path: str(p.transcript_path),
    started_at: isStart ? at : null,
    ended_at: isEnd ? at : null,
    end_reason: isEnd ? str(p.reason) : null,
    last_event_at: at,
    start_sources: startSource ? [startSource] : [],
    key_name: keyName,
  };
}

function toolUseOf(env: Envelope): ToolUseIntent {
  const p = env.payload as Record<string, unknown>;
  const at = isoOrNull(env.occurredAt);
  const isPre = env.event === "PreToolUse";
  const failed = env.event === "PostToolUseFailure";
  return {
    session_id: env.sessionId,
    tool_use_id: p.tool_use_id as string,
    tool_name: str(p.tool_name),
    tool_input: p.tool_input ?? null,
    pre_at: isPre ? at : null,
    tool_response: isPre || failed ? null : p.tool_response ?? null,
    error: failed ? p.error ?? null : null,
    status: isPre ? "pending" : failed ? "failure" : "success",
    duration_ms: !isPre && typeof p.duration_ms === "number" ? p.duration_ms : null,
    post_at: isPre ? null : at,
    agent_id: str(p.agent_id),
  };
}

function message(
  env: Envelope,
  role: MessageIntent["role"],
  source: MessageIntent["source"],
  key: string,
  text: string,
): MessageIntent {
  return {
    session_id: env.sessionId,
    role,
    source,
    dedupe_key: key,
    content: text,
    content_json: null,
    model: null,
    message_id: null,
    api_request_id: null,
    transcript_uuid: null,
    parent_uuid: null,
    request_id: env.requestId,
    occurred_at: isoOrNull(env.occurredAt),
  };
}

/**
 * The hook rows one valid envelope asks for (the record rows of src/record/ are merged apart:
 * src/server/record_intents.ts); startSource is what src/record/ found for SessionStart, keyName
 * the name of the API key that sent it.
 */
export function extract(
  env: Envelope,
  startSource?: string,
  keyName: string | null = null,
): RowIntents {
  const rows: RowIntents = {
    conversations: [conversationOf(env, startSource, keyName)],
    messages: [],
    toolUses: [],
  };
  const p = env.payload as Record<string, unknown>;
  switch (env.event) {
    // UserPromptSubmit: its prompt may claim a transcript line (src/server/record_intents.ts).
    case "PreToolUse":
    case "PostToolUse":
    case "PostToolUseFailure":
      rows.toolUses.push(toolUseOf(env));
      break;
    case "Stop":
      if (typeof p.last_assistant_message === "string") {
        rows.messages.push(
          message(env, "assistant", "stop", `stop:${env.requestId}`, p.last_assistant_message),
        );
      }
      break;
      // SessionStart and SessionEnd live on the conversation row; the record rows of other
      // events are merged apart; every event is kept in the audit trail, linked to it.
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// Merge rules: (existing, incoming) → merged, the same function the upserts apply.
// ---------------------------------------------------------------------------------------------

/** Current-state fields from the latest event, the start from the earliest, the end latest. */
export function mergeConversation(
  c: ConversationIntent,
  x: ConversationIntent,
): ConversationIntent {
  const newer = c.last_event_at === null || later(x.last_event_at, c.last_event_at);
  const current = <T>(a: T | null, b: T | null) => newer ? b ?? a : a ?? b;
  const earlierStart = x.started_at !== null &&
    (c.started_at === null || x.started_at < c.started_at);
  const start = <T>(a: T | null, b: T | null) => earlierStart ? b ?? a : a ?? b;
  const laterEnd = x.ended_at !== null && (c.ended_at === null || x.ended_at >= c.ended_at);
  return {
    session_id: c.session_id,
    project_dir: current(c.project_dir, x.project_dir),
    cwd: current(c.cwd, x.cwd),
    host: current(c.host, x.host),
    user_name: current(c.user_name, x.user_name),
    permission_mode: current(c.permission_mode, x.permission_mode),
    transcript_path: current(c.transcript_path, x.transcript_path),
    model: start(c.model, x.model),
    start_source: start(c.start_source, x.start_source),
    started_at: least(c.started_at, x.started_at),
    end_reason: laterEnd ? x.end_reason ?? c.end_reason : c.end_reason,
    ended_at: greatest(c.ended_at, x.ended_at),
    last_event_at: greatest(c.last_event_at, x.last_event_at),
    start_sources: [...new Set([...c.start_sources, ...x.start_sources])].sort(),
    // The key that sent the session's earliest event; a stored row keeps its own (0009).
    key_name: c.key_name ?? x.key_name,
  };
}

/** The earliest delivery (smallest requestId: UUIDv7, minted first) owns a message row. */
export function mergeMessage(m: MessageIntent, x: MessageIntent): MessageIntent {
  return x.request_id < m.request_id ? x : m;
}

/**
 * Pre's name and input are authoritative; a Post decides the outcome (the latest, when one
 * group holds two; across groups the one written last, as the upsert replaces it).
 */
export function mergeToolUse(t: ToolUseIntent, x: ToolUseIntent): ToolUseIntent {
  const fromPre = x.pre_at !== null;
  const post = x.post_at !== null && later(x.post_at, t.post_at) ? x : t;
  return {
    session_id: t.session_id,
    tool_use_id: t.tool_use_id,
    tool_name: fromPre ? x.tool_name ?? t.tool_name : t.tool_name ?? x.tool_name,
    tool_input: fromPre ? x.tool_input ?? t.tool_input : t.tool_input ?? x.tool_input,
    pre_at: least(t.pre_at, x.pre_at),
    tool_response: post.tool_response,
    error: post.error,
    status: post.post_at !== null ? post.status : t.status,
    duration_ms: post.duration_ms,
    post_at: post.post_at,
    agent_id: t.agent_id ?? x.agent_id,
  };
}

/** One row per key, merged in the given order, the keys sorted. */
export function mergeBy<T>(rows: T[], key: (row: T) => string, merge: (a: T, b: T) => T): T[] {
  const byKey = new Map<string, T>();
  for (const row of rows) {
    const k = key(row);
    const seen = byKey.get(k);
    byKey.set(k, seen === undefined ? row : merge(seen, row));
  }
  // One global order per table, so concurrent groups lock rows in the same order.
  return [...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
}

/**
 * One intent per row key for a whole group. Conversations fold in event-time order, as the
 * upsert compares each arrival with the row: the result is the row the events would leave.
 */
export function mergeIntents(all: RowIntents[]): RowIntents {
  const flat = <K extends keyof RowIntents>(k: K): RowIntents[K] =>
    // deno-lint-ignore no-explicit-any
    all.flatMap((r) => r[k] as any[]) as RowIntents[K];
  const conversations = flat("conversations").slice().sort((a, b) => {
    const [x, y] = [a.last_event_at ?? "", b.last_event_at ?? ""];
    return x < y ? -1 : x > y ? 1 : 0;
  });
  return {
    conversations: mergeBy(conversations, (c) => c.session_id, mergeConversation),
    messages: mergeBy(
      flat("messages"),
      (m) => JSON.stringify([m.session_id, m.dedupe_key]),
      mergeMessage,
    ),
    toolUses: mergeBy(
      flat("toolUses"),
      (t) => JSON.stringify([t.session_id, t.tool_use_id]),
      mergeToolUse,
    ),
  };
}
