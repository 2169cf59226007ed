// Turns a conversation's rows into the order a person reads it: prompts, replies and tool calls,
// with the copies that different sources store removed and token usage attached once.
//
// The order rule (two clocks: transcript lines carry Claude Code's write times, prompts and tool
// calls carry hook times, and the two can disagree by more than the gap between events):
// 1. A tool call whose tool_use block is in a stored assistant message goes right after that
//    message, whatever its hook time says: the transcript names the reply that asked for it.
//    Several calls of one message keep their own time order.
// 2. Everything else is ordered by its own time (occurred_at, else when it was stored).
// 3. Ties: prompt before reply before tool call, then by row id (arrival order).
import type { MessageRow, TokenUsageRow, ToolUseRow } from "../schema.ts";

export type TimelineItem =
  | { kind: "prompt"; at: number; text: string; message: MessageRow }
  | { kind: "reply"; at: number; text: string; message: MessageRow; usage?: TokenUsageRow }
  | { kind: "tool"; at: number; tool: ToolUseRow; usage?: TokenUsageRow };

/** The readable text of a message: its content, or the text blocks of its JSON content. */
export function messageText(message: Pick<MessageRow, "content" | "content_json">): string {
  if (message.content && message.content.trim() !== "") return message.content;
  const json = message.content_json;
  if (typeof json === "string") return json;
  return contentBlocks(json)
    .map((block) =>
      block && typeof block === "object" && (block as { type?: unknown }).type === "text"
        ? String((block as { text?: unknown }).text ?? "")
        : ""
    )
    .filter((text) => text !== "")
    .join("\n\n");
}

function contentBlocks(json: unknown): unknown[] {
  if (Array.isArray(json)) return json;
  if (json && typeof json === "object" && Array.isArray((json as { content?: unknown }).content)) {
    return (json as { content: unknown[] }).content;
  }
  return [];
}

function toolUseIds(message: MessageRow): string[] {
  return contentBlocks(message.content_json).flatMap((block) => {
    const b = block as { type?: unknown; id?: unknown } | null;
    return b && b.type === "tool_use" && typeof b.id === "string" ? [b.id] : [];
  });
}

/** Whitespace folded, as src/read/copies.ts compares in SQL. */
const fold = (text: string) => text.replace(/\s+/g, " ").trim();

const RANK = { prompt: 0, reply: 1, tool: 2 } as const;

/** Where an item sorts: its anchor (own time, or its calling message's), then within it. */
interface SortKey {
  at: number;
  rank: number;
  id: bigint;
  within: number;
  withinId: bigint;
}

const order = (x: number | bigint, y: number | bigint) => x < y ? -1 : x > y ? 1 : 0;

function compare(a: SortKey, b: SortKey): number {
  return order(a.at, b.at) || order(a.rank, b.rank) || order(a.id, b.id) ||
    order(a.within, b.within) || order(a.withinId, b.withinId);
}

const messageAt = (m: MessageRow) => (m.occurred_at ?? m.created_at).getTime();
const toolAt = (t: ToolUseRow) => (t.pre_at ?? t.post_at)?.getTime() ?? Number.MAX_SAFE_INTEGER;

export function buildTimeline(
  messages: MessageRow[],
  tools: ToolUseRow[],
  usage: TokenUsageRow[],
): TimelineItem[] {
  const transcriptReplies = new Set(
    messages.filter((m) => m.role === "assistant" && m.source !== "stop").map((m) =>
      fold(messageText(m))
    ),
  );
  const caller = new Map<string, MessageRow>();
  for (const m of messages) for (const id of toolUseIds(m)) caller.set(id, m);

  const keyed: { item: TimelineItem; key: SortKey }[] = [];
  for (const message of messages) {
    const text = messageText(message);
    if (fold(text) === "") continue;
    // Stop's last_assistant_message repeats the transcript's final text block.
    if (message.source === "stop" && transcriptReplies.has(fold(text))) continue;
    const kind = message.role === "user" ? "prompt" : "reply";
    const at = messageAt(message);
    keyed.push({
      item: { kind, at, text, message },
      key: { at, rank: RANK[kind], id: BigInt(message.id), within: -1, withinId: 0n },
    });
  }
  for (const tool of tools) {
    const from = caller.get(tool.tool_use_id);
    const at = toolAt(tool);
    keyed.push({
      item: { kind: "tool", at, tool },
      key: from
        ? {
          at: messageAt(from),
          rank: RANK.reply,
          id: BigInt(from.id),
          within: at,
          withinId: BigInt(tool.id),
        }
        : { at, rank: RANK.tool, id: BigInt(tool.id), within: 0, withinId: 0n },
    });
  }
  keyed.sort((a, b) => compare(a.key, b.key));
  const items = keyed.map(({ item }) => item);

  // Usage goes on the first reply of its API message, else on that message's first tool call.
  const usageByMessage = new Map(usage.map((u) => [u.message_id, u]));
  const attached = new Set<string>();
  const takeUsage = (messageId: string | null | undefined) => {
    if (!messageId || attached.has(messageId)) return undefined;
    const found = usageByMessage.get(messageId);
    if (found) attached.add(messageId);
    return found;
  };
  for (const item of items) {
    if (item.kind === "reply") item.usage = takeUsage(item.message.message_id);
  }
  for (const item of items) {
    if (item.kind === "tool") item.usage = takeUsage(caller.get(item.tool.tool_use_id)?.message_id);
  }
  return items;
}
