// A group's writes as one statement: its rows merged per key (src/server/rows.ts for the hook
// rows, src/server/record_intents.ts for the record rows) and its audit rows, handed as one
// jsonb document to arrakis_write_group (migrations/0009_write_group.sql), which upserts each
// table in turn, applying against the stored rows the rules the merge applied within the group.
// One statement is one implicit transaction and one round trip.
import type { Sql } from "../store/open.ts";
import type { RowIntents } from "./rows.ts";
import type { RecordIntents } from "./record_intents.ts";
import { jsonValue } from "../store/json.ts";

/**
 * A group's audit rows (src/server/audit.ts, migrations/0010_audit_tuples.sql): each an array
 * of its fields, in input order, and what the items of one request share, once per request.
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

/** Writes a group in one statement; returns its audit rows' ids in input order. */
export async function writeGroupRows(sql: Sql, write: GroupWrite): Promise<string[]> {
  // The function runs a table's statement only for a key it is given.
  const doc: Record<string, unknown> = { ...write.audit };
  for (const [key, list] of Object.entries({ ...write.rows, ...write.record })) {
    if (list.length > 0) doc[key] = list;
  }
  const [{ ids }] = await sql<{ ids: string[] }[]>`
    SELECT arrakis_write_group(${jsonValue(doc)}::jsonb) AS ids`;
  return ids;
}
