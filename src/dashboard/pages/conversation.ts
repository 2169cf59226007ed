// One session read as a conversation: prompts as typed, replies as (safe) markdown, tool calls
// collapsed with their output rendered as what it is, failures marked, tokens and dollars per
// reply and in total, and each subagent nested (collapsed) under the call that started it. The
// same markup makes the self-contained HTML export (src/export/html.ts).
import { h, type Html } from "../html.ts";
import { page } from "../layout.ts";
import { renderMarkdown } from "../markdown.ts";
import type { Conversation } from "../../read/conversation.ts";
import type { TimelineItem } from "../../read/timeline.ts";
import { anchorOf } from "../../read/search.ts";
import type { TokenUsageRow } from "../../schema.ts";
import { basename, fmtDuration, fmtInt, fmtMs, fmtTime, fmtUsd, truncate } from "../format.ts";
import type { MessageCost } from "../../read/cost.ts";
import type { AgentNode } from "../../read/agents.ts";
import { toolBody } from "../tool_output.ts";

function toolBrief(input: unknown): string {
  if (!input || typeof input !== "object") return typeof input === "string" ? input : "";
  const record = input as Record<string, unknown>;
  for (
    const key of [
      "command",
      "file_path",
      "path",
      "pattern",
      "url",
      "query",
      "description",
      "prompt",
    ]
  ) {
    if (typeof record[key] === "string") return record[key] as string;
  }
  return JSON.stringify(input);
}

function costText(cost: number | null | undefined, model: string | null | undefined): Html {
  return cost === null || cost === undefined
    ? h`<span class="unpriced" title="no price for ${model ?? "this model"}">cost unknown</span>`
    : h`<span class="cost">${fmtUsd(cost)}</span>`;
}

function usageLine(usage: TokenUsageRow | undefined, costs: Map<string, MessageCost>): Html {
  if (!usage) return h``;
  const cost = costs.get(usage.message_id);
  return h`<div class="tokens">${fmtInt(usage.input_tokens)} in · ${
    fmtInt(usage.output_tokens)
  } out · ${fmtInt(usage.cache_read_input_tokens)} cache read · ${
    fmtInt(usage.cache_creation_input_tokens)
  } cache write${usage.model ? h` · ${usage.model}` : ""} · ${
    costText(cost?.cost_usd, usage.model)
  }</div>`;
}

const plural = (n: number, word: string) => `${fmtInt(n)} ${word}${n === 1 ? "" : "s"}`;

interface View {
  data: Conversation;
  hit?: string;
  byTool: Map<string, AgentNode[]>;
  /** The agents whose timeline (or a descendant's) holds the hit: shown open. */
  openAgents: Set<string>;
}

/** One subagent, collapsed: what it is, its totals (its subtree's), and its own timeline. */
function agentBlock(view: View, agent: AgentNode): Html {
  const t = agent.totals;
  return h`<details class="agent" data-agent="${agent.agent_id}"${
    view.openAgents.has(agent.agent_id) ? h` open` : ""
  }>
<summary><span class="agent-type">${agent.agent_type ?? "agent"}</span><span class="tool-brief">${
    truncate(agent.description ?? "", 120)
  }</span><span class="muted nowrap" data-agent-totals>${plural(t.messages, "message")} · ${
    plural(t.tool_uses, "tool")
  } · ${fmtInt(t.output_tokens)} out · ${
    t.cost_usd === null && t.unpriced_messages > 0
      ? costText(null, null)
      : h`<span class="cost">${fmtUsd(t.cost_usd ?? 0)}</span>`
  }</span></summary>
<div class="agent-body">${timelineOf(view, agent.agent_id)}</div></details>`;
}

