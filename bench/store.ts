// Opening the store: the embedded PGlite directory fresh (initdb + migrations), fresh from the
// template that first one cached, and again, against connecting to the local PostgreSQL (the
// reference) in the same run.
import { join } from "node:path";
import { openStore } from "../src/store/open.ts";
import { loadMigrations, migrate } from "../src/store/migrate.ts";
import { type BenchRow, table } from "./report.ts";

const POSTGRES_URL = Deno.env.get("BENCH_DATABASE_URL") ??
  "postgres://postgres@127.0.0.1:5432/postgres";

async function timed(fn: () => Promise<void>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

export async function run(): Promise<BenchRow[]> {
  const migrations = await loadMigrations();
  const home = await Deno.makeTempDir({ prefix: "arrakis-bench-store-" });
  const pgliteDir = join(home, "db");
  const openAndMigrate = async (databaseUrl?: string) => {
    const store = await openStore({ databaseUrl, pgliteDir, home });
    await migrate(store.sql, migrations);
    await store.sql`SELECT 1`;
    await store.close();
  };
  try {
    const fresh = await timed(() => openAndMigrate());
    await Deno.remove(pgliteDir, { recursive: true });
    const fromTemplate = await timed(() => openAndMigrate());
    const again: number[] = [];
    for (let i = 0; i < 3; i++) again.push(await timed(() => openAndMigrate()));
    const reopen = again.sort((a, b) => a - b)[1];
    let postgresMs = NaN;
    try {
      const runs: number[] = [];
      for (let i = 0; i < 3; i++) {
        runs.push(
          await timed(async () => {
            const store = await openStore({ databaseUrl: POSTGRES_URL, pgliteDir }, { max: 1 });
            await store.sql`SELECT 1`;
            await store.close();
          }),
        );
      }
      postgresMs = runs.sort((a, b) => a - b)[1];
    } catch { /* no PostgreSQL: the reference is left out */ }
    const reference = Number.isNaN(postgresMs)
      ? undefined
      : { metric: "connect to PostgreSQL", value: postgresMs };
    return [
      {
        benchmark: "store",
        metric: "open embedded store, fresh (initdb + migrate)",
        value: fresh,
        unit: "ms",
        reference,
      },
      {
        benchmark: "store",
        metric: "open embedded store, fresh from the cached template",
        value: fromTemplate,
        unit: "ms",
        reference,
      },
      {
        benchmark: "store",
        metric: "open embedded store again (median of 3)",
        value: reopen,
        unit: "ms",
        reference,
      },
    ];
  } finally {
    await Deno.remove(home, { recursive: true });
  }
}

if (import.meta.main) console.log(table(await run()));
