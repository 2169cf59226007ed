// The pure outcome functions both ingest endpoints use: one answer per situation.
import assert from "node:assert/strict";
import type { AuditFields } from "../src/server/audit.ts";
import { decide, failureFinal, problemFinal, withEventId } from "../src/server/outcome.ts";
import { FAILED_STATUSES, OK_STATUSES, WEBHOOK_STATUS_MEANINGS } from "../src/schema.ts";

const fields: AuditFields = {
  requestId: "01a1f866-0d00-7000-8000-000000000001",
  traceId: "0123456789abcdef0123456789abcdef",
  spanId: null,
  sessionId: "s1",
  event: "Stop",
  attempt: 1,
  payload: {},
  bodySha256: "aaa",
};
const clock = { timings: { validate: 0.1 }, processingMs: 1.5 };
const schemaProblem = { httpStatus: 400, code: "SCHEMA", message: "invalid envelope: x" };

Deno.test("outcome: a valid item with no earlier success is processed", () => {
  assert.equal(decide({ fields, valid: true }, undefined, clock), "process");
});

Deno.test("outcome: the same body again is DUPLICATE with the original's answer and id", () => {
  const final = decide(
    { fields, valid: true },
    { id: "41", bodySha256: "aaa", response: { status: "SUCCESS", extra: "kept" } },
    clock,
  );
  assert.notEqual(final, "process");
  if (final === "process") return;
  assert.equal(final.status, "DUPLICATE");
  assert.equal(final.httpStatus, 200);
  assert.equal(final.stage, "dedupe");
  assert.equal((final.answer as Record<string, unknown>).originalEventId, 41);
  assert.equal((final.answer as Record<string, unknown>).extra, "kept");
  assert.equal(final.answer.requestId, fields.requestId);
  assert.equal(final.processingMs, 1.5);
});

Deno.test("outcome: a changed body for a known requestId is 409 CONFLICT", () => {
  const final = decide(
    { fields, valid: true },
    { id: "41", bodySha256: "bbb", response: null },
    clock,
  );
  assert.ok(final !== "process");
  assert.equal(final.status, "CONFLICT");
  assert.equal(final.httpStatus, 409);
  assert.equal(final.errorCode, "REQUEST_ID_REUSED");
});

Deno.test("outcome: an invalid item is INVALID, or CONFLICT when its id succeeded", () => {
  const invalid = decide({ fields, valid: false, problem: schemaProblem }, undefined, clock);
  assert.ok(invalid !== "process");
  assert.deepEqual([invalid.status, invalid.httpStatus, invalid.errorCode, invalid.stage], [
    "INVALID",
    400,
    "SCHEMA",
    "validate",
  ]);
  assert.equal(invalid.answer.message, schemaProblem.message);
  const reused = decide(
    { fields, valid: false, problem: schemaProblem },
    { id: "7", bodySha256: "aaa", response: null },
    clock,
  );
  assert.ok(reused !== "process");
  assert.equal(reused.status, "CONFLICT");
});

Deno.test("outcome: database failures map to 400, 503 with Retry-After, or 500", () => {
  const bad = failureFinal("bad_data", "22007", "invalid date", fields, "process", clock);
  assert.deepEqual([bad.status, bad.httpStatus, bad.errorCode], ["INVALID", 400, "DB_22007"]);
  const down = failureFinal("unavailable", "57P01", "terminated", fields, "process", clock);
  assert.deepEqual([down.status, down.httpStatus, down.errorCode], [
    "ERROR",
    503,
    "DB_UNAVAILABLE",
  ]);
  assert.ok(down.retryAfter! > 0);
  const bug = failureFinal("internal", "42P01", "no table", fields, "process", clock);
  assert.deepEqual([bug.status, bug.httpStatus, bug.errorCode], ["ERROR", 500, "INTERNAL"]);
  assert.equal(bug.retryAfter, undefined);
});

Deno.test("outcome: a client abort is ABORTED, documented, and not a failure", () => {
  const gone = { httpStatus: 400, code: "CLIENT_ABORTED", message: "the client went away" };
  const final = problemFinal(gone, fields, "validate", clock, "ABORTED");
  assert.equal(final.status, "ABORTED");
  assert.equal(final.answer.status, "ABORTED");
  assert.ok(WEBHOOK_STATUS_MEANINGS.ABORTED.length > 20);
  assert.ok(!FAILED_STATUSES.includes("ABORTED"));
  assert.ok(!FAILED_STATUSES.includes("UNAUTHORIZED"));
  assert.ok(!OK_STATUSES.some((status) => FAILED_STATUSES.includes(status)));
});

Deno.test("outcome: the answer sent carries the audit row's id", () => {
  const final = problemFinal(schemaProblem, fields, "validate", clock);
  assert.equal(withEventId(final, "12").eventId, 12);
  assert.equal(withEventId(final, null).eventId, undefined);
});
