// One session read as a conversation: prompts as typed, replies as (safe) markdown, tool calls
// collapsed with their input and output, failures marked, tokens and dollars per reply and in
// total, and each subagent nested (collapsed) under the call that started it, with its totals.
import { h, type Html, json } from "../html.ts";
import { page } from "../layout.ts";
import { renderMarkdown } from "../markdown.ts";
import type { Conversation } from "../queries.ts";
import { buildTimeline, type TimelineItem, usageTotals } from "../timeline.ts";
import type { TokenUsageRow, ToolUseRow } from "../../schema.ts";
import { basename, fmtDuration, fmtInt, fmtMs, fmtTime, fmtUsd, truncate } from "../format.ts";
import type { MessageCost } from "../../read/cost.ts";
import type { AgentNode } from "../../read/agents.ts";

/** Tool output can be megabytes: the page shows the start and says how much is left out. */
const MAX_SHOWN = 20_000;

function clipped(text: string): Html {
  if (text.length <= MAX_SHOWN) return h`${text}`;
  return h`${text.slice(0, MAX_SHOWN)}<span class="muted">
… ${fmtInt(text.length - MAX_SHOWN)} more characters not shown</span>`;
}

function block(value: unknown): Html {
  if (typeof value === "string") return h`<pre>${clipped(value)}</pre>`;
  const text = JSON.stringify(value, null, 2) ?? "null";
  return text.length <= MAX_SHOWN ? h`<pre>${json(value)}</pre>` : h`<pre>${clipped(text)}</pre>`;
}

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

/** One subagent, collapsed: what it is, its totals (its subtree's), and its own timeline. */
function agentBlock(data: Conversation, agent: AgentNode, byTool: Map<string, AgentNode[]>): Html {
  const t = agent.totals;
  return h`<details class="agent" data-agent="${agent.agent_id}">
<summary><span class="agent-type">${agent.agent_type ?? "agent"}</span><span class="tool-brief">${
    truncate(agent.description ?? "", 120)
  }</span><span class="muted nowrap" data-agent-totals>${plural(t.messages, "message")} · ${
    plural(t.tool_uses, "tool")
  } · ${fmtInt(t.output_tokens)} out · ${
    t.cost_usd === null && t.unpriced_messages > 0
      ? costText(null, null)
      : h`<span class="cost">${fmtUsd(t.cost_usd ?? 0)}</span>`
  }</span></summary>
<div class="agent-body">${timelineOf(data, agent.agent_id, byTool)}</div></details>`;
}

function timelineOf(
  data: Conversation,
  agentId: string | null,
  byTool: Map<string, AgentNode[]>,
): Html[] {
  const mine = <T extends { agent_id: string | null }>(rows: T[]) =>
    rows.filter((row) => (row.agent_id ?? null) === agentId);
  const entries = buildTimeline(mine(data.messages), mine(data.tools), mine(data.usage));
  return entries.map((entry) =>
    h`${item(entry, data.costs)}${
      entry.kind === "tool"
        ? (byTool.get(entry.tool.tool_use_id) ?? []).map((a) => agentBlock(data, a, byTool))
        : ""
    }`
  );
}

function toolOutput(tool: ToolUseRow): Html {
  const response = tool.tool_response;
  if (response && typeof response === "object" && !Array.isArray(response)) {
    const r = response as Record<string, unknown>;
    if (typeof r.stdout === "string" || typeof r.stderr === "string") {
      return h`${r.stdout ? h`<div class="label">stdout</div>${block(r.stdout)}` : ""}${
        r.stderr ? h`<div class="label">stderr</div>${block(r.stderr)}` : ""
      }${
        !r.stdout && !r.stderr
          ? h`<div class="label">output</div><pre class="muted">(empty)</pre>`
          : ""
      }`;
    }
  }
  return response === null || response === undefined
    ? h``
    : h`<div class="label">output</div>${block(response)}`;
}

