// The tar archives of data directories (ustar headers, regular files and directories only):
// read, so a data directory can be unpacked with native file writes (PGlite's own loadTar goes
// through its emulated file system, several times slower per file), and written, from the files
// of an in-memory PGlite (initdb_worker.ts).

export class TarError extends Error {
  override name = "TarError";
}

export interface TarEntry {
  /** Relative path inside the archive, without a leading "/", never with a ".." part. */
  path: string;
  kind: "file" | "directory";
  data: Uint8Array;
}

const BLOCK = 512;
const decoder = new TextDecoder();

function field(header: Uint8Array, offset: number, length: number): string {
  let end = offset;
  while (end < offset + length && header[end] !== 0) end++;
  return decoder.decode(header.subarray(offset, end));
}

function octal(header: Uint8Array, offset: number, length: number, what: string): number {
  const text = field(header, offset, length).trim();
  if (!/^[0-7]*$/.test(text)) throw new TarError(`bad ${what} field ${JSON.stringify(text)}`);
  return text === "" ? 0 : parseInt(text, 8);
}

/** The header checksum: the byte sum with its own 8 bytes counted as spaces. */
function checksumOf(header: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : header[i];
  return sum;
}

function safePath(name: string): string {
  const parts = name.split("/").filter((part) => part !== "" && part !== ".");
  if (parts.length === 0 || parts.some((part) => part === "..")) {
    throw new TarError(`refused entry path ${JSON.stringify(name)}`);
  }
  return parts.join("/");
}

/** Every entry of the archive, in order; throws TarError on anything it does not expect. */
export function* readTar(tar: Uint8Array): Generator<TarEntry> {
  let offset = 0;
  while (true) {
    if (offset + BLOCK > tar.length) throw new TarError("archive ends inside a header");
    const header = tar.subarray(offset, offset + BLOCK);
    if (header.every((byte) => byte === 0)) return; // the end-of-archive blocks
    if (octal(header, 148, 8, "checksum") !== checksumOf(header)) {
      throw new TarError(`header checksum mismatch at byte ${offset}`);
    }
    const prefix = field(header, 345, 131);
    const name = field(header, 0, 100);
    const size = octal(header, 124, 12, "size");
    const type = String.fromCharCode(header[156] || 0x30);
    const start = offset + BLOCK;
    if (start + size > tar.length) throw new TarError(`archive ends inside ${name}`);
    const path = safePath(prefix ? `${prefix}/${name}` : name);
    if (type === "0") {
      yield { path, kind: "file", data: tar.subarray(start, start + size) };
    } else if (type === "5") {
      yield { path, kind: "directory", data: new Uint8Array(0) };
    } else {
      throw new TarError(`unsupported entry type ${JSON.stringify(type)} for ${name}`);
    }
    offset = start + Math.ceil(size / BLOCK) * BLOCK;
  }
}

function putField(header: Uint8Array, offset: number, length: number, text: string): void {
  const bytes = new TextEncoder().encode(text);
  if (bytes.length > length) throw new TarError(`${JSON.stringify(text)} does not fit its field`);
  header.set(bytes, offset);
}

function putOctal(header: Uint8Array, offset: number, length: number, value: number): void {
  putField(header, offset, length, value.toString(8).padStart(length - 1, "0"));
}

/**
 * The ustar archive of these entries (what readTar reads back): modes 0600 and 0700, owner 0,
 * time 0, so the bytes depend on the contents alone.
 */
export function writeTar(entries: Iterable<TarEntry>): Uint8Array {
  const parts: { header: Uint8Array; data?: Uint8Array }[] = [];
  let total = 0;
  for (const entry of entries) {
    const header = new Uint8Array(BLOCK);
    const path = safePath(entry.path) + (entry.kind === "directory" ? "/" : "");
    // Split at a "/" into prefix (155 bytes) and name (100), as ustar allows for long paths.
    const cut = path.length <= 100 ? -1 : path.lastIndexOf("/", path.length - 2);
    putField(header, 0, 100, cut < 0 ? path : path.slice(cut + 1));
    if (cut >= 0) putField(header, 345, 155, path.slice(0, cut));
    const size = entry.kind === "file" ? entry.data.length : 0;
    putOctal(header, 100, 8, entry.kind === "file" ? 0o600 : 0o700);
    putOctal(header, 108, 8, 0);
    putOctal(header, 116, 8, 0);
    putOctal(header, 124, 12, size);
    putOctal(header, 136, 12, 0);
    header[156] = entry.kind === "file" ? 0x30 : 0x35;
    putField(header, 257, 6, "ustar");
    putField(header, 263, 2, "00");
    putField(header, 148, 8, `${checksumOf(header).toString(8).padStart(6, "0")}\0 `);
    parts.push({ header, ...(size > 0 ? { data: entry.data } : {}) });
    total += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
  }
  const tar = new Uint8Array(total + 2 * BLOCK); // zero-filled: the padding and the two end blocks
  let offset = 0;
  for (const { header, data } of parts) {
    tar.set(header, offset);
    offset += BLOCK;
    if (data) {
      tar.set(data, offset);
      offset += Math.ceil(data.length / BLOCK) * BLOCK;
    }
  }
  return tar;
}
