// One session in full: its summary (the same counts and totals as the list), its rows, and the
// timeline built from them in the one documented order (src/read/timeline.ts).
import type { Sql } from "../store/open.ts";
import type { MessageRow, TokenUsageRow, ToolUseRow } from "../schema.ts";
import { type SessionSummary, sessionSummary } from "./sessions.ts";
import { buildTimeline, type TimelineItem } from "./timeline.ts";
import { unresolvedFailures } from "./events.ts";
import { type CostTotals, type MessageCost, messageCosts, NO_COST, sessionCosts } from "./cost.ts";
import { type AgentNode, agentTree } from "./agents.ts";

/** A conversation longer than this is shown up to here; `truncated` says so. */
export const TIMELINE_MAX = 10_000;

export interface Conversation {
  summary: SessionSummary;
  messages: MessageRow[];
  tools: ToolUseRow[];
  usage: TokenUsageRow[];
  /** The main conversation's timeline (subagents' rows are in agentTimelines). */
  timeline: TimelineItem[];
  /** Each subagent's own timeline, by agent_id. */
  agentTimelines: Map<string, TimelineItem[]>;
  /** The subagents as a tree, each under the agent that started it. */
  agents: AgentNode[];
  /** Dollars per API message, by message_id. */
  costs: Map<string, MessageCost>;
  /** The session's dollars, subagents included. */
  cost: CostTotals;
  /** Audit rows of this session that failed and were never stored by a later delivery. */
  failedEvents: number;
  /** Events processed for this session: SUCCESS rows (a DUPLICATE is not another event). */
  events: number;
  truncated: boolean;
}

// Explicit columns: the search vectors are the index's business, not the page's.
const MESSAGE_COLUMNS = [
  "id",
  "conversation_id",
  "session_id",
  "agent_id",
  "role",
  "source",
  "dedupe_key",
  "content",
  "content_json",
  "model",
  "message_id",
  "api_request_id",
  "transcript_uuid",
  "parent_uuid",
  "request_id",
  "occurred_at",
  "created_at",
];
const TOOL_COLUMNS = [
  "id",
  "conversation_id",
  "session_id",
  "agent_id",
  "tool_use_id",
  "permission",
  "permission_reason",
  "tool_name",
  "tool_input",
  "tool_response",
  "error",
  "status",
  "duration_ms",
  "pre_at",
  "post_at",
];

export async function getConversation(
  sql: Sql,
  sessionId: string,
): Promise<Conversation | undefined> {
  const summary = await sessionSummary(sql, sessionId);
  if (!summary) return undefined;
  const [messages, tools, usage, failedEvents, costs, cost, agents, [events]] = await Promise.all([
    sql<MessageRow[]>`
      SELECT ${sql(MESSAGE_COLUMNS)} FROM messages WHERE conversation_id = ${summary.id}
      ORDER BY coalesce(occurred_at, created_at), id LIMIT ${TIMELINE_MAX + 1}`,
    sql<ToolUseRow[]>`
      SELECT ${sql(TOOL_COLUMNS)} FROM tool_uses WHERE conversation_id = ${summary.id}
      ORDER BY coalesce(pre_at, post_at), id LIMIT ${TIMELINE_MAX + 1}`,
    sql<TokenUsageRow[]>`
      SELECT * FROM token_usage WHERE conversation_id = ${summary.id}
      ORDER BY occurred_at NULLS LAST, message_id LIMIT ${TIMELINE_MAX}`,
    unresolvedFailures(sql, sessionId),
    messageCosts(sql, summary.id),
    sessionCosts(sql, [summary.id]),
    agentTree(sql, summary.id),
    sql<{ n: number }[]>`SELECT count(*)::int AS n FROM webhook_events
      WHERE session_id = ${sessionId} AND status = 'SUCCESS'`,
  ]);
  const truncated = messages.length > TIMELINE_MAX || tools.length > TIMELINE_MAX;
  const shownMessages = messages.slice(0, TIMELINE_MAX);
  const shownTools = tools.slice(0, TIMELINE_MAX);
  const of = <T extends { agent_id: string | null }>(rows: T[], agentId: string | null) =>
    rows.filter((row) => (row.agent_id ?? null) === agentId);
  const timelineOf = (agentId: string | null) =>
    buildTimeline(of(shownMessages, agentId), of(shownTools, agentId), of(usage, agentId));
  const agentIds = new Set(
    [...shownMessages, ...shownTools].flatMap((row) => row.agent_id ? [row.agent_id] : []),
  );
  return {
    summary,
    messages: shownMessages,
    tools: shownTools,
    usage,
    timeline: timelineOf(null),
    agentTimelines: new Map([...agentIds].map((id) => [id, timelineOf(id)])),
    agents,
    costs: new Map(costs.map((row) => [row.message_id, row])),
    cost: cost.get(String(summary.id)) ?? NO_COST,
    failedEvents,
    events: events.n,
    truncated,
  };
}
