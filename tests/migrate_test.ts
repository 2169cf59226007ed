import assert from "node:assert/strict";
import { join } from "node:path";
import { loadMigrations, migrate, MigrationError, migrationStatus } from "../src/store/migrate.ts";
import {
  createTestDatabase,
  openTestStore,
  POSTGRES_REACHABLE,
  storeTest,
} from "./helpers/stores.ts";
import type { Sql } from "../src/store/open.ts";
import { runArrakis } from "./helpers/cli.ts";
import { tempDir } from "./helpers/temp.ts";

const TABLES = ["conversations", "messages", "token_usage", "tool_uses", "webhook_events"];

storeTest("migrate applies every file once, then is a no-op", async ({ db }) => {
  const store = await openTestStore(db);
  try {
    const migrations = await loadMigrations();
    const before = await migrationStatus(store.sql, migrations);
    assert.ok(before.every((status) => status.state === "pending"));
    assert.deepEqual(await migrate(store.sql, migrations), migrations.map((m) => m.name));
    assert.deepEqual(await migrate(store.sql, migrations), []);
    const rows = await store.sql`SELECT version, checksum FROM schema_migrations ORDER BY version`;
    assert.deepEqual(
      rows.map((row) => [row.version, row.checksum]),
      migrations.map((m) => [m.version, m.checksum]),
    );
    const tables = await store.sql`
      SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'`;
    for (const table of TABLES) assert.ok(tables.some((t) => t.table_name === table), table);
  } finally {
    await store.close();
  }
}, { migrated: false });

storeTest("an edited applied migration is refused and nothing changes", async ({ db }) => {
  const store = await openTestStore(db);
  const dir = await tempDir();
  try {
    const migrations = await loadMigrations();
    for (const m of migrations) await Deno.writeTextFile(join(dir, m.name), m.sql);
    await migrate(store.sql, await loadMigrations(dir));
    const first = migrations[0];
    await Deno.writeTextFile(join(dir, first.name), first.sql + "\n-- edited\n");
    await Deno.writeTextFile(join(dir, "9999_later.sql"), "CREATE TABLE later (id int);");
    const edited = await loadMigrations(dir);
    await assert.rejects(
      () => migrate(store.sql, edited),
      (error: unknown) => error instanceof MigrationError && error.message.includes(first.name),
    );
    const [{ exists }] = await store.sql`SELECT to_regclass('later') IS NOT NULL AS exists`;
    assert.equal(exists, false, "a later migration ran although an applied one was edited");
    const statuses = await migrationStatus(store.sql, await loadMigrations(dir));
    assert.equal(statuses.find((s) => s.name === first.name)?.state, "modified");
    assert.equal(statuses.find((s) => s.name === "9999_later.sql")?.state, "pending");
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
}, { migrated: false });

storeTest("concurrent migrates apply each file once", async ({ db }) => {
  if (db.kind === "postgres") {
    // Separate processes, as two servers starting at once would be.
    const results = await Promise.all(
      [1, 2, 3].map(() => runArrakis(["migrate"], { env: db.env })),
    );
    for (const result of results) assert.equal(result.code, 0, result.stderr);
    const applied = results.filter((r) => r.stdout.startsWith("applied")).length;
    assert.equal(applied, 1, results.map((r) => r.stdout).join("|"));
  } else {
    // One PGlite directory admits one process; concurrency is between callers of its store.
    const store = await openTestStore(db);
    try {
      const migrations = await loadMigrations();
      const runs = await Promise.all([1, 2, 3].map(() => migrate(store.sql, migrations)));
      assert.equal(runs.filter((names) => names.length > 0).length, 1);
    } finally {
      await store.close();
    }
  }
  const store = await openTestStore(db);
  try {
    const [{ count }] = await store.sql`SELECT count(*)::int AS count FROM schema_migrations`;
    assert.equal(count, (await loadMigrations()).length);
  } finally {
    await store.close();
  }
}, { migrated: false });

async function columns(sql: Sql) {
  return await sql`
    SELECT table_name, column_name, data_type, udt_name, is_nullable, column_default
    FROM information_schema.columns
    WHERE table_schema = 'public'
    ORDER BY table_name, column_name`;
}

Deno.test({
  name: POSTGRES_REACHABLE
    ? "migrations give the same schema on PGlite and PostgreSQL"
    : "migrations give the same schema on PGlite and PostgreSQL [skipped: no PostgreSQL reachable]",
  ignore: !POSTGRES_REACHABLE,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const [lite, pg] = await Promise.all([
      createTestDatabase("pglite"),
      createTestDatabase("postgres"),
    ]);
    try {
      const liteStore = await openTestStore(lite);
      const pgStore = await openTestStore(pg);
      try {
        const [a, b] = [await columns(liteStore.sql), await columns(pgStore.sql)];
        assert.ok(a.length > 50);
        assert.deepEqual([...a], [...b]);
      } finally {
        await liteStore.close();
        await pgStore.close();
      }
    } finally {
      await lite.destroy();
      await pg.destroy();
    }
  },
});

storeTest("arrakis migrate --status lists applied migrations", async ({ db }) => {
  const result = await runArrakis(["migrate", "--status"], { env: db.env });
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /^applied +0001_init\.sql/m);
});
