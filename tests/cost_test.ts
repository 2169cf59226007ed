// Dollars computed in SQL from the price table: a session priced by hand to the cent (5m and
// 1h cache writes at their own rates, the long-context tier, the last streaming snapshot),
// an unknown model flagged and never counted as 0, and ARRAKIS_PRICES overriding the table.
import assert from "node:assert/strict";
import { join } from "node:path";
import { storeTest } from "./helpers/stores.ts";
import { makeEnvelope, post, startInProcessServer } from "./helpers/server.ts";
import { loadConfig } from "../src/config.ts";
import { startServer } from "../src/server/start.ts";

const SESSION = "cost-session-1";

function assistant(
  uuid: string,
  messageId: string,
  requestId: string,
  model: string,
  usage: Record<string, unknown>,
  at: string,
) {
  return {
    type: "assistant",
    uuid,
    sessionId: SESSION,
    requestId,
    timestamp: at,
    message: {
      id: messageId,
      role: "assistant",
      model,
      content: [{ type: "text", text: uuid }],
      usage,
    },
  };
}

/** The session of the hand computation in the test below. */
const LINES = [
  // $0.234: 12,000 × 3 + 3,400 × 15 + 150,000 × 0.30 + 8,000 × 3.75 (5m) + 12,000 × 6 (1h).
  assistant("a1", "msg_1", "req_1", "claude-sonnet-4-5-20250929", {
    input_tokens: 12_000,
    output_tokens: 3_400,
    cache_read_input_tokens: 150_000,
    cache_creation_input_tokens: 20_000,
    cache_creation: { ephemeral_5m_input_tokens: 8_000, ephemeral_1h_input_tokens: 12_000 },
  }, "2026-11-20T10:00:01.000Z"),
  // Streaming: the first snapshot (10 output tokens) must not be the one kept.
  assistant("a2", "msg_2", "req_2", "claude-sonnet-4-5", {
    input_tokens: 50_000,
    output_tokens: 10,
    cache_read_input_tokens: 160_000,
  }, "2026-11-20T10:00:02.000Z"),
  // $0.441: a 210,000-token prompt is over 200K: 50,000 × 6 + 2,000 × 22.50 + 160,000 × 0.60.
  assistant("a3", "msg_2", "req_2", "claude-sonnet-4-5", {
    input_tokens: 50_000,
    output_tokens: 2_000,
    cache_read_input_tokens: 160_000,
  }, "2026-11-20T10:00:03.000Z"),
  // $0.0085: no 5m/1h split (older transcripts): cache writes at the 5-minute rate.
  // 1,000 × 1 + 500 × 5 + 4,000 × 1.25.
  assistant("a4", "msg_3", "req_3", "claude-haiku-4-5-20251001", {
    input_tokens: 1_000,
    output_tokens: 500,
    cache_creation_input_tokens: 4_000,
  }, "2026-11-21T09:00:00.000Z"),
  // No price: null and flagged, not $0.
  assistant("a5", "msg_4", "req_4", "claude-imaginary-9", {
    input_tokens: 1_000,
    output_tokens: 1_000,
  }, "2026-11-21T09:00:01.000Z"),
];

async function send(server: { url: string; apiKey: string }, session: string, lines: unknown[]) {
  const answer = await post(
    server,
    "/api/claude-hooks",
    makeEnvelope({ session_id: session, hook_event_name: "Stop" }, { transcript: lines }),
  );
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
}

async function get(server: { url: string; apiKey: string }, path: string) {
  const response = await fetch(`${server.url}/api${path}`, {
    headers: { authorization: `Bearer ${server.apiKey}` },
  });
  assert.equal(response.status, 200, path);
  return await response.json();
}

