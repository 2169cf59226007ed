// Property: the single and batch paths store identical tables for the same envelopes, in any
// order and any grouping. Seeded shuffles and splits; a failing seed is printed to replay.
import assert from "node:assert/strict";
import { createTestDatabase, storeTest } from "./helpers/stores.ts";
import { fixturePayload, makeEnvelope, post, startInProcessServer } from "./helpers/server.ts";
import { dump, SESSION, sessionEnvelopes } from "./helpers/session.ts";
import type { Sql } from "../src/store/open.ts";
import { uuidv7 } from "../src/ids.ts";

const TRIALS = 3;

/** A small seeded generator (mulberry32): the same seed, the same run. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle<T>(items: T[], next: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** Splits into runs of 1 to 6; each run goes as one batch or as concurrent singles. */
function split<T>(items: T[], next: () => number): { batch: boolean; items: T[] }[] {
  const parts: { batch: boolean; items: T[] }[] = [];
  for (let i = 0; i < items.length;) {
    const size = 1 + Math.floor(next() * 6);
    parts.push({ batch: next() < 0.5, items: items.slice(i, i + size) });
    i += size;
  }
  return parts;
}

/**
 * The whole fixture session, the events that make record rows (agents, permissions, session
 * events) and a second session that repeats it: groups then mix sessions, and the record rows
 * of many envelopes merge in one statement.
 */
function envelopesOfTwoSessions(): Record<string, unknown>[] {
  const base = Date.parse("2026-11-20T10:00:30.000Z");
  const records = [
    "SubagentStart",
    "PermissionRequest",
    "PermissionDenied",
    "StopFailure",
    "PostCompact",
    "PostToolBatch",
    "TaskCreated",
    "TaskCompleted",
  ].map((event, index) =>
    makeEnvelope(fixturePayload(event), {
      requestId: uuidv7(base + index),
      occurredAt: new Date(base + index * 1000).toISOString(),
    })
  );
  const first = [...sessionEnvelopes(), ...records];
  const other = "0b7e3c1d-5a2f-4c68-8e19-7d4a6b2c9f30";
  // The same events in another session: its id swapped in, new requestIds, and message ids of
  // its own (token usage is keyed by them alone).
  const second = first.map((e, index) =>
    JSON.parse(
      JSON.stringify(e).replaceAll(SESSION, other).replaceAll("msg_01", "msg_02"),
      (key, value) =>
        key === "requestId" && typeof value === "string" && value === e.requestId
          ? uuidv7(base + 100 + index)
          : value,
    )
  );
  return [...first, ...second];
}

/** dump() and the record tables it leaves out. */
async function dumpAll(sql: Sql) {
  const [agents, sessionEvents, permissions, messageAgents] = await Promise.all([
    sql`SELECT session_id, agent_id, agent_type, description, parent_tool_use_id,
          parent_agent_id, transcript_path, started_at, ended_at, last_message
        FROM agents ORDER BY session_id, agent_id`,
    sql`SELECT request_id, session_id, agent_id, kind, label, text, detail, occurred_at
        FROM session_events ORDER BY request_id`,
    sql`SELECT session_id, tool_use_id, agent_id, permission, permission_reason
        FROM tool_uses ORDER BY session_id, tool_use_id`,
    sql`SELECT session_id, dedupe_key, agent_id FROM messages ORDER BY session_id, dedupe_key`,
  ]);
  return {
    ...await dump(sql),
    ...JSON.parse(JSON.stringify({ agents, sessionEvents, permissions, messageAgents })),
  };
}

storeTest(
  "property: any order and grouping, single or batch, stores the same tables",
  async ({ db }) => {
    const envelopes = envelopesOfTwoSessions();
    const reference = await startInProcessServer(db);
    let expected: unknown;
    try {
      for (const e of envelopes) {
        assert.equal(
          (await post(reference, "/api/claude-hooks", e)).status,
          200,
        );
      }
      expected = await dumpAll(reference.sql);
    } finally {
      await reference.stop();
    }
    for (let trial = 0; trial < TRIALS; trial++) {
      const seed = 1000 + trial;
      const next = random(seed);
      // Some events delivered twice, as retries do.
      const deliveries = shuffle(
        [...envelopes, ...envelopes.filter(() => next() < 0.3).map((e) => ({ ...e, attempt: 2 }))],
        next,
      );
      const own = await createTestDatabase(db.kind);
      const server = await startInProcessServer(own);
      try {
        const answers = await Promise.all(
          split(deliveries, next).map(async (part) => {
            if (part.batch) {
              const { status, body } = await post(server, "/api/claude-hooks/batch", part.items);
              assert.equal(status, 200, `seed ${seed}`);
              return (body.results as { status: string }[]).map((r) => r.status);
            }
            const singles = await Promise.all(
              part.items.map((e) => post(server, "/api/claude-hooks", e)),
            );
            return singles.map((r) => r.body.status as string);
          }),
        );
        for (const status of answers.flat()) {
          assert.ok(["SUCCESS", "DUPLICATE"].includes(status), `seed ${seed}: ${status}`);
        }
        assert.equal(answers.flat().filter((s) => s === "SUCCESS").length, envelopes.length);
        assert.deepEqual(await dumpAll(server.sql), expected, `seed ${seed}`);
      } finally {
        await server.stop();
        await own.destroy();
      }
    }
  },
);
