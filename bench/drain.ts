// Draining a spooled backlog into PostgreSQL through the real server (`arrakis serve` as a
// child process): events/s in batches (POST /api/claude-hooks/batch) against one request per
// event, measured in the same run on the same server and database.
import { createTestDatabase, POSTGRES_REACHABLE } from "../tests/helpers/stores.ts";
import { startTestServer } from "../tests/helpers/server.ts";
import { envelope } from "../tests/helpers/queue.ts";
import { openSpool } from "../src/queue/spool.ts";
import { drain } from "../src/queue/drain.ts";
import { type BenchRow, table } from "./report.ts";

const BACKLOG = Number(Deno.env.get("BENCH_DRAIN_EVENTS") ?? 10_000);
/** One-by-one is ~an order of magnitude slower: a smaller sample keeps the bench short. */
const ONE_BY_ONE_SAMPLE = Number(Deno.env.get("BENCH_DRAIN_ONE_BY_ONE") ?? 2_000);
const BATCH = 100;

async function spoolOf(count: number) {
  const dir = `${await Deno.makeTempDir({ prefix: "arrakis-bench-drain-" })}/queue`;
  const spool = await openSpool(dir);
  for (let i = 0; i < count; i++) await spool.put(envelope());
  return { dir, spool };
}

export async function run(): Promise<BenchRow[]> {
  if (!POSTGRES_REACHABLE) {
    console.error("bench drain: no PostgreSQL reachable, skipped");
    return [];
  }
  const db = await createTestDatabase("postgres");
  const server = await startTestServer(db, { ARRAKIS_LOG_LEVEL: "error" });
  const target = { url: server.url, apiKey: server.apiKey };
  try {
    // Warm up the server's connections and plans on a small separate backlog.
    const warm = await spoolOf(200);
    await drain({ spool: warm.spool, target, batchSize: BATCH, timeoutMs: 60_000 });

    const batched = await spoolOf(BACKLOG);
    const b = await drain({ spool: batched.spool, target, batchSize: BATCH, timeoutMs: 60_000 });
    if (b.delivered !== BACKLOG) throw new Error(`batched drain delivered ${b.delivered}`);

    const single = await spoolOf(ONE_BY_ONE_SAMPLE);
    const s = await drain({
      spool: single.spool,
      target,
      batchSize: 1,
      oneByOne: true,
      timeoutMs: 60_000,
    });
    if (s.delivered !== ONE_BY_ONE_SAMPLE) throw new Error(`one-by-one delivered ${s.delivered}`);

    const batchedRate = b.delivered / (b.elapsedMs / 1000);
    const singleRate = s.delivered / (s.elapsedMs / 1000);
    const reference = {
      metric: `one by one, POST /api/claude-hooks (${ONE_BY_ONE_SAMPLE} events)`,
      value: singleRate,
    };
    return [
      {
        benchmark: "drain",
        metric: `${BACKLOG} spooled events into PostgreSQL, batches of ${BATCH}`,
        value: batchedRate,
        unit: "events/s",
        reference,
      },
      {
        benchmark: "drain",
        metric: `same backlog, wall time, batches of ${BATCH}`,
        value: b.elapsedMs / 1000,
        unit: "s",
      },
      {
        benchmark: "drain",
        metric: `one by one (${ONE_BY_ONE_SAMPLE}-event sample), POST /api/claude-hooks`,
        value: singleRate,
        unit: "events/s",
      },
    ];
  } finally {
    await server.stop();
    await db.destroy();
  }
}

if (import.meta.main) {
  console.log(table(await run()));
}
