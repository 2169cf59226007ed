// The embedded store's template: the tarball of a freshly initialised and migrated PGlite data
// directory. Making one costs initdb (seconds of WebAssembly); unpacking one costs a file write
// per file. Cached as <templateDir>/store-<key>.tar.gz, where the key hashes what decides its
// contents (PGlite's WebAssembly and every migration's checksum), so a template is never used
// for other migrations or another PostgreSQL build: those have another key.
import { dirname, join } from "node:path";
import { gunzipSync } from "node:zlib";
import { ensurePrivateDir } from "../durable.ts";
import type { Migration } from "./migrate.ts";
import { readTar, type TarEntry, TarError } from "./tar.ts";
import { errorMessage } from "../error_message.ts";

/** Bumped when the way a template is made changes, so older ones are never used. */
const TEMPLATE_FORMAT = "1";
const PREFIX = "store-";
const SUFFIX = ".tar.gz";
const STALE_TEMPORARY_MS = 60 * 60 * 1000;
/** The most a gzip trailer's size may make gunzip allocate at once (a data directory: ~40 MiB). */
const MAX_SIZE_HINT = 256 * 1024 * 1024;
const MIN_CHUNK = 64 * 1024;

/** A file every complete data directory holds (PGlite itself tests for it). */
export const DATA_DIR_MARKER = "PG_VERSION";

export async function sha256Hex(data: Uint8Array | string): Promise<string> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** PGlite's WebAssembly, read once: its bytes are compiled and hashed into the key. */
export interface Engine {
  /** pglite.wasm and initdb.wasm, for WebAssembly.compile. */
  wasm: Uint8Array;
  initdbWasm: Uint8Array;
  /**
   * sha256 of pglite.wasm, initdb.wasm and pglite.data: the catalog initdb writes comes from the
   * programs and from the share/ files (postgres.bki, ...) packed in pglite.data.
   */
  digest: string;
}

/** One of PGlite's engine files (pglite.wasm, initdb.wasm, pglite.data), beside its module. */
export function readEngineFile(name: string): Promise<Uint8Array<ArrayBuffer>> {
  return Deno.readFile(new URL(`./${name}`, import.meta.resolve("@electric-sql/pglite")));
}

/** Reads PGlite's engine files; undefined where they cannot be read as files. */
export async function readEngine(): Promise<Engine | undefined> {
  try {
    const [wasm, initdb, share] = await Promise.all(
      ["pglite.wasm", "initdb.wasm", "pglite.data"].map(readEngineFile),
    );
    const parts = await Promise.all([wasm, initdb, share].map(sha256Hex));
    return { wasm, initdbWasm: initdb, digest: await sha256Hex(parts.join(" ")) };
  } catch {
    return undefined;
  }
}

/** pglite.wasm compiled; undefined without its bytes or if that fails (PGlite compiles it then). */
export async function compileEngine(
  wasm: Uint8Array | undefined,
): Promise<WebAssembly.Module | undefined> {
  if (!wasm) return undefined;
  try {
    return await WebAssembly.compile(wasm as Uint8Array<ArrayBuffer>);
  } catch {
    return undefined;
  }
}

export async function templateKey(engineDigest: string, migrations: Migration[]): Promise<string> {
  const parts = [
    TEMPLATE_FORMAT,
    engineDigest,
    ...migrations.map((m) => `${m.name}:${m.checksum}`),
  ];
  return (await sha256Hex(parts.join("\n"))).slice(0, 32);
}

/**
 * Whether `dir` holds any file named `<prefix>…<suffix>` (a template or a base of whatever key): a
 * cheap look before the real one.
 */
export function holdsArchive(dir: string, prefix: string, suffix: string): boolean {
  try {
    for (const entry of Deno.readDirSync(dir)) {
      if (entry.name.startsWith(prefix) && entry.name.endsWith(suffix)) return true;
    }
  } catch { /* no directory: none */ }
  return false;
}

/** Whether `templateDir` holds any template (of whatever key). */
export function holdsTemplate(templateDir: string): boolean {
  return holdsArchive(templateDir, PREFIX, SUFFIX);
}

export function templatePath(templateDir: string, key: string): string {
  return join(templateDir, `${PREFIX}${key}${SUFFIX}`);
}

// One buffer, not a Blob nor a stream's chunks: a Blob's bytes live in a store the whole process
// shares, freed only when the Blob is garbage collected, which a Worker ended by terminate() never
// is (40 MiB of tar stayed in the process for good); a DecompressionStream's chunks held 40 MiB
// beside the result, and the serving process's RSS after a first start stayed higher. Inflated
// into one buffer of the size gzip's trailer gives (a hint, wrong only in a damaged file, which
// inflate refuses: it checks the CRC and the length).
function gunzip(data: Uint8Array): Uint8Array {
  const hint = data.length >= 4
    ? new DataView(data.buffer, data.byteOffset + data.length - 4, 4).getUint32(0, true)
    : 0;
  return gunzipSync(data, { chunkSize: Math.min(Math.max(hint + 1, MIN_CHUNK), MAX_SIZE_HINT) });
}

