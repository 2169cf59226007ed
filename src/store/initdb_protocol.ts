// What embedded.ts and the maker of a new store (initdb_build.ts, in a child process or a
// worker) say to each other.
import { join } from "node:path";
import type { Migration } from "./migrate.ts";

export interface BuildRequest {
  migrations: Migration[];
  /** A Unix socket path in a private directory, served only while the migrations run. */
  socketPath: string;
  /** PostgreSQL's start parameters: the store's own small caches keep the maker's peak down. */
  startParams: string[];
  /** pglite.wasm compiled, so that the maker need not compile it (a worker gets its caller's). */
  pgliteWasmModule?: WebAssembly.Module;
  /** The shipped base (base.ts) to start from instead of initdb, when there is one. */
  basePath?: string;
  /** Where to save the tar as the store template, if anywhere. */
  templatePath?: string;
  /** Where to write the new store (template.ts writeDataDir), if anywhere. */
  dataDir?: string;
  /** The lock a maker process holds while it runs (makersLockPath). */
  makersLock: string;
}

export type BuildMessage =
  /** The store is unpacked; baseError: why the base could not be used (initdb ran instead). */
  | { kind: "built"; baseError?: string }
  /** After "built", when a template path was given; error: why it could not be saved. */
  | { kind: "saved"; error?: string }
  | { kind: "failed"; message: string };

/** What starts a maker process's message lines on its stdout (anything else is passed on). */
export const MAKER_LINE_PREFIX = "arrakis-store-maker ";

/**
 * The lock a maker process holds while it runs, in the store's private run directory (beside
 * its socket): a start waits for it (holding the store's own lock) before it looks at the data
 * directory, so no maker whose parent died is still writing.
 */
export function makersLockPath(runDir: string): string {
  return join(runDir, "maker.lock");
}
