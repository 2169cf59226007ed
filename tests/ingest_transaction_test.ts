// A group that fails inside its transaction (here at its audit insert) must end it: a connection
// handed back inside an aborted transaction would fail every later statement on it with 25P02
// (the embedded store has only one).
import assert from "node:assert/strict";
import { storeTest } from "./helpers/stores.ts";
import { fixturePayload, makeEnvelope, post, startInProcessServer } from "./helpers/server.ts";

type Item = { status: string; httpStatus: number };

function prompt(i: number): Record<string, unknown> {
  return makeEnvelope({
    ...fixturePayload("UserPromptSubmit"),
    session_id: "transaction-session",
    prompt: `prompt ${i}`,
    prompt_id: `p-transaction-${i}`,
  });
}

storeTest(
  "group: a group that fails inside its transaction ends it; the next groups commit",
  async ({ db }) => {
    const server = await startInProcessServer(db);
    try {
      assert.equal((await post(server, "/api/claude-hooks", prompt(0))).status, 200);
      // With the audit table gone the group's writes fail inside its transaction, and so does
      // each half of the batch as the group is bisected.
      await server.sql`ALTER TABLE webhook_events RENAME TO webhook_events_away`;
      const failed = await post(server, "/api/claude-hooks/batch", [1, 2, 3].map(prompt));
      const items = failed.body.results as Item[];
      assert.deepEqual(items.map((item) => item.httpStatus >= 500), [true, true, true]);
      await server.sql`ALTER TABLE webhook_events_away RENAME TO webhook_events`;
      if (db.kind === "postgres") {
        const open = await server.sql`
          SELECT pid FROM pg_stat_activity
          WHERE datname = current_database() AND state LIKE 'idle in transaction%'`;
        assert.deepEqual([...open], []);
      }
      const again = await Promise.all(
        [1, 2, 3, 4].map((i) => post(server, "/api/claude-hooks", prompt(i))),
      );
      assert.deepEqual(again.map((answer) => answer.status), [200, 200, 200, 200]);
      const [{ n }] = await server.sql`
        SELECT count(*)::int AS n FROM webhook_events WHERE status = 'SUCCESS'`;
      assert.equal(n, 5);
    } finally {
      await server.stop();
    }
  },
);