async function gzip(data: Uint8Array): Promise<Uint8Array> {
  const stream = ReadableStream.from([data as Uint8Array<ArrayBuffer>])
    .pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * A gzipped data directory's tar, checked whole: gzip checks its CRC and length, and the tar is
 * parsed here as well as when unpacked, so a bad one is found before anything is written.
 * Throws TarError (or the decompressor's error) on a damaged one.
 */
export function unpackChecked(packed: Uint8Array): Uint8Array {
  const tar = gunzip(packed);
  let marker = false;
  for (const entry of readTar(tar)) marker ||= entry.path === DATA_DIR_MARKER;
  if (!marker) throw new TarError(`no ${DATA_DIR_MARKER}`);
  return tar;
}

/**
 * The cached template's tar, or undefined when there is none. A template that does not read
 * whole (unpackChecked) is removed, and undefined returned: the caller makes a new store
 * instead.
 */
export async function readTemplate(path: string): Promise<Uint8Array | undefined> {
  let packed: Uint8Array;
  try {
    packed = await Deno.readFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  try {
    return unpackChecked(packed);
  } catch (error) {
    console.error(
      `arrakis: the store template ${path} is damaged (${
        errorMessage(error)
      }); removed, making the store without it`,
    );
    await Deno.remove(path).catch(() => {});
    return undefined;
  }
}

/**
 * Saves a template: written beside its final name and renamed, so a reader finds the whole file
 * or none. Templates of other keys are removed (they are for other migrations or engines), and
 * so are temporaries older than an hour.
 */
export async function writeTemplate(path: string, tar: Uint8Array): Promise<void> {
  const dir = dirname(path);
  await ensurePrivateDir(dir);
  const temporary = `${path}.${crypto.randomUUID()}.tmp`;
  try {
    await Deno.writeFile(temporary, await gzip(tar), { mode: 0o600 });
    await Deno.rename(temporary, path);
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    throw error;
  }
  for await (const entry of Deno.readDir(dir)) {
    const name = entry.name;
    const other = join(dir, name);
    if (name.startsWith(PREFIX) && name.endsWith(SUFFIX) && other !== path) {
      await Deno.remove(other).catch(() => {});
    } else if (name.startsWith(PREFIX) && name.endsWith(".tmp")) {
      // One a killed writer left; a writer that is still at it is younger than this.
      const mtime = (await Deno.stat(other).catch(() => undefined))?.mtime?.getTime();
      if (mtime !== undefined && Date.now() - mtime > STALE_TEMPORARY_MS) {
        await Deno.remove(other).catch(() => {});
      }
    }
  }
}

/**
 * Unpacks a data directory's tar into `dataDir`, which must not exist: into a sibling first,
 * renamed into place once whole, so a crash leaves no directory that looks like a store but is
 * not one. Directories are 0700 and files 0600, as PostgreSQL wants its data directory.
 */
export function unpackDataDir(tar: Uint8Array, dataDir: string): void {
  writeDataDir(readTar(tar), dataDir);
}

/** Writes a data directory's entries into `dataDir` as unpackDataDir does (the same guarantees). */
export function writeDataDir(entries: Iterable<TarEntry>, dataDir: string): void {
  const building = `${dataDir}.new-${crypto.randomUUID()}`;
  Deno.mkdirSync(building, { mode: 0o700 });
  try {
    // Synchronous on purpose: a thousand small files, and each async call would add a hop to the
    // blocking thread pool (see durable.ts).
    for (const entry of entries) {
      const target = join(building, entry.path);
      if (entry.kind === "directory") {
        Deno.mkdirSync(target, { recursive: true, mode: 0o700 });
      } else {
        Deno.writeFileSync(target, entry.data, { mode: 0o600 });
      }
    }
    Deno.statSync(join(building, DATA_DIR_MARKER));
    Deno.renameSync(building, dataDir);
  } catch (error) {
    Deno.removeSync(building, { recursive: true });
    throw error;
  }
}

/**
 * Removes what an interrupted unpack left beside `dataDir` (only this store's own
 * `<dataDir>.new-*`; the caller holds the store's lock, so none is in progress).
 */
export function removeUnfinished(dataDir: string): void {
  const dir = dirname(dataDir);
  const prefix = `${dataDir.slice(dir.length + 1)}.new-`;
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(dir)];
  } catch {
    return;
  }
  for (const entry of entries) {
    if (entry.isDirectory && entry.name.startsWith(prefix)) {
      Deno.removeSync(join(dir, entry.name), { recursive: true });
    }
  }
}
