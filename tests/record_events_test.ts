// Every hook event of the reference, from the fixtures, over real HTTP: each is audited
// SUCCESS, and the meaningful ones become data (session events, permission decisions on the
// tool use, agent rows, SessionStart sources including fork, unknown events kept generically).
import assert from "node:assert/strict";
import { storeTest } from "./helpers/stores.ts";
import { fixturePayload, makeEnvelope, post, startInProcessServer } from "./helpers/server.ts";
import { KNOWN_HOOK_EVENTS } from "../src/schema.ts";
import { uuidv7 } from "../src/ids.ts";

const SESSION = "6f1c2a9e-3b7d-4e25-9a41-0c8d5e7f1b23";
const BASE = Date.parse("2026-11-20T10:00:00.000Z");

storeTest("record: every known event is stored, the meaningful ones as data", async ({ db }) => {
  const server = await startInProcessServer(db);
  try {
    const envelopes = KNOWN_HOOK_EVENTS.map((event, i) =>
      makeEnvelope(fixturePayload(event), {
        requestId: uuidv7(BASE + i),
        occurredAt: new Date(BASE + i * 1000).toISOString(),
      })
    );
    const fork = makeEnvelope({ ...fixturePayload("SessionStart"), source: "fork" }, {
      occurredAt: new Date(BASE + 100_000).toISOString(),
    });
    const future = makeEnvelope({
      session_id: SESSION,
      hook_event_name: "SomethingNew",
      shiny: { nested: [1, 2] },
    });
    const answer = await post(server, "/api/claude-hooks/batch", [...envelopes, fork, future]);
    assert.equal(answer.status, 200);
    const results = answer.body.results as { status: string; message?: string }[];
    assert.deepEqual(
      results.map((r) => r.status),
      results.map(() => "SUCCESS"),
      JSON.stringify(results.filter((r) => r.status !== "SUCCESS")),
    );
    const sql = server.sql;

    const audited = await sql<{ event_type: string }[]>`
      SELECT event_type FROM webhook_events WHERE status = 'SUCCESS' AND conversation_id IS NOT NULL`;
    const types = new Set(audited.map((r) => r.event_type));
    for (const event of [...KNOWN_HOOK_EVENTS, "SomethingNew"]) assert.ok(types.has(event), event);
    const [kept] = await sql`
      SELECT payload FROM webhook_events WHERE event_type = 'SomethingNew'`;
    assert.deepEqual(kept.payload.payload.shiny, { nested: [1, 2] });

    const events = await sql`
      SELECT kind, label, text, detail FROM session_events ORDER BY occurred_at`;
    assert.deepEqual(events.map((e) => [e.kind, e.label]), [
      ["tool_batch", "2"],
      ["stop_failure", "rate_limit"],
      ["task_created", "task-3"],
      ["task_completed", "task-3"],
      ["compact", "auto"],
    ]);
    const failure = events.find((e) => e.kind === "stop_failure")!;
    assert.equal(failure.text, "Rate limit exceeded: 100 requests per minute");
    assert.equal(failure.detail.error, "429");
    assert.match(events.find((e) => e.kind === "compact")!.text, /cart total test/);
    assert.equal(events.find((e) => e.kind === "tool_batch")!.detail.tool_calls.length, 2);
    assert.equal(events.find((e) => e.kind === "task_created")!.text, "Write the cart total test");

    const tools = await sql`
      SELECT tool_use_id, tool_name, status, permission, permission_reason FROM tool_uses
      ORDER BY tool_use_id`;
    const byId = Object.fromEntries(tools.map((t) => [t.tool_use_id, t]));
    assert.equal(byId.toolu_01AbCdEf.permission, "requested");
    assert.equal(byId.toolu_01AbCdEf.status, "success");
    assert.equal(byId.toolu_01DeNiEd.permission, "denied");
    assert.match(byId.toolu_01DeNiEd.permission_reason, /auto mode/);
    assert.equal(byId.toolu_01DeNiEd.status, "pending");

    const [agent] = await sql`SELECT * FROM agents`;
    assert.equal(agent.agent_id, "a-7781");
    assert.equal(agent.agent_type, "Explore");
    assert.match(agent.transcript_path, /subagents\/agent-a-7781\.jsonl$/);
    assert.ok(agent.started_at < agent.ended_at);
    assert.match(agent.last_message, /cartTotal/);

    const [conversation] = await sql`SELECT start_source, start_sources FROM conversations`;
    assert.equal(conversation.start_source, "startup");
    assert.deepEqual(conversation.start_sources, ["fork", "startup"]);
  } finally {
    await server.stop();
  }
});

storeTest(
  "record: a denial is final whatever order the permission events arrive",
  async ({ db }) => {
    const server = await startInProcessServer(db);
    try {
      const denied = fixturePayload("PermissionDenied");
      const requested = { ...fixturePayload("PermissionRequest"), tool_use_id: denied.tool_use_id };
      for (const payload of [denied, requested]) {
        assert.equal((await post(server, "/api/claude-hooks", makeEnvelope(payload))).status, 200);
      }
      const [row] = await server.sql`SELECT permission, tool_name FROM tool_uses`;
      assert.deepEqual({ ...row }, { permission: "denied", tool_name: "Bash" });
    } finally {
      await server.stop();
    }
  },
);
