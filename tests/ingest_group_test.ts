// Group commit over real HTTP on both stores: dedupe across concurrent groups, the dedupe read
// skipped for first deliveries, a poisoned item failing alone, a client gone mid-body, tool ids
// scoped to their session.
import assert from "node:assert/strict";
import { storeTest } from "./helpers/stores.ts";
import { fixturePayload, makeEnvelope, post, startInProcessServer } from "./helpers/server.ts";
import { uuidv7 } from "../src/ids.ts";

type Item = { status: string; httpStatus: number; code?: string; requestId?: string };

function prompt(i: number, session = "group-session"): Record<string, unknown> {
  return makeEnvelope({
    ...fixturePayload("UserPromptSubmit"),
    session_id: session,
    prompt: `prompt ${i}`,
    prompt_id: `p-${session}-${i}`,
  });
}

storeTest(
  "group: one requestId in many concurrent batches and singles gives 1 SUCCESS, N-1 DUPLICATE",
  async ({ db }) => {
    const server = await startInProcessServer(db);
    try {
      const shared = Array.from({ length: 10 }, (_, i) => prompt(i));
      // Eight batches each holding all ten events (in different orders), and singles besides.
      const batches = Array.from(
        { length: 8 },
        (_, b) => post(server, "/api/claude-hooks/batch", b % 2 ? [...shared].reverse() : shared),
      );
      const singles = shared.map((e, i) =>
        post(server, "/api/claude-hooks", { ...e, attempt: i + 2 })
      );
      const [batchAnswers, singleAnswers] = await Promise.all([
        Promise.all(batches),
        Promise.all(singles),
      ]);
      const outcomes = new Map<string, string[]>();
      for (const answer of batchAnswers) {
        assert.equal(answer.status, 200);
        for (const item of answer.body.results as Item[]) {
          outcomes.set(item.requestId!, [...outcomes.get(item.requestId!) ?? [], item.status]);
        }
      }
      for (const answer of singleAnswers) {
        const id = answer.body.requestId as string;
        outcomes.set(id, [...outcomes.get(id) ?? [], answer.body.status as string]);
      }
      assert.equal(outcomes.size, 10);
      for (const [id, statuses] of outcomes) {
        assert.equal(statuses.length, 9, id);
        assert.equal(statuses.filter((s) => s === "SUCCESS").length, 1, statuses.join(","));
        assert.equal(statuses.filter((s) => s === "DUPLICATE").length, 8, statuses.join(","));
      }
      const [{ n }] = await server.sql`SELECT count(*)::int AS n FROM messages`;
      assert.equal(n, 10);
      const audit = await server.sql`
        SELECT status, count(*)::int AS n FROM webhook_events GROUP BY status ORDER BY status`;
      assert.deepEqual(audit.map((r) => [r.status, r.n]), [["SUCCESS", 10], ["DUPLICATE", 80]]);

      // A changed body for a requestId that succeeded is 409, in a batch as alone.
      const changed = { ...shared[0], payload: { ...shared[0].payload as object, prompt: "new" } };
      assert.equal((await post(server, "/api/claude-hooks", changed)).status, 409);
      const inBatch = await post(server, "/api/claude-hooks/batch", [changed, prompt(99)]);
      assert.deepEqual((inBatch.body.results as Item[]).map((r) => r.httpStatus), [409, 200]);
    } finally {
      await server.stop();
    }
  },
);

/** The group commits' database round trips so far, from /metrics. */
async function roundTrips(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^arrakis_ingest_round_trips_total (\d+)$/m.exec(text)?.[1]);
}

storeTest(
  "group: a first delivery skips the dedupe read; a repeat is DUPLICATE, and the next group asks",
  async ({ db }) => {
    const server = await startInProcessServer(db);
    try {
      const trips: number[] = [];
      const send = async (envelope: Record<string, unknown>) => {
        const before = await roundTrips(server.url);
        const answer = await post(server, "/api/claude-hooks", envelope);
        trips.push(await roundTrips(server.url) - before);
        return answer.body.status;
      };
      const first = prompt(0);
      assert.equal(await send(first), "SUCCESS"); // the group's one statement
      // Written without asking, rejected by the unique index on SUCCESS requestIds, then
      // asked: the read, then the write.
      assert.equal(await send({ ...first, attempt: 2 }), "DUPLICATE");
      assert.equal(await send(prompt(1)), "SUCCESS"); // asks after a duplicate, finds none
      assert.equal(await send(prompt(2)), "SUCCESS"); // and writes without asking again
      assert.deepEqual(trips, [1, 3, 2, 1]);
      const [{ n }] = await server.sql`SELECT count(*)::int AS n FROM messages`;
      assert.equal(n, 3);
      const audit = await server.sql`
        SELECT status, count(*)::int AS n FROM webhook_events GROUP BY status ORDER BY status`;
      assert.deepEqual(audit.map((r) => [r.status, r.n]), [["SUCCESS", 3], ["DUPLICATE", 1]]);
    } finally {
      await server.stop();
    }
  },
);

