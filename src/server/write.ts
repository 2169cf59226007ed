// A group's writes as one statement: its rows merged per key (src/server/rows.ts for the hook
// rows, src/server/record_intents.ts for the record rows) and its audit rows, handed as one
// jsonb document to arrakis_write_group (migrations/0009_write_group.sql), which upserts each
// table in turn, applying against the stored rows the rules the merge applied within the group.
// One statement is one implicit transaction and one round trip.
import type { Sql } from "../store/open.ts";
import type { RowIntents } from "./rows.ts";
import type { RecordIntents } from "./record_intents.ts";
import { jsonValue } from "../store/json.ts";

export interface GroupWrite {
  rows?: RowIntents;
  record?: RecordIntents;
  /** The audit rows, in order (src/server/audit.ts). */
  audit: object[];
}

/** Writes a group in one statement; returns its audit rows' ids in input order. */
export async function writeGroupRows(sql: Sql, write: GroupWrite): Promise<string[]> {
  // The function runs a table's statement only for a key it is given.
  const doc: Record<string, unknown> = { audit: write.audit };
  for (const [key, list] of Object.entries({ ...write.rows, ...write.record })) {
    if (list.length > 0) doc[key] = list;
  }
  const [{ ids }] = await sql<{ ids: string[] }[]>`
    SELECT arrakis_write_group(${jsonValue(doc)}::jsonb) AS ids`;
  return ids;
}