storeTest(
  "cost: a hand-computed session to the cent; an unknown model is flagged",
  async ({ db }) => {
    const server = await startInProcessServer(db);
    try {
      await send(server, SESSION, LINES);
      await send(server, "cost-session-unknown", [
        assistant(
          "b1",
          "msg_5",
          "req_5",
          "claude-imaginary-9",
          { input_tokens: 5 },
          "2026-11-21T09:00:02.000Z",
        ),
      ]);

      const detail = await get(server, `/sessions/${SESSION}`);
      assert.equal(Math.round(detail.totals.cost_usd * 100), 68);
      assert.ok(Math.abs(detail.totals.cost_usd - 0.6835) < 1e-9, String(detail.totals.cost_usd));
      assert.equal(detail.totals.unpriced_messages, 1);
      assert.deepEqual(detail.totals.unpriced_models, ["claude-imaginary-9"]);
      assert.equal(typeof detail.totals.output_tokens, "number");
      assert.equal(detail.totals.output_tokens, 3_400 + 2_000 + 500 + 1_000);
      assert.equal(detail.totals.cache_creation_1h_input_tokens, 12_000);

      const replies = detail.timeline.filter((item: { usage?: unknown }) => item.usage);
      const costs = Object.fromEntries(
        replies.map((
          r: { message: { transcript_uuid: string }; usage: { cost_usd: number | null } },
        ) => [r.message.transcript_uuid, r.usage.cost_usd]),
      );
      // msg_2's usage goes on its first block only.
      assert.deepEqual(Object.keys(costs).sort(), ["a1", "a2", "a4", "a5"]);
      assert.ok(Math.abs(costs.a1 - 0.234) < 1e-9);
      assert.ok(Math.abs(costs.a2 - 0.441) < 1e-9);
      assert.ok(Math.abs(costs.a4 - 0.0085) < 1e-9);
      assert.equal(costs.a5, null);

      const list = await get(server, "/sessions");
      const unknown = list.sessions.find((s: { session_id: string }) =>
        s.session_id === "cost-session-unknown"
      );
      assert.equal(unknown.cost_usd, null);
      assert.equal(unknown.unpriced_messages, 1);

      const cost = await get(server, "/cost?since=2026-11-01T00:00:00Z");
      const buckets = cost.by_day_and_model.map((b: Record<string, unknown>) => [
        b.day,
        b.model,
        b.cost_usd === null ? null : Math.round(Number(b.cost_usd) * 10_000) / 10_000,
      ]);
      assert.deepEqual(buckets, [
        ["2026-11-21", "claude-haiku-4-5-20251001", 0.0085],
        ["2026-11-21", "claude-imaginary-9", null],
        ["2026-11-20", "claude-sonnet-4-5", 0.441],
        ["2026-11-20", "claude-sonnet-4-5-20250929", 0.234],
      ]);
      // Both sessions come from one project: $0.6835 priced, two unpriced replies flagged.
      assert.equal(cost.by_project.length, 1);
      const [shop] = cost.by_project;
      assert.equal(shop.project_dir, "/home/dev/shop");
      assert.equal(shop.sessions, 2);
      assert.ok(Math.abs(shop.cost_usd - 0.6835) < 1e-9);
      assert.equal(shop.unpriced_messages, 2);
    } finally {
      await server.stop();
    }
  },
);

storeTest(
  "cost: ARRAKIS_PRICES adds and overrides models; a bad file stops the start",
  async ({ db }) => {
    const file = join(db.home, "prices.json");
    await Deno.writeTextFile(
      file,
      JSON.stringify({
        models: [{
          model: "claude-imaginary-9",
          input: 2,
          output: 8,
          cache_read: 0.2,
          cache_write_5m: 2.5,
          cache_write_1h: 4,
          effective_date: "2026-12-01",
          source: "our contract",
        }],
      }),
    );
    const server = await startInProcessServer(db, { ARRAKIS_PRICES: file });
    try {
      await send(server, SESSION, [LINES[4]]);
      const detail = await get(server, `/sessions/${SESSION}`);
      // 1,000 × 2 + 1,000 × 8 = $0.01.
      assert.ok(Math.abs(detail.totals.cost_usd - 0.01) < 1e-9);
      assert.equal(detail.totals.unpriced_messages, 0);
    } finally {
      await server.stop();
    }
    await Deno.writeTextFile(file, JSON.stringify({ models: [{ model: "x", input: -1 }] }));
    const config = loadConfig({ ...db.env, HOME: db.home, ARRAKIS_PRICES: file, PORT: "0" });
    await assert.rejects(startServer(config), /ARRAKIS_PRICES: .*prices\.json/);
  },
);
