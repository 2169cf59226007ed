// Makes a new embedded store's data directory in a worker, as a tar: initdb and the migrations
// run on an in-memory PGlite (its file system is JavaScript memory, so initdb and the DDL write
// no file on disk), then the directory is dumped. initdb's WebAssembly memory (hundreds of MiB,
// never returned while its instance lives) goes away with the worker. With a template path, the
// tar is also saved there as the store template, while the caller unpacks its copy.
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import postgres from "postgres";
import { migrate } from "./migrate.ts";
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

async function build(request: BuildRequest): Promise<Uint8Array> {
  // The modules reach initdb's own PGlite too: PGlite.create passes its options on to it.
  const db = await PGlite.create({ startParams: request.startParams, ...request.modules });
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
  try {
    tar = await build(request);
  } catch (error) {
    scope.postMessage({ kind: "failed", message: message(error) });
    return;
  }
  if (request.templatePath === undefined) {
    scope.postMessage({ kind: "built", tar }, [tar.buffer as ArrayBuffer]);
    return;
  }
  // A copy is handed over first: the caller unpacks it while this worker compresses and saves.
  scope.postMessage({ kind: "built", tar });
  let error: string | undefined;
  await writeTemplate(request.templatePath, tar).catch((e) => error = message(e));
  scope.postMessage({ kind: "saved", error });
};
