// SIGKILL of `arrakis serve` while groups commit: nothing is half-stored, and clients that
// retry every unanswered event get each stored exactly once.
import assert from "node:assert/strict";
import { openTestStore, storeTest } from "./helpers/stores.ts";
import {
  fixturePayload,
  makeEnvelope,
  post,
  type Posted,
  startTestServer,
} from "./helpers/server.ts";
import type { Sql } from "../src/store/open.ts";

const EVENTS = 240;

function prompts(): Record<string, unknown>[] {
  return Array.from({ length: EVENTS }, (_, i) =>
    makeEnvelope({
      ...fixturePayload("UserPromptSubmit"),
      session_id: `crash-${i % 8}`,
      prompt: `prompt ${i}`,
      prompt_id: `crash-prompt-${i}`,
    }));
}

/** Every stored prompt has its SUCCESS audit row and every SUCCESS row its prompt. */
async function assertWhole(sql: Sql): Promise<number> {
  const [row] = await sql<{ messages: number; successes: number; orphans: number; lost: number }[]>`
    SELECT
      (SELECT count(*)::int FROM messages) AS messages,
      (SELECT count(*)::int FROM webhook_events WHERE status = 'SUCCESS') AS successes,
      (SELECT count(*)::int FROM messages m WHERE NOT EXISTS (
        SELECT 1 FROM webhook_events w WHERE w.request_id = m.request_id AND w.status = 'SUCCESS'))
        AS orphans,
      (SELECT count(*)::int FROM webhook_events w WHERE w.status = 'SUCCESS' AND NOT EXISTS (
        SELECT 1 FROM messages m WHERE m.request_id = w.request_id)) AS lost`;
  assert.equal(row.orphans, 0, "rows stored without their audit SUCCESS");
  assert.equal(row.lost, 0, "audit SUCCESS without its rows");
  assert.equal(row.messages, row.successes);
  return row.messages;
}

/** Sends in batches of 10 and singles, all at once; a dead server yields a status of 0. */
function deliver(server: { url: string; apiKey: string }, envelopes: Record<string, unknown>[]) {
  const outcomes = new Map<string, number>();
  const sends: Promise<void>[] = [];
  for (let i = 0; i < envelopes.length; i += 10) {
    const part = envelopes.slice(i, i + 10);
    if ((i / 10) % 2 === 0) {
      sends.push(
        post(server, "/api/claude-hooks/batch", part).then((answer: Posted) => {
          const results = (answer.body.results ?? []) as { httpStatus: number }[];
          part.forEach((e, j) => outcomes.set(e.requestId as string, results[j]?.httpStatus ?? 0));
        }, () => part.forEach((e) => outcomes.set(e.requestId as string, 0))),
      );
    } else {
      for (const e of part) {
        sends.push(
          post(server, "/api/claude-hooks", e).then(
            (answer) => void outcomes.set(e.requestId as string, answer.status),
            () => void outcomes.set(e.requestId as string, 0),
          ),
        );
      }
    }
  }
  return { outcomes, done: Promise.all(sends) };
}

storeTest(
  "crash: SIGKILL mid-group stores nothing by halves; retries give exactly-once",
  async ({ db }) => {
    const envelopes = prompts();
    const first = await startTestServer(db);
    const run = deliver(first, envelopes);
    // Kill once some groups have committed and others are in flight.
    while ([...run.outcomes.values()].filter((s) => s === 200).length < 20) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await first.kill();
    await run.done;

    const store = await openTestStore(db, 1);
    try {
      const stored = await assertWhole(store.sql);
      assert.ok(stored >= 20 && stored <= EVENTS, `stored ${stored}`);
    } finally {
      await store.close();
    }

    const second = await startTestServer(db);
    try {
      let unanswered = envelopes.filter((e) => run.outcomes.get(e.requestId as string) !== 200);
      for (let round = 0; unanswered.length > 0 && round < 5; round++) {
        const retry = deliver(second, unanswered.map((e) => ({ ...e, attempt: 2 })));
        await retry.done;
        unanswered = unanswered.filter((e) => retry.outcomes.get(e.requestId as string) !== 200);
      }
      assert.equal(unanswered.length, 0);
    } finally {
      await second.stop();
    }
    const after = await openTestStore(db, 1);
    try {
      assert.equal(await assertWhole(after.sql), EVENTS);
      const [{ twice }] = await after.sql`
      SELECT count(*)::int AS twice FROM (
        SELECT request_id FROM webhook_events WHERE status = 'SUCCESS'
        GROUP BY request_id HAVING count(*) > 1) AS d`;
      assert.equal(twice, 0);
    } finally {
      await after.close();
    }
  },
);
