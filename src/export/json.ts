// The API's shape of one session (GET /api/sessions/:id), which `arrakis export --format json`
// writes as is: the summary, then the timeline in reading order, each item with its anchor.
import type { Conversation } from "../read/conversation.ts";
import type { TimelineItem } from "../read/timeline.ts";
import { anchorOf } from "../read/search.ts";

const iso = (at: number) =>
  Number.isSafeInteger(at) && at < Number.MAX_SAFE_INTEGER ? new Date(at).toISOString() : null;

function itemJson(item: TimelineItem) {
  if (item.kind === "tool") {
    return {
      kind: item.kind,
      at: iso(item.at),
      anchor: anchorOf("tool", item.tool.id),
      tool: item.tool,
      usage: item.usage ?? null,
    };
  }
  return {
    kind: item.kind,
    at: iso(item.at),
    anchor: anchorOf("message", item.message.id),
    text: item.text,
    message: item.message,
    usage: item.kind === "reply" ? item.usage ?? null : null,
  };
}

export function conversationJson(data: Conversation) {
  return {
    conversation: data.summary,
    failedEvents: data.failedEvents,
    truncated: data.truncated,
    timeline: data.timeline.map(itemJson),
    agents: data.agents,
    agent_timelines: Object.fromEntries(
      [...data.agentTimelines].map(([id, items]) => [id, items.map(itemJson)]),
    ),
  };
}
