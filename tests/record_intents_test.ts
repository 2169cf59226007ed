// The pure merge of a group's record rows (src/server/record_intents.ts): one row per key,
// folded in event time with the rule its upsert applies, whatever order the group holds.
import assert from "node:assert/strict";
import { Envelope } from "../src/schema.ts";
import { eventRows } from "../src/record/event_rows.ts";
import { recordIntents } from "../src/server/record_intents.ts";
import { uuidv7 } from "../src/ids.ts";
import { fixturePayload, fixtureTranscript, makeEnvelope } from "./helpers/server.ts";

const base = Date.parse("2026-11-20T10:00:00.000Z");

function env(
  event: string,
  second: number,
  extra: Record<string, unknown> = {},
  transcript?: unknown[],
) {
  return Envelope.parse(makeEnvelope({ ...fixturePayload(event), ...extra }, {
    requestId: uuidv7(base + second),
    occurredAt: new Date(base + second * 1000).toISOString(),
    transcript,
  }));
}

function intents(envelopes: Envelope[]) {
  return recordIntents(
    envelopes.map((envelope) => ({ envelope, events: eventRows(envelope) })),
  );
}

Deno.test("record intents: one row per key, the same whatever order the group holds", () => {
  const lines = fixtureTranscript();
  const group = [
    env("PermissionRequest", 1, { reason: "first" }),
    env("PermissionDenied", 2, { tool_use_id: "toolu_01AbCdEf" }),
    env("PermissionRequest", 3, { reason: "last" }),
    env("UserPromptSubmit", 4),
    env("SubagentStart", 5),
    env("SubagentStop", 6),
    // Overlapping lines, as after a re-read: each line once, owned by the earliest delivery.
    env("Stop", 7, {}, lines.slice(0, 4)),
    env("SessionEnd", 8, {}, lines.slice(2)),
  ];
  const forward = intents(group);
  assert.deepEqual(intents([...group].reverse()), forward);

  const [permission] = forward.permissions;
  assert.equal(forward.permissions.length, 1);
  assert.equal(permission.permission, "denied"); // a denial is final
  assert.equal(permission.reason, "last"); // the latest reason given
  assert.equal(forward.hookPrompts.length, 1);
  assert.equal(forward.agents.length, 1);
  assert.ok(forward.agents[0].started_at !== null && forward.agents[0].ended_at !== null);
  const keys = forward.assistant.map((m) => m.dedupe_key);
  assert.deepEqual(keys, [...new Set(keys)].sort());
  const inStop = new Set(lines.slice(0, 4).map((line) => line.uuid));
  for (const m of forward.assistant) {
    const owner = inStop.has(m.transcript_uuid) ? group[6] : group[7];
    assert.equal(m.request_id, owner.requestId, m.dedupe_key);
  }
  assert.equal(forward.bounds.length, 1);
  assert.equal(forward.bounds[0].first, "2026-11-20T10:00:00.000Z");
  // Usage of one message over several lines: one row, the largest counts.
  const usageKeys = forward.usage.map((u) => `${u.message_id}/${u.api_request_id}`);
  assert.deepEqual(usageKeys, [...new Set(usageKeys)]);
});
