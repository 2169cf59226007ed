// The shipped store base (src/store/base.ts, issue 11 §5): a new store with no cached template
// is unpacked from it, initdb and the migrations already applied, instead of running them; it is
// used only when its key is the installed PGlite's, one that predates a migration gets it at
// first start, and one that is damaged or of another build falls back to initdb, saying why in
// one line, never removed.
import assert from "node:assert/strict";
import { join } from "node:path";
import { isRunning, killWhileMakingStore, withTempDir } from "./helpers/new_store.ts";
import { PERMISSIONS } from "../src/permissions.ts";
import { gzipSync } from "node:zlib";
import { PGlite } from "@electric-sql/pglite";
import postgres from "postgres";
import { startEmbedded } from "../src/store/embedded.ts";
import { loadMigrations } from "../src/store/migrate.ts";
import { baseKey, basePath, findBase, readBase, SHIPPED_BASE_DIR } from "../src/store/base.ts";
import { readEngine } from "../src/store/template.ts";
import { readTar, writeTar } from "../src/store/tar.ts";

const OPTIONS = { sanitizeOps: false, sanitizeResources: false };

async function engineDigest(): Promise<string> {
  const engine = await readEngine();
  assert.ok(engine, "PGlite's engine files are readable as files here");
  return engine.digest;
}

function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  return withTempDir("arrakis-base-test-", fn);
}

/** What the store at dataDir holds: its applied migrations and whether it has `came_from`. */
async function inspect(dataDir: string): Promise<{ versions: string[]; cameFrom: string[] }> {
  const embedded = await startEmbedded(dataDir, { baseDir: "/nonexistent" });
  const sql = postgres("postgres://postgres@localhost/postgres", {
    path: embedded.socketPath,
    max: 1,
    onnotice: () => {},
  });
  try {
    const versions = (await sql<{ version: string }[]>`
      SELECT version FROM schema_migrations ORDER BY version`).map((row) => row.version);
    const [{ has }] = await sql<{ has: boolean }[]>`
      SELECT to_regclass('came_from') IS NOT NULL AS has`;
    const cameFrom = has
      ? (await sql<{ what: string }[]>`SELECT what FROM came_from`).map((row) => row.what)
      : [];
    return { versions, cameFrom };
  } finally {
    await sql.end();
    await embedded.close();
  }
}

/** The shipped base's tar. */
async function shippedTar(): Promise<Uint8Array> {
  const found = await findBase(SHIPPED_BASE_DIR, await engineDigest());
  assert.ok("path" in found);
  return await readBase(found.path);
}

/**
 * A base with a table no initdb or migration makes: a store that has it came from this base.
 * The shipped one, or initdb's output alone (a base made before any migration of ours).
 */
async function markedBase(from: "shipped" | "initdb" = "shipped"): Promise<Uint8Array> {
  const db = await PGlite.create(
    from === "initdb"
      ? {}
      : { loadDataDir: new Blob([await shippedTar() as Uint8Array<ArrayBuffer>]) },
  );
  await db.exec("CREATE TABLE came_from (what text); INSERT INTO came_from VALUES ('base')");
  await db.exec("CHECKPOINT");
  const marked = new Uint8Array(await (await db.dumpDataDir("none")).arrayBuffer());
  await db.close();
  return gzipSync(marked);
}

/** Makes a store at dataDir in a child process (as `arrakis serve` would); returns its stderr. */
async function createInChild(dataDir: string, baseDir: string): Promise<string> {
  const script = `
    import { startEmbedded } from "${new URL("../src/store/embedded.ts", import.meta.url).href}";
    const store = await startEmbedded(Deno.args[0], { baseDir: Deno.args[1] });
    await store.close();`;
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--quiet", script, dataDir, baseDir],
    stdout: "null",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(stderr);
  assert.equal(code, 0, text);
  return text;
}

