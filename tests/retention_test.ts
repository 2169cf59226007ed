// Retention: old payloads of stored events go while the rows and data tables stay; a dry run
// changes nothing; failed rows keep their payload for reprocessing; old sessions go whole; and
// `arrakis prune` does it from the command line, or says the server holds the embedded store.
import assert from "node:assert/strict";
import { openTestStore, storeTest } from "./helpers/stores.ts";
import { post, startInProcessServer } from "./helpers/server.ts";
import { sessionEvents } from "./helpers/conversation.ts";
import { runArrakis } from "./helpers/cli.ts";
import { planPrune, prune } from "../src/retention/prune.ts";
import { getConversation } from "../src/read/conversation.ts";
import type { Sql } from "../src/store/open.ts";

const DAY = 86_400_000;

/** Two sessions, every event delivered twice, and one INVALID delivery for s-keep. */
async function capture(server: { url: string; apiKey: string }) {
  for (const sessionId of ["s-keep", "s-other"]) {
    const events = sessionEvents({
      sessionId,
      prompt: "Add a test",
      reply: "Done.",
      stdout: "PASS",
      error: "File does not exist.",
    });
    assert.equal((await post(server, "/api/claude-hooks/batch", events)).status, 200);
    assert.equal((await post(server, "/api/claude-hooks/batch", events)).status, 200);
  }
  const broken = sessionEvents({
    sessionId: "s-keep",
    prompt: "x",
    reply: "x",
    stdout: "x",
    error: "x",
  })[1];
  const invalid = { ...broken, occurredAt: "not a time" };
  assert.equal((await post(server, "/api/claude-hooks", invalid)).status, 400);
}

async function snapshot(sql: Sql) {
  const [counts] = await sql`
    SELECT (SELECT count(*) FROM webhook_events)::int AS events,
      (SELECT count(*) FROM webhook_events WHERE payload IS NOT NULL)::int AS payloads,
      (SELECT count(*) FROM messages)::int AS messages,
      (SELECT count(*) FROM tool_uses)::int AS tools,
      (SELECT count(*) FROM token_usage)::int AS usage,
      (SELECT count(*) FROM conversations)::int AS sessions`;
  return counts;
}

storeTest(
  "retention: payloads go, rows stay, failures keep theirs, old sessions go whole",
  async ({ db }) => {
    const server = await startInProcessServer(db);
    try {
      await capture(server);
      const sql = server.sql;
      const before = await snapshot(sql);
      assert.equal(before.events, 29, "14 events twice and one INVALID");
      const [stored] = await sql`
      SELECT count(*)::int AS n FROM webhook_events
      WHERE status IN ('SUCCESS', 'DUPLICATE') AND payload IS NOT NULL`;
      assert.equal(stored.n, 28);
      const [failed] = await sql`
      SELECT id, payload IS NOT NULL AS kept FROM webhook_events WHERE status = 'INVALID'`;
      assert.equal(failed.kept, true);

      const payloads = { payloadsMs: 30 * DAY, sessionsMs: null };
      // Nothing is 30 days old yet.
      assert.deepEqual(await planPrune(sql, payloads), {
        payloads: 0,
        sessions: 0,
        sessionEvents: 0,
      });
      assert.deepEqual(await prune(sql, payloads), { payloads: 0, sessions: 0, sessionEvents: 0 });

      // 31 days on: a dry run counts and changes nothing.
      const later = Date.now() + 31 * DAY;
      const plan = await planPrune(sql, payloads, later);
      assert.deepEqual(plan, { payloads: 28, sessions: 0, sessionEvents: 0 });
      assert.deepEqual(await snapshot(sql), before);

      // The prune itself, in batches of five: the payloads go, every row stays.
      const done = await prune(sql, payloads, { now: later, payloadBatch: 5 });
      assert.deepEqual(done, plan);
      const after = await snapshot(sql);
      assert.deepEqual(after, { ...before, payloads: before.payloads - 28 });
      const [kept] = await sql`SELECT payload FROM webhook_events WHERE id = ${failed.id}`;
      assert.notEqual(kept.payload, null, "the failed row keeps its payload for reprocessing");
      const conversation = await getConversation(sql, "s-keep");
      assert.equal(conversation?.summary.tool_uses, 2, "the data tables are untouched");
      assert.deepEqual(await planPrune(sql, payloads, later), {
        payloads: 0,
        sessions: 0,
        sessionEvents: 0,
      });

      // Sessions: both are a week old 8 days on; their rows go, the unresolved failure stays.
      const sessions = { payloadsMs: null, sessionsMs: 7 * DAY };
      const week = Date.now() + 8 * DAY;
      assert.deepEqual(await planPrune(sql, sessions, week), {
        payloads: 0,
        sessions: 2,
        sessionEvents: 28,
      });
      assert.deepEqual(await prune(sql, sessions, { now: week, sessionBatch: 1 }), {
        payloads: 0,
        sessions: 2,
        sessionEvents: 28,
      });
      assert.deepEqual(await snapshot(sql), {
        events: 1,
        payloads: 1,
        messages: 0,
        tools: 0,
        usage: 0,
        sessions: 0,
      });
    } finally {
      await server.stop();
    }
  },
);

storeTest(
  "retention: arrakis prune --dry-run, then prune, from the command line",
  async ({ db }) => {
    const server = await startInProcessServer(db);
    try {
      await capture(server);
      if (db.kind === "pglite") {
        // The server holds the embedded store: prune says so and changes nothing.
        const refused = await runArrakis(["prune"], { env: db.env });
        assert.equal(refused.code, 1);
        assert.match(refused.stderr, /a running arrakis server holds the embedded store/);
      }
    } finally {
      await server.stop();
    }
    const env = {
      ...db.env,
      ARRAKIS_RETENTION_PAYLOADS: "1ms",
      ARRAKIS_RETENTION_SESSIONS: "forever",
    };
    const dry = await runArrakis(["prune", "--dry-run"], { env });
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /retention: payloads 1ms, sessions forever/);
    assert.match(dry.stdout, /would remove 28 payloads of stored audit rows, 0 sessions/);
    const run = await runArrakis(["prune"], { env });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /removed 28 payloads of stored audit rows/);
    const bad = await runArrakis(["prune", "--dryrun"], { env });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /dryrun/);
    const badPolicy = await runArrakis(["prune"], {
      env: { ...env, ARRAKIS_RETENTION_PAYLOADS: "soon" },
    });
    assert.equal(badPolicy.code, 2);
    assert.match(badPolicy.stderr, /ARRAKIS_RETENTION_PAYLOADS/);
    const store = await openTestStore(db, 1);
    try {
      const [row] = await store.sql`
      SELECT count(*)::int AS n FROM webhook_events WHERE payload IS NOT NULL`;
      assert.equal(row.n, 1, "only the failed row keeps a payload");
    } finally {
      await store.close();
    }
  },
);
