// The embedded default store: a PGlite data directory served over the PostgreSQL wire
// protocol on a Unix socket in a private (0700) directory beside it, so postgres.js (and psql)
// talk to it like to any PostgreSQL while no other local user can reach it.
import { type Extensions, PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import { dirname, join } from "node:path";
import { ensurePrivateDir, lockWithin } from "../durable.ts";
import { loadMigrations, migrateOverSocket, type Migration } from "./migrate.ts";
import { type BuildRequest, makersLockPath } from "./initdb_protocol.ts";
import { startMaker, waitForMakers } from "./maker.ts";
import { findBase, holdsBase, readBase, SHIPPED_BASE_DIR } from "./base.ts";
import {
  compileEngine,
  DATA_DIR_MARKER,
  type Engine,
  holdsTemplate,
  readEngine,
  readTemplate,
  removeUnfinished,
  templateKey,
  templatePath as templatePathFor,
  unpackDataDir,
} from "./template.ts";
import { errorMessage } from "../error_message.ts";

export class StoreLockedError extends Error {
  override name = "StoreLockedError";
}

export interface EmbeddedServer {
  /** The directory holding the socket (psql -h <dir>), and the socket file itself. */
  socketDir: string;
  socketPath: string;
  close(): Promise<void>;
}

const LOCK_WAIT_MS = 1_000;
/** Longest Unix socket path Linux accepts (sun_path is 108 bytes with its NUL). */
const MAX_SOCKET_PATH_BYTES = 107;

/**
 * PostgreSQL settings for a store that runs beside an editor: small caches (the data of one
 * person's sessions fits in a few MiB), no parallel workers. Each value was measured against
 * PGlite's defaults; docs/DESIGN.md lists what each one saved.
 */
export const EMBEDDED_SETTINGS: Record<string, string> = {
  shared_buffers: "16MB",
  wal_buffers: "1MB",
  work_mem: "2MB",
  maintenance_work_mem: "16MB",
  temp_buffers: "2MB",
};

function startParams(): string[] {
  return [
    ...PGlite.defaultStartParams,
    ...Object.entries(EMBEDDED_SETTINGS).flatMap(([name, value]) => ["-c", `${name}=${value}`]),
  ];
}

/**
 * Takes an exclusive lock beside the data directory. PGlite has no multi-process guard and
 * two writers corrupt it; an flock is released by the kernel even when its holder is killed.
 */
async function lockDataDir(dataDir: string): Promise<Deno.FsFile> {
  const path = `${dataDir}.lock`;
  const file = await Deno.open(path, { read: true, write: true, create: true, mode: 0o600 });
  if (!(await lockWithin(file, LOCK_WAIT_MS))) {
    // The pending lock request cannot be cancelled: this process must not use the directory.
    throw new StoreLockedError(
      `the embedded store ${dataDir} is in use by another arrakis process ` +
        `(lock ${path}); stop it or set DATABASE_URL`,
    );
  }
  return file;
}

/**
 * The home and the data directory are private on every start, whatever made them: PGlite
 * creates its files 0666 and its directories 0755, so only the directories guard them. Only
 * the home it is given is changed, never a directory the data happens to sit in.
 */
async function makePrivate(dataDir: string, home: string | undefined): Promise<void> {
  if (home !== undefined) {
    await ensurePrivateDir(home);
    await Deno.chmod(home, 0o700);
  }
  await ensurePrivateDir(dirname(dataDir));
  try {
    await Deno.chmod(dataDir, 0o700);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

/**
 * The shipped base's path for this engine, or undefined where there is none (said in one line:
 * initdb runs then, which takes seconds).
 */
async function shippedBase(
  engine: Engine | undefined,
  baseDir: string,
): Promise<string | undefined> {
  const found = engine
    ? await findBase(baseDir, engine.digest)
    : { missing: "PGlite's engine files cannot be read as files" };
  if ("path" in found) return found.path;
  console.error(`arrakis: no shipped store base (${found.missing}); running initdb`);
  return undefined;
}

/** The shipped base's tar, checked whole; undefined (said in one line) where it cannot serve. */
async function readShippedBase(
  engine: Engine | undefined,
  baseDir: string,
): Promise<Uint8Array | undefined> {
  const path = await shippedBase(engine, baseDir);
  if (path === undefined) return undefined;
  try {
    return await readBase(path);
  } catch (error) {
    console.error(
      `arrakis: the shipped store base ${path} is damaged (${errorMessage(error)}); running initdb`,
    );
    return undefined;
  }
}

/** The request for the maker of a new store: from `basePath` when given, else by initdb. */
function buildRequest(
  migrations: BuildRequest["migrations"],
  socketDir: string,
  paths: { templatePath?: string; dataDir?: string; basePath?: string },
): BuildRequest {
  return {
    migrations,
    socketPath: join(socketDir, "init.sock"),
    makersLock: makersLockPath(socketDir),
    startParams: startParams(),
    ...(paths.basePath === undefined ? {} : { basePath: paths.basePath }),
    ...(paths.templatePath === undefined ? {} : { templatePath: paths.templatePath }),
    ...(paths.dataDir === undefined ? {} : { dataDir: paths.dataDir }),
  };
}

/**
 * A store holds PG_VERSION. A directory without it is no store: an empty one is replaced, and
 * anything else in it is moved aside (never deleted) before a store is made in its place.
 */
function needsCreating(dataDir: string): boolean {
  try {
    Deno.statSync(join(dataDir, DATA_DIR_MARKER));
    return false;
  } catch { /* no store there */ }
  let entries: string[];
  try {
    entries = [...Deno.readDirSync(dataDir)].map((entry) => entry.name);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return true;
    throw error;
  }
  if (entries.length === 0) {
    Deno.removeSync(dataDir);
  } else {
    const aside = `${dataDir}.incomplete-${new Date().toISOString().replace(/[:.]/g, "-")}`;
    Deno.renameSync(dataDir, aside);
    console.error(`arrakis: ${dataDir} held no complete store; moved to ${aside}`);
  }
  return true;
}

/** What making a new data directory leaves to do once the store is open. */
interface Created {
  wasmModule?: WebAssembly.Module;
  /** Applied once the store is open: an unpacked tar may predate the newest ones. */
  migrations: Migration[];
  /** Settles once the template is saved (or could not be); never rejects. */
  saving: Promise<void>;
}

/**
 * Makes a new data directory: unpacked from the cached template when there is one for these
 * migrations and this engine, else from the shipped base; else made by initdb and the
 * migrations in a maker (maker.ts), which then saves the template for next time while the store
 * opens. pglite.wasm is compiled meanwhile for the PGlite that opens the store (and a maker in a
 * worker).
 */
async function createDataDir(
  dataDir: string,
  socketDir: string,
  templateDir: string | undefined,
  baseDir: string,
): Promise<Created> {
  const reading = Promise.all([loadMigrations(), readEngine()]);
  const compiling = reading.then(([, engine]) => compileEngine(engine?.wasm));
  const found = reading.then(async ([migrations, engine]) => {
    const templatePath = engine && templateDir !== undefined
      ? templatePathFor(templateDir, await templateKey(engine.digest, migrations))
      : undefined;
    const tar = (templatePath ? await readTemplate(templatePath) : undefined) ??
      await readShippedBase(engine, baseDir);
    return { migrations, templatePath, tar };
  });
  const request = found.then(({ migrations, templatePath, tar }) =>
    tar === undefined ? buildRequest(migrations, socketDir, { templatePath, dataDir }) : undefined
  );
  // Where neither a template nor a base is to be found, the maker is started first and loads
  // meanwhile; where one may be, only if it is not the one (a maker started for nothing cost
  // the unpack ~0.6 s).
  const early = (templateDir === undefined || !holdsTemplate(templateDir)) && !holdsBase(baseDir)
    ? startMaker(request, compiling)
    : undefined;
  // Awaited below unless reading failed, which is the error then.
  early?.built.catch(() => {});
  const { migrations, tar } = await found;
  let saving = Promise.resolve();
  if (tar !== undefined) {
    unpackDataDir(tar, dataDir);
  } else {
    const build = early ?? startMaker(request, compiling);
    await build.built;
    // The store is made all the same; only the next new one will not be quicker.
    saving = build.saved.then((error) => {
      if (error !== undefined) {
        console.error(`arrakis: could not save the store template: ${error}`);
      }
    });
  }
  const wasmModule = await compiling;
  return { ...(wasmModule ? { wasmModule } : {}), migrations, saving };
}

/**
 * Makes sure `templateDir` holds the template for this engine and these migrations, so that the
 * next new store is unpacked from it (`arrakis install --self` calls this). Returns its path;
 * undefined where PGlite's WebAssembly cannot be read as files (no template is used there).
 */
export async function prepareTemplate(
  templateDir: string,
  baseDir: string = SHIPPED_BASE_DIR,
): Promise<string | undefined> {
  const [migrations, engine] = await Promise.all([loadMigrations(), readEngine()]);
  if (!engine) return undefined;
  const path = templatePathFor(templateDir, await templateKey(engine.digest, migrations));
  if (await readTemplate(path)) return path;
  const socketDir = await Deno.makeTempDir({ prefix: "arrakis-template-" }); // 0700
  try {
    const basePath = await shippedBase(engine, baseDir);
    const build = startMaker(
      Promise.resolve(buildRequest(migrations, socketDir, { templatePath: path, basePath })),
      compileEngine(engine.wasm),
    );
    await build.built;
    const saveError = await build.saved;
    if (saveError !== undefined) throw new Error(`could not save the store template: ${saveError}`);
    return path;
  } finally {
    await Deno.remove(socketDir, { recursive: true }).catch(() => {});
  }
}

export interface EmbeddedOptions {
  /** The ARRAKIS_HOME to keep private. */
  home?: string;
  /** Where new stores' templates are cached (template.ts); none is used or saved without it. */
  templateDir?: string;
  /** Where the shipped store base is looked for (base.ts); data/store-base/ unless given. */
  baseDir?: string;
  /** PGlite extensions to load (none in the product: a test's auto_explain). */
  extensions?: Extensions;
}

/**
 * Opens the data directory (creating it, migrated, on first use) and serves it on a Unix socket
 * beside it, `<dataDir>.run/.s.PGSQL.5432` (as the lock is `<dataDir>.lock`).
 */
export async function startEmbedded(
  dataDir: string,
  options: EmbeddedOptions = {},
): Promise<EmbeddedServer> {
  const socketDir = `${dataDir}.run`;
  // psql finds a socket by directory and port: `psql -h <dataDir>.run`.
  const socketPath = join(socketDir, ".s.PGSQL.5432");
  if (new TextEncoder().encode(socketPath).length > MAX_SOCKET_PATH_BYTES) {
    throw new Error(
      `the embedded store's directory ${dataDir} is too long for its socket ` +
        `(${socketPath} is over ${MAX_SOCKET_PATH_BYTES} bytes); choose a shorter ARRAKIS_HOME`,
    );
  }
  await makePrivate(dataDir, options.home);
  const lock = await lockDataDir(dataDir);
  let db: PGlite | undefined;
  let server: PGLiteSocketServer | undefined;
  let created: Created | undefined;
  try {
    await ensurePrivateDir(socketDir);
    await Deno.chmod(socketDir, 0o700);
    // A socket left by a killed server: ours to remove, since we hold the lock.
    await Deno.remove(socketPath).catch(() => {});
    // A maker whose server was killed may still be at work beside the data directory.
    await waitForMakers(socketDir);
    removeUnfinished(dataDir);
    if (needsCreating(dataDir)) {
      created = await createDataDir(
        dataDir,
        socketDir,
        options.templateDir,
        options.baseDir ?? SHIPPED_BASE_DIR,
      );
    }
    db = await PGlite.create(dataDir, {
      ...(created?.wasmModule ? { pgliteWasmModule: created.wasmModule } : {}),
      startParams: startParams(),
      ...(options.extensions ? { extensions: options.extensions } : {}),
    });
    await Deno.chmod(dataDir, 0o700);
    server = new PGLiteSocketServer({ db, path: socketPath });
    await server.start();
    await Deno.chmod(socketPath, 0o600);
    // A new store is at the current schema whatever ARRAKIS_MIGRATE_ON_START says.
    if (created) await migrateOverSocket(socketPath, created.migrations);
    return {
      socketDir,
      socketPath,
      async close() {
        await server!.stop();
        await db!.close();
        await Deno.remove(socketPath).catch(() => {});
        await created?.saving;
        lock.close();
      },
    };
  } catch (error) {
    await server?.stop().catch(() => {});
    await db?.close().catch(() => {});
    await created?.saving;
    lock.close();
    throw error;
  }
}
