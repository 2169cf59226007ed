// The group's one statement (src/server/write.ts) hands arrakis_write_group a document keyed by
// the merged intents' lists; the function writes a table only for a key it reads, so a list
// added to the intents without its statement would be dropped without an error. Every key the
// merges produce must be one the stored function reads, and it must read no other.
import assert from "node:assert/strict";
import { openTestStore, storeTest } from "./helpers/stores.ts";
import { type ConversationIntent, mergeIntents } from "../src/server/rows.ts";
import { recordIntents } from "../src/server/record_intents.ts";
import { auditDoc, type AuditFields, type AuditFinal } from "../src/server/audit.ts";
import type { RequestMeta } from "../src/server/deps.ts";
import { writeGroupRows } from "../src/server/write.ts";
import { jsonValue } from "../src/store/json.ts";
import type { Sql } from "../src/store/open.ts";

storeTest(
  "write: the group's function reads every list the merges produce, and no other",
  async ({ db }) => {
    const store = await openTestStore(db, 1);
    try {
      const [{ body }] = await store.sql<{ body: string }[]>`
      SELECT pg_get_functiondef('arrakis_write_group(jsonb)'::regprocedure) AS body`;
      const read = new Set([...body.matchAll(/doc (?:\?|->) '(\w+)'/g)].map((m) => m[1]));
      const produced = new Set([
        ...Object.keys(mergeIntents([])),
        ...Object.keys(recordIntents([])),
        // The audit rows' columns and what each request's items share (src/server/write.ts).
        "audit",
        "requests",
      ]);
      assert.deepEqual([...read].sort(), [...produced].sort());
    } finally {
      await store.close();
    }
  },
);

/** A request's meta with every field it gives an audit row set, each value told apart by `tag`. */
function metaOf(tag: string, batchId: string | null): RequestMeta {
  return {
    startedAt: 0,
    ip: `10.0.0.${tag.length}`,
    userAgent: `agent-${tag}`,
    headers: { "user-agent": `agent-${tag}`, "x-request-id": `header-${tag}` },
    headerRequestId: null,
    traceId: `trace-header-${tag}`,
    spanId: `span-header-${tag}`,
    batchId,
    sender: { keyName: `key-${tag}`, instanceId: `instance-${tag}` },
  };
}

function item(tag: string, meta: RequestMeta, status: "SUCCESS" | "INVALID" | "CONFLICT") {
  const fields: AuditFields = {
    requestId: `request-${tag}`,
    traceId: `trace-${tag}`,
    spanId: `span-${tag}`,
    sessionId: `session-${tag}`,
    event: `Event${tag}`,
    attempt: tag.length + 1,
    payload: { tag, nested: { list: [1, null, "x"] } },
    bodySha256: `sha-${tag}`,
  };
  const final: AuditFinal = {
    status,
    stage: "validate",
    httpStatus: { SUCCESS: 200, INVALID: 400, CONFLICT: 409 }[status],
    answer: { status, requestId: `request-${tag}`, message: `answer ${tag}` },
    errorCode: `CODE_${tag}`,
    errorMessage: `message ${tag}`,
    stageTimings: { validate: 0.25 + tag.length },
    processingMs: 1.5 + tag.length,
  };
  return { fields, meta, final };
}

/** A conversation row with every field set, each value its own. */
const CONVERSATION: ConversationIntent = {
  session_id: "session-ok",
  project_dir: "/work/project",
  cwd: "/work/project/sub",
  host: "host-a",
  user_name: "user-a",
  model: "model-a",
  start_source: "resume",
  permission_mode: "plan",
  transcript_path: "/work/t.jsonl",
  started_at: "2026-01-02T03:04:05.000Z",
  ended_at: "2026-01-02T04:05:06.000Z",
  end_reason: "logout",
  last_event_at: "2026-01-02T04:05:07.000Z",
  start_sources: ["compact", "resume"],
  key_name: "key-conversation",
};

/** A group of every request kind: two items of one batch, a single, a stored event. */
function groupRows() {
  const batch = metaOf("b", "batch-1");
  // Each batch item gets its own meta (its own requestId header) over the batch's headers.
  return [
    item("one", { ...batch, headerRequestId: "one" }, "INVALID"),
    item("single", metaOf("single", null), "CONFLICT"),
    item("two", { ...batch, headerRequestId: "two" }, "INVALID"),
    item("ok", metaOf("ok", null), "SUCCESS"),
  ];
}

