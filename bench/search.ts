// Search and retention on PostgreSQL: query latency over a generated store of 1M messages
// (BENCH_SEARCH_MESSAGES) against the bare GIN match of the same query; the cost per event of
// the search columns (rows written with them against the same rows without); and storage per
// event of real ingested sessions before and after payload retention.
import postgres from "postgres";
import { loadConfig } from "../src/config.ts";
import { loadMigrations, migrate } from "../src/store/migrate.ts";
import { search, type SearchQuery } from "../src/read/search.ts";
import { prune } from "../src/retention/prune.ts";
import { startServer } from "../src/server/start.ts";
import { fixturePayload, fixtureTranscript, makeEnvelope } from "../tests/helpers/server.ts";
import { type BenchRow, percentile, table } from "./report.ts";

const ADMIN_URL = Deno.env.get("BENCH_DATABASE_URL") ??
  "postgres://postgres@127.0.0.1:5432/postgres";
const MESSAGES = Number(Deno.env.get("BENCH_SEARCH_MESSAGES") ?? 1_000_000);
export const QUERY_RUNS = 30;

export async function withDatabase<T>(
  fn: (sql: postgres.Sql, url: string) => Promise<T>,
): Promise<T> {
  const name = `arrakis_bench_search_${crypto.randomUUID().slice(0, 8)}`;
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const sql = postgres(url.toString(), { max: 4, onnotice: () => {} });
  try {
    await migrate(sql, await loadMigrations());
    return await fn(sql, url.toString());
  } finally {
    await sql.end();
    await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

// Words people search for, mixed into generated text with a skewed (Zipf-like) draw so some
// are common and some rare, as in real sessions.
const WORDS = (
  "test cart total payment refactor migration deploy docker build error failed timeout " +
  "database index query schema async await promise component render state hook route " +
  "server client request response header cookie session token cache queue worker retry " +
  "config env secret file path read write edit diff commit branch merge rebase lint format " +
  "type interface function class module import export package version release bug fix " +
  "feature review comment log metric alert trace span latency throughput memory leak cpu"
).split(" ");

export async function generate(sql: postgres.Sql): Promise<void> {
  const sessions = Math.max(10, Math.round(MESSAGES / 1000));
  await sql`
    INSERT INTO conversations (session_id, project_dir, started_at, first_seen_at)
    SELECT 'bench-' || s, '/home/dev/project-' || (s % 20), now() - s * interval '1 minute',
      now() - s * interval '1 minute'
    FROM generate_series(1, ${sessions}) s`;
  // 5,000 filler words (hex strings) plus the searchable ones; each message 12-27 words.
  await sql`CREATE TEMP TABLE vocab (id int PRIMARY KEY, word text NOT NULL)`;
  await sql`
    INSERT INTO vocab SELECT row_number() OVER (), word FROM (
      SELECT unnest(${WORDS}::text[]) AS word
      UNION ALL SELECT substr(md5(i::text), 1, 3 + i % 5) FROM generate_series(1, 5000) i) w`;
  const [{ size }] = await sql<{ size: number }[]>`SELECT count(*)::int AS size FROM vocab`;
  // n words of skewed frequency, for the row numbered g (the reference to g keeps the subquery
  // per row).
  const words = (n: string) =>
    sql`(SELECT string_agg(v.word, ' ') FROM (
      SELECT 1 + floor(power(random(), 2.5) * ${size})::int AS i
      FROM generate_series(1, ${sql.unsafe(n)})) r JOIN vocab v ON v.id = r.i)`;
  await sql`
    INSERT INTO messages (conversation_id, session_id, role, source, dedupe_key, content,
      occurred_at)
    SELECT c.id, c.session_id, CASE WHEN g % 3 = 0 THEN 'user' ELSE 'assistant' END,
      CASE WHEN g % 3 = 0 THEN 'prompt' ELSE 'transcript' END, 'bench:' || g,
      ${words("12 + g % 16")},
      now() - g * interval '1 second'
    FROM generate_series(1, ${MESSAGES}) g
    JOIN conversations c ON c.session_id = 'bench-' || (1 + g % ${sessions})`;
  const tools = Math.round(MESSAGES / 10);
  await sql`
    INSERT INTO tool_uses (conversation_id, session_id, tool_use_id, tool_name, tool_input,
      tool_response, status, pre_at)
    SELECT c.id, c.session_id, 'toolu_bench_' || g, 'Bash',
      jsonb_build_object('command', 'npm test -- ' || (${WORDS}::text[])[1 + g % ${WORDS.length}]),
      jsonb_build_object('stdout', ${words("20 + g % 40")}),
      CASE WHEN g % 20 = 0 THEN 'failure' ELSE 'success' END, now() - g * interval '1 second'
    FROM generate_series(1, ${tools}) g
    JOIN conversations c ON c.session_id = 'bench-' || (1 + g % ${sessions})`;
  await sql`VACUUM ANALYZE messages`;
  await sql`VACUUM ANALYZE tool_uses`;
}

export const QUERIES: [label: string, query: Omit<SearchQuery, "limit">][] = [
  ["one common word", { q: "test" }],
  ["one rare word", { q: "latency" }],
  ["two words", { q: "payment timeout" }],
  ['"a phrase"', { q: '"cart total"' }],
  ["word -exclusion", { q: "deploy -docker" }],
  ["prompts only", { q: "migration", kinds: ["prompt"] }],
  ["one session", { q: "error", session: "bench-7" }],
];

async function searchLatency(sql: postgres.Sql): Promise<BenchRow[]> {
  const own: number[] = [];
  const bare: number[] = [];
  for (let run = 0; run < QUERY_RUNS; run++) {
    for (const [, query] of QUERIES) {
      let t = performance.now();
      const first = await search(sql, { ...query, limit: 20 });
      // The second page as a person paging on would ask for it.
      if (run % 5 === 0 && first.nextCursor) {
        await search(sql, { ...query, limit: 20, cursor: first.nextCursor });
      }
      own.push(performance.now() - t);
      t = performance.now();
      await sql`SELECT id FROM messages WHERE search_tsv @@ websearch_to_tsquery('english', ${query.q})
        LIMIT 20`;
      bare.push(performance.now() - t);
    }
  }
  own.sort((a, b) => a - b);
  bare.sort((a, b) => a - b);
  const reference = { metric: "bare GIN match, LIMIT 20, no rank", value: percentile(bare, 95) };
  const [{ n }] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM messages`;
  const label = `${(n / 1e6).toFixed(n >= 1e6 ? 0 : 2)}M messages`;
  return [
    {
      benchmark: "search",
      metric: `query p50 (${label}, ranked, snippets)`,
      value: percentile(own, 50),
      unit: "ms",
      reference: { metric: reference.metric, value: percentile(bare, 50) },
    },
    {
      benchmark: "search",
      metric: `query p95 (${label}, ranked, snippets)`,
      value: percentile(own, 95),
      unit: "ms",
      reference,
    },
  ];
}

/** Rows as the set-based write path inserts them, into messages with and without the index. */
async function indexingCost(sql: postgres.Sql): Promise<BenchRow[]> {
  const rows = 20_000;
  const batch = 100;
  await sql`CREATE TABLE bench_plain (LIKE messages INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING CONSTRAINTS)`;
  await sql`ALTER TABLE bench_plain DROP COLUMN search_tsv`;
  await sql`CREATE TABLE bench_indexed
    (LIKE messages INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING CONSTRAINTS INCLUDING GENERATED)`;
  await sql`CREATE INDEX ON bench_indexed USING gin (search_tsv)`;
  const prompt = fixturePayload("UserPromptSubmit").prompt as string;
  const reply = JSON.stringify(fixtureTranscript().map((line) => line.message ?? null));
  const content = (i: number) => `${i % 2 ? prompt : reply} ${WORDS[i % WORDS.length]} #${i}`;
  const timeInto = async (table: string) => {
    const started = performance.now();
    for (let from = 0; from < rows; from += batch) {
      const items = Array.from({ length: batch }, (_, k) => ({
        key: `k${from + k}`,
        content: content(from + k),
      }));
      await sql`
        INSERT INTO ${sql(table)} (conversation_id, session_id, role, source, dedupe_key, content)
        SELECT 1, 'bench-1', 'user', 'prompt', x.key, x.content
        FROM jsonb_to_recordset(${sql.json(items)}) AS x(key text, content text)`;
    }
    return (performance.now() - started) * 1000 / rows;
  };
  // Alternate, twice each, so a burst of load from other work touches both.
  const plain: number[] = [];
  const indexed: number[] = [];
  for (let round = 0; round < 2; round++) {
    await sql`TRUNCATE bench_plain, bench_indexed`;
    plain.push(await timeInto("bench_plain"));
    indexed.push(await timeInto("bench_indexed"));
  }
  const best = (list: number[]) => Math.min(...list);
  return [{
    benchmark: "search",
    metric: "message insert with search column + GIN (set-based, 100/stmt)",
    value: best(indexed),
    unit: "µs/row",
    reference: { metric: "same rows without them", value: best(plain) },
  }];
}

/** Real sessions through a real server, then retention: bytes per event, before and after. */
async function storage(url: string, sql: postgres.Sql): Promise<BenchRow[]> {
  await sql`TRUNCATE conversations, messages, tool_uses, token_usage, webhook_events CASCADE`;
  const home = await Deno.makeTempDir({ prefix: "arrakis-bench-search-" });
  const config = loadConfig({
    HOME: home,
    ARRAKIS_HOME: home,
    DATABASE_URL: url,
    ARRAKIS_API_KEY: "bench-key-0123456789",
    ARRAKIS_LOG_LEVEL: "error",
    ARRAKIS_LOG_DIR: `${home}/logs`,
    PORT: "0",
  });
  const server = await startServer(config);
  await server.prepared;
  const events = ["SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "Stop"];
  try {
    for (let s = 0; s < 200; s++) {
      const session = `bench-storage-${s}`;
      const transcript = fixtureTranscript().map((line) => ({
        ...line,
        uuid: `${session}-${line.uuid}`,
        message: line.message &&
          { ...line.message as object, id: `${session}-${(line.message as { id?: string }).id}` },
      }));
      const batch = events.map((event) =>
        makeEnvelope(
          { ...fixturePayload(event), session_id: session, tool_use_id: `${session}-t` },
          event === "Stop" ? { transcript } : {},
        )
      );
      const response = await fetch(`${server.url}/api/claude-hooks/batch`, {
        method: "POST",
        headers: {
          authorization: "Bearer bench-key-0123456789",
          "content-type": "application/json",
        },
        body: JSON.stringify(batch),
      });
      if (!response.ok) throw new Error(`ingest answered ${response.status}`);
      await response.body?.cancel();
    }
  } finally {
    await server.shutdown();
    await Deno.remove(home, { recursive: true });
  }
  const perEvent = async () => {
    await sql`VACUUM FULL`;
    const [row] = await sql<{ bytes: number; events: number }[]>`
      SELECT (SELECT sum(pg_total_relation_size(c.oid))::float8 FROM pg_class c
        WHERE c.relname IN ('conversations', 'messages', 'tool_uses', 'token_usage',
          'webhook_events') AND c.relkind = 'r') AS bytes,
        (SELECT count(*)::int FROM webhook_events) AS events`;
    return row.bytes / row.events;
  };
  const before = await perEvent();
  await prune(sql, { payloadsMs: 30 * 86_400_000, sessionsMs: null }, {
    now: Date.now() + 31 * 86_400_000,
  });
  const after = await perEvent();
  return [{
    benchmark: "search",
    metric: "storage per event after payload retention (VACUUM FULL)",
    value: after,
    unit: "bytes",
    reference: { metric: "before retention", value: before },
  }];
}

export async function run(): Promise<BenchRow[]> {
  return await withDatabase(async (sql, url) => {
    const started = performance.now();
    await generate(sql);
    console.error(
      `bench search: generated ${MESSAGES} messages in ${
        ((performance.now() - started) / 1000).toFixed(0)
      } s`,
    );
    return [
      ...await searchLatency(sql),
      ...await indexingCost(sql),
      ...await storage(url, sql),
    ];
  });
}

if (import.meta.main) console.log(table(await run()));
