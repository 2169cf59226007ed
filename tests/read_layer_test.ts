// The one read layer: the JSON API and the dashboard show the same counts and totals for the
// same sessions (duplicates included), and no stored number can make either answer 500.
import assert from "node:assert/strict";
import { storeTest } from "./helpers/stores.ts";
import { post, startInProcessServer } from "./helpers/server.ts";
import { sessionEvents } from "./helpers/conversation.ts";
import { envelope } from "./helpers/dashboard.ts";

const text = (html: string) => html.replace(/<[^>]+>/g, " ").replace(/\s+/g, " ");

storeTest("read layer: the API and the pages agree, duplicates included", async ({ db }) => {
  const server = await startInProcessServer(db);
  const auth = { authorization: `Bearer ${server.apiKey}` };
  const api = async (path: string) =>
    (await fetch(`${server.url}${path}`, { headers: auth })).json();
  const page = async (path: string) => {
    const response = await fetch(`${server.url}${path}`, { headers: auth });
    assert.equal(response.status, 200, path);
    return text(await response.text());
  };
  try {
    for (const [i, sessionId] of ["s-one", "s-two"].entries()) {
      const events = sessionEvents({
        sessionId,
        prompt: `Prompt number ${i}`,
        reply: `Reply number ${i}`,
        stdout: "PASS",
        error: "File does not exist.",
        startMs: Date.UTC(2026, 10, 20, 10, i),
      });
      assert.equal((await post(server, "/api/claude-hooks/batch", events)).status, 200);
      // Every event delivered again (a retry after a lost answer): DUPLICATE, counted once.
      const again = await post(server, "/api/claude-hooks/batch", events);
      assert.ok(
        (again.body.results as { status: string }[]).every((r) => r.status === "DUPLICATE"),
      );
    }
    // A second prompt in s-two, so the sessions differ.
    const extra = envelope("UserPromptSubmit", "s-two", { prompt: "And one more" });
    assert.equal((await post(server, "/api/claude-hooks", extra)).status, 200);

    const { sessions } = await api("/api/sessions");
    assert.deepEqual(sessions.map((s: { session_id: string }) => s.session_id), [
      "s-two",
      "s-one",
    ]);
    const list = await page("/sessions");
    for (const s of sessions) {
      assert.equal(typeof s.input_tokens, "number");
      assert.equal(s.tool_uses, 2);
      assert.equal(s.tool_failures, 1);
      assert.equal(s.replies, 1);
      assert.equal(s.input_tokens, 3000, "three API messages, usage counted once each");
      assert.equal(s.output_tokens, 150);
      const one = await api(`/api/sessions/${s.session_id}`);
      assert.deepEqual(one.conversation, s, "the session's own answer has the list's numbers");
      const timelinePrompts = one.timeline.filter((t: { kind: string }) => t.kind === "prompt");
      assert.equal(timelinePrompts.length, s.prompts);
      assert.equal(
        one.timeline.filter((t: { kind: string }) => t.kind === "reply").length,
        s.replies,
      );
      const conversation = await page(`/sessions/${s.session_id}`);
      const cards = conversation.slice(conversation.indexOf("Prompts"));
      assert.match(cards, new RegExp(`^Prompts ${s.prompts} ${s.replies} replies`));
      assert.match(cards, new RegExp(`Tool calls ${s.tool_uses} ${s.tool_failures} failed`));
      assert.match(cards, new RegExp(`Input tokens ${s.input_tokens.toLocaleString("en-US")} `));
      assert.match(
        cards,
        new RegExp(`Output tokens ${s.output_tokens.toLocaleString("en-US")} ${s.api_calls} API`),
      );
      const row = list.slice(list.indexOf(s.session_id.slice(0, 8)));
      assert.match(row, new RegExp(`${s.prompts} ${s.tool_uses} ${s.tool_failures} failed`));
    }
    assert.deepEqual(sessions.map((s: { prompts: number }) => s.prompts), [2, 1]);
  } finally {
    await server.stop();
  }
});

storeTest(
  "read layer: sums past 2^63 and spool counts past 2^31 are numbers, not 500s",
  async ({ db }) => {
    const server = await startInProcessServer(db);
    const auth = { authorization: `Bearer ${server.apiKey}` };
    try {
      const start = envelope("SessionStart", "s-huge", { source: "startup" });
      const huge = 2 ** 31 + 5;
      const report = {
        ...envelope("UserPromptSubmit", "s-huge", { prompt: "big numbers" }),
        source: {
          host: "devbox",
          projectDir: "/home/dev/shop",
          spool: { pending: huge, failed: 1 },
        },
      };
      // The schema refuses such a count at the door (issue 16 §4); a row stored before that
      // rule, or written by hand, must still not break a page.
      assert.equal((await post(server, "/api/claude-hooks", report)).status, 400);
      report.source.spool.pending = 1;
      for (const item of [start, report]) {
        assert.equal((await post(server, "/api/claude-hooks", item)).status, 200);
      }
      await server.sql`
        UPDATE webhook_events
        SET payload = jsonb_set(payload, '{source,spool,pending}', ${huge}::text::jsonb)
        WHERE request_id = ${report.requestId}`;
      const [{ id }] = await server.sql<{ id: string }[]>`
      SELECT id FROM conversations WHERE session_id = 's-huge'`;
      const big = 4_000_000_000_000_000_000n; // three of these overflow a bigint sum
      for (const n of [1, 2, 3]) {
        await server.sql`
        INSERT INTO token_usage (message_id, api_request_id, conversation_id, session_id,
          input_tokens, output_tokens, cache_creation_input_tokens, cache_read_input_tokens)
        VALUES (${`m${n}`}, ${`r${n}`}, ${id}, 's-huge', ${String(big)}, ${String(big)},
          ${String(big)}, ${String(big)})`;
      }
      const response = await fetch(`${server.url}/api/sessions`, { headers: auth });
      assert.equal(response.status, 200);
      const [session] = (await response.json()).sessions;
      assert.equal(session.input_tokens, 1.2e19);
      assert.equal(session.cache_read_input_tokens, 1.2e19);
      for (const path of ["/api/sessions/s-huge", "/sessions", "/sessions/s-huge"]) {
        const answer = await fetch(`${server.url}${path}`, { headers: auth });
        await answer.body?.cancel();
        assert.equal(answer.status, 200, path);
      }
      const overview = await fetch(`${server.url}/`, { headers: auth });
      assert.equal(overview.status, 200);
      assert.match(await overview.text(), new RegExp(huge.toLocaleString("en-US")));
    } finally {
      await server.stop();
    }
  },
);

storeTest("read layer: a forged cursor is a 400 on the API and on the pages", async ({ db }) => {
  const server = await startInProcessServer(db);
  const auth = { authorization: `Bearer ${server.apiKey}` };
  try {
    const forged = btoa(JSON.stringify(["1; DROP TABLE x", "1"]));
    for (
      const path of [
        `/api/sessions?cursor=${forged}`,
        "/api/events?cursor=garbage",
        `/api/search?q=x&cursor=${forged}`,
        `/sessions?cursor=${forged}`,
        "/events?cursor=garbage",
        "/failed?cursor=garbage",
      ]
    ) {
      const response = await fetch(`${server.url}${path}`, { headers: auth });
      assert.equal(response.status, 400, path);
      assert.match(await response.text(), /cursor is not one this server issued/, path);
    }
  } finally {
    await server.stop();
  }
});
