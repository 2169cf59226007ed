// What embedded.ts and its initdb worker say to each other.
import type { Migration } from "./migrate.ts";

export interface CompiledEngine {
  pgliteWasmModule: WebAssembly.Module;
  initdbWasmModule: WebAssembly.Module;
}

export interface BuildRequest {
  migrations: Migration[];
  /** A Unix socket path in a private directory, served only while the migrations run. */
  socketPath: string;
  /** PostgreSQL's start parameters: the store's own small caches keep the worker's peak down. */
  startParams: string[];
  /** PGlite's WebAssembly as the caller compiled it, so that the worker need not compile it. */
  modules?: CompiledEngine;
  /** Where to save the tar as the store template, if anywhere. */
  templatePath?: string;
}

export type BuildMessage =
  | { kind: "built"; tar: Uint8Array }
  /** After "built", when a template path was given; error: why it could not be saved. */
  | { kind: "saved"; error?: string }
  | { kind: "failed"; message: string };