function timelineOf(view: View, agentId: string | null): Html[] {
  const entries = agentId === null
    ? view.data.timeline
    : view.data.agentTimelines.get(agentId) ?? [];
  return entries.map((entry) =>
    h`${item(entry, view.hit, view.data.costs)}${
      entry.kind === "tool"
        ? (view.byTool.get(entry.tool.tool_use_id) ?? []).map((a) => agentBlock(view, a))
        : ""
    }`
  );
}

/** Every agent under the tool call that started it; the others (no known call) at the end. */
function agentsByTool(
  data: Conversation,
): { byTool: Map<string, AgentNode[]>; loose: AgentNode[] } {
  const calls = new Set(data.tools.map((t) => t.tool_use_id));
  const byTool = new Map<string, AgentNode[]>();
  const loose: AgentNode[] = [];
  const place = (agent: AgentNode) => {
    const call = agent.parent_tool_use_id;
    if (call && calls.has(call)) byTool.set(call, [...(byTool.get(call) ?? []), agent]);
    else loose.push(agent);
    agent.children.forEach(place);
  };
  data.agents.forEach(place);
  return { byTool, loose };
}

/** The agents to open so that `hit` is visible: its own agent and every ancestor. */
function agentsHolding(data: Conversation, hit: string | undefined): Set<string> {
  const open = new Set<string>();
  if (!hit) return open;
  const holds = (items: TimelineItem[]) =>
    items.some((i) =>
      (i.kind === "tool" ? anchorOf("tool", i.tool.id) : anchorOf("message", i.message.id)) === hit
    );
  const visit = (agent: AgentNode): boolean => {
    const below = agent.children.map(visit).some(Boolean);
    const here = holds(data.agentTimelines.get(agent.agent_id) ?? []) || below;
    if (here) open.add(agent.agent_id);
    return here;
  };
  data.agents.forEach(visit);
  return open;
}

const timeOf = (at: number) => at < Number.MAX_SAFE_INTEGER ? fmtTime(new Date(at)) : "";

function item(
  entry: TimelineItem,
  hit: string | undefined,
  costs: Map<string, MessageCost>,
): Html {
  switch (entry.kind) {
    case "prompt":
    case "reply": {
      const anchor = anchorOf("message", entry.message.id);
      const cls = `msg ${entry.kind === "prompt" ? "user" : "assistant"}${
        anchor === hit ? " hit" : ""
      }`;
      return entry.kind === "prompt"
        ? h`<article class="${cls}" id="${anchor}"><div class="who"><b>Prompt</b><span class="mono">${
          timeOf(entry.at)
        }</span></div><div class="text">${entry.text}</div></article>`
        : h`<article class="${cls}" id="${anchor}"><div class="who"><b>Claude</b><span>${
          entry.message.model ?? ""
        } <span class="mono">${timeOf(entry.at)}</span></span></div><div class="md">${
          renderMarkdown(entry.text)
        }</div>${usageLine(entry.usage, costs)}</article>`;
    }
    case "tool": {
      const tool = entry.tool;
      const failed = tool.status === "failure";
      const anchor = anchorOf("tool", tool.id);
      // A search hit opens its tool call, so the matched words are on screen.
      return h`<details class="tool${failed ? " failure" : ""}${
        anchor === hit ? " hit" : ""
      }" id="${anchor}" data-tool="${tool.tool_use_id}"${anchor === hit ? h` open` : ""}>
<summary><span class="tool-name">${tool.tool_name ?? "tool"}</span><span class="tool-brief">${
        truncate(toolBrief(tool.tool_input), 140)
      }</span><span class="badge s-${tool.status}">${
        failed ? "failed" : tool.status
      }</span><span class="muted nowrap">${fmtMs(tool.duration_ms)}</span></summary>
<div class="body">
  ${toolBody(tool)}
  ${usageLine(entry.usage, costs)}
  <div class="muted mono">${tool.tool_use_id}</div>
</div></details>`;
    }
  }
}

