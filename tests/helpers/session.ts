// One whole fixture session as envelopes, a seeded shuffle, and a dump of the tables that must
// not depend on delivery order: shared by the ingest suites.
import type { Sql } from "../../src/store/open.ts";
import { uuidv7 } from "../../src/ids.ts";
import { fixturePayload, fixtureTranscript, makeEnvelope } from "./server.ts";

export const SESSION = "6f1c2a9e-3b7d-4e25-9a41-0c8d5e7f1b23";

/** One whole session, each event with its own time; transcript split over two events. */
export function sessionEnvelopes(): Record<string, unknown>[] {
  const base = Date.parse("2026-11-20T10:00:00.000Z");
  const at = (seconds: number) => new Date(base + seconds * 1000).toISOString();
  const lines = fixtureTranscript();
  const events: [string, Record<string, unknown>][] = [
    ["SessionStart", {}],
    ["UserPromptSubmit", {}],
    ["PreToolUse", {}],
    ["PostToolUse", {}],
    ["PreToolUse", {
      tool_name: "Read",
      tool_use_id: "toolu_01ZzYyXx",
      tool_input: { file_path: "/home/dev/shop/src/nope.ts" },
    }],
    ["PostToolUseFailure", {}],
    ["Notification", {}],
    ["SubagentStop", {}],
    ["PreCompact", {}],
    ["Stop", {}],
    ["SessionEnd", {}],
    ["FutureEvent", {}],
  ];
  return events.map(([event, extra], index) => {
    const payload = event === "FutureEvent"
      ? { session_id: SESSION, hook_event_name: "FutureEvent", brand_new_field: [1, 2] }
      : { ...fixturePayload(event), ...extra };
    // Stop carries lines 0-3, SessionEnd 2-5: overlapping, as after a re-read.
    const transcript = event === "Stop"
      ? lines.slice(0, 4)
      : event === "SessionEnd"
      ? lines.slice(2)
      : undefined;
    return makeEnvelope(payload, {
      requestId: uuidv7(base + index),
      occurredAt: at(index),
      transcript,
    });
  });
}

/** A seeded shuffle (the same seed, the same order). */
export function shuffled<T>(items: T[], seed: number): T[] {
  const out = [...items];
  let state = seed;
  for (let i = out.length - 1; i > 0; i--) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    const j = state % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** Table contents without ids and arrival times: what must not depend on delivery order. */
export async function dump(sql: Sql) {
  const [conversations, messages, usage, tools, audit] = await Promise.all([
    sql`SELECT session_id, project_dir, cwd, host, user_name, model, start_source,
          permission_mode, transcript_path, started_at, ended_at, end_reason, last_event_at
        FROM conversations ORDER BY session_id`,
    sql`SELECT session_id, role, source, dedupe_key, content, content_json, model, message_id,
          api_request_id, transcript_uuid, parent_uuid, request_id, occurred_at
        FROM messages ORDER BY session_id, dedupe_key`,
    sql`SELECT message_id, api_request_id, session_id, model, input_tokens, output_tokens,
          cache_creation_input_tokens, cache_read_input_tokens, occurred_at
        FROM token_usage ORDER BY session_id, message_id`,
    sql`SELECT session_id, tool_use_id, tool_name, tool_input, tool_response, error, status,
          duration_ms, pre_at, post_at FROM tool_uses ORDER BY session_id, tool_use_id`,
    sql`SELECT request_id, event_type, (conversation_id IS NOT NULL) AS linked
        FROM webhook_events WHERE status = 'SUCCESS' ORDER BY request_id`,
  ]);
  return JSON.parse(JSON.stringify({ conversations, messages, usage, tools, audit }));
}
