// The embedded default store: a PGlite data directory served over the PostgreSQL wire
// protocol on loopback, so postgres.js (and psql) talk to it like to any PostgreSQL.
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import { join } from "node:path";
import { ensurePrivateDir } from "../durable.ts";

export class StoreLockedError extends Error {
  override name = "StoreLockedError";
}

export interface EmbeddedServer {
  /** postgres:// URL of the loopback socket. */
  url: string;
  close(): Promise<void>;
}

const LOCK_WAIT_MS = 1_000;

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

export async function startEmbedded(dataDir: string): Promise<EmbeddedServer> {
  await ensurePrivateDir(join(dataDir, ".."));
  const lock = await lockDataDir(dataDir);
  let db: PGlite | undefined;
  try {
    db = await PGlite.create(dataDir);
    const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0 });
    await server.start();
    const port = Number(server.getServerConn().split(":").pop());
    return {
      url: `postgres://postgres@127.0.0.1:${port}/postgres`,
      async close() {
        await server.stop();
        await db!.close();
        lock.close();
      },
    };
  } catch (error) {
    await db?.close().catch(() => {});
    lock.close();
    throw error;
  }
}