/** The heading, the totals and the timeline: everything but the page frame. */
export function conversationBody(
  data: Conversation,
  now: number,
  options: { hit?: string; actions?: Html } = {},
): Html {
  const c = data.summary;
  const last = c.ended_at ?? c.last_event_at;
  const { byTool, loose } = agentsByTool(data);
  const view: View = {
    data,
    hit: options.hit,
    byTool,
    openAgents: agentsHolding(data, options.hit),
  };
  return h`<div class="row spread"><div class="title">
<h1>${basename(c.project_dir ?? c.cwd)} <span class="muted mono">${c.session_id}</span></h1>
<p class="sub">${c.project_dir ?? c.cwd ?? ""}${c.model ? h` · ${c.model}` : ""} · started ${
    fmtTime(c.started)
  } UTC · ${
    c.ended_at
      ? h`ended (${c.end_reason ?? "ended"}) after ${
        fmtDuration(last ? last.getTime() - c.started.getTime() : null)
      }`
      : h`open, last event ${fmtDuration(last ? now - last.getTime() : null)} ago`
  }</p>
</div>${options.actions ?? ""}</div>
${
    data.failedEvents > 0
      ? h`<div class="alert bad"><b>${data.failedEvents} failed event${
        data.failedEvents === 1 ? "" : "s"
      }</b> for this session were not stored. <a href="/events?session=${
        encodeURIComponent(c.session_id)
      }">See the audit trail</a> or <a href="/failed">reprocess them</a>.</div>`
      : ""
  }${
    data.truncated
      ? h`<div class="alert info">This session is very long: only its first part is shown.</div>`
      : ""
  }
<div class="grid cards">
  <div class="card stat"><div class="label">Prompts</div><div class="value">${c.prompts}</div><div class="note">${c.replies} replies</div></div>
  <div class="card stat"><div class="label">Tool calls</div><div class="value">${c.tool_uses}</div><div class="note">${c.tool_failures} failed</div></div>
  <div class="card stat"><div class="label">Input tokens</div><div class="value">${
    fmtInt(c.input_tokens)
  }</div><div class="note">${fmtInt(c.cache_read_input_tokens)} cache read · ${
    fmtInt(c.cache_creation_input_tokens)
  } cache write</div></div>
  <div class="card stat"><div class="label">Output tokens</div><div class="value">${
    fmtInt(c.output_tokens)
  }</div><div class="note">${c.api_calls} API calls</div></div>
  <div class="card stat" data-stat="cost"><div class="label">Cost</div><div class="value">${
    c.cost_usd === null && c.unpriced_messages > 0 ? "unknown" : fmtUsd(c.cost_usd ?? 0)
  }</div><div class="note">${
    c.unpriced_messages > 0
      ? h`<span class="unpriced">${c.unpriced_messages} replies not priced (${
        c.unpriced_models.join(", ")
      })</span>`
      : h`agents included`
  }</div></div>
</div>
<div class="timeline" id="timeline">${
    data.timeline.length === 0
      ? h`<div class="card empty">Nothing captured for this session yet.</div>`
      : timelineOf(view, null)
  }${
    loose.length > 0 ? h`<h2>Subagents</h2>${loose.map((agent) => agentBlock(view, agent))}` : ""
  }</div>`;
}

export function conversationPage(data: Conversation, now: number, hit?: string): Html {
  const c = data.summary;
  const id = encodeURIComponent(c.session_id);
  const actions =
    h`<div class="row actions"><a class="btn ghost" href="/events?session=${id}">Audit trail</a>
<a class="btn ghost" href="/sessions/${id}/export?format=md">Export Markdown</a>
<a class="btn ghost" href="/sessions/${id}/export?format=html">Export HTML</a>
<a class="btn ghost" href="/sessions/${id}/export?format=json">Export JSON</a></div>`;
  return page(
    `Session ${basename(c.project_dir ?? c.cwd)}`,
    "sessions",
    conversationBody(data, now, { hit, actions }),
  );
}
