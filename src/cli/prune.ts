// `arrakis prune`: apply the retention policy now, or with --dry-run say what it would remove.
import { loadConfig } from "../config.ts";
import { openStore } from "../store/open.ts";
import { StoreLockedError } from "../store/embedded.ts";
import { assertMigrated, loadMigrations } from "../store/migrate.ts";
import { planPrune, prune, type PruneCounts } from "../retention/prune.ts";
import { policyOf } from "../retention/schedule.ts";
import { parseFlags } from "./args.ts";

export const usage = `Usage: arrakis prune [--dry-run]

Applies the retention policy now, in small batches: drops the payloads of stored (SUCCESS,
DUPLICATE) audit rows older than ARRAKIS_RETENTION_PAYLOADS (default 30d; the rows and all
data tables stay), and deletes whole sessions whose last event is older than
ARRAKIS_RETENTION_SESSIONS (default forever). Failed rows keep their payload until a later
delivery stores them, so they can still be reprocessed. A running server does the same every
hour.

Options:
  --dry-run   print what would be removed, change nothing

Environment: DATABASE_URL (PostgreSQL); without it the embedded store in ARRAKIS_HOME/db,
which only one process may open: stop the server first, or let its own retention run.`;

/** A period in the largest unit that divides it, as ARRAKIS_RETENTION_* accept it back. */
function period(ms: number | null): string {
  if (ms === null) return "forever";
  const units: [string, number][] = [["d", 86_400_000], ["h", 3_600_000], ["m", 60_000], [
    "s",
    1000,
  ]];
  const [unit, size] = units.find(([, size]) => ms % size === 0) ?? ["ms", 1];
  return `${ms / size}${unit}`;
}

function describe(counts: PruneCounts): string {
  return `${counts.payloads} payloads of stored audit rows, ${counts.sessions} sessions ` +
    `(with ${counts.sessionEvents} audit rows)`;
}

export async function run(args: string[]): Promise<number> {
  const { values } = parseFlags("prune", args, { "dry-run": { type: "boolean" } });
  const config = loadConfig();
  const policy = policyOf(config);
  console.log(
    `retention: payloads ${period(policy.payloadsMs)}, sessions ${period(policy.sessionsMs)}`,
  );
  let store;
  try {
    store = await openStore(config, { max: 2 });
  } catch (error) {
    if (!(error instanceof StoreLockedError)) throw error;
    throw new Error(
      `a running arrakis server holds the embedded store ${config.pgliteDir}: stop it and run ` +
        "prune again, or leave it to the server, which applies the same policy every hour",
    );
  }
  try {
    await assertMigrated(store.sql, await loadMigrations());
    if (values["dry-run"]) {
      console.log(`would remove ${describe(await planPrune(store.sql, policy))}`);
      return 0;
    }
    console.log(`removed ${describe(await prune(store.sql, policy))}`);
    return 0;
  } finally {
    await store.close();
  }
}
