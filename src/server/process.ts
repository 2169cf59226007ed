// The per-envelope part of a group's writes: the rows src/record/ extracts (prompts matched to
// transcript lines, agents, permissions, session events, transcript rows), each an idempotent,
// order-independent upsert run once per envelope inside the group's transaction, all of them
// pipelined (sent in event time, answered together). The hook
// events' own rows (conversations, tool uses, Stop messages) are set-based: src/server/write.ts.
import type postgres from "postgres";
import type { Envelope } from "../schema.ts";
import type { EventRows } from "../record/event_rows.ts";
import { transcriptRows } from "../record/transcript_rows.ts";
import {
  PROMPT_MATCH_SECONDS,
  type Sent,
  storeEventRows,
  storeTranscriptRows,
} from "./process_record.ts";
import { isoOrNull } from "./rows.ts";

type Tx = postgres.TransactionSql;

function str(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}

/**
 * A UserPromptSubmit prompt. When the transcript already gave this prompt (same text, within
 * PROMPT_MATCH_SECONDS) that row becomes the prompt's; the transcript side merges into a prompt
 * row the same way, so either order ends in one identical row. One statement (the insert runs
 * only when the claim found nothing), so it is sent without waiting for its answer.
 */
function addPrompt(tx: Tx, env: Envelope, conversationId: string, text: string) {
  const p = env.payload as Record<string, unknown>;
  const at = isoOrNull(env.occurredAt);
  const key = `prompt:${str(p.prompt_id) ?? env.requestId}`;
  return tx`
    WITH claimed AS (
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
        SELECT 1 FROM messages WHERE session_id = ${env.sessionId} AND dedupe_key = ${key})
      RETURNING id)
    INSERT INTO messages (
      conversation_id, session_id, role, source, dedupe_key, content, request_id, occurred_at
    )
    SELECT ${conversationId}, ${env.sessionId}, 'user', 'prompt', ${key}, ${text},
      ${env.requestId}, ${at}::timestamptz
    WHERE NOT EXISTS (SELECT 1 FROM claimed)
    ON CONFLICT (session_id, dedupe_key) DO NOTHING`.execute();
}

/**
 * Sends the record rows of one envelope, after the group's set-based writes, without waiting:
 * the caller awaits `sent` before the commit.
 */
export function storeRecordRows(
  tx: Tx,
  env: Envelope,
  conversationId: string,
  events: EventRows,
  sent: Sent,
): void {
  if (env.event === "UserPromptSubmit") {
    sent.push(addPrompt(tx, env, conversationId, String(env.payload.prompt)));
  }
  storeEventRows(tx, env, conversationId, events, sent);
  if (env.transcript && env.transcript.length > 0) {
    const agent = events.transcriptAgent;
    const rows = transcriptRows(env.transcript, {
      agentId: agent?.agentId ?? null,
      agentPath: agent?.path ?? null,
    });
    storeTranscriptRows(tx, env, conversationId, rows, sent);
  }
}