async function storedConversation(sql: Sql) {
  const [conversation] = await sql`
    SELECT id::text, session_id, project_dir, cwd, host, user_name, model, start_source,
      permission_mode, transcript_path, started_at, ended_at, end_reason, last_event_at,
      start_sources, key_name
    FROM conversations`;
  const { id, ...columns } = conversation;
  assert.deepEqual(columns, {
    ...CONVERSATION,
    started_at: new Date(CONVERSATION.started_at!),
    ended_at: new Date(CONVERSATION.ended_at!),
    last_event_at: new Date(CONVERSATION.last_event_at!),
  });
  return id as string;
}

type GroupRow = ReturnType<typeof groupRows>[number];

/** An audit row's columns by name: as they are stored, and as 0009's document named them. */
function namedAuditRow({ fields, meta, final }: GroupRow) {
  return {
    request_id: fields.requestId,
    trace_id: fields.traceId ?? meta.traceId,
    span_id: fields.spanId ?? meta.spanId,
    session_id: fields.sessionId,
    event_type: fields.event,
    status: final.status,
    stage: final.stage,
    http_status: final.httpStatus,
    error_code: final.errorCode ?? null,
    error_message: final.errorMessage ?? null,
    payload: fields.payload ?? null,
    body_sha256: fields.bodySha256,
    response: final.answer,
    headers: meta.headers,
    ip: meta.ip,
    user_agent: meta.userAgent,
    attempt: fields.attempt,
    batch_id: meta.batchId ?? null,
    stage_timings: final.stageTimings,
    processing_ms: final.processingMs,
    key_name: meta.sender?.keyName ?? null,
    instance_id: meta.sender?.instanceId ?? null,
  };
}

/** The stored audit rows, in id order, each as the fields it was written from say it must be. */
async function assertStoredAudit(sql: Sql, rows: GroupRow[], ids: string[]) {
  const conversationId = await storedConversation(sql);
  const stored = await sql`
    SELECT id::text, request_id, trace_id, span_id, session_id, event_type, conversation_id::text,
      status::text, stage, http_status, error_code, error_message, payload, body_sha256,
      response, headers, ip, user_agent, attempt, batch_id, stage_timings, processing_ms,
      key_name, instance_id, completed_at IS NOT NULL AS completed
    FROM webhook_events ORDER BY id`;
  assert.deepEqual(
    stored.map((row) => ({ ...row })),
    rows.map((row, index) => ({
      id: ids[index],
      ...namedAuditRow(row),
      // A stored event (SUCCESS) links to its session's conversation, the others to none.
      conversation_id: row.final.status === "SUCCESS" ? conversationId : null,
      completed: true,
    })),
  );
}

storeTest(
  "write: every audit and conversation field reaches its own column, shared fields sent once",
  async ({ db }) => {
    const rows = groupRows();
    const doc = auditDoc(rows);
    assert.equal(doc.requests.length, 3, "the batch's two items share one request entry");
    const store = await openTestStore(db, 1);
    try {
      const ids = await writeGroupRows(store.sql, {
        rows: { ...mergeIntents([]), conversations: [CONVERSATION] },
        audit: doc,
      });
      assert.equal(ids.length, 4);
      await assertStoredAudit(store.sql, rows, ids);
    } finally {
      await store.close();
    }
  },
);

storeTest(
  "write: a server of the previous version (0009's named rows) stores the same rows",
  async ({ db }) => {
    const rows = groupRows();
    // Its document as src/server/audit.ts and write.ts made it before migration 0010.
    const previous = {
      conversations: [CONVERSATION],
      audit: rows.map((row, ordinal) => ({
        ordinal,
        link: row.final.status === "SUCCESS",
        ...namedAuditRow(row),
      })),
    };
    const store = await openTestStore(db, 1);
    try {
      const [{ ids }] = await store.sql<{ ids: string[] }[]>`
        SELECT arrakis_write_group(${jsonValue(previous)}::jsonb) AS ids`;
      assert.equal(ids.length, 4);
      await assertStoredAudit(store.sql, rows, ids);
    } finally {
      await store.close();
    }
  },
);
