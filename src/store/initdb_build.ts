// Makes a new embedded store's data directory where no tar serves it: initdb (no shipped base
// for this PGlite), or the shipped base loaded (the template `arrakis install --self` saves), and
// the migrations, on an in-memory PGlite (its file system is JavaScript memory, so nothing is
// written on disk meanwhile), then its files are unpacked into the data directory and, with a
// template path, saved as the store template. Everything big (the WebAssembly memory, hundreds of
// MiB with initdb and never returned while its instance lives) lives where this runs, a child
// process (initdb_child.ts) or else a worker (initdb_worker.ts), and goes away with it: the
// serving process holds none of it.
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import { migrateOverSocket } from "./migrate.ts";
import { readBase } from "./base.ts";
import { type TarEntry, writeTar } from "./tar.ts";
import { writeDataDir, writeTemplate } from "./template.ts";
import type { BuildMessage, BuildRequest } from "./initdb_protocol.ts";
import { errorMessage } from "../error_message.ts";

/** Where PGlite keeps its data directory in its emulated file system. */
const PGDATA = "/pglite/data";

/** What making a data directory's files takes: the migrations and how to run them. */
export type BuildOptions = Pick<
  BuildRequest,
  "migrations" | "socketPath" | "startParams" | "pgliteWasmModule"
>;

/** The migrations through postgres.js, as every other store gets them (migrate.ts). */
async function applyMigrations(db: PGlite, options: BuildOptions): Promise<void> {
  const server = new PGLiteSocketServer({ db, path: options.socketPath });
  await server.start();
  try {
    await migrateOverSocket(options.socketPath, options.migrations);
  } finally {
    await server.stop();
    await Deno.remove(options.socketPath).catch(() => {});
  }
}

/** The base's tar, or why it cannot be used (initdb runs then). */
async function loadBase(path: string | undefined): Promise<{ tar?: Uint8Array; error?: string }> {
  if (path === undefined) return {};
  try {
    return { tar: await readBase(path) };
  } catch (error) {
    return { error: `the shipped store base ${path} is damaged (${errorMessage(error)})` };
  }
}

/**
 * The tar as PGlite's loadDataDir takes it. Not a Blob (see template.ts's gunzip): PGlite reads
 * a loadDataDir with arrayBuffer() and looks at its type for compression, nothing else.
 */
function asDataDir(tar: Uint8Array): Blob {
  const bytes = tar.buffer.slice(tar.byteOffset, tar.byteOffset + tar.length);
  return { type: "application/x-tar", arrayBuffer: () => Promise.resolve(bytes) } as Blob;
}

/**
 * Every file of the in-memory data directory, read from PGlite's file system as its own
 * dumpDataDir does (which returns a Blob: see asDataDir).
 */
function* dataDirEntries(db: PGlite): Generator<TarEntry> {
  const fs = db.Module.FS;
  const walk = function* (dir: string, relative: string): Generator<TarEntry> {
    for (const name of fs.readdir(dir)) {
      if (name === "." || name === "..") continue;
      const path = `${dir}/${name}`;
      const entryPath = relative ? `${relative}/${name}` : name;
      if (fs.isDir(fs.stat(path).mode)) {
        yield { path: entryPath, kind: "directory", data: new Uint8Array(0) };
        yield* walk(path, entryPath);
      } else {
        yield { path: entryPath, kind: "file", data: fs.readFile(path, { encoding: "binary" }) };
      }
    }
  };
  yield* walk(PGDATA, "");
}

/**
 * The files of a new data directory: the base's tar loaded (initdb run without one), the
 * migrations applied, every page checkpointed into its file.
 */
export async function buildDataDir(
  options: BuildOptions,
  base: Uint8Array | undefined,
): Promise<TarEntry[]> {
  const db = await PGlite.create({
    startParams: options.startParams,
    // The module reaches initdb's own PGlite too: PGlite.create passes its options on to it.
    ...(options.pgliteWasmModule ? { pgliteWasmModule: options.pgliteWasmModule } : {}),
    ...(base ? { loadDataDir: asDataDir(base) } : {}),
  });
  try {
    await applyMigrations(db, options);
    // Writes every dirty page into the files read below; without it they live only in shared
    // memory and the WAL.
    await db.exec("CHECKPOINT");
    return [...dataDirEntries(db)];
  } finally {
    await db.close();
  }
}

/**
 * Makes the store `request` asks for, saying how it went through `post` (never throws).
 * `compiling`: pglite.wasm being compiled meanwhile, where the request brings none.
 */
export async function makeStore(
  request: BuildRequest,
  post: (message: BuildMessage) => void,
  compiling?: Promise<WebAssembly.Module | undefined>,
): Promise<void> {
  const [base, pgliteWasmModule] = await Promise.all([
    loadBase(request.basePath),
    compiling ?? request.pgliteWasmModule,
  ]);
  try {
    const entries = await buildDataDir(
      { ...request, ...(pgliteWasmModule ? { pgliteWasmModule } : {}) },
      base.tar,
    );
    if (request.dataDir !== undefined) writeDataDir(entries, request.dataDir);
    post({ kind: "built", ...(base.error ? { baseError: base.error } : {}) });
    if (request.templatePath === undefined) return;
    // Once the caller opens its store: the tar is for the next new store only.
    let error: string | undefined;
    await writeTemplate(request.templatePath, writeTar(entries)).catch((e) =>
      error = errorMessage(e)
    );
    post({ kind: "saved", error });
  } catch (error) {
    post({ kind: "failed", message: errorMessage(error) });
  }
}
