// Property: the single and batch paths store identical tables for the same envelopes, in any
// order and any grouping. Seeded shuffles and splits; a failing seed is printed to replay.
import assert from "node:assert/strict";
import { createTestDatabase, storeTest } from "./helpers/stores.ts";
import { post, startInProcessServer } from "./helpers/server.ts";
import { dump, sessionEnvelopes } from "./helpers/session.ts";

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

storeTest(
  "property: any order and grouping, single or batch, stores the same tables",
  async ({ db }) => {
    const envelopes = sessionEnvelopes();
    const reference = await startInProcessServer(db);
    let expected: unknown;
    try {
      for (const e of envelopes) {
        assert.equal(
          (await post(reference, "/api/claude-hooks", e)).status,
          200,
        );
      }
      expected = await dump(reference.sql);
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
        assert.deepEqual(await dump(server.sql), expected, `seed ${seed}`);
      } finally {
        await server.stop();
        await own.destroy();
      }
    }
  },
);
