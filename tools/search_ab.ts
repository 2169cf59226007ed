// Search before and after a change, in one run on one generated store: the query mix of
// bench/search.ts through this checkout's search and through another checkout's, interleaved
// query by query (in alternating order), so load from other work falls on both alike. The store
// is migrated with this checkout's migrations.
//
//   deno run -A tools/search_ab.ts /path/to/other/checkout   (BENCH_SEARCH_MESSAGES, default 1M)
import { generate, QUERIES, QUERY_RUNS, withDatabase } from "../bench/search.ts";
import { search, type SearchQuery, type SearchResult } from "../src/read/search.ts";
import { percentile } from "../bench/report.ts";
import type { Sql } from "../src/store/open.ts";

type Search = (sql: Sql, query: SearchQuery) => Promise<SearchResult>;

const other = Deno.args[0];
if (!other) {
  console.error("usage: deno run -A tools/search_ab.ts <other checkout>");
  Deno.exit(2);
}
const url = new URL("src/read/search.ts", new URL(`file://${Deno.realPathSync(other)}/`));
const before: Search = (await import(url.href)).search;
const implementations: [string, Search][] = [["other", before], ["this", search]];

await withDatabase(async (sql) => {
  await generate(sql);
  const times = new Map<string, number[]>();
  const record = (key: string, ms: number) => times.set(key, [...times.get(key) ?? [], ms]);
  for (let run = 0; run < QUERY_RUNS; run++) {
    for (const [label, query] of QUERIES) {
      const order = run % 2 ? [...implementations].reverse() : implementations;
      for (const [name, fn] of order) {
        const started = performance.now();
        const first = await fn(sql, { ...query, limit: 20 });
        if (run % 5 === 0 && first.nextCursor) {
          await fn(sql, { ...query, limit: 20, cursor: first.nextCursor });
        }
        const ms = performance.now() - started;
        record(name, ms);
        record(`${name} ${label}`, ms);
      }
    }
  }
  const line = (key: string) => {
    const list = [...times.get(key) ?? []].sort((a, b) => a - b);
    return `p50 ${percentile(list, 50).toFixed(1)} ms, p95 ${percentile(list, 95).toFixed(1)} ms`;
  };
  for (const [label] of QUERIES) {
    console.log(
      `${label.padEnd(18)} other ${line(`other ${label}`)} | this ${line(`this ${label}`)}`,
    );
  }
  console.log(`all                other ${line("other")} | this ${line("this")}`);
});
