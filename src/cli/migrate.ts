// `arrakis migrate`: apply pending migrations, or list them with --status. A status never
// creates a store: "no store yet" and "the running server holds it" are answers too.
import { type Config, loadConfig } from "../config.ts";
import { openStore } from "../store/open.ts";
import { StoreLockedError } from "../store/embedded.ts";
import { loadMigrations, migrate, migrationStatus } from "../store/migrate.ts";
import { parseFlags } from "./args.ts";

export const usage = `Usage: arrakis migrate [--status]

Applies pending migrations/*.sql in order, once each, inside one transaction under an
advisory lock. Refuses to run when an applied file was edited. arrakis serve applies them
at start too (unless ARRAKIS_MIGRATE_ON_START=false).

Options:
  --status   list applied and pending migrations, change nothing (creates no store)

Environment:
  DATABASE_URL   PostgreSQL; without it the embedded store in ARRAKIS_HOME/db
  ARRAKIS_HOME   where the embedded store lives (default ~/.arrakis)
  PORT, ARRAKIS_URL   where to ask a running server that holds the embedded store`;

export async function run(args: string[]): Promise<number> {
  const { values } = parseFlags("migrate", args, { status: { type: "boolean" } });
  const config = loadConfig();
  const migrations = await loadMigrations();
  if (values.status && !config.databaseUrl && !(await exists(config.pgliteDir))) {
    console.log(
      `no store yet at ${config.pgliteDir}; all ${migrations.length} migrations are pending ` +
        `(the first arrakis serve or arrakis migrate applies them)`,
    );
    for (const migration of migrations) console.log(`pending  ${migration.name}`);
    return 0;
  }
  let store;
  try {
    store = await openStore(config, { max: 1 });
  } catch (error) {
    // Applying needs the store itself; a status can come from the server that holds it.
    if (!(error instanceof StoreLockedError) || !values.status) throw error;
    const answer = await askHoldingServer(config);
    if (answer === undefined) throw error;
    console.log(answer);
    return 0;
  }
  try {
    if (values.status) {
      for (const status of await migrationStatus(store.sql, migrations)) {
        const when = status.appliedAt ? `  ${status.appliedAt.toISOString()}` : "";
        console.log(`${status.state.padEnd(8)} ${status.name}${when}`);
      }
      return 0;
    }
    const applied = await migrate(store.sql, migrations);
    console.log(
      applied.length === 0
        ? `up to date (${migrations.length} migrations) on ${store.kind}`
        : `applied ${applied.join(", ")} on ${store.kind}`,
    );
    return 0;
  } finally {
    await store.close();
  }
}

/** The status from the server that holds the embedded store; undefined when none answers. */
async function askHoldingServer(config: Config): Promise<string | undefined> {
  const url = config.serverUrl;
  let said: string;
  try {
    const response = await fetch(`${url}/ready`, { signal: AbortSignal.timeout(2_000) });
    const body = await response.json() as { status?: string; message?: string };
    said = body.status === "ready"
      ? "ready, every migration applied"
      : `${body.status ?? response.status}${body.message ? `: ${body.message}` : ""}`;
  } catch {
    return undefined;
  }
  return `the server at ${url} holds the store ${config.pgliteDir}; its status: ${said}`;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}
