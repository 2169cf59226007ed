// The embedded default store: a PGlite data directory served over the PostgreSQL wire
// protocol on a Unix socket in a private (0700) directory beside it, so postgres.js (and psql)
// talk to it like to any PostgreSQL while no other local user can reach it.
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import { dirname, join } from "node:path";
import { ensurePrivateDir } from "../durable.ts";

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

/**
 * Takes an exclusive lock beside the data directory. PGlite has no multi-process guard and
 * two writers corrupt it; an flock is released by the kernel even when its holder is killed.
 */
async function lockDataDir(dataDir: string): Promise<Deno.FsFile> {
  const path = `${dataDir}.lock`;
  const file = await Deno.open(path, { read: true, write: true, create: true, mode: 0o600 });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), LOCK_WAIT_MS);
  });
  const outcome = await Promise.race([file.lock(true).then(() => "locked" as const), timeout]);
  clearTimeout(timer);
  if (outcome === "timeout") {
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

/** Runs initdb for a new data directory in a worker (see initdb_worker.ts for why). */
async function initDataDir(dataDir: string): Promise<void> {
  try {
    await Deno.stat(join(dataDir, "PG_VERSION"));
    return;
  } catch { /* a new store */ }
  const worker = new Worker(new URL("./initdb_worker.ts", import.meta.url), { type: "module" });
  try {
    const outcome = await new Promise<{ ok: boolean; message?: string }>((resolve, reject) => {
      worker.onmessage = (event) => resolve(event.data);
      worker.onerror = (event) => {
        event.preventDefault();
        reject(new Error(`initdb worker failed: ${event.message}`));
      };
      worker.postMessage({ dataDir });
    });
    if (!outcome.ok) throw new Error(`could not create the embedded store: ${outcome.message}`);
  } finally {
    worker.terminate();
  }
}

/**
 * Opens the data directory (creating it on first use) and serves it on a Unix socket beside
 * it, `<dataDir>.run/.s.PGSQL.5432` (as the lock is `<dataDir>.lock`). `home`, when given, is
 * the ARRAKIS_HOME to keep private.
 */
export async function startEmbedded(
  dataDir: string,
  options: { home?: string } = {},
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
  try {
    await ensurePrivateDir(socketDir);
    await Deno.chmod(socketDir, 0o700);
    // A socket left by a killed server: ours to remove, since we hold the lock.
    await Deno.remove(socketPath).catch(() => {});
    await initDataDir(dataDir);
    db = await PGlite.create(dataDir, {
      startParams: [
        ...PGlite.defaultStartParams,
        ...Object.entries(EMBEDDED_SETTINGS).flatMap(([name, value]) => ["-c", `${name}=${value}`]),
      ],
    });
    await Deno.chmod(dataDir, 0o700);
    const server = new PGLiteSocketServer({ db, path: socketPath });
    await server.start();
    await Deno.chmod(socketPath, 0o600);
    return {
      socketDir,
      socketPath,
      async close() {
        await server.stop();
        await db!.close();
        await Deno.remove(socketPath).catch(() => {});
        lock.close();
      },
    };
  } catch (error) {
    await db?.close().catch(() => {});
    lock.close();
    throw error;
  }
}
