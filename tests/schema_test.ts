import assert from "node:assert/strict";
import {
  Envelope,
  hookInputSchemaFor,
  KNOWN_HOOK_EVENTS,
  TranscriptLine,
  WEBHOOK_STATUS_MEANINGS,
  WebhookStatus,
} from "../src/schema.ts";
import { newSpanId, newTraceId, uuidv7 } from "../src/ids.ts";
import { FIXTURES_URL as FIXTURES } from "./helpers/fixtures.ts";

async function fixture(event: string): Promise<Record<string, unknown>> {
  return JSON.parse(await Deno.readTextFile(new URL(`hook-input/${event}.json`, FIXTURES)));
}

function envelopeFor(payload: Record<string, unknown>) {
  return {
    requestId: uuidv7(),
    traceId: newTraceId(),
    spanId: newSpanId(),
    event: String(payload.hook_event_name),
    sessionId: String(payload.session_id),
    occurredAt: new Date().toISOString(),
    attempt: 1,
    source: { host: "h", user: "u", projectDir: "/p", cwd: "/p", version: "0.1.0" },
    payload,
  };
}

Deno.test("every fixture event parses with its own schema and as an envelope", async () => {
  for (const event of KNOWN_HOOK_EVENTS) {
    const payload = await fixture(event);
    assert.equal(hookInputSchemaFor(event).safeParse(payload).success, true, event);
    const parsed = Envelope.safeParse(envelopeFor(payload));
    assert.equal(parsed.success, true, `${event}: ${JSON.stringify(parsed.error?.issues)}`);
  }
});

Deno.test("unknown events and unknown fields are accepted and kept", async () => {
  const payload = { ...(await fixture("Stop")), hook_event_name: "TeamMeeting", agenda: [1, 2] };
  const parsed = Envelope.parse(envelopeFor(payload));
  assert.equal(parsed.event, "TeamMeeting");
  assert.deepEqual((parsed.payload as Record<string, unknown>).agenda, [1, 2]);
  const known = { ...(await fixture("PreToolUse")), brand_new_field: { x: 1 } };
  const kept = Envelope.parse(envelopeFor(known)).payload as Record<string, unknown>;
  assert.deepEqual(kept.brand_new_field, { x: 1 });
});

Deno.test("an envelope whose event lacks what processing needs is rejected with a path", async () => {
  const { tool_use_id: _dropped, ...payload } = await fixture("PostToolUse");
  const parsed = Envelope.safeParse(envelopeFor(payload));
  assert.equal(parsed.success, false);
  assert.ok(parsed.error!.issues.some((issue) => issue.path.join(".") === "payload.tool_use_id"));
  const mismatch = { ...envelopeFor(await fixture("Stop")), sessionId: "other" };
  assert.equal(Envelope.safeParse(mismatch).success, false);
  const badId = { ...envelopeFor(await fixture("Stop")), requestId: "../../etc/passwd" };
  assert.equal(Envelope.safeParse(badId).success, false);
});

Deno.test("every transcript line of the fixture parses leniently", async () => {
  const text = await Deno.readTextFile(new URL("transcript.jsonl", FIXTURES));
  const lines = text.split("\n").filter((line) => line.trim() !== "");
  assert.ok(lines.length > 0);
  for (const line of lines) assert.equal(TranscriptLine.safeParse(JSON.parse(line)).success, true);
});

Deno.test("every webhook status has one documented meaning", () => {
  assert.deepEqual(Object.keys(WEBHOOK_STATUS_MEANINGS).sort(), [...WebhookStatus.options].sort());
  assert.equal(WebhookStatus.options.length, 9);
});
