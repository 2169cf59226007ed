// Session lanes of the group commit: which lanes the next group takes (pure), and on a real
// PostgreSQL that a backlog commits as one group per lane at once, a lane whose rows are locked
// does not hold up the other, and a requestId split across lanes still meets its first delivery.
import assert from "node:assert/strict";
import postgres from "postgres";
import { openTestStore, storeTest } from "./helpers/stores.ts";
import { fixturePayload, makeEnvelope } from "./helpers/server.ts";
import { createCommitter, laneOf, lanesForNextGroup } from "../src/server/group.ts";
import { groupItem } from "./helpers/ingest.ts";

Deno.test("lanes: a session's lane is stable, within range, and sessions spread over both", () => {
  const sessions = Array.from({ length: 64 }, (_, i) => `session-${i}`);
  for (const session of sessions) {
    assert.equal(laneOf(session, 2), laneOf(session, 2));
    assert.ok([0, 1].includes(laneOf(session, 2)));
    assert.equal(laneOf(session, 1), 0);
  }
  assert.equal(laneOf(null, 2), 0);
  assert.deepEqual(new Set(sessions.map((s) => laneOf(s, 2))), new Set([0, 1]));
});

Deno.test("lanes: a small backlog is one group over every lane; a backlog splits per lane", () => {
  const lanes = (held: number[], backlog: number[]) => [
    ...lanesForNextGroup(new Set(held), backlog, 32),
  ];
  // Nothing committing: one group over everything unless two lanes can each fill one.
  assert.deepEqual(lanes([], [0, 0]), [0, 1]);
  assert.deepEqual(lanes([], [5, 3]), [0, 1]);
  assert.deepEqual(lanes([], [200, 3]), [0, 1]);
  assert.deepEqual(lanes([], [40, 40]), [0]);
  // Beside a committing group: a free lane only with a group's worth of items.
  assert.deepEqual(lanes([0], [40, 40]), [1]);
  assert.deepEqual(lanes([0], [40, 10]), []);
  assert.deepEqual(lanes([0, 1], [100, 100]), []);
  // One lane: the old single group in flight.
  assert.deepEqual(lanes([], [7]), [0]);
  assert.deepEqual(lanes([0], [700]), []);
});

function prompt(session: string, i: number): Record<string, unknown> {
  return makeEnvelope({
    ...fixturePayload("UserPromptSubmit"),
    session_id: session,
    prompt: `prompt ${i} of ${session}`,
    prompt_id: `p-${session}-${i}`,
  });
}

/** A session name in each of the two lanes. */
function sessionsByLane(): [string, string] {
  const names = Array.from({ length: 16 }, (_, i) => `lanes-session-${i}`);
  return [names.find((s) => laneOf(s, 2) === 0)!, names.find((s) => laneOf(s, 2) === 1)!];
}

storeTest(
  "lanes: while one lane's rows are locked, the other lane's group commits; then both complete",
  async ({ db }) => {
    const store = await openTestStore(db, 4);
    const other = postgres(db.databaseUrl!, { max: 1, onnotice: () => {} });
    try {
      const committer = createCommitter(store.sql, { lanes: 2, minLaneGroup: 2 });
      const [blocked, free] = sessionsByLane();
      const first = await committer.submit([groupItem(prompt(blocked, 0), "lanes-test")]);
      assert.equal(first[0].final.status, "SUCCESS");

      // Another connection holds the blocked session's conversation row.
      const locker = await other.reserve();
      await locker`BEGIN`;
      await locker`SELECT 1 FROM conversations WHERE session_id = ${blocked} FOR UPDATE`;
      let released = false;
      try {
        const backlog = [
          ...[1, 2, 3].map((i) => prompt(blocked, i)),
          ...[1, 2, 3].map((i) => prompt(free, i)),
        ];
        const answers = committer.submit(backlog.map((raw) => groupItem(raw, "lanes-test")));
        // The free lane's rows become visible while the other lane still waits for the lock.
        const deadline = Date.now() + 20_000;
        for (;;) {
          const [{ n }] = await store.sql<{ n: number }[]>`
            SELECT count(*)::int AS n FROM messages WHERE session_id = ${free}`;
          if (n === 3) break;
          assert.ok(Date.now() < deadline, "the free lane's group never committed");
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        const [{ n: waiting }] = await store.sql<{ n: number }[]>`
          SELECT count(*)::int AS n FROM messages WHERE session_id = ${blocked}`;
        assert.equal(waiting, 1, "the blocked lane committed past a held row lock");

        await locker`COMMIT`;
        released = true;
        const settled = await answers;
        assert.deepEqual(settled.map((s) => s.final.status), Array(6).fill("SUCCESS"));
      } finally {
        if (!released) await locker`ROLLBACK`;
        locker.release();
      }
      const rows = await store.sql<{ session_id: string; n: number }[]>`
        SELECT session_id, count(*)::int AS n FROM messages GROUP BY session_id`;
      assert.deepEqual(Object.fromEntries(rows.map((r) => [r.session_id, r.n])), {
        [blocked]: 4,
        [free]: 3,
      });
    } finally {
      await other.end();
      await store.close();
    }
  },
  { kinds: ["postgres"] },
);

storeTest(
  "lanes: one requestId delivered in both lanes at once gives one SUCCESS and one CONFLICT",
  async ({ db }) => {
    const store = await openTestStore(db, 4);
    try {
      const committer = createCommitter(store.sql, { lanes: 2, minLaneGroup: 2 });
      const [zero, one] = sessionsByLane();
      const original = prompt(zero, 0);
      // The same requestId with another session's body: a changed body, whichever lane it is in.
      const changed = { ...prompt(one, 0), requestId: original.requestId };
      const backlog = [
        original,
        prompt(zero, 1),
        prompt(zero, 2),
        changed,
        prompt(one, 1),
        prompt(one, 2),
      ];
      const settled = await committer.submit(backlog.map((raw) => groupItem(raw, "lanes-test")));
      assert.deepEqual(
        settled.map((s) => s.final.status),
        ["SUCCESS", "SUCCESS", "SUCCESS", "CONFLICT", "SUCCESS", "SUCCESS"],
      );
      const audit = await store.sql<{ status: string; n: number }[]>`
        SELECT status::text, count(*)::int AS n FROM webhook_events
        WHERE request_id = ${original.requestId as string} GROUP BY status ORDER BY status`;
      assert.deepEqual(audit.map((r) => [r.status, r.n]), [["CONFLICT", 1], ["SUCCESS", 1]]);
    } finally {
      await store.close();
    }
  },
  { kinds: ["postgres"] },
);
