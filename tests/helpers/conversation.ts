// A captured-session builder for read tests: prompts, a transcript with replies and tool_use
// blocks, tool calls with outputs and a failure, as the hook would send them.
import { envelope } from "./dashboard.ts";

export interface SessionSpec {
  sessionId: string;
  projectDir?: string;
  prompt: string;
  reply: string;
  /** Bash stdout of the one successful tool call. */
  stdout: string;
  /** Error text of the one failed tool call. */
  error: string;
  /** Seconds since the epoch origin of this session's clock. */
  startMs?: number;
}

/** The events of one turn, in the order the hook would send them. */
export function sessionEvents(spec: SessionSpec) {
  const start = spec.startMs ?? Date.now() - 60_000;
  const at = (s: number) => new Date(start + s * 1000).toISOString();
  const id = spec.sessionId;
  const source = {
    host: "devbox",
    user: "dev",
    projectDir: spec.projectDir ?? "/home/dev/shop",
    cwd: spec.projectDir ?? "/home/dev/shop",
  };
  const line = (uuid: string, s: number, msg: string, content: unknown[]) => ({
    type: "assistant",
    uuid: `${id}-${uuid}`,
    sessionId: id,
    timestamp: at(s),
    requestId: `req-${id}-${msg}`,
    message: {
      id: `msg-${id}-${msg}`,
      role: "assistant",
      model: "claude-sonnet-4-5",
      content,
      usage: {
        input_tokens: 1000,
        output_tokens: 50,
        cache_creation_input_tokens: 10,
        cache_read_input_tokens: 200,
      },
    },
  });
  const bash = { command: "npm test -- cart", description: "Run cart tests" };
  const read = { file_path: `${source.projectDir}/src/nope.ts` };
  const e = (event: string, s: number, payload: Record<string, unknown>, extra = {}) => ({
    ...envelope(event, id, payload, extra),
    occurredAt: at(s),
    source,
  });
  return [
    e("SessionStart", 0, { source: "startup", model: "claude-sonnet-4-5" }),
    e("UserPromptSubmit", 1, { prompt: spec.prompt, prompt_id: `p-${id}` }),
    e("PreToolUse", 2, { tool_name: "Bash", tool_use_id: `${id}-bash`, tool_input: bash }),
    e("PostToolUse", 3, {
      tool_name: "Bash",
      tool_use_id: `${id}-bash`,
      tool_input: bash,
      tool_response: { stdout: spec.stdout, stderr: "", interrupted: false },
      duration_ms: 1200,
    }, {
      transcript: [
        line("a1", 2, "A", [{ type: "tool_use", id: `${id}-bash`, name: "Bash", input: bash }]),
      ],
    }),
    e("PreToolUse", 4, { tool_name: "Read", tool_use_id: `${id}-read`, tool_input: read }),
    e("PostToolUseFailure", 5, {
      tool_name: "Read",
      tool_use_id: `${id}-read`,
      tool_input: read,
      error: spec.error,
    }),
    e("Stop", 6, { last_assistant_message: spec.reply, stop_hook_active: false }, {
      transcript: [
        line("a1", 2, "A", [{ type: "tool_use", id: `${id}-bash`, name: "Bash", input: bash }]),
        line("a2", 4, "B", [{ type: "tool_use", id: `${id}-read`, name: "Read", input: read }]),
        line("a3", 6, "C", [{ type: "text", text: spec.reply }]),
      ],
    }),
  ];
}
