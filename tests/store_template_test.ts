// A new embedded store (issue 11 §5, first start): made migrated, in memory, and renamed into
// place whole; unpacked from the template cached for its engine and migrations when there is
// one; a damaged template or an interrupted first start is repaired, never an existing store.
import assert from "node:assert/strict";
import { join } from "node:path";
import { killWhileMakingStore, withTempDir } from "./helpers/new_store.ts";
import { PGlite } from "@electric-sql/pglite";
import postgres from "postgres";
import { startEmbedded } from "../src/store/embedded.ts";
import { SHIPPED_BASE_DIR } from "../src/store/base.ts";
import { loadMigrations } from "../src/store/migrate.ts";
import { readEngine, templateKey, templatePath } from "../src/store/template.ts";
import { readTar, TarError } from "../src/store/tar.ts";

const OPTIONS = { sanitizeOps: false, sanitizeResources: false };

function withHome(fn: (home: string) => Promise<void>): Promise<void> {
  return withTempDir("arrakis-template-test-", fn);
}

/** No shipped base there: a new store without a template is made by initdb, and saves one. */
const NO_BASE = "/nonexistent";

/**
 * Opens the store at dataDir, runs fn on a postgres.js connection to it, and closes it. Without
 * the shipped base (`NO_BASE`) unless `baseDir` says otherwise: the template is what is tested.
 */
async function withStore<T>(
  dataDir: string,
  templateDir: string | undefined,
  fn: (sql: postgres.Sql) => Promise<T>,
  baseDir = NO_BASE,
): Promise<T> {
  const embedded = await startEmbedded(dataDir, { templateDir, baseDir });
  const sql = postgres("postgres://postgres@localhost/postgres", {
    path: embedded.socketPath,
    max: 1,
    onnotice: () => {},
  });
  try {
    return await fn(sql);
  } finally {
    await sql.end();
    await embedded.close();
  }
}

const appliedVersions = (sql: postgres.Sql) =>
  sql<{ version: string }[]>`SELECT version FROM schema_migrations ORDER BY version`
    .then((rows) => rows.map((row) => row.version));

async function modes(dir: string): Promise<Set<string>> {
  const found = new Set<string>();
  const walk = async (path: string) => {
    for await (const entry of Deno.readDir(path)) {
      const child = join(path, entry.name);
      const info = await Deno.lstat(child);
      found.add(`${entry.isDirectory ? "d" : "f"}${(info.mode! & 0o777).toString(8)}`);
      if (entry.isDirectory) await walk(child);
    }
  };
  await walk(dir);
  return found;
}

/**
 * Every directory 0700; the unpacked files 0600. Files PGlite itself creates later (its WAL
 * segments, its stats) are 0644 by its umask: the 0700 directories guard those.
 */
function assertPrivate(found: Set<string>): void {
  const dirs = [...found].filter((mode) => mode.startsWith("d"));
  const files = [...found].filter((mode) => mode.startsWith("f"));
  assert.deepEqual(dirs, ["d700"]);
  assert.ok(files.includes("f600"), [...found].join(" "));
  assert.deepEqual(files.filter((mode) => mode !== "f600" && mode !== "f644"), []);
}

async function currentTemplatePath(templateDir: string): Promise<string> {
  const engine = await readEngine();
  assert.ok(engine, "PGlite's WebAssembly is readable as files here");
  return templatePath(templateDir, await templateKey(engine.digest, await loadMigrations()));
}

Deno.test({
  name: "a new store is made migrated and private, and saves its template",
  ...OPTIONS,
  async fn() {
    await withHome(async (home) => {
      const templateDir = join(home, "cache");
      const versions = (await loadMigrations()).map((m) => m.version);
      const applied = await withStore(join(home, "db"), templateDir, appliedVersions);
      assert.deepEqual(applied, versions);
      assertPrivate(await modes(join(home, "db")));
      const template = await Deno.stat(await currentTemplatePath(templateDir));
      assert.equal(template.mode! & 0o777, 0o600);
      assert.equal((await Deno.stat(templateDir)).mode! & 0o777, 0o700);
      // Nothing half-made is left beside the store.
      const beside = [...Deno.readDirSync(home)].map((entry) => entry.name).sort();
      assert.deepEqual(beside, ["cache", "db", "db.lock", "db.run"]);
    });
  },
});

Deno.test({
  name: "a new store is unpacked from the cached template of its engine and migrations",
  ...OPTIONS,
  async fn() {
    await withHome(async (home) => {
      const templateDir = join(home, "cache");
      // A template holding a row no initdb makes: a store that has it came from the template.
      const source = await PGlite.create();
      await source.exec("CREATE TABLE came_from (what text); INSERT INTO came_from VALUES ('tpl')");
      await source.exec("CHECKPOINT");
      const tar = new Uint8Array(await (await source.dumpDataDir("gzip")).arrayBuffer());
      await source.close();
      await Deno.mkdir(templateDir, { mode: 0o700 });
      await Deno.writeFile(await currentTemplatePath(templateDir), tar, { mode: 0o600 });

      const rows = await withStore(
        join(home, "db"),
        templateDir,
        (sql) => sql`SELECT what FROM came_from`,
      );
      assert.deepEqual(rows.map((row) => row.what), ["tpl"]);
      assertPrivate(await modes(join(home, "db")));
    });
  },
});

