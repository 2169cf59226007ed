// Transcript lines → the rows they stand for, as plain data (no SQL): assistant messages and
// their usage, the user's prompts, tool calls and their results, and the subagents the lines
// name. Live capture (lines attached to Stop, SubagentStop, ...) and `arrakis import` both go
// through here, so a session imported from disk gives the rows live capture gave.
import type { TokenCounts, TranscriptLine } from "../schema.ts";

export interface MessageIntent {
  dedupe_key: string;
  agent_id: string | null;
  content: string | null;
  content_json: unknown;
  model: string | null;
  message_id: string | null;
  api_request_id: string | null;
  transcript_uuid: string;
  parent_uuid: string | null;
  occurred_at: string | null;
}

export interface PromptIntent {
  /** prompt:<promptId> when the line names the prompt (as UserPromptSubmit does), else by uuid. */
  dedupe_key: string;
  agent_id: string | null;
  content: string;
  content_json: unknown;
  transcript_uuid: string;
  parent_uuid: string | null;
  occurred_at: string | null;
}

export interface ToolCallIntent {
  tool_use_id: string;
  agent_id: string | null;
  tool_name: string | null;
  tool_input: unknown;
  pre_at: string | null;
}

export interface ToolResultIntent {
  tool_use_id: string;
  agent_id: string | null;
  tool_response: unknown;
  error: unknown;
  status: "success" | "failure";
  post_at: string | null;
}

export interface UsageIntent extends TokenCounts {
  message_id: string;
  api_request_id: string;
  agent_id: string | null;
  model: string | null;
  occurred_at: string | null;
}

/** What one source says about an agent; every field may be unknown to it. */
export interface AgentIntent {
  agent_id: string;
  agent_type: string | null;
  description: string | null;
  parent_tool_use_id: string | null;
  parent_agent_id: string | null;
  transcript_path: string | null;
  started_at: string | null;
  ended_at: string | null;
  last_message: string | null;
}

export interface TranscriptRows {
  messages: MessageIntent[];
  prompts: PromptIntent[];
  toolCalls: ToolCallIntent[];
  toolResults: ToolResultIntent[];
  usage: UsageIntent[];
  agents: AgentIntent[];
  /** Earliest and latest line timestamps: the session's first and last times. */
  first: string | null;
  last: string | null;
}

export function isoOrNull(text: unknown): string | null {
  if (typeof text !== "string") return null;
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : null;
}

const str = (value: unknown): string | null => typeof value === "string" ? value : null;
const count = (value: unknown): number =>
  typeof value === "number" && Number.isFinite(value) && value > 0 ? Math.floor(value) : 0;

/** The readable text of a message's content: text blocks joined, or the string itself. */
export function contentText(content: unknown): string | null {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return null;
  const texts = content
    .filter((block) => block && typeof block === "object" && block.type === "text")
    .map((block) => String((block as { text?: unknown }).text ?? ""));
  return texts.length > 0 ? texts.join("\n\n") : null;
}

function blocks(content: unknown): Record<string, unknown>[] {
  return Array.isArray(content)
    ? content.filter((b): b is Record<string, unknown> => b !== null && typeof b === "object")
    : [];
}

/** An agent the Task/Agent tool's result names: the call that started it. */
export function agentFromToolResult(
  toolUseId: string,
  result: unknown,
  callerAgentId: string | null,
): AgentIntent | undefined {
  if (result === null || typeof result !== "object") return undefined;
  const r = result as Record<string, unknown>;
  const agentId = str(r.agentId) ?? str(r.agent_id);
  if (!agentId) return undefined;
  return {
    ...emptyAgent(agentId),
    agent_type: str(r.agentType) ?? str(r.subagent_type),
    parent_tool_use_id: toolUseId,
    parent_agent_id: callerAgentId,
  };
}

export function emptyAgent(agentId: string): AgentIntent {
  return {
    agent_id: agentId,
    agent_type: null,
    description: null,
    parent_tool_use_id: null,
    parent_agent_id: null,
    transcript_path: null,
    started_at: null,
    ended_at: null,
    last_message: null,
  };
}

// Lines Claude Code writes into the user's turn itself: slash-command echoes and outputs.
const NOT_A_PROMPT = /^\s*<(?:command-name|command-message|local-command-[a-z]+)>/;

/**
 * The rows in `lines`. `agentId` is the agent whose transcript this is when the lines do not
 * say (a subagent file read whole); `agentPath` its transcript's path.
 */
