// Test stores: every suite runs on the embedded PGlite and, when reachable, on a freshly
// created PostgreSQL database that is dropped afterwards. Runs never see each other's data.
import postgres from "postgres";
import { PGlite } from "@electric-sql/pglite";
import { join } from "node:path";
import { openStore, type OpenStoreOptions, type Store } from "../../src/store/open.ts";
import { loadMigrations, migrate } from "../../src/store/migrate.ts";
import { tempDir } from "./temp.ts";

export const ADMIN_URL = Deno.env.get("ARRAKIS_TEST_ADMIN_URL") ??
  "postgres://postgres@127.0.0.1:5432/postgres";

export type StoreKind = "pglite" | "postgres";

let postgresReachable: Promise<boolean> | undefined;

export function isPostgresReachable(): Promise<boolean> {
  postgresReachable ??= (async () => {
    const sql = postgres(ADMIN_URL, { max: 1, connect_timeout: 3, onnotice: () => {} });
    try {
      await sql`SELECT 1`;
      return true;
    } catch {
      return false;
    } finally {
      await sql.end({ timeout: 1 });
    }
  })();
  return postgresReachable;
}

/** A database (or PGlite data directory) that belongs to one test. */
export interface TestDatabase {
  kind: StoreKind;
  /** Environment that points arrakis at it (DATABASE_URL or ARRAKIS_HOME). */
  env: Record<string, string>;
  /** For PostgreSQL: its URL; for PGlite: the ARRAKIS_HOME holding db/. */
  databaseUrl?: string;
  home: string;
  /** Drops the database / removes the directory. */
  destroy(): Promise<void>;
}

function uniqueName(): string {
  return `arrakis_test_${Date.now().toString(36)}_${crypto.randomUUID().slice(0, 8)}`;
}

async function copyDir(from: string, to: string): Promise<void> {
  const { code, stderr } = await new Deno.Command("cp", { args: ["-a", from, to] }).output();
  if (code !== 0) throw new Error(`cp failed: ${new TextDecoder().decode(stderr)}`);
}

const TEMPLATE_ROOT = join(Deno.env.get("TMPDIR") ?? "/tmp", "arrakis-test-templates");

/**
 * A PGlite data directory made once per machine and copied per test: creating one costs
 * several seconds (initdb), copying it a few milliseconds.
 */
async function pgliteTemplate(migrated: boolean): Promise<string> {
  const migrations = await loadMigrations();
  const tag = migrated ? migrations.map((m) => m.checksum.slice(0, 8)).join("-") : "blank";
  const dir = join(TEMPLATE_ROOT, `pglite-0.5.14-${tag}`);
  try {
    await Deno.stat(join(dir, "PG_VERSION"));
    return dir;
  } catch { /* not built yet */ }
  await Deno.mkdir(TEMPLATE_ROOT, { recursive: true });
  const building = `${dir}.building-${crypto.randomUUID()}`;
  const db = await PGlite.create(building);
  await db.close();
  if (migrated) {
    const home = await tempDir("arrakis-template-");
    await Deno.rename(building, join(home, "db"));
    const store = await openStore({ databaseUrl: undefined, pgliteDir: join(home, "db") });
    await migrate(store.sql, migrations);
    await store.close();
    await Deno.rename(join(home, "db"), building);
    await Deno.remove(home, { recursive: true });
  }
  try {
    await Deno.rename(building, dir);
  } catch {
    // Another test process finished the same template first: use theirs.
    await Deno.remove(building, { recursive: true });
  }
  return dir;
}

export interface CreateOptions {
  /** Apply the migrations first (default true). */
  migrated?: boolean;
}

export async function createTestDatabase(
  kind: StoreKind,
  options: CreateOptions = {},
): Promise<TestDatabase> {
  const migrated = options.migrated ?? true;
  const home = await tempDir("arrakis-home-");
  if (kind === "pglite") {
    await copyDir(await pgliteTemplate(migrated), join(home, "db"));
    return {
      kind,
      home,
      env: { ARRAKIS_HOME: home },
      destroy: () => Deno.remove(home, { recursive: true }),
    };
  }
  const name = uniqueName();
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const databaseUrl = url.toString();
  if (migrated) {
    const store = await openStore({ databaseUrl, pgliteDir: "" }, { max: 1 });
    await migrate(store.sql, await loadMigrations());
    await store.close();
  }
  return {
    kind,
    home,
    databaseUrl,
    env: { ARRAKIS_HOME: home, DATABASE_URL: databaseUrl },
    async destroy() {
      const sql = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
      await sql.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await sql.end();
      await Deno.remove(home, { recursive: true });
    },
  };
}

/** Opens the test database in this process (PGlite: takes its lock until closed). */
export function openTestStore(
  db: TestDatabase,
  max = 4,
  options: OpenStoreOptions = {},
): Promise<Store> {
  return openStore({ databaseUrl: db.databaseUrl, pgliteDir: join(db.home, "db") }, {
    max,
    ...options,
  });
}

/** Known at load time so that a skipped PostgreSQL test is registered as ignored. */
export const POSTGRES_REACHABLE = await isPostgresReachable();

export interface StoreTestContext {
  db: TestDatabase;
  t: Deno.TestContext;
}

/**
 * Registers one test per store kind. PostgreSQL tests are registered as ignored, with the
 * reason in their name, when no PostgreSQL is reachable.
 */
export function storeTest(
  name: string,
  fn: (ctx: StoreTestContext) => Promise<void>,
  options: CreateOptions & { kinds?: StoreKind[] } = {},
): void {
  for (const kind of options.kinds ?? ["pglite", "postgres"] as StoreKind[]) {
    const missing = kind === "postgres" && !POSTGRES_REACHABLE;
    Deno.test({
      name: missing
        ? `${name} [postgres: skipped, none reachable at ${ADMIN_URL}]`
        : `${name} [${kind}]`,
      ignore: missing,
      sanitizeOps: false,
      sanitizeResources: false,
      async fn(t) {
        const db = await createTestDatabase(kind, options);
        try {
          await fn({ db, t });
        } finally {
          await db.destroy();
        }
      },
    });
  }
}
