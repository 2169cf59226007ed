// What embedded.ts and its initdb worker say to each other.
import type { Migration } from "./migrate.ts";

export interface BuildRequest {
  migrations: Migration[];
  /** A Unix socket path in a private directory, served only while the migrations run. */
  socketPath: string;
  /** PostgreSQL's start parameters: the store's own small caches keep the worker's peak down. */
  startParams: string[];
  /** pglite.wasm as the caller compiled it, so that the worker need not compile it. */
  pgliteWasmModule?: WebAssembly.Module;
  /** The shipped base (base.ts) to start from instead of initdb, when there is one. */
  basePath?: string;
  /** Where to save the tar as the store template, if anywhere. */
  templatePath?: string;
  /** Where to write the new store (template.ts writeDataDir), if anywhere. */
  dataDir?: string;
}

export type BuildMessage =
  /** The store is unpacked; baseError: why the base could not be used (initdb ran instead). */
  | { kind: "built"; baseError?: string }
  /** After "built", when a template path was given; error: why it could not be saved. */
  | { kind: "saved"; error?: string }
  | { kind: "failed"; message: string };