export function transcriptRows(
  lines: readonly TranscriptLine[],
  context: { agentId: string | null; agentPath?: string | null } = { agentId: null },
): TranscriptRows {
  const rows: TranscriptRows = {
    messages: [],
    prompts: [],
    toolCalls: [],
    toolResults: [],
    usage: [],
    agents: [],
    first: null,
    last: null,
  };
  const seen = new Set<string>();
  const usage = new Map<string, UsageIntent>();
  const agents = new Map<string, AgentIntent>();
  const noteAgent = (intent: AgentIntent) => {
    const known = agents.get(intent.agent_id);
    if (!known) return void agents.set(intent.agent_id, intent);
    for (const [key, value] of Object.entries(intent) as [keyof AgentIntent, string | null][]) {
      if (value !== null && known[key] === null) {
        (known as unknown as Record<string, unknown>)[key] = value;
      }
    }
  };

  for (const line of lines) {
    const at = isoOrNull(line.timestamp);
    if (at) {
      if (!rows.first || at < rows.first) rows.first = at;
      if (!rows.last || at > rows.last) rows.last = at;
    }
    if (typeof line.uuid !== "string") continue;
    const agentId = str(line.agentId) ?? context.agentId;
    if (agentId) {
      noteAgent({
        ...emptyAgent(agentId),
        transcript_path: agentId === context.agentId ? context.agentPath ?? null : null,
        started_at: at,
      });
    }
    const role = line.message?.role ?? line.type;
    const content = line.message?.content;
    if (role === "assistant" || line.type === "assistant") {
      const key = `transcript:${line.uuid}`;
      if (!seen.has(key)) {
        seen.add(key);
        rows.messages.push({
          dedupe_key: key,
          agent_id: agentId,
          content: contentText(content),
          content_json: content ?? null,
          model: str(line.message?.model),
          message_id: str(line.message?.id),
          api_request_id: str(line.requestId),
          transcript_uuid: line.uuid,
          parent_uuid: str(line.parentUuid),
          occurred_at: at,
        });
      }
      for (const block of blocks(content)) {
        if (block.type !== "tool_use" || typeof block.id !== "string") continue;
        rows.toolCalls.push({
          tool_use_id: block.id,
          agent_id: agentId,
          tool_name: str(block.name),
          tool_input: block.input ?? null,
          pre_at: at,
        });
      }
      addUsage(usage, line, agentId, at);
      continue;
    }
    if (role !== "user" && line.type !== "user") continue;
    const results = blocks(content).filter((b) => b.type === "tool_result");
    for (const block of results) {
      if (typeof block.tool_use_id !== "string") continue;
      // The line's toolUseResult is the structured result PostToolUse carries; with several
      // results on one line it cannot be told apart, so each keeps its own content.
      const structured = results.length === 1 && line.toolUseResult !== undefined
        ? line.toolUseResult
        : block.content ?? null;
      const failed = block.is_error === true;
      rows.toolResults.push({
        tool_use_id: block.tool_use_id,
        agent_id: agentId,
        tool_response: failed ? null : structured,
        error: failed ? structured : null,
        status: failed ? "failure" : "success",
        post_at: at,
      });
      const started = agentFromToolResult(block.tool_use_id, line.toolUseResult, agentId);
      if (started && results.length === 1) noteAgent(started);
    }
    if (results.length > 0 || line.isMeta === true || line.isCompactSummary === true) continue;
    const text = contentText(content);
    if (text === null || NOT_A_PROMPT.test(text)) continue;
    rows.prompts.push({
      dedupe_key: line.promptId && !agentId ? `prompt:${line.promptId}` : `transcript:${line.uuid}`,
      agent_id: agentId,
      content: text,
      content_json: content ?? null,
      transcript_uuid: line.uuid,
      parent_uuid: str(line.parentUuid),
      occurred_at: at,
    });
  }
  rows.usage = [...usage.values()];
  rows.agents = [...agents.values()];
  return rows;
}

/** Usage once per (message.id, requestId), each count the largest any of its lines carries. */
function addUsage(
  usage: Map<string, UsageIntent>,
  line: TranscriptLine,
  agentId: string | null,
  at: string | null,
): void {
  const messageId = line.message?.id;
  const tokens = line.message?.usage;
  if (typeof messageId !== "string" || typeof line.requestId !== "string" || !tokens) return;
  const key = JSON.stringify([messageId, line.requestId]);
  const current = usage.get(key) ?? {
    message_id: messageId,
    api_request_id: line.requestId,
    agent_id: agentId,
    model: str(line.message?.model),
    input_tokens: 0,
    output_tokens: 0,
    cache_creation_input_tokens: 0,
    cache_creation_5m_input_tokens: 0,
    cache_creation_1h_input_tokens: 0,
    cache_read_input_tokens: 0,
    occurred_at: at,
  };
  const split = tokens.cache_creation;
  const max = (field: keyof UsageIntent, value: unknown) => {
    (current as unknown as Record<string, number>)[field] = Math.max(
      current[field] as number,
      count(value),
    );
  };
  max("input_tokens", tokens.input_tokens);
  max("output_tokens", tokens.output_tokens);
  max("cache_creation_input_tokens", tokens.cache_creation_input_tokens);
  max("cache_read_input_tokens", tokens.cache_read_input_tokens);
  max("cache_creation_5m_input_tokens", split?.ephemeral_5m_input_tokens);
  max("cache_creation_1h_input_tokens", split?.ephemeral_1h_input_tokens);
  if (at && (!current.occurred_at || at < current.occurred_at)) current.occurred_at = at;
  usage.set(key, current);
}
