// A session as Markdown that reads as a conversation: prompts quoted, replies as written, tool
// calls collapsed in <details> with input, output and error, tokens (and cost, when a cost
// function is given) under each reply.
import type { Conversation } from "../read/conversation.ts";
import type { TimelineItem } from "../read/timeline.ts";
import type { TokenUsageRow } from "../schema.ts";

export interface ExportOptions {
  /** US dollars for one API message's usage, when its price is known. */
  costOf?: (usage: TokenUsageRow) => number | undefined;
}

const int = (value: number | string) => Number(value).toLocaleString("en-US");
const time = (at: number) =>
  Number.isSafeInteger(at) && at < Number.MAX_SAFE_INTEGER
    ? new Date(at).toISOString().replace("T", " ").slice(0, 19) + " UTC"
    : "time unknown";

/** A code fence longer than any run of backticks inside, so content cannot close it. */
function fenced(text: string, lang = ""): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = "`".repeat(longest + 1);
  return `${fence}${lang}\n${text}\n${fence}`;
}

/** Text inside HTML (the <summary> line): tags and entities escaped. */
const inline = (text: string) =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/\s+/g, " ");

/**
 * A prompt as typed: every character Markdown or HTML would act on is backslash-escaped, so a
 * prompt holding `<script>` or `**` reads back exactly as it was written.
 */
const literal = (text: string) => text.replace(/[\\`*_{}\[\]<>#|~&!]/g, (ch) => `\\${ch}`);

const pretty = (value: unknown) =>
  typeof value === "string" ? value : JSON.stringify(value, null, 2) ?? "null";

function tokens(usage: TokenUsageRow | undefined, options: ExportOptions): string {
  if (!usage) return "";
  const cost = options.costOf?.(usage);
  return `\n\n_${int(usage.input_tokens)} in · ${int(usage.output_tokens)} out · ${
    int(usage.cache_read_input_tokens)
  } cache read · ${int(usage.cache_creation_input_tokens)} cache write${
    usage.model ? ` · ${usage.model}` : ""
  }${cost !== undefined ? ` · $${cost.toFixed(4)}` : ""}_`;
}

function item(entry: TimelineItem, options: ExportOptions): string {
  switch (entry.kind) {
    case "prompt":
      return `### Prompt · ${time(entry.at)}\n\n${
        literal(entry.text).split("\n").map((line) => `> ${line}`).join("\n")
      }`;
    case "reply":
      return `### Claude · ${time(entry.at)}\n\n${entry.text}${tokens(entry.usage, options)}`;
    case "tool": {
      const t = entry.tool;
      const status = t.status === "failure" ? "failed" : t.status;
      const parts = [`**input**\n\n${fenced(pretty(t.tool_input ?? null), "json")}`];
      if (t.tool_response !== null && t.tool_response !== undefined) {
        parts.push(`**output**\n\n${fenced(pretty(t.tool_response))}`);
      }
      if (t.error !== null && t.error !== undefined) {
        parts.push(`**error**\n\n${fenced(pretty(t.error))}`);
      }
      return `<details><summary>${inline(t.tool_name ?? "tool")} · ${status} · ${
        time(entry.at)
      }</summary>\n\n${parts.join("\n\n")}${tokens(entry.usage, options)}\n\n</details>`;
    }
  }
}

export function conversationMarkdown(data: Conversation, options: ExportOptions = {}): string {
  const s = data.summary;
  const header = [
    `# Session ${s.session_id}`,
    "",
    `- Project: ${s.project_dir ?? s.cwd ?? "unknown"}`,
    `- Model: ${s.model ?? "unknown"}`,
    `- Started: ${time(s.started.getTime())}${
      s.ended_at ? ` · ended ${time(s.ended_at.getTime())} (${s.end_reason ?? "ended"})` : ""
    }`,
    `- ${s.prompts} prompts · ${s.replies} replies · ${s.tool_uses} tool calls (${s.tool_failures} failed)`,
    `- Tokens: ${int(s.input_tokens)} in · ${int(s.output_tokens)} out · ${
      int(s.cache_read_input_tokens)
    } cache read · ${int(s.cache_creation_input_tokens)} cache write`,
  ];
  if (data.truncated) header.push(`- Only the first part of a very long session is included.`);
  return [header.join("\n"), ...data.timeline.map((entry) => item(entry, options))].join(
    "\n\n---\n\n",
  ) + "\n";
}
