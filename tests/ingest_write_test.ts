// The group's one statement (src/server/write.ts) hands arrakis_write_group a document keyed by
// the merged intents' lists; the function writes a table only for a key it reads, so a list
// added to the intents without its statement would be dropped without an error. Every key the
// merges produce must be one the stored function reads, and it must read no other.
import assert from "node:assert/strict";
import { openTestStore, storeTest } from "./helpers/stores.ts";
import { mergeIntents } from "../src/server/rows.ts";
import { recordIntents } from "../src/server/record_intents.ts";

storeTest(
  "write: the group's function reads every list the merges produce, and no other",
  async ({ db }) => {
    const store = await openTestStore(db, 1);
    try {
      const [{ body }] = await store.sql<{ body: string }[]>`
      SELECT pg_get_functiondef('arrakis_write_group(jsonb)'::regprocedure) AS body`;
      const read = new Set([...body.matchAll(/doc (?:\?|->) '(\w+)'/g)].map((m) => m[1]));
      const produced = new Set([
        ...Object.keys(mergeIntents([])),
        ...Object.keys(recordIntents([])),
        "audit",
      ]);
      assert.deepEqual([...read].sort(), [...produced].sort());
    } finally {
      await store.close();
    }
  },
);
