// The record rows of a whole group (what src/record/ extracts from its envelopes: prompts,
// transcript lines, tool calls and results, usage, agents, permissions, session events) as one
// list per statement, merged per row key: pure, so that the group's function
// (migrations/0010_row_arrays.sql) runs one statement per table whatever the group holds. Each
// merge folds the group's intents in event time with the rule its upsert applies against a
// stored row, so a group leaves the rows its envelopes would leave written one by one.
import type { Envelope } from "../schema.ts";
import type { EventRows, PermissionIntent, SessionEventIntent } from "../record/event_rows.ts";
import {
  type AgentIntent,
  type MessageIntent,
  type PromptIntent,
  type ToolCallIntent,
  type ToolResultIntent,
  transcriptRows,
  type UsageIntent,
} from "../record/transcript_rows.ts";
import { greatest, isoOrNull, least, mergeBy, str } from "./rows.ts";

/** Where a row belongs, and which delivery wrote it. */
interface Owned {
  session_id: string;
  request_id: string;
}

/** One envelope that succeeded in the group, with what src/record/ found in it. */
export interface RecordInput {
  envelope: Envelope;
  events: EventRows;
}

/**
 * A UserPromptSubmit's prompt: it claims a stored transcript line with its text when one is
 * near, else it is inserted. Written before the group's lines, which then merge into it as
 * a later group's would: a prompt and its line in one group end as in any two.
 */
export interface HookPromptRow extends Owned {
  dedupe_key: string;
  content: string;
  occurred_at: string | null;
}

export type AssistantRow = MessageIntent & Owned;
export type LineRow = PromptIntent & Owned;
export type ToolCallRow = ToolCallIntent & Omit<Owned, "request_id">;
export type ToolResultRow = ToolResultIntent & Omit<Owned, "request_id">;
export type UsageRow = UsageIntent & Omit<Owned, "request_id">;
export type AgentRow = AgentIntent & Omit<Owned, "request_id">;
export type SessionEventRow = SessionEventIntent & Owned & { occurred_at: string };

export type PermissionRow = PermissionIntent & Omit<Owned, "request_id">;

/** A conversation's bounds from its transcript lines, and the model they name. */
export interface BoundsRow {
  session_id: string;
  first: string;
  last: string | null;
  model: string | null;
}

export interface RecordIntents {
  hookPrompts: HookPromptRow[];
  /** Transcript user lines (prompts): fill a stored prompt row, else inserted. */
  lines: LineRow[];
  assistant: AssistantRow[];
  toolCalls: ToolCallRow[];
  toolResults: ToolResultRow[];
  permissions: PermissionRow[];
  usage: UsageRow[];
  agents: AgentRow[];
  sessionEvents: SessionEventRow[];
  bounds: BoundsRow[];
}

const minId = (a: string, b: string) => (b < a ? b : a);

/** Fields a later intent fills where the earlier left null: coalesce(stored, incoming). */
function fill<T extends object>(known: T, next: T, fields: readonly (keyof T)[]): T {
  const out = { ...known };
  for (const field of fields) {
    if (out[field] === null || out[field] === undefined) out[field] = next[field];
  }
  return out;
}

const bySession = (id: string) => (row: { session_id: string }) =>
  `${row.session_id}\u0000${(row as Record<string, unknown>)[id]}`;

/** The first insert gives a line's row; the earliest delivery (UUIDv7) owns it. */
function mergeOwned<T extends Owned>(known: T, next: T): T {
  return { ...known, request_id: minId(known.request_id, next.request_id) };
}

