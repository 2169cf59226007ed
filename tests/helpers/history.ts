// A generated ~/.claude/projects tree, and the hook envelopes live capture of the same sessions
// would have sent: one session with nested subagents (main → Explore → general-purpose), a
// 300 KB tool output, a failing tool, a garbage line and a torn last line; one plain session.
import { join } from "node:path";
import { makeEnvelope } from "./server.ts";

export const S1 = "11111111-aaaa-4bbb-8ccc-000000000001";
export const S2 = "22222222-aaaa-4bbb-8ccc-000000000002";
const CWD = "/home/dev/shop";
const BIG = "x".repeat(300 * 1024);

type Line = Record<string, unknown>;

function at(second: number): string {
  return new Date(Date.parse("2026-11-20T10:00:00.000Z") + second * 1000).toISOString();
}

function user(session: string, uuid: string, second: number, content: unknown, extra: Line = {}) {
  return {
    type: "user",
    uuid,
    sessionId: session,
    cwd: CWD,
    timestamp: at(second),
    message: { role: "user", content },
    ...extra,
  };
}

function assistant(
  session: string,
  uuid: string,
  second: number,
  id: string,
  content: unknown[],
  usage: Line,
  extra: Line = {},
  model = "claude-sonnet-4-5",
) {
  return {
    type: "assistant",
    uuid,
    sessionId: session,
    cwd: CWD,
    timestamp: at(second),
    requestId: `req_${id}`,
    message: { id: `msg_${id}`, role: "assistant", model, content, usage },
    ...extra,
  };
}

const usage = (input: number, output: number, extra: Line = {}) => ({
  input_tokens: input,
  output_tokens: output,
  ...extra,
});

const taskResult = (agentId: string) => ({
  agentId,
  status: "completed",
  content: [{ type: "text", text: `agent ${agentId} done` }],
  totalTokens: 1234,
});

interface Tool {
  id: string;
  name: string;
  input: unknown;
  result: unknown;
  failed?: boolean;
  agentId: string | null;
  second: number;
}

export interface History {
  root: string;
  /** Every file written, main sessions first. */
  files: string[];
  /** The envelopes live capture would have sent, in event order. */
  live: Record<string, unknown>[];
  /** Valid (JSON) lines written, torn and garbage lines excluded. */
  validLines: number;
}