storeTest(
  "group: an item the database rejects fails alone; its group and the concurrent ones commit",
  async ({ db }) => {
    const server = await startInProcessServer(db);
    try {
      // A real rejection from the database, for one session only.
      await server.sql.unsafe(`
        CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.session_id = 'poisoned' THEN
            RAISE EXCEPTION 'poisoned value' USING ERRCODE = '22023';
          END IF;
          RETURN NEW;
        END $$;
        CREATE TRIGGER poison BEFORE INSERT OR UPDATE ON conversations
          FOR EACH ROW EXECUTE FUNCTION poison();`);
      const batch = Array.from({ length: 20 }, (_, i) => prompt(i, i === 13 ? "poisoned" : "fine"));
      const [answer, ...singles] = await Promise.all([
        post(server, "/api/claude-hooks/batch", batch),
        ...Array.from(
          { length: 10 },
          (_, i) => post(server, "/api/claude-hooks", prompt(i, "other")),
        ),
      ]);
      const results = answer.body.results as Item[];
      assert.equal(answer.status, 200);
      results.forEach((item, i) => {
        if (i === 13) {
          assert.deepEqual([item.httpStatus, item.status, item.code], [400, "INVALID", "DB_22023"]);
        } else assert.deepEqual([item.httpStatus, item.status], [200, "SUCCESS"]);
      });
      for (const single of singles) assert.equal(single.status, 200);
      const stored = await server.sql`
        SELECT session_id, count(*)::int AS n FROM messages GROUP BY 1 ORDER BY 1`;
      assert.deepEqual(stored.map((r) => [r.session_id, r.n]), [["fine", 19], ["other", 10]]);
      const [row] = await server.sql`
        SELECT status, error_code, payload IS NOT NULL AS kept FROM webhook_events
        WHERE session_id = 'poisoned'`;
      assert.deepEqual({ ...row }, { status: "INVALID", error_code: "DB_22023", kept: true });
    } finally {
      await server.stop();
    }
  },
);

/** Sends the head of a request and part of its body on a raw socket, then hangs up. */
async function abortMidBody(url: string, apiKey: string): Promise<void> {
  const { hostname, port } = new URL(url);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  const partial = '{"requestId":"' + uuidv7() + '","payload":{"prompt":"';
  const head = [
    "POST /api/claude-hooks HTTP/1.1",
    `Host: ${hostname}:${port}`,
    `Authorization: Bearer ${apiKey}`,
    "Content-Type: application/json",
    "Content-Length: 100000",
    "",
    "",
  ].join("\r\n");
  await conn.write(new TextEncoder().encode(head + partial));
  await new Promise((resolve) => setTimeout(resolve, 100));
  conn.close();
}

storeTest(
  "group: a client that hangs up mid-body gets an ABORTED row, not INVALID",
  async ({ db }) => {
    // The listener notices a half-sent body once the request deadline passes: a short one here.
    const server = await startInProcessServer(db, { ARRAKIS_REQUEST_TIMEOUT: "1s" });
    try {
      await abortMidBody(server.url, server.apiKey);
      let rows: { status: string; error_code: string }[] = [];
      for (let i = 0; i < 200 && rows.length === 0; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        rows = await server.sql`SELECT status, error_code FROM webhook_events`;
      }
      assert.deepEqual(rows.map((r) => [r.status, r.error_code]), [["ABORTED", "CLIENT_ABORTED"]]);
      // The server still serves, and nothing is left unfinished.
      assert.equal((await post(server, "/api/claude-hooks", prompt(1))).status, 200);
      const [{ open }] = await server.sql`
      SELECT count(*)::int AS open FROM webhook_events WHERE status IN ('RECEIVED', 'PROCESSING')`;
      assert.equal(open, 0);
    } finally {
      await server.stop();
    }
  },
);

storeTest(
  "group: tool_use_id is scoped to its session, never shared across sessions",
  async ({ db }) => {
    const server = await startInProcessServer(db);
    try {
      const pre = fixturePayload("PreToolUse");
      const post_ = fixturePayload("PostToolUse");
      const mine = { ...pre, session_id: "mine" };
      const theirs = { ...post_, session_id: "theirs", tool_response: { stolen: true } };
      for (const payload of [mine, theirs]) {
        assert.equal((await post(server, "/api/claude-hooks", makeEnvelope(payload))).status, 200);
      }
      const rows = await server.sql`
      SELECT session_id, tool_use_id, status, tool_response FROM tool_uses ORDER BY session_id`;
      assert.equal(rows.length, 2);
      assert.equal(rows[0].tool_use_id, rows[1].tool_use_id);
      assert.deepEqual([rows[0].session_id, rows[0].status, rows[0].tool_response], [
        "mine",
        "pending",
        null,
      ]);
      assert.equal(rows[1].session_id, "theirs");
    } finally {
      await server.stop();
    }
  },
);
