// `arrakis migrate`: apply pending migrations, or list them with --status.
import { loadConfig } from "../config.ts";
import { openStore } from "../store/open.ts";
import { loadMigrations, migrate, migrationStatus } from "../store/migrate.ts";
import { parseFlags } from "./args.ts";

export const usage = `Usage: arrakis migrate [--status]

Applies pending migrations/*.sql in order, once each, inside one transaction under an
advisory lock. Refuses to run when an applied file was edited.

Options:
  --status   list applied and pending migrations, change nothing

Environment: DATABASE_URL (PostgreSQL); without it the embedded store in ARRAKIS_HOME/db.`;

export async function run(args: string[]): Promise<number> {
  const { values } = parseFlags("migrate", args, { status: { type: "boolean" } });
  const config = loadConfig();
  const migrations = await loadMigrations();
  const store = await openStore(config, { max: 1 });
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
