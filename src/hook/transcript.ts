// Reads the lines a transcript gained since a byte offset. The format is Claude Code's own and
// drifts, so parsing is lenient: every complete line is kept (unknown types as they are, text
// that is no JSON object wrapped as raw text), and a torn last line is left for next time.
// Lines are not checked against the schema here (that needs zod, which the hook never loads):
// the spool does it when it reads the record (SpoolRecord's LenientTranscriptLine).
import type { TranscriptLine } from "../schema.ts";

/** Bytes of transcript attached to one envelope; the rest waits for the next event. */
export const MAX_TRANSCRIPT_BYTES = 8 * 1024 * 1024;

export interface TranscriptChunk {
  path: string;
  /** Byte offset the lines start at (0 again when the file was replaced or shrank). */
  from: number;
  /** Byte offset just past the last complete line taken. */
  to: number;
  /** Inode of the file, to notice a replaced file next time. */
  ino: number | null;
  lines: TranscriptLine[];
}

/**
 * The complete lines of `path` from `from` on, at most maxBytes of them. Undefined when the
 * file does not exist (not flushed yet, or deleted): then nothing is read and nothing moves.
 * Synchronous file calls, as in src/durable.ts: the hook waits for these bytes anyway, and each
 * async call is a hop to Deno's thread pool and back (milliseconds on a loaded machine).
 */
// deno-lint-ignore require-await
export async function readTranscriptChunk(
  path: string,
  from: number,
  knownIno: number | null | undefined,
  maxBytes = MAX_TRANSCRIPT_BYTES,
): Promise<TranscriptChunk | undefined> {
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path, { read: true });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return undefined;
    }
    throw error;
  }
  try {
    const info = file.statSync();
    const ino = info.ino ?? null;
    // A different file at the same path, or one that shrank: its bytes are all new to us.
    const start = (knownIno != null && ino != null && ino !== knownIno) || info.size < from
      ? 0
      : from;
    const available = info.size - start;
    if (available <= 0) return { path, from: start, to: start, ino, lines: [] };
    const want = Math.min(available, maxBytes);
    const bytes = readAt(file, start, want);
    const lastNewline = bytes.lastIndexOf(0x0a);
    if (lastNewline >= 0) {
      const text = new TextDecoder().decode(bytes.subarray(0, lastNewline));
      return { path, from: start, to: start + lastNewline + 1, ino, lines: parseLines(text) };
    }
    if (want < maxBytes) return { path, from: start, to: start, ino, lines: [] }; // torn line
    // One line larger than a whole envelope may carry: keep a marker so the gap is visible,
    // and step over it.
    const end = findNewline(file, start + want, info.size);
    if (end === undefined) return { path, from: start, to: start, ino, lines: [] };
    const marker: TranscriptLine = {
      type: "arrakis.oversized",
      bytes: end - start,
      head: new TextDecoder().decode(bytes.subarray(0, 2048)),
    };
    return { path, from: start, to: end + 1, ino, lines: [marker] };
  } finally {
    file.close();
  }
}

function readAt(file: Deno.FsFile, offset: number, length: number): Uint8Array {
  file.seekSync(offset, Deno.SeekMode.Start);
  const buffer = new Uint8Array(length);
  let filled = 0;
  while (filled < length) {
    const n = file.readSync(buffer.subarray(filled));
    if (n === null) break;
    filled += n;
  }
  return buffer.subarray(0, filled);
}

function findNewline(file: Deno.FsFile, from: number, size: number) {
  const step = 1024 * 1024;
  for (let at = from; at < size; at += step) {
    const bytes = readAt(file, at, Math.min(step, size - at));
    const index = bytes.indexOf(0x0a);
    if (index >= 0) return at + index;
  }
  return undefined;
}

/** Parses JSONL text (complete lines only). Never throws. */
export function parseLines(text: string): TranscriptLine[] {
  const lines: TranscriptLine[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (line.trim() === "") continue;
    lines.push(parseLine(line));
  }
  return lines;
}

function parseLine(line: string): TranscriptLine {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { type: "arrakis.unparsed", raw: line };
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return { type: "arrakis.unparsed", raw: line };
  }
  return value as TranscriptLine;
}
