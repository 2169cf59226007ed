// Makes a new embedded store's data directory in a worker, as a tar: the shipped base (base.ts)
// loaded, or initdb run where there is none, and the migrations, on an in-memory PGlite (its
// file system is JavaScript memory, so nothing is written on disk), then the directory is
// dumped. The WebAssembly memory (hundreds of MiB with initdb, never returned while its instance
// lives) goes away with the worker. With a template path, the tar is also saved there as the
// store template, while the caller unpacks its copy.
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import postgres from "postgres";
import { migrate } from "./migrate.ts";
import { readBase } from "./base.ts";
import { writeTemplate } from "./template.ts";
import type { BuildMessage, BuildRequest } from "./initdb_protocol.ts";

// The worker's global scope (this module is type-checked with the main program's globals).
const scope = self as unknown as {
  onmessage: (event: MessageEvent<BuildRequest>) => void;
  postMessage(message: BuildMessage, transfer?: Transferable[]): void;
};

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The migrations through postgres.js, as every other store gets them (migrate.ts). */
async function applyMigrations(db: PGlite, request: BuildRequest): Promise<void> {
  const server = new PGLiteSocketServer({ db, path: request.socketPath });
  await server.start();
  const sql = postgres("postgres://postgres@localhost/postgres", {
    path: request.socketPath,
    max: 1,
    onnotice: () => {},
  });
  try {
    await migrate(sql, request.migrations);
  } finally {
    await sql.end({ timeout: 5 });
    await server.stop();
    await Deno.remove(request.socketPath).catch(() => {});
  }
}

/** The base's tar, or why it cannot be used (the caller runs initdb then). */
async function loadBase(path: string | undefined): Promise<{ tar?: Uint8Array; error?: string }> {
  if (path === undefined) return {};
  try {
    return { tar: await readBase(path) };
  } catch (error) {
    return { error: `the shipped store base ${path} is damaged (${message(error)})` };
  }
}

async function build(request: BuildRequest, base: Uint8Array | undefined): Promise<Uint8Array> {
  const db = await PGlite.create({
    startParams: request.startParams,
    // The module reaches initdb's own PGlite too: PGlite.create passes its options on to it.
    ...(request.pgliteWasmModule ? { pgliteWasmModule: request.pgliteWasmModule } : {}),
    ...(base ? { loadDataDir: new Blob([base as Uint8Array<ArrayBuffer>]) } : {}),
  });
  try {
    await applyMigrations(db, request);
    // Writes every dirty page into the files the dump reads; without it they live only in
    // shared memory and the WAL.
    await db.exec("CHECKPOINT");
    return new Uint8Array(await (await db.dumpDataDir("none")).arrayBuffer());
  } finally {
    await db.close();
  }
}

scope.onmessage = async (event: MessageEvent<BuildRequest>) => {
  const request = event.data;
  let tar: Uint8Array;
  const base = await loadBase(request.basePath);
  try {
    tar = await build(request, base.tar);
  } catch (error) {
    scope.postMessage({ kind: "failed", message: message(error) });
    return;
  }
  const baseError = base.error;
  if (request.templatePath === undefined) {
    scope.postMessage({ kind: "built", tar, baseError }, [tar.buffer as ArrayBuffer]);
    return;
  }
  // A copy is handed over first: the caller unpacks it while this worker compresses and saves.
  scope.postMessage({ kind: "built", tar, baseError });
  let error: string | undefined;
  await writeTemplate(request.templatePath, tar).catch((e) => error = message(e));
  scope.postMessage({ kind: "saved", error });
};