Deno.test("the shipped store base is the installed PGlite's, and reads whole", async () => {
  const found = await findBase(SHIPPED_BASE_DIR, await engineDigest());
  assert.ok(
    "path" in found,
    `data/store-base/ has no store base for the PGlite in deno.json (${
      "missing" in found ? found.missing : ""
    }): run 'deno task store-base' and commit the file it writes, or every first start runs ` +
      `initdb (seconds longer)`,
  );
  const names = [...Deno.readDirSync(SHIPPED_BASE_DIR)].map((entry) => entry.name);
  assert.deepEqual(names, [found.path.slice(SHIPPED_BASE_DIR.length)], "only the current base");
  const tar = await readBase(found.path);
  assert.ok([...readTar(tar)].some((entry) => entry.path === "PG_VERSION"));
  const db = await PGlite.create({ loadDataDir: new Blob([tar as Uint8Array<ArrayBuffer>]) });
  try {
    const { rows } = await db.query<{ name: string; checksum: string }>(
      "SELECT name, checksum FROM schema_migrations ORDER BY version",
    );
    assert.deepEqual(
      rows.map((row) => `${row.name} ${row.checksum}`),
      (await loadMigrations()).map((m) => `${m.name} ${m.checksum}`),
      "the shipped base does not hold every migration as it is now: run 'deno task store-base' " +
        "and commit the file it writes, or every first start applies the missing ones itself",
    );
  } finally {
    await db.close();
  }
});

/** Every migration's version: what a new store, however made, must hold. */
async function allVersions(): Promise<string[]> {
  return (await loadMigrations()).map((m) => m.version);
}

/**
 * A new store made in `dir/db` by a child process, with `base` written in `dir/base` under the
 * key of the engine digest `digest`: the base's path, what the child said, and the store.
 */
async function createWithBase(dir: string, digest: string, base: Uint8Array) {
  const baseDir = join(dir, "base");
  await Deno.mkdir(baseDir);
  const path = basePath(baseDir, await baseKey(digest));
  await Deno.writeFile(path, base);
  const stderr = await createInChild(join(dir, "db"), baseDir);
  return { path, stderr, found: await inspect(join(dir, "db")) };
}

Deno.test({
  name: "a new store without a cached template is the shipped base, migrated",
  ...OPTIONS,
  async fn() {
    await withDir(async (dir) => {
      const { stderr, found } = await createWithBase(dir, await engineDigest(), await markedBase());
      assert.equal(stderr, "", "nothing to say when the base is used");
      assert.deepEqual(found.cameFrom, ["base"]);
      assert.deepEqual(found.versions, await allVersions());
    });
  },
});

Deno.test({
  name: "a base made before the migrations gets them all at first start",
  ...OPTIONS,
  async fn() {
    await withDir(async (dir) => {
      const stale = await markedBase("initdb");
      const { stderr, found } = await createWithBase(dir, await engineDigest(), stale);
      assert.equal(stderr, "");
      assert.deepEqual(found.cameFrom, ["base"]);
      assert.deepEqual(found.versions, await allVersions());
    });
  },
});

