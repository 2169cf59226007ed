import postgres from "postgres";
import { search } from "./src/read/search.ts";
let captured: [string, unknown[]] | undefined;
const sql = postgres("postgres://postgres@127.0.0.1:5432/rd_exp", {
  onnotice() {},
  debug: (_c, q, p) => { if (q.includes("hits AS")) captured = [q, p as unknown[]]; },
});
await search(sql, { q: Deno.args[0], limit: 20 });
const [q, p] = captured!;
await sql.begin(async (tx) => {
  await tx`SET LOCAL jit = off`;
  const plan = await tx.unsafe("EXPLAIN (ANALYZE, BUFFERS) " + q, p as never[]);
  console.log(plan.map((r) => r["QUERY PLAN"]).join("\n"));
});
await sql.end();
