// The read API and the operations endpoints: sessions newest first with totals, one session as
// a timeline, the audit trail with filters and cursors, health, readiness, metrics.
import assert from "node:assert/strict";
import { storeTest } from "./helpers/stores.ts";
import {
  fixturePayload,
  fixtureTranscript,
  makeEnvelope,
  post,
  startInProcessServer,
} from "./helpers/server.ts";

storeTest(
  "query API: sessions, one session's timeline, the audit trail; ops endpoints",
  async ({ db }) => {
    const server = await startInProcessServer(db, { ARRAKIS_TRUSTED_PROXIES: "127.0.0.1" });
    const get = async (path: string) => {
      const response = await fetch(`${server.url}${path}`, {
        headers: { authorization: `Bearer ${server.apiKey}` },
      });
      return { status: response.status, body: await response.json() };
    };
    try {
      const sessions = ["s-old", "s-mid", "s-new"];
      for (const [i, session] of sessions.entries()) {
        const at = (s: number) => new Date(Date.UTC(2026, 10, 20, 10, i, s)).toISOString();
        const withSession = (event: string) => ({ ...fixturePayload(event), session_id: session });
        const transcript = fixtureTranscript().map((line) => ({
          ...line,
          uuid: `${session}-${line.uuid}`,
          message: line.message && {
            ...(line.message as object),
            id: `${session}-${(line.message as { id?: string }).id}`,
          },
        }));
        const events = [
          makeEnvelope(withSession("SessionStart"), { occurredAt: at(0) }),
          makeEnvelope(withSession("UserPromptSubmit"), { occurredAt: at(1) }),
          makeEnvelope({ ...withSession("PreToolUse"), tool_use_id: `${session}-t1` }, {
            occurredAt: at(2),
          }),
          makeEnvelope({ ...withSession("PostToolUse"), tool_use_id: `${session}-t1` }, {
            occurredAt: at(3),
          }),
          makeEnvelope(withSession("Stop"), { occurredAt: at(4), transcript }),
        ];
        const { status } = await post(server, "/api/claude-hooks/batch", events, {
          "x-forwarded-for": "198.51.100.7",
        });
        assert.equal(status, 200);
      }
      await post(server, "/api/claude-hooks", "{bad json");

      // Sessions: newest first, with counts and token totals, one page at a time.
      const first = await get("/api/sessions?limit=2");
      assert.equal(first.status, 200);
      assert.deepEqual(first.body.sessions.map((s: { session_id: string }) => s.session_id), [
        "s-new",
        "s-mid",
      ]);
      const top = first.body.sessions[0];
      assert.equal(top.prompts, 1);
      assert.equal(top.replies, 1, "Stop's copy of the transcript's reply counts once");
      // The hook's t1 and the transcript's own tool_use block (the fixture's id, kept per
      // session now that tool_use_id is unique per session, not across sessions).
      assert.equal(top.tool_uses, 2);
      assert.equal(top.input_tokens, 1200 + 1450, "token totals are JSON numbers");
      assert.equal(top.output_tokens, 85 + 60);
      assert.equal(top.api_calls, 2);
      const second = await get(`/api/sessions?limit=2&cursor=${first.body.nextCursor}`);
      assert.deepEqual(second.body.sessions.map((s: { session_id: string }) => s.session_id), [
        "s-old",
      ]);
      assert.equal(second.body.nextCursor, null);
      assert.equal((await get("/api/sessions?cursor=garbage")).status, 400);

      // One session: the prompt, the tool call, the reply, in reading order.
      const one = await get("/api/sessions/s-old");
      assert.equal(one.status, 200);
      assert.equal(one.body.conversation.session_id, "s-old");
      // The hooks' tool call and the transcript's own tool_use block (another id here).
      assert.deepEqual(one.body.timeline.map((item: { kind: string }) => item.kind), [
        "prompt",
        "tool",
        "tool",
        "reply",
      ]);
      assert.match(one.body.timeline[0].anchor, /^m-\d+$/);
      assert.deepEqual(
        one.body.timeline.filter((i: { kind: string }) => i.kind === "tool")
          .map((i: { tool: { tool_use_id: string } }) => i.tool.tool_use_id).sort(),
        ["s-old-t1", "toolu_01AbCdEf"],
      );
      assert.equal(one.body.conversation.output_tokens, 145);
      assert.equal((await get("/api/sessions/nope")).status, 404);

      // The audit trail: filters and cursor pagination.
      const all = await get("/api/events?limit=100");
      assert.equal(all.body.events.length, 16);
      assert.equal(all.body.events[0].status, "INVALID");
      assert.equal(all.body.events[1].ip, "198.51.100.7");
      assert.equal("payload" in all.body.events[0], false);
      const invalid = await get("/api/events?status=INVALID");
      assert.equal(invalid.body.events.length, 1);
      // A status list works on both stores (an enum-array parameter failed on PGlite).
      const both = await get("/api/events?status=SUCCESS,INVALID&limit=100");
      assert.equal(both.status, 200, JSON.stringify(both.body));
      assert.equal(both.body.events.length, 16);
      const stops = await get("/api/events?event=Stop&session=s-old");
      assert.equal(stops.body.events.length, 1);
      assert.equal(stops.body.events[0].status, "SUCCESS");
      const byRequest = await get(`/api/events?q=${stops.body.events[0].request_id}`);
      assert.equal(byRequest.body.events.length, 1);
      assert.equal((await get("/api/events?since=1h")).body.events.length, 16);
      assert.equal((await get("/api/events?since=2999-01-01T00:00:00Z")).body.events.length, 0);
      assert.equal((await get("/api/events?status=NOPE")).status, 400);
      const seen: string[] = [];
      let cursor = "";
      for (let page = 0; page < 10; page++) {
        const { body } = await get(`/api/events?limit=5${cursor ? `&cursor=${cursor}` : ""}`);
        seen.push(...body.events.map((e: { id: string }) => e.id));
        if (!body.nextCursor) break;
        cursor = body.nextCursor;
      }
      assert.equal(seen.length, 16);
      assert.equal(new Set(seen).size, 16);
      const detail = await get(`/api/events/${stops.body.events[0].id}`);
      assert.equal(detail.body.payload.event, "Stop");
      assert.equal(detail.body.response.status, "SUCCESS");

      // Operations endpoints need no key and say how things are.
      const health = await (await fetch(`${server.url}/health`)).json();
      assert.equal(health.status, "ok");
      const ready = await fetch(`${server.url}/ready`);
      assert.equal(ready.status, 200);
      await ready.body?.cancel();
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      assert.match(metrics, /arrakis_ingest_events_total\{event="Stop",status="SUCCESS"\} 3/);
      assert.match(metrics, /arrakis_ingest_events_total\{event="",status="INVALID"\} 1/);
      assert.match(metrics, /arrakis_ingest_duration_seconds_count 16/);
      assert.match(metrics, /# TYPE arrakis_ingest_duration_seconds histogram/);
    } finally {
      await server.stop();
    }
  },
);