Deno.test({
  name: "a base of another PGlite build is not used: initdb runs, and says why in one line",
  ...OPTIONS,
  async fn() {
    await withDir(async (dir) => {
      const { path, stderr, found } = await createWithBase(
        dir,
        "another engine",
        await markedBase(),
      );
      assert.match(stderr, /^arrakis: no shipped store base \(.*another PGlite build.*\n$/);
      assert.deepEqual(found.cameFrom, []);
      assert.deepEqual(found.versions, await allVersions());
      await Deno.stat(path); // left alone
    });
  },
});

Deno.test({
  name: "a damaged base is left in place and the store made by initdb, said in one line",
  ...OPTIONS,
  async fn() {
    await withDir(async (dir) => {
      const whole = await markedBase();
      const damaged = new Uint8Array(whole);
      damaged[whole.length >> 1] ^= 0xff;
      const { path, stderr, found } = await createWithBase(dir, await engineDigest(), damaged);
      assert.match(
        stderr,
        /^arrakis: the shipped store base .* is damaged \(.*\); running initdb$/m,
      );
      assert.equal(stderr.trim().split("\n").length, 1, stderr);
      assert.deepEqual(found.cameFrom, []);
      assert.deepEqual(found.versions, await allVersions());
      assert.deepEqual(await Deno.readFile(path), damaged);
    });
  },
});

Deno.test({
  name: "a store from the base starts no maker process, and a start killed while it unpacks " +
    "leaves nothing to trip on",
  ...OPTIONS,
  async fn() {
    await withDir(async (dir) => {
      // Killed once db.new-* appears: a maker, had one been started, would be running by then.
      const started = await killWhileMakingStore(dir);
      assert.deepEqual(started, [], "no process was started to make the store");
      const found = await inspect(join(dir, "db"));
      assert.deepEqual(found.versions, await allVersions());
      const left = [...Deno.readDirSync(dir)].filter((entry) => entry.name.startsWith("db.new-"));
      assert.deepEqual(left, []);
    });
  },
});

Deno.test({
  name: "a start killed while its maker process writes a store (no base: initdb) leaves nothing " +
    "to trip on, and no maker behind",
  ...OPTIONS,
  async fn() {
    await withDir(async (dir) => {
      const dataDir = join(dir, "db");
      const makers = await killWhileMakingStore(dir, { baseDir: join(dir, "no-base") });
      assert.equal(makers.length, 1, "the store was being made by a child process");
      // The next start waits for the orphaned maker (it ends, or finishes the store) first.
      const found = await inspect(dataDir);
      assert.deepEqual(found.versions, await allVersions());
      const left = [...Deno.readDirSync(dir)].filter((entry) => entry.name.startsWith("db.new-"));
      assert.deepEqual(left, []);
      // It let go of its lock on its way out: at most its exit is still to come.
      for (let i = 0; i < 1000 && isRunning(makers[0]); i++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      assert.equal(isRunning(makers[0]), false, "the maker ended");
    });
  },
});

Deno.test({
  name: "without --allow-run and without a base the store is made in a worker, by initdb",
  ...OPTIONS,
  async fn() {
    await withDir(async (dir) => {
      const script = join(dir, "start.ts");
      await Deno.writeTextFile(
        script,
        `import { startEmbedded } from "${new URL("../src/store/embedded.ts", import.meta.url)}";
        const embedded = await startEmbedded(Deno.args[0], { baseDir: Deno.args[1] });
        await embedded.close();`,
      );
      const config = new URL("../deno.json", import.meta.url).pathname;
      const { code, stderr } = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--quiet",
          "--no-prompt",
          "--config",
          config,
          ...PERMISSIONS.filter((flag) => flag !== "--allow-run"),
          script,
          join(dir, "db"),
          join(dir, "no-base"),
        ],
        stdout: "null",
      }).output();
      assert.equal(code, 0, new TextDecoder().decode(stderr));
      const found = await inspect(join(dir, "db"));
      assert.deepEqual(found.versions, await allVersions());
    });
  },
});

Deno.test("findBase: a missing directory and one holding another build's base, said plainly", async () => {
  await withDir(async (dir) => {
    const digest = await engineDigest();
    const absent = await findBase(join(dir, "none"), digest);
    assert.ok("missing" in absent && absent.missing.includes("no directory"));
    await Deno.writeFile(basePath(dir, await baseKey("another engine")), new Uint8Array(0));
    const other = await findBase(dir, digest);
    assert.ok("missing" in other && other.missing.includes("deno task store-base"));
    await Deno.writeFile(basePath(dir, await baseKey(digest)), new Uint8Array(0));
    assert.deepEqual(await findBase(dir, digest), { path: basePath(dir, await baseKey(digest)) });
  });
});

Deno.test("writeTar: readTar reads back every entry, long paths included", () => {
  const long = `${"d".repeat(90)}/${"e".repeat(60)}`;
  const entries = [
    { path: "PG_VERSION", kind: "file" as const, data: new TextEncoder().encode("18\n") },
    { path: "base", kind: "directory" as const, data: new Uint8Array(0) },
    { path: "base/1", kind: "file" as const, data: new Uint8Array(1025).fill(7) },
    { path: "empty", kind: "file" as const, data: new Uint8Array(0) },
    { path: long, kind: "file" as const, data: new Uint8Array([1, 2, 3]) },
  ];
  const back = [...readTar(writeTar(entries))];
  assert.deepEqual(
    back.map((entry) => ({ ...entry, data: [...entry.data] })),
    entries.map((entry) => ({ ...entry, data: [...entry.data] })),
  );
});
