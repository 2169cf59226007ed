// `arrakis keys create|list|revoke`: API keys per person or machine, in the database.
import { loadConfig } from "../config.ts";
import { openStore } from "../store/open.ts";
import { StoreLockedError } from "../store/embedded.ts";
import { KeyName, KeyRole } from "../schema.ts";
import { createApiKey, KeyNameTaken, listApiKeys, revokeApiKey } from "../server/keys.ts";
import { parseFlags, UsageError } from "./args.ts";

export const usage = `Usage: arrakis keys create --name NAME [--role ingest|read|admin]
       arrakis keys list [--revoked]
       arrakis keys revoke NAME

Keys live in the database as their sha256; 'create' prints the key once, on stdout.
Roles: ingest posts events (the default, for a machine's hooks); read uses the dashboard
and the read API; admin does both, reprocesses and manages keys. A revoked key stops
working on every instance within seconds. Keys in ARRAKIS_API_KEY keep working as admin.

Environment: DATABASE_URL (PostgreSQL); without it the embedded store in ARRAKIS_HOME/db,
which only works while 'arrakis serve' is not running (it holds that store): then use the
admin API instead (POST/GET /api/keys, DELETE /api/keys/NAME with an admin key).`;

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  return rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd())
    .join("\n");
}

export async function run(args: string[]): Promise<number> {
  const [action, ...rest] = args;
  if (action !== "create" && action !== "list" && action !== "revoke") {
    throw new UsageError(
      `keys: ${action === undefined ? "missing" : `unknown action '${action}'`}; ` +
        `use create, list or revoke`,
    );
  }
  const { values, positionals } = parseFlags(`keys ${action}`, rest, {
    name: { type: "string" },
    role: { type: "string" },
    revoked: { type: "boolean" },
  }, action === "revoke");
  let name: string | undefined;
  let role: KeyRole = "ingest";
  if (action === "create") {
    if (values.name === undefined) throw new UsageError("keys create: --name is required");
    const parsed = KeyName.safeParse(values.name);
    if (!parsed.success) {
      throw new UsageError(`keys create: --name: ${parsed.error.issues[0].message}`);
    }
    name = parsed.data;
    if (values.role !== undefined) {
      const roleParsed = KeyRole.safeParse(values.role);
      if (!roleParsed.success) {
        throw new UsageError(
          `keys create: --role must be ingest, read or admin (got '${values.role}')`,
        );
      }
      role = roleParsed.data;
    }
  } else if (values.name !== undefined || values.role !== undefined) {
    throw new UsageError(`keys ${action}: --name and --role are for 'keys create'`);
  }
  if (action === "revoke") {
    if (positionals.length !== 1) throw new UsageError("keys revoke: give exactly one key name");
    name = positionals[0];
  }

  const config = loadConfig();
  let store;
  try {
    store = await openStore(config, { max: 1 });
  } catch (error) {
    if (error instanceof StoreLockedError) {
      throw new Error(
        `keys: arrakis serve holds the embedded store; use its admin API ` +
          `(/api/keys, see 'arrakis keys --help') or set DATABASE_URL`,
      );
    }
    throw error;
  }
  try {
    const [{ ready }] = await store.sql<{ ready: boolean }[]>`
      SELECT to_regclass('api_keys') IS NOT NULL AS ready`;
    if (!ready) {
      throw new Error("keys: the database has no api_keys table yet: run arrakis migrate");
    }
    if (action === "create") {
      try {
        const { key } = await createApiKey(store.sql, name!, role);
        console.error(`created key '${name}' (role ${role}); it is shown once, store it now:`);
        console.log(key);
        return 0;
      } catch (error) {
        if (error instanceof KeyNameTaken) throw new Error(`keys create: ${error.message}`);
        throw error;
      }
    }
    if (action === "revoke") {
      if (!(await revokeApiKey(store.sql, name!))) {
        throw new Error(`keys revoke: no live key named '${name}'`);
      }
      console.log(`revoked '${name}'; every instance refuses it within seconds`);
      return 0;
    }
    const rows = await listApiKeys(store.sql, { revoked: values.revoked });
    const when = (date: Date | null) => date ? date.toISOString().slice(0, 19) + "Z" : "never";
    console.log(table([
      ["NAME", "ROLE", "CREATED", "LAST USED", ...(values.revoked ? ["REVOKED"] : [])],
      ...rows.map((row) => [
        row.name,
        row.role,
        when(row.created_at),
        when(row.last_used_at),
        ...(values.revoked ? [row.revoked_at ? when(row.revoked_at) : "-"] : []),
      ]),
    ]));
    return 0;
  } finally {
    await store.close();
  }
}
