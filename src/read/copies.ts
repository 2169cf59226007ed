// The one rule for messages stored twice: Stop's last_assistant_message repeats the transcript's
// final reply. Counted, searched and shown once (src/read/timeline.ts applies the same rule).
import type { Sql } from "../store/open.ts";

/** Whitespace folded, as the timeline's `fold` does. */
const folded = (column: string) => `btrim(regexp_replace(${column}, '\\s+', ' ', 'g'))`;

/** True for a row (alias `m`) that is Stop's copy of a reply the transcript also stored. */
export function isStopCopy(sql: Sql, alias: string) {
  return sql.unsafe(`(${alias}.source = 'stop' AND EXISTS (
    SELECT 1 FROM messages r WHERE r.conversation_id = ${alias}.conversation_id
      AND r.role = 'assistant' AND r.source <> 'stop'
      AND ${folded("r.content")} = ${folded(`${alias}.content`)}))`);
}