Deno.test({
  name: "a damaged template is removed and the store made from scratch, the template anew",
  ...OPTIONS,
  async fn() {
    await withHome(async (home) => {
      const templateDir = join(home, "cache");
      await withStore(join(home, "first"), templateDir, async () => {});
      const path = await currentTemplatePath(templateDir);
      const whole = await Deno.readFile(path);
      await Deno.writeFile(path, whole.subarray(0, whole.length >> 1));
      const versions = (await loadMigrations()).map((m) => m.version);
      assert.deepEqual(await withStore(join(home, "db"), templateDir, appliedVersions), versions);
      assert.deepEqual(await Deno.readFile(path).then((bytes) => bytes.length > 0), true);
      // The new template reads whole: a third store is made from it.
      assert.deepEqual(
        await withStore(join(home, "third"), templateDir, appliedVersions),
        versions,
      );
    });
  },
});

Deno.test({
  name: "a start killed while making the store leaves nothing that the next start trips on",
  ...OPTIONS,
  async fn() {
    await withHome(async (home) => {
      const templateDir = join(home, "cache");
      await withStore(join(home, "warm"), templateDir, async () => {});
      const dataDir = join(home, "db");
      // A child makes the store from the template and is killed while it unpacks it.
      await killWhileMakingStore(home, { templateDir });
      const versions = (await loadMigrations()).map((m) => m.version);
      assert.deepEqual(await withStore(dataDir, templateDir, appliedVersions), versions);
      const left = [...Deno.readDirSync(home)].filter((entry) => entry.name.startsWith("db.new-"));
      assert.deepEqual(left, []);
    });
  },
});

Deno.test({
  name: "a data directory without PG_VERSION is moved aside, never deleted; an empty one replaced",
  ...OPTIONS,
  async fn() {
    await withHome(async (home) => {
      const dataDir = join(home, "db");
      await Deno.mkdir(dataDir, { mode: 0o700 });
      await Deno.writeTextFile(join(dataDir, "someone's file"), "kept");
      await withStore(dataDir, undefined, async () => {}, SHIPPED_BASE_DIR);
      const aside = [...Deno.readDirSync(home)].find((e) => e.name.startsWith("db.incomplete-"));
      assert.ok(aside, "the directory was moved aside");
      assert.equal(await Deno.readTextFile(join(home, aside.name, "someone's file")), "kept");
      await Deno.stat(join(dataDir, "PG_VERSION"));

      const empty = join(home, "empty");
      await Deno.mkdir(empty, { mode: 0o700 });
      await withStore(empty, undefined, async () => {}, SHIPPED_BASE_DIR);
      await Deno.stat(join(empty, "PG_VERSION"));
      assert.equal(
        [...Deno.readDirSync(home)].filter((e) => e.name.startsWith("empty.incomplete")).length,
        0,
      );
    });
  },
});

Deno.test("the template key changes with any migration and with the engine", async () => {
  const migrations = await loadMigrations();
  const key = await templateKey("engine-a", migrations);
  assert.equal(await templateKey("engine-a", migrations), key);
  assert.notEqual(await templateKey("engine-b", migrations), key);
  const edited = migrations.map((m, i) => i === 0 ? { ...m, checksum: "0".repeat(64) } : m);
  assert.notEqual(await templateKey("engine-a", edited), key);
  assert.notEqual(await templateKey("engine-a", migrations.slice(0, -1)), key);
});

Deno.test("readTar refuses a path leaving the archive and a damaged header", async () => {
  const db = await PGlite.create();
  const tar = new Uint8Array(await (await db.dumpDataDir("none")).arrayBuffer());
  await db.close();
  const entries = [...readTar(tar)];
  assert.ok(entries.some((entry) => entry.path === "PG_VERSION" && entry.kind === "file"));
  assert.ok(entries.some((entry) => entry.path === "base" && entry.kind === "directory"));

  const escaping = tar.slice();
  const name = new TextEncoder().encode("/../../etc/passwd");
  escaping.fill(0, 0, 100);
  escaping.set(name, 0);
  // Recompute the checksum so that only the path is wrong.
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : escaping[i];
  escaping.set(new TextEncoder().encode(sum.toString(8).padStart(6, "0") + "\0 "), 148);
  assert.throws(() => [...readTar(escaping)], (error: Error) => error instanceof TarError);

  const damaged = tar.slice();
  damaged[10] ^= 0xff;
  assert.throws(() => [...readTar(damaged)], /checksum/);
  assert.throws(() => [...readTar(tar.subarray(0, 700))], TarError);
});
