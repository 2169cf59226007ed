// The API's shape of one session (GET /api/sessions/:id), which `arrakis export --format json`
// writes as is: the summary, then the timeline in reading order, each item with its anchor.
import type { Conversation } from "../read/conversation.ts";
import type { TimelineItem } from "../read/timeline.ts";
import type { TokenUsageRow } from "../schema.ts";
import { anchorOf } from "../read/search.ts";

const iso = (at: number) =>
  Number.isSafeInteger(at) && at < Number.MAX_SAFE_INTEGER ? new Date(at).toISOString() : null;

/** An API message's usage with its dollars (cost_usd, price_model) beside the tokens. */
function usageJson(data: Conversation, usage: TokenUsageRow | undefined) {
  if (!usage) return null;
  const cost = data.costs.get(usage.message_id);
  return { ...usage, cost_usd: cost?.cost_usd ?? null, price_model: cost?.price_model ?? null };
}

function itemJson(data: Conversation, item: TimelineItem) {
  if (item.kind === "tool") {
    return {
      kind: item.kind,
      at: iso(item.at),
      anchor: anchorOf("tool", item.tool.id),
      tool: item.tool,
      usage: usageJson(data, item.usage),
    };
  }
  return {
    kind: item.kind,
    at: iso(item.at),
    anchor: anchorOf("message", item.message.id),
    text: item.text,
    message: item.message,
    usage: item.kind === "reply" ? usageJson(data, item.usage) : null,
  };
}

export function conversationJson(data: Conversation) {
  const s = data.summary;
  return {
    conversation: s,
    /** Token sums and dollars, subagents included; `events`: SUCCESS rows of the session. */
    totals: {
      input_tokens: s.input_tokens,
      output_tokens: s.output_tokens,
      cache_creation_input_tokens: s.cache_creation_input_tokens,
      cache_creation_5m_input_tokens: s.cache_creation_5m_input_tokens,
      cache_creation_1h_input_tokens: s.cache_creation_1h_input_tokens,
      cache_read_input_tokens: s.cache_read_input_tokens,
      events: data.events,
      cost_usd: s.cost_usd,
      unpriced_messages: s.unpriced_messages,
      unpriced_models: s.unpriced_models,
    },
    failedEvents: data.failedEvents,
    truncated: data.truncated,
    timeline: data.timeline.map((item) => itemJson(data, item)),
    agents: data.agents,
    agent_timelines: Object.fromEntries(
      [...data.agentTimelines].map(([id, items]) => [id, items.map((i) => itemJson(data, i))]),
    ),
  };
}
