// The words as the index finds them: every row the exact query matches, the relaxed one
// matches too (checked by the store's own full-text search), and phrases are relaxed only where
// that cannot drop a row.
import assert from "node:assert/strict";
import { openTestStore, storeTest } from "./helpers/stores.ts";
import { relaxedTsquery } from "../src/read/search_terms.ts";

const DOCUMENTS = [
  "the cart total is wrong",
  "total of the cart",
  "cart-total mismatch in the foo bar",
  "foo then bar then baz",
  "a bar foo and a baz",
  "nothing here at all",
  "it's the o'neil file src/cart.test.ts",
];
const QUERIES = [
  '"cart total"',
  '"cart total" -"foo bar" or baz',
  '"the cart of the total"',
  "cart-total",
  '-"cart total" foo',
  '"foo bar" -baz',
  '"bar foo" or "cart total"',
  "o'neil src/cart.test.ts",
  '-"foo bar baz" "a bar"',
];

storeTest(
  "search terms: the relaxed query matches every row the exact one does",
  async ({ db }) => {
    const store = await openTestStore(db, 1);
    try {
      for (const q of QUERIES) {
        const [{ exact }] = await store.sql<{ exact: string }[]>`
        SELECT websearch_to_tsquery('english', ${q})::text AS exact`;
        const relaxed = relaxedTsquery(exact);
        const rows = await store.sql<{ doc: string; exact: boolean; relaxed: boolean }[]>`
        SELECT doc, arrakis_search_vector(doc) @@ ${exact}::tsquery AS exact,
          arrakis_search_vector(doc) @@ ${relaxed}::tsquery AS relaxed
        FROM unnest(${DOCUMENTS}::text[]) AS doc`;
        for (const row of rows) {
          if (row.exact) assert.ok(row.relaxed, `${q} → ${relaxed} misses "${row.doc}"`);
        }
      }
    } finally {
      await store.close();
    }
  },
);

Deno.test("search terms: phrases become their words, negated ones stay phrases", () => {
  assert.equal(relaxedTsquery("'cart' <-> 'total'"), "'cart' & 'total'");
  assert.equal(relaxedTsquery("'cart' <3> 'total'"), "'cart' & 'total'");
  assert.equal(
    relaxedTsquery("'cart' <-> 'total' & !( 'foo' <-> 'bar' ) | 'baz'"),
    "'cart' & 'total' & ! ( 'foo' <-> 'bar' ) | 'baz'",
  );
  assert.equal(relaxedTsquery("'a' <-> !'b'"), "'a' <-> ! 'b'");
  assert.equal(relaxedTsquery("!'a' <-> 'b'"), "! 'a' <-> 'b'");
  assert.equal(relaxedTsquery("!( 'a' <-> 'b' ) <-> 'c'"), "! ( 'a' <-> 'b' ) <-> 'c'");
  assert.equal(relaxedTsquery("'it''s' <-> 'x':*"), "'it''s' & 'x':*");
  assert.equal(relaxedTsquery("not a tsquery ~"), "not a tsquery ~");
});
