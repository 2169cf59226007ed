// The shipped store base: a new store as it stands after initdb and the migrations, kept in the
// repository as data/store-base/pglite-<key>.tar.gz. initdb's output depends on the PGlite
// build alone, so the key hashes PGlite's engine files only; it is used only for the engine it
// was made by. A new store without a cached template is this base, unpacked as a template is,
// and migrated once open: the migrations added since it was made, none when it is up to date.
// The seconds initdb spends in WebAssembly and the migrations' are spent once, by `deno task
// store-base` (tools/store_base.ts), and tests/store_base_test.ts fails when the installed
// PGlite has no base or the base lacks a migration. Two initdb runs differ only in pg_control
// and the WAL (the system identifier, the checkpoint's time) and postmaster.pid: every store
// made from one base shares its system identifier, which matters only to replication, which
// PGlite has none of.
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { holdsArchive, sha256Hex, unpackChecked } from "./template.ts";

/** Bumped when the way a base is made changes, so that an older one is never used. */
const BASE_FORMAT = "2";
const PREFIX = "pglite-";
const SUFFIX = ".tar.gz";

/** Where the repository (and a self-contained install, and a compiled binary) holds it. */
export const SHIPPED_BASE_DIR = fileURLToPath(new URL("../../data/store-base/", import.meta.url));

export async function baseKey(engineDigest: string): Promise<string> {
  return (await sha256Hex(`store-base ${BASE_FORMAT}\n${engineDigest}`)).slice(0, 32);
}

function baseName(key: string): string {
  return `${PREFIX}${key}${SUFFIX}`;
}

export function basePath(dir: string, key: string): string {
  return join(dir, baseName(key));
}

/** Whether `dir` holds any base (of whatever engine). */
export function holdsBase(dir: string): boolean {
  return holdsArchive(dir, PREFIX, SUFFIX);
}

/** The base's path for this engine, or why there is none (for a one-line message). */
export type BaseLookup = { path: string } | { missing: string };

export async function findBase(dir: string, engineDigest: string): Promise<BaseLookup> {
  const name = baseName(await baseKey(engineDigest));
  let names: string[];
  try {
    names = [...Deno.readDirSync(dir)].map((entry) => entry.name);
  } catch {
    return { missing: `no directory ${dir}` };
  }
  if (names.includes(name)) return { path: join(dir, name) };
  const others = names.filter((other) => other.startsWith(PREFIX) && other.endsWith(SUFFIX));
  return {
    missing: others.length === 0
      ? `no ${join(dir, name)}`
      : `${dir} holds ${others.join(", ")}, made by another PGlite build than the installed ` +
        `one; 'deno task store-base' makes its own`,
  };
}

/** The base's tar, checked whole (gzip CRC and length, every tar header); throws if damaged. */
export async function readBase(path: string): Promise<Uint8Array> {
  return unpackChecked(await Deno.readFile(path));
}