/** The record rows of a group's succeeded envelopes, merged per key. */
export function recordIntents(inputs: RecordInput[]): RecordIntents {
  // Event time, as the envelopes would have been written one by one.
  const ordered = [...inputs].sort((a, b) =>
    a.envelope.occurredAt < b.envelope.occurredAt
      ? -1
      : a.envelope.occurredAt > b.envelope.occurredAt
      ? 1
      : 0
  );
  const hookPrompts: HookPromptRow[] = [];
  const lines: LineRow[] = [];
  const assistant: AssistantRow[] = [];
  const toolCalls: ToolCallRow[] = [];
  const toolResults: ToolResultRow[] = [];
  const permissions: PermissionRow[] = [];
  const usage: UsageRow[] = [];
  const agents: AgentRow[] = [];
  const sessionEvents: SessionEventRow[] = [];
  const bounds: BoundsRow[] = [];

  for (const { envelope: env, events } of ordered) {
    const owned: Owned = { session_id: env.sessionId, request_id: env.requestId };
    const place = { session_id: env.sessionId };
    const p = env.payload as Record<string, unknown>;
    if (env.event === "UserPromptSubmit") {
      hookPrompts.push({
        ...owned,
        dedupe_key: `prompt:${str(p.prompt_id) ?? env.requestId}`,
        content: String(p.prompt),
        occurred_at: isoOrNull(env.occurredAt),
      });
    }
    for (const agent of events.agents) agents.push({ ...agent, ...place });
    if (events.sessionEvent) {
      sessionEvents.push({ ...events.sessionEvent, ...owned, occurred_at: env.occurredAt });
    }
    if (events.permission) permissions.push({ ...events.permission, ...place });
    if (!env.transcript || env.transcript.length === 0) continue;
    const agent = events.transcriptAgent;
    const rows = transcriptRows(env.transcript, {
      agentId: agent?.agentId ?? null,
      agentPath: agent?.path ?? null,
    });
    for (const m of rows.messages) assistant.push({ ...m, ...owned });
    for (const line of rows.prompts) lines.push({ ...line, ...owned });
    for (const call of rows.toolCalls) toolCalls.push({ ...call, ...place });
    for (const result of rows.toolResults) toolResults.push({ ...result, ...place });
    for (const u of rows.usage) usage.push({ ...u, ...place });
    for (const a of rows.agents) agents.push({ ...a, ...place });
    if (rows.first) {
      // Its first assistant model names the session when no SessionStart did.
      const model = rows.messages.find((m) => m.model && m.agent_id === null)?.model ?? null;
      bounds.push({ session_id: env.sessionId, first: rows.first, last: rows.last, model });
    }
  }

  return {
    // A prompt key already taken stays with its first prompt (ON CONFLICT DO NOTHING).
    hookPrompts: mergeBy(hookPrompts, bySession("dedupe_key"), (known) => known),
    lines: mergeBy(lines, bySession("dedupe_key"), mergeOwned),
    assistant: mergeBy(assistant, bySession("dedupe_key"), mergeOwned),
    // What the hook saw wins; the transcript fills what no hook event delivered.
    toolCalls: mergeBy(toolCalls, bySession("tool_use_id"), (t, x) => ({
      ...fill(t, x, ["tool_name", "tool_input", "agent_id"]),
      pre_at: least(t.pre_at, x.pre_at),
    })),
    // A result only fills a pending call: the first one stays.
    toolResults: mergeBy(toolResults, bySession("tool_use_id"), (t, x) => fill(t, x, ["agent_id"])),
    // A denial is final; the latest reason given wins.
    permissions: mergeBy(permissions, bySession("tool_use_id"), (t, x) => ({
      ...fill(t, x, ["tool_name", "tool_input", "agent_id"]),
      permission: t.permission === "denied" || x.permission === "denied" ? "denied" : x.permission,
      reason: x.reason ?? t.reason,
    })),
    // Later blocks of one message may carry grown counts: the largest, whatever the order.
    usage: mergeBy(usage, (u) => JSON.stringify([u.message_id, u.api_request_id]), (u, x) => ({
      ...fill(u, x, ["model", "agent_id"]),
      input_tokens: Math.max(u.input_tokens, x.input_tokens),
      output_tokens: Math.max(u.output_tokens, x.output_tokens),
      cache_creation_input_tokens: Math.max(
        u.cache_creation_input_tokens,
        x.cache_creation_input_tokens,
      ),
      cache_creation_5m_input_tokens: Math.max(
        u.cache_creation_5m_input_tokens,
        x.cache_creation_5m_input_tokens,
      ),
      cache_creation_1h_input_tokens: Math.max(
        u.cache_creation_1h_input_tokens,
        x.cache_creation_1h_input_tokens,
      ),
      cache_read_input_tokens: Math.max(u.cache_read_input_tokens, x.cache_read_input_tokens),
      occurred_at: least(u.occurred_at, x.occurred_at),
    })),
    agents: mergeBy(agents, bySession("agent_id"), (a, x) => ({
      ...fill(a, x, [
        "agent_type",
        "description",
        "parent_tool_use_id",
        "parent_agent_id",
        "transcript_path",
        "last_message",
      ]),
      started_at: least(a.started_at, x.started_at),
      ended_at: greatest(a.ended_at, x.ended_at),
    })),
    sessionEvents: mergeBy(sessionEvents, (e) => e.request_id, (e) => e),
    bounds: mergeBy(bounds, (b) => b.session_id, (b, x) => ({
      session_id: b.session_id,
      first: least(b.first, x.first)!,
      last: greatest(b.last, x.last),
      model: b.model ?? x.model,
    })),
  };
}
