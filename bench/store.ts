// Opening the store: a new embedded PGlite directory without the shipped base (initdb and the
// migrations: the fallback), from the shipped base (what a fresh clone's first start does), from
// the template that start cached, and again, against connecting to the local PostgreSQL (the
// reference) in the same run. The three ways of making a new store are interleaved, several
// rounds, medians quoted.
import { join } from "node:path";
import postgres from "postgres";
import { openStore } from "../src/store/open.ts";
import { type EmbeddedOptions, startEmbedded } from "../src/store/embedded.ts";
import { loadMigrations, migrate } from "../src/store/migrate.ts";
import { type BenchRow, table } from "./report.ts";

const POSTGRES_URL = Deno.env.get("BENCH_DATABASE_URL") ??
  "postgres://postgres@127.0.0.1:5432/postgres";
const ROUNDS = 3;

async function timed(fn: () => Promise<void>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1];

export async function run(): Promise<BenchRow[]> {
  const migrations = await loadMigrations();
  const root = await Deno.makeTempDir({ prefix: "arrakis-bench-store-" });
  const noBase = join(root, "no-base"); // no shipped base there: initdb
  // What openStore does with a home, with the base directory chosen here.
  const openAndMigrate = async (home: string, options: EmbeddedOptions = {}) => {
    const embedded = await startEmbedded(join(home, "db"), {
      home,
      templateDir: join(home, "cache"),
      ...options,
    });
    const sql = postgres("postgres://postgres@localhost/postgres", {
      path: embedded.socketPath,
      max: 1,
      onnotice: () => {},
    });
    await migrate(sql, migrations);
    await sql`SELECT 1`;
    await sql.end();
    await embedded.close();
  };
  const cold: number[] = [];
  const fromBase: number[] = [];
  const fromTemplate: number[] = [];
  const again: number[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const home = join(root, `cold-${round}`);
      cold.push(await timed(() => openAndMigrate(home, { baseDir: noBase })));
      const fresh = join(root, `base-${round}`);
      fromBase.push(await timed(() => openAndMigrate(fresh)));
      // The template the cold start cached: a new store there is unpacked from it.
      await Deno.remove(join(home, "db"), { recursive: true });
      fromTemplate.push(await timed(() => openAndMigrate(home)));
      again.push(await timed(() => openAndMigrate(home)));
    }
    let postgresMs = NaN;
    try {
      const runs: number[] = [];
      for (let i = 0; i < 3; i++) {
        runs.push(
          await timed(async () => {
            const store = await openStore({ databaseUrl: POSTGRES_URL, pgliteDir: noBase }, {
              max: 1,
            });
            await store.sql`SELECT 1`;
            await store.close();
          }),
        );
      }
      postgresMs = median(runs);
    } catch { /* no PostgreSQL: the reference is left out */ }
    const reference = Number.isNaN(postgresMs)
      ? undefined
      : { metric: "connect to PostgreSQL", value: postgresMs };
    const row = (metric: string, values: number[]): BenchRow => ({
      benchmark: "store",
      metric: `${metric} (median of ${values.length}, interleaved)`,
      value: median(values),
      unit: "ms",
      reference,
    });
    return [
      row("open embedded store, fresh without the shipped base (initdb + migrate)", cold),
      row("open embedded store, fresh from the shipped base (+ migrate)", fromBase),
      row("open embedded store, fresh from the cached template", fromTemplate),
      row("open embedded store again", again),
    ];
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

if (import.meta.main) console.log(table(await run()));
