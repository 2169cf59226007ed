// The per-envelope part of a group's writes: the rows src/record/ extracts (prompts matched to
// transcript lines, agents, permissions, session events, transcript rows), each an idempotent,
// order-independent upsert run once per envelope inside the group's transaction. The hook
// events' own rows (conversations, tool uses, Stop messages) are set-based: src/server/write.ts.
import type postgres from "postgres";
import type { Envelope } from "../schema.ts";
import type { EventRows } from "../record/event_rows.ts";
import { transcriptRows } from "../record/transcript_rows.ts";
import { PROMPT_MATCH_SECONDS, storeEventRows, storeTranscriptRows } from "./process_record.ts";
import { isoOrNull } from "./rows.ts";

type Tx = postgres.TransactionSql;

function str(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}

/**
 * A UserPromptSubmit prompt. When the transcript already gave this prompt (same text, within
 * PROMPT_MATCH_SECONDS) that row becomes the prompt's; the transcript side merges into a prompt
 * row the same way, so either order ends in one identical row.
 */
async function addPrompt(tx: Tx, env: Envelope, conversationId: string, text: string) {
  const p = env.payload as Record<string, unknown>;
  const at = isoOrNull(env.occurredAt);
  const key = `prompt:${str(p.prompt_id) ?? env.requestId}`;
  const claimed = await tx`
    UPDATE messages SET dedupe_key = ${key}, source = 'prompt', request_id = ${env.requestId},
      occurred_at = ${at}::timestamptz
    WHERE id = (
      SELECT o.id FROM messages o
      WHERE o.session_id = ${env.sessionId} AND o.role = 'user' AND o.source = 'transcript'
        AND o.agent_id IS NULL AND o.content = ${text}
        AND (o.occurred_at IS NULL OR ${at}::timestamptz IS NULL
          OR abs(extract(epoch FROM o.occurred_at - ${at}::timestamptz)) < ${PROMPT_MATCH_SECONDS})
      ORDER BY o.occurred_at NULLS LAST, o.id LIMIT 1)
    AND NOT EXISTS (
      SELECT 1 FROM messages WHERE session_id = ${env.sessionId} AND dedupe_key = ${key})`;
  if (claimed.count > 0) return;
  await tx`
    INSERT INTO messages (
      conversation_id, session_id, role, source, dedupe_key, content, request_id, occurred_at
    ) VALUES (
      ${conversationId}, ${env.sessionId}, 'user', 'prompt', ${key}, ${text}, ${env.requestId},
      ${at}::timestamptz
    )
    ON CONFLICT (session_id, dedupe_key) DO NOTHING`;
}

/** The record rows of one envelope, after the group's set-based writes. */
export async function storeRecordRows(
  tx: Tx,
  env: Envelope,
  conversationId: string,
  events: EventRows,
): Promise<void> {
  if (env.event === "UserPromptSubmit") {
    await addPrompt(tx, env, conversationId, String(env.payload.prompt));
  }
  await storeEventRows(tx, env, conversationId, events);
  if (env.transcript && env.transcript.length > 0) {
    const agent = events.transcriptAgent;
    const rows = transcriptRows(env.transcript, {
      agentId: agent?.agentId ?? null,
      agentPath: agent?.path ?? null,
    });
    await storeTranscriptRows(tx, env, conversationId, rows);
  }
}