function item(entry: TimelineItem, costs: Map<string, MessageCost>): Html {
  switch (entry.kind) {
    case "prompt":
      return h`<article class="msg user"><div class="who"><b>Prompt</b><span class="mono">${
        fmtTime(entry.at)
      }</span></div><div class="text">${entry.text}</div></article>`;
    case "reply":
      return h`<article class="msg assistant"><div class="who"><b>Claude</b><span>${
        entry.message.model ?? ""
      } <span class="mono">${fmtTime(entry.at)}</span></span></div><div class="md">${
        renderMarkdown(entry.text)
      }</div>${usageLine(entry.usage, costs)}</article>`;
    case "tool": {
      const tool = entry.tool;
      const failed = tool.status === "failure";
      return h`<details class="tool${failed ? " failure" : ""}" data-tool="${tool.tool_use_id}">
<summary><span class="tool-name">${tool.tool_name ?? "tool"}</span><span class="tool-brief">${
        truncate(toolBrief(tool.tool_input), 140)
      }</span><span class="badge s-${tool.status}">${
        failed ? "failed" : tool.status
      }</span><span class="muted nowrap">${fmtMs(tool.duration_ms)}</span></summary>
<div class="body">
  <div class="label">input</div>${block(tool.tool_input ?? null)}
  ${toolOutput(tool)}
  ${
        tool.error !== null && tool.error !== undefined
          ? h`<div class="label">error</div>${block(tool.error)}`
          : ""
      }
  ${usageLine(entry.usage, costs)}
  <div class="muted mono">${tool.tool_use_id}</div>
</div></details>`;
    }
  }
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

export function conversationPage(data: Conversation, now: number): Html {
  const c = data.conversation;
  const timeline = buildTimeline(
    data.messages.filter((m) => !m.agent_id),
    data.tools.filter((t) => !t.agent_id),
    data.usage.filter((u) => !u.agent_id),
  );
  const { byTool, loose } = agentsByTool(data);
  const totals = usageTotals(data.usage);
  const started = c.started_at ?? c.first_seen_at;
  const last = c.ended_at ?? c.last_event_at;
  const failures = data.tools.filter((t) => t.status === "failure").length;
  const prompts = timeline.filter((i) => i.kind === "prompt").length;
  return page(
    `Session ${basename(c.project_dir ?? c.cwd)}`,
    "sessions",
    h`<div class="row spread"><div>
<h1>${basename(c.project_dir ?? c.cwd)} <span class="muted mono">${c.session_id}</span></h1>
<p class="sub">${c.project_dir ?? c.cwd ?? ""}${c.model ? h` · ${c.model}` : ""} · started ${
      fmtTime(started)
    } UTC · ${
      c.ended_at
        ? h`ended (${c.end_reason ?? "ended"}) after ${
          fmtDuration(last ? last.getTime() - started.getTime() : null)
        }`
        : h`open, last event ${fmtDuration(last ? now - last.getTime() : null)} ago`
    }</p>
</div><a class="btn ghost" href="/events?session=${
      encodeURIComponent(c.session_id)
    }">Audit trail</a></div>
${
      data.failedEvents > 0
        ? h`<div class="alert bad"><b>${data.failedEvents} failed event${
          data.failedEvents === 1 ? "" : "s"
        }</b> for this session were not stored. <a href="/events?session=${
          encodeURIComponent(c.session_id)
        }">See the audit trail</a> or <a href="/failed">reprocess them</a>.</div>`
        : ""
    }
<div class="grid cards">
  <div class="card stat"><div class="label">Prompts</div><div class="value">${prompts}</div></div>
  <div class="card stat"><div class="label">Tool calls</div><div class="value">${data.tools.length}</div><div class="note">${failures} failed</div></div>
  <div class="card stat"><div class="label">Input tokens</div><div class="value">${
      fmtInt(totals.input)
    }</div><div class="note">${fmtInt(totals.cacheRead)} cache read · ${
      fmtInt(totals.cacheCreation)
    } cache write</div></div>
  <div class="card stat"><div class="label">Output tokens</div><div class="value">${
      fmtInt(totals.output)
    }</div><div class="note">${totals.calls} API calls</div></div>
  <div class="card stat" data-stat="cost"><div class="label">Cost</div><div class="value">${
      data.cost.cost_usd === null && data.cost.unpriced_messages > 0
        ? "unknown"
        : fmtUsd(data.cost.cost_usd ?? 0)
    }</div><div class="note">${
      data.cost.unpriced_messages > 0
        ? h`<span class="unpriced">${data.cost.unpriced_messages} replies not priced (${
          data.cost.unpriced_models.join(", ")
        })</span>`
        : h`agents included`
    }</div></div>
</div>
<div class="timeline" id="timeline">${
      timeline.length === 0
        ? h`<div class="card empty">Nothing captured for this session yet.</div>`
        : timelineOf(data, null, byTool)
    }${
      loose.length > 0
        ? h`<h2>Subagents</h2>${loose.map((agent) => agentBlock(data, agent, byTool))}`
        : ""
    }</div>`,
  );
}
