// Reads the tar archives PGlite's dumpDataDir writes (ustar headers, regular files and
// directories only), so a data directory can be unpacked with native file writes: PGlite's own
// loadTar goes through its emulated file system, several times slower per file.

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
