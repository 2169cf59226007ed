// The conversation order: copies from different sources removed, usage attached once, and one
// order when transcript times and hook times disagree.
import assert from "node:assert/strict";
import { buildTimeline, messageText } from "../src/read/timeline.ts";
import type { MessageRow, TokenUsageRow, ToolUseRow } from "../src/schema.ts";

const at = (s: number) => new Date(Date.UTC(2026, 10, 20, 10, 0, s));
let next = 1;
function message(fields: Partial<MessageRow>): MessageRow {
  const id = String(next++);
  return {
    id,
    conversation_id: "1",
    session_id: "s",
    agent_id: null,
    role: "user",
    source: "prompt",
    dedupe_key: id,
    content: null,
    content_json: null,
    model: null,
    message_id: null,
    api_request_id: null,
    transcript_uuid: null,
    parent_uuid: null,
    request_id: null,
    occurred_at: null,
    created_at: at(59),
    ...fields,
  };
}
function tool(fields: Partial<ToolUseRow>): ToolUseRow {
  return {
    id: String(next++),
    conversation_id: "1",
    session_id: "s",
    agent_id: null,
    permission: null,
    permission_reason: null,
    tool_use_id: "toolu_1",
    tool_name: "Bash",
    tool_input: { command: "npm test" },
    tool_response: null,
    error: null,
    status: "success",
    duration_ms: 10,
    pre_at: null,
    post_at: null,
    ...fields,
  };
}
function usage(messageId: string, input: number, output: number): TokenUsageRow {
  return {
    message_id: messageId,
    api_request_id: `req_${messageId}`,
    conversation_id: "1",
    session_id: "s",
    agent_id: null,
    model: "claude-sonnet-4-5",
    input_tokens: String(input),
    output_tokens: String(output),
    cache_creation_input_tokens: "0",
    cache_creation_5m_input_tokens: "0",
    cache_creation_1h_input_tokens: "0",
    cache_read_input_tokens: "100",
    occurred_at: null,
  };
}

Deno.test("timeline: prompts, tools and replies in time order, copies dropped", () => {
  const items = buildTimeline(
    [
      // Arrival order is not event order: the reply was stored first.
      message({
        role: "assistant",
        source: "transcript",
        content: "Done: tests pass.",
        message_id: "msg_B",
        occurred_at: at(9),
      }),
      message({ content: "Add a test", occurred_at: at(1) }),
      message({
        role: "assistant",
        source: "transcript",
        content: null,
        content_json: [{ type: "tool_use", id: "toolu_1", name: "Bash", input: {} }],
        message_id: "msg_A",
        occurred_at: at(2),
      }),
      message({
        role: "assistant",
        source: "stop",
        content: "Done: tests pass.",
        occurred_at: at(10),
      }),
      message({
        role: "assistant",
        source: "stop",
        content: "A reply only Stop saw",
        occurred_at: at(20),
      }),
    ],
    [
      tool({ pre_at: at(3), post_at: at(4) }),
      tool({ tool_use_id: "toolu_2", status: "failure", pre_at: at(5) }),
    ],
    [usage("msg_A", 1200, 85), usage("msg_B", 1450, 60)],
  );
  assert.deepEqual(
    items.map((i) => i.kind === "tool" ? `tool:${i.tool.tool_use_id}` : `${i.kind}:${i.text}`),
    [
      "prompt:Add a test",
      "tool:toolu_1",
      "tool:toolu_2",
      "reply:Done: tests pass.",
      "reply:A reply only Stop saw",
    ],
  );
  // msg_A had no text: its usage goes on its tool call; msg_B's on its reply; nothing twice.
  assert.equal(items[1].kind === "tool" && items[1].usage?.message_id, "msg_A");
  assert.equal(items[2].kind === "tool" && items[2].usage, undefined);
  assert.equal(items[3].kind === "reply" && items[3].usage?.message_id, "msg_B");
  assert.equal(items[4].kind === "reply" && items[4].usage, undefined);
});

Deno.test("timeline: a tool call follows the reply that asked for it, whatever the clocks say", () => {
  // Claude Code's transcript clock runs 5 s behind the hook clock here: by raw times the tool
  // call (hook time 10:00:03) would come before the text that announced it (transcript 10:00:07),
  // and the unrelated prompt at 10:00:05 would split them.
  const announce = message({
    role: "assistant",
    source: "transcript",
    content: "Running the tests.",
    message_id: "msg_C",
    occurred_at: at(7),
  });
  const call = message({
    role: "assistant",
    source: "transcript",
    content_json: [{ type: "tool_use", id: "toolu_late", name: "Bash", input: {} }],
    message_id: "msg_C",
    occurred_at: at(7),
  });
  const items = buildTimeline(
    [
      message({ content: "First", occurred_at: at(1) }),
      message({ content: "Second", occurred_at: at(5) }),
      announce,
      call,
      message({
        role: "assistant",
        source: "transcript",
        content: "Tests pass.",
        occurred_at: at(8),
      }),
    ],
    [
      tool({ tool_use_id: "toolu_late", pre_at: at(3), post_at: at(4) }),
      tool({ tool_use_id: "toolu_late_2", pre_at: at(2) }),
      tool({ tool_use_id: "toolu_free", pre_at: at(6) }),
    ],
    [],
  );
  // toolu_late_2 is in no stored message: its own time places it.
  assert.deepEqual(
    items.map((i) => i.kind === "tool" ? `tool:${i.tool.tool_use_id}` : `${i.kind}:${i.text}`),
    [
      "prompt:First",
      "tool:toolu_late_2",
      "prompt:Second",
      "tool:toolu_free",
      "reply:Running the tests.",
      "tool:toolu_late",
      "reply:Tests pass.",
    ],
  );
  // The same rows in another arrival order give the same timeline.
  const again = buildTimeline(
    [call, announce],
    [tool({ tool_use_id: "toolu_late", pre_at: at(3) })],
    [],
  );
  assert.deepEqual(again.map((i) => i.kind), ["reply", "tool"]);
});

Deno.test("timeline: message text comes from content or from text blocks", () => {
  assert.equal(messageText({ content: "plain", content_json: null }), "plain");
  assert.equal(
    messageText({
      content: null,
      content_json: [{ type: "thinking", thinking: "x" }, { type: "text", text: "a" }, {
        type: "text",
        text: "b",
      }],
    }),
    "a\n\nb",
  );
  assert.equal(
    messageText({ content: null, content_json: { content: [{ type: "text", text: "c" }] } }),
    "c",
  );
  assert.equal(messageText({ content: "", content_json: 42 }), "");
});