export async function writeHistory(root: string): Promise<History> {
  const shop = join(root, "-home-dev-shop");
  const s1Path = join(shop, `${S1}.jsonl`);
  const agentsDir = join(shop, S1, "subagents");
  const ag1Path = join(agentsDir, "agent-ag1.jsonl");
  const ag2Path = join(agentsDir, "agent-ag2.jsonl");
  const s2Path = join(root, "-home-dev-blog", `${S2}.jsonl`);
  await Deno.mkdir(agentsDir, { recursive: true });
  await Deno.mkdir(join(root, "-home-dev-blog"), { recursive: true });

  const tools: Tool[] = [
    {
      id: "toolu_task1",
      name: "Task",
      input: { subagent_type: "Explore", description: "find totals", prompt: "Find totals" },
      result: taskResult("ag1"),
      agentId: null,
      second: 2,
    },
    {
      id: "toolu_task2",
      name: "Task",
      input: { subagent_type: "general-purpose", description: "check tax", prompt: "Check tax" },
      result: taskResult("ag2"),
      agentId: "ag1",
      second: 11,
    },
    {
      id: "toolu_grep1",
      name: "Grep",
      input: { pattern: "total" },
      result: "Error: boom",
      failed: true,
      agentId: "ag1",
      second: 20,
    },
    {
      id: "toolu_bash1",
      name: "Bash",
      input: { command: "cat big.log" },
      result: { stdout: BIG, stderr: "", interrupted: false },
      agentId: null,
      second: 40,
    },
  ];
  const call = (t: Tool) => ({ type: "tool_use", id: t.id, name: t.name, input: t.input });
  const result = (session: string, uuid: string, t: Tool, extra: Line = {}) =>
    user(session, uuid, t.second + 1, [{
      type: "tool_result",
      tool_use_id: t.id,
      content: typeof t.result === "string" ? t.result : JSON.stringify(t.result).slice(0, 100),
      is_error: t.failed === true,
    }], { toolUseResult: t.result, ...extra });
  const side = (agentId: string) => ({ isSidechain: true, agentId });

  const main: Line[] = [
    user(S1, "u1", 0, "Find where totals are computed"),
    assistant(S1, "a1", 1, "a", [{ type: "text", text: "Let me look." }], usage(100, 5)),
    assistant(S1, "a1b", 2, "a", [call(tools[0])], usage(100, 50)),
    result(S1, "r1", tools[0]),
    assistant(
      S1,
      "a2",
      39,
      "b",
      [call(tools[3])],
      usage(300, 20, {
        cache_creation_input_tokens: 1000,
        cache_creation: { ephemeral_5m_input_tokens: 400, ephemeral_1h_input_tokens: 600 },
      }),
    ),
    result(S1, "r2", tools[3]),
    assistant(
      S1,
      "a3",
      45,
      "c",
      [{ type: "text", text: "Totals live in cart.ts." }],
      usage(
        400,
        30,
        { cache_read_input_tokens: 1000 },
      ),
    ),
    user(S1, "u2", 50, "thanks"),
    assistant(S1, "a4", 51, "d", [{ type: "text", text: "You're welcome." }], usage(500, 5)),
  ];
  const ag1: Line[] = [
    user(S1, "s1u", 3, "Find totals", side("ag1")),
    assistant(
      S1,
      "s1a",
      10,
      "s1",
      [call(tools[1])],
      usage(50, 10),
      side("ag1"),
      "claude-haiku-4-5",
    ),
    result(S1, "s1r", tools[1], side("ag1")),
    assistant(
      S1,
      "s1b",
      19,
      "s2",
      [call(tools[2])],
      usage(60, 10),
      side("ag1"),
      "claude-haiku-4-5",
    ),
    result(S1, "s1r2", tools[2], side("ag1")),
    assistant(
      S1,
      "s1c",
      30,
      "s3",
      [{ type: "text", text: "In cart.ts." }],
      usage(70, 15),
      side(
        "ag1",
      ),
      "claude-haiku-4-5",
    ),
  ];
  const ag2: Line[] = [
    user(S1, "s2u", 12, "Check tax", side("ag2")),
    assistant(
      S1,
      "s2a",
      15,
      "t1",
      [{ type: "text", text: "Tax is 8%." }],
      usage(20, 8),
      side(
        "ag2",
      ),
      "claude-haiku-4-5",
    ),
  ];
  const blog: Line[] = [
    user(S2, "b1", 100, "Draft a post"),
    assistant(S2, "b2", 101, "e", [{ type: "text", text: "Here is a draft." }], usage(10, 100)),
  ];

  const jsonl = (lines: Line[]) => lines.map((l) => JSON.stringify(l) + "\n").join("");
  const mainText = jsonl(main.slice(0, 7)) + "this is not json {\n" + jsonl(main.slice(7)) +
    '{"type":"assistant","uuid":"torn';
  await Deno.writeTextFile(s1Path, mainText);
  await Deno.writeTextFile(ag1Path, jsonl(ag1));
  await Deno.writeTextFile(
    join(agentsDir, "agent-ag1.meta.json"),
    JSON.stringify({ agentType: "Explore", description: "find totals" }),
  );
  await Deno.writeTextFile(ag2Path, jsonl(ag2));
  await Deno.writeTextFile(
    join(agentsDir, "agent-ag2.meta.json"),
    JSON.stringify({ agentType: "general-purpose" }),
  );
  await Deno.writeTextFile(s2Path, jsonl(blog));

  const hook = (
    session: string,
    event: string,
    fields: Line,
    second: number,
    transcript?: Line[],
  ) =>
    makeEnvelope({
      session_id: session,
      hook_event_name: event,
      transcript_path: session === S1 ? s1Path : s2Path,
      cwd: CWD,
      ...fields,
    }, { occurredAt: at(second), transcript });
  const live: Record<string, unknown>[] = [
    hook(S1, "UserPromptSubmit", { prompt: "Find where totals are computed" }, 0.5),
  ];
  for (const t of tools) {
    const agent = t.agentId ? { agent_id: t.agentId, agent_type: "x" } : {};
    const base = { tool_name: t.name, tool_use_id: t.id, tool_input: t.input, ...agent };
    live.push(hook(S1, "PreToolUse", base, t.second + 0.2));
    if (t.name === "Task") {
      const child = (t.result as { agentId: string }).agentId;
      live.push(
        hook(
          S1,
          "SubagentStart",
          { agent_id: child, agent_type: (t.input as Line).subagent_type },
          t.second + 0.3,
        ),
      );
    }
    live.push(hook(
      S1,
      t.failed ? "PostToolUseFailure" : "PostToolUse",
      t.failed ? { ...base, error: t.result } : { ...base, tool_response: t.result },
      t.second + 0.9,
    ));
  }
  live.push(hook(
    S1,
    "SubagentStop",
    {
      agent_id: "ag2",
      agent_type: "general-purpose",
      agent_transcript_path: ag2Path,
    },
    16,
    ag2,
  ));
  live.push(hook(
    S1,
    "SubagentStop",
    {
      agent_id: "ag1",
      agent_type: "Explore",
      agent_transcript_path: ag1Path,
    },
    31,
    ag1,
  ));
  live.push(hook(S1, "UserPromptSubmit", { prompt: "thanks" }, 50.3));
  live.push(hook(S1, "Stop", {}, 52, main));
  live.push(hook(S2, "UserPromptSubmit", { prompt: "Draft a post" }, 100.2));
  live.push(hook(S2, "Stop", {}, 102, blog));
  // The hook marks a SubagentStop's lines as coming from the agent's own file.
  for (const envelope of live) {
    const payload = envelope.payload as Line;
    if (payload.hook_event_name === "SubagentStop") {
      envelope.transcriptRange = { path: payload.agent_transcript_path, from: 0, to: 1 };
    }
  }
  return {
    root,
    files: [s1Path, s2Path, ag1Path, ag2Path],
    live,
    validLines: main.length + ag1.length + ag2.length + blog.length,
  };
}
