// A group's writes as one statement: its rows merged per key (src/server/rows.ts for the hook
// rows, src/server/record_intents.ts for the record rows) and its audit rows, handed as one
// jsonb document to arrakis_write_group (migrations/0010_row_arrays.sql), which upserts each
// table in turn, applying against the stored rows the rules the merge applied within the group.
// One statement is one implicit transaction and one round trip.
import type { Sql } from "../store/open.ts";
import type { ConversationIntent, RowIntents } from "./rows.ts";
import type { RecordIntents } from "./record_intents.ts";
import { jsonValue } from "../store/json.ts";

/**
 * A group's audit rows (src/server/audit.ts, migrations/0010_row_arrays.sql): each an array of
 * its fields, in input order, and what the items of one request share, once per request.
 */
export interface AuditDoc {
  audit: unknown[][];
  requests: unknown[][];
}

export interface GroupWrite {
  rows?: RowIntents;
  record?: RecordIntents;
  audit: AuditDoc;
}

/**
 * A conversation row at the positions the statement reads (migrations/0010_row_arrays.sql): an
 * array, so that no row repeats the key names.
 */
function conversationArray(c: ConversationIntent): unknown[] {
  return [
    c.session_id,
    c.project_dir,
    c.cwd,
    c.host,
    c.user_name,
    c.model,
    c.start_source,
    c.permission_mode,
    c.transcript_path,
    c.started_at,
    c.ended_at,
    c.end_reason,
    c.last_event_at,
    c.start_sources,
    c.key_name,
  ];
}

/** Writes a group in one statement; returns its audit rows' ids in input order. */
export async function writeGroupRows(sql: Sql, write: GroupWrite): Promise<string[]> {
  // The function runs a table's statement only for a key it is given.
  const doc: Record<string, unknown> = { ...write.audit };
  const lists: Record<string, unknown[]> = {
    ...write.rows,
    ...write.record,
    // Taken as arrays, as the audit rows are; the other statements take objects.
    conversations: (write.rows?.conversations ?? []).map(conversationArray),
  };
  for (const [key, list] of Object.entries(lists)) if (list.length > 0) doc[key] = list;
  const [{ ids }] = await sql<{ ids: string[] }[]>`
    SELECT arrakis_write_group(${jsonValue(doc)}::jsonb) AS ids`;
  return ids;
}
