// Forward-only SQL migrations: applied in order, once each, in one transaction under an
// advisory lock, with a checksum that refuses an edited applied file.
import postgres from "postgres";
import type { Sql } from "./open.ts";
import type { SchemaMigrationRow } from "../schema.ts";

export class MigrationError extends Error {
  override name = "MigrationError";
}

export interface Migration {
  version: string;
  name: string;
  sql: string;
  checksum: string;
}

export type MigrationState = "applied" | "pending" | "modified";

export interface MigrationStatus {
  version: string;
  name: string;
  state: MigrationState;
  appliedAt?: Date;
}

/** Arbitrary constant: the advisory lock key every arrakis migrator agrees on. */
const MIGRATION_LOCK_KEY = 0x61_72_72_61_6b_69_73;
const FILE_PATTERN = /^(\d{4})_[a-z0-9_]+\.sql$/;

export const MIGRATIONS_DIR = new URL("../../migrations/", import.meta.url);

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

export async function loadMigrations(dir: URL | string = MIGRATIONS_DIR): Promise<Migration[]> {
  const migrations: Migration[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.isFile || !entry.name.endsWith(".sql")) continue;
    const match = FILE_PATTERN.exec(entry.name);
    if (!match) throw new MigrationError(`${entry.name}: name must look like 0001_name.sql`);
    const path = typeof dir === "string" ? `${dir}/${entry.name}` : new URL(entry.name, dir);
    const sql = await Deno.readTextFile(path);
    migrations.push({ version: match[1], name: entry.name, sql, checksum: await sha256(sql) });
  }
  migrations.sort((a, b) => a.version.localeCompare(b.version));
  for (let i = 1; i < migrations.length; i++) {
    if (migrations[i].version === migrations[i - 1].version) {
      throw new MigrationError(`two migrations share version ${migrations[i].version}`);
    }
  }
  return migrations;
}

const CREATE_LEDGER = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version    text PRIMARY KEY,
  name       text NOT NULL,
  checksum   text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)`;

function compare(migrations: Migration[], applied: SchemaMigrationRow[]): MigrationStatus[] {
  const byVersion = new Map(applied.map((row) => [row.version, row]));
  return migrations.map((migration) => {
    const row = byVersion.get(migration.version);
    if (!row) return { version: migration.version, name: migration.name, state: "pending" };
    const state = row.checksum === migration.checksum ? "applied" : "modified";
    return { version: migration.version, name: migration.name, state, appliedAt: row.applied_at };
  });
}

function refuseModified(statuses: MigrationStatus[]): void {
  const modified = statuses.filter((status) => status.state === "modified");
  if (modified.length > 0) {
    throw new MigrationError(
      `applied migration ${modified.map((m) => m.name).join(", ")} was edited after it was ` +
        `applied; add a new migration instead`,
    );
  }
}

/** Applies every pending migration; returns the names applied (empty when up to date). */
export async function migrate(sql: Sql, migrations: Migration[]): Promise<string[]> {
  return await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`;
    await tx.unsafe(CREATE_LEDGER);
    const applied = await tx<SchemaMigrationRow[]>`SELECT * FROM schema_migrations`;
    const statuses = compare(migrations, applied);
    refuseModified(statuses);
    const names: string[] = [];
    for (const migration of migrations) {
      if (statuses.find((s) => s.version === migration.version)?.state !== "pending") continue;
      await tx.unsafe(migration.sql);
      await tx`INSERT INTO schema_migrations (version, name, checksum)
               VALUES (${migration.version}, ${migration.name}, ${migration.checksum})`;
      names.push(migration.name);
    }
    return names;
  });
}

/**
 * The migrations over a connection of its own to the PostgreSQL socket at `socketPath` (a
 * PGlite's socket server), closed afterwards: how an embedded store is migrated before anything
 * else connects to it.
 */
export async function migrateOverSocket(
  socketPath: string,
  migrations: Migration[],
): Promise<string[]> {
  const sql = postgres("postgres://postgres@localhost/postgres", {
    path: socketPath,
    max: 1,
    onnotice: () => {},
  });
  try {
    return await migrate(sql, migrations);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

export async function migrationStatus(
  sql: Sql,
  migrations: Migration[],
): Promise<MigrationStatus[]> {
  const [{ exists }] = await sql<{ exists: boolean }[]>`
    SELECT to_regclass('schema_migrations') IS NOT NULL AS exists`;
  const applied = exists ? await sql<SchemaMigrationRow[]>`SELECT * FROM schema_migrations` : [];
  return compare(migrations, applied);
}

/** Throws unless every migration is applied unchanged (used by /ready). */
export async function assertMigrated(sql: Sql, migrations: Migration[]): Promise<void> {
  const statuses = await migrationStatus(sql, migrations);
  refuseModified(statuses);
  const pending = statuses.filter((status) => status.state === "pending");
  if (pending.length > 0) {
    throw new MigrationError(`pending migrations: ${pending.map((m) => m.name).join(", ")}`);
  }
}
