// Turns a conversation's rows into the order a person reads it: prompts, replies and tool calls
// by time, with the copies that different sources store removed and token usage attached once.
import type { MessageRow, TokenUsageRow, ToolUseRow } from "../schema.ts";

export type TimelineItem =
  | { kind: "prompt"; at: number; text: string; message: MessageRow }
  | { kind: "reply"; at: number; text: string; message: MessageRow; usage?: TokenUsageRow }
  | { kind: "tool"; at: number; tool: ToolUseRow; usage?: TokenUsageRow };

export interface UsageTotals {
  input: number;
  output: number;
  cacheRead: number;
  cacheCreation: number;
  calls: number;
}

/** The readable text of a message: its content, or the text blocks of its JSON content. */
export function messageText(message: Pick<MessageRow, "content" | "content_json">): string {
  if (message.content && message.content.trim() !== "") return message.content;
  const json = message.content_json;
  if (typeof json === "string") return json;
  const blocks = Array.isArray(json)
    ? json
    : json && typeof json === "object" && Array.isArray((json as { content?: unknown }).content)
    ? (json as { content: unknown[] }).content
    : [];
  return blocks
    .map((block) =>
      block && typeof block === "object" && (block as { type?: unknown }).type === "text"
        ? String((block as { text?: unknown }).text ?? "")
        : ""
    )
    .filter((text) => text !== "")
    .join("\n\n");
}

function toolUseIds(message: MessageRow): string[] {
  const json = message.content_json;
  const blocks = Array.isArray(json)
    ? json
    : json && typeof json === "object" && Array.isArray((json as { content?: unknown }).content)
    ? (json as { content: unknown[] }).content
    : [];
  return blocks.flatMap((block) => {
    const b = block as { type?: unknown; id?: unknown } | null;
    return b && b.type === "tool_use" && typeof b.id === "string" ? [b.id] : [];
  });
}

const time = (date: Date | null | undefined, fallback: number) => date ? date.getTime() : fallback;

export function buildTimeline(
  messages: MessageRow[],
  tools: ToolUseRow[],
  usage: TokenUsageRow[],
): TimelineItem[] {
  const norm = (text: string) => text.replace(/\s+/g, " ").trim();
  const prompts = new Set(
    messages.filter((m) => m.role === "user" && m.source === "prompt").map((m) =>
      norm(messageText(m))
    ),
  );
  const transcriptReplies = new Set(
    messages.filter((m) => m.role === "assistant" && m.source !== "stop").map((m) =>
      norm(messageText(m))
    ),
  );
  const usageByMessage = new Map(usage.map((u) => [u.message_id, u]));
  const toolMessage = new Map<string, string>();
  for (const m of messages) {
    if (m.message_id) { for (const id of toolUseIds(m)) toolMessage.set(id, m.message_id); }
  }
  const attached = new Set<string>();
  const takeUsage = (messageId: string | null | undefined) => {
    if (!messageId || attached.has(messageId)) return undefined;
    const found = usageByMessage.get(messageId);
    if (found) attached.add(messageId);
    return found;
  };

  const items: (TimelineItem & { order: number })[] = [];
  let order = 0;
  for (const message of messages) {
    const text = messageText(message);
    const at = time(message.occurred_at, message.created_at.getTime());
    if (norm(text) === "") continue;
    if (message.role === "user") {
      // The transcript repeats the prompt the UserPromptSubmit event already stored.
      if (message.source !== "prompt" && prompts.has(norm(text))) continue;
      items.push({ kind: "prompt", at, text, message, order: order++ });
    } else {
      // Stop's last_assistant_message repeats the transcript's final text block.
      if (message.source === "stop" && transcriptReplies.has(norm(text))) continue;
      items.push({ kind: "reply", at, text, message, order: order++ });
    }
  }
  for (const tool of tools) {
    items.push({ kind: "tool", at: time(tool.pre_at ?? tool.post_at, 0), tool, order: order++ });
  }
  items.sort((a, b) => a.at - b.at || a.order - b.order);
  // Usage goes on the first reply of its API message, else on that message's first tool call.
  for (const item of items) {
    if (item.kind === "reply") item.usage = takeUsage(item.message.message_id);
  }
  for (const item of items) {
    if (item.kind === "tool") item.usage = takeUsage(toolMessage.get(item.tool.tool_use_id));
  }
  return items.map(({ order: _order, ...item }) => item as TimelineItem);
}

export function usageTotals(usage: TokenUsageRow[]): UsageTotals {
  const totals: UsageTotals = { input: 0, output: 0, cacheRead: 0, cacheCreation: 0, calls: 0 };
  for (const u of usage) {
    totals.input += Number(u.input_tokens);
    totals.output += Number(u.output_tokens);
    totals.cacheRead += Number(u.cache_read_input_tokens);
    totals.cacheCreation += Number(u.cache_creation_input_tokens);
    totals.calls++;
  }
  return totals;
}
