// Where formatted log lines go, cheaply for the event loop: collected and written in batches,
// never fsynced. Logs are not the durable record (the audit row is); a request must not wait
// behind a log file's fsync. LogTape's rotating file sink fsyncs every buffer it writes, inside
// the event loop, and its stream sink chains three promises and one write per line: measured
// (bench/ingest.ts), the per-request log line cost the server most of its throughput.
import { openPrivateFileSync } from "./durable.ts";

export interface LineWriter {
  /**
   * Takes one formatted line (ending in "\n"); never throws, never waits. `now`: write it
   * without waiting for company (a warning must not sit in a buffer when the process dies).
   */
  write(line: string, now?: boolean): void;
  /** Writes what is buffered and releases the file or stream. */
  close(): Promise<void>;
}

export interface RotatingFileOptions {
  /** A file grows to this many bytes at most (unless one line is larger), then rotates. */
  maxBytes: number;
  /** Rotated files kept beside the live one: name.1 (newest) … name.N. */
  keep: number;
  /** Characters buffered before a write. */
  bufferChars: number;
  /** How long a buffered line may wait for company before it is written anyway. */
  flushMs: number;
  /** Told once when writing fails (disk full): later lines are dropped without a word. */
  onError?: (error: unknown) => void;
}

/**
 * A JSON Lines file opened 0600 and never through a symlink, appended in batches with
 * synchronous writes (a write to the page cache is microseconds; an async op is a thread hop
 * per call), rotated to name.1 … name.keep past maxBytes.
 */
export function rotatingFileWriter(path: string, options: RotatingFileOptions): LineWriter {
  const encoder = new TextEncoder();
  let file: Deno.FsFile | undefined = openPrivateFileSync(path, { append: true }).file;
  let size = file.statSync().size;
  let lines: string[] = [];
  let chars = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let failed = false;

  const rotate = () => {
    file?.close();
    file = undefined;
    for (let index = options.keep - 1; index >= 1; index--) {
      try {
        Deno.renameSync(`${path}.${index}`, `${path}.${index + 1}`);
      } catch { /* not there yet */ }
    }
    Deno.renameSync(path, `${path}.1`);
    file = openPrivateFileSync(path, { append: true }).file;
    size = 0;
  };

  const flush = () => {
    clearTimeout(timer);
    timer = undefined;
    if (lines.length === 0) return;
    const bytes = encoder.encode(lines.join(""));
    lines = [];
    chars = 0;
    if (failed) return;
    try {
      if (size > 0 && size + bytes.length > options.maxBytes) rotate();
      let written = 0;
      while (written < bytes.length) written += file!.writeSync(bytes.subarray(written));
      size += bytes.length;
    } catch (error) {
      failed = true;
      options.onError?.(error);
    }
  };

  return {
    write(line, now) {
      lines.push(line);
      chars += line.length;
      if (now || chars >= options.bufferChars) flush();
      else if (timer === undefined) {
        const pending = setTimeout(flush, options.flushMs);
        // A quiet process may exit with a line pending: close() writes it, the timer must not
        // keep the process alive for it.
        Deno.unrefTimer(pending);
        timer = pending;
      }
    },
    close() {
      flush();
      file?.close();
      file = undefined;
      failed = true;
      return Promise.resolve();
    },
  };
}

/**
 * How long a stream's first pending line waits for others: each write is an async op (a thread
 * hop), and requests end one per turn of the event loop, so without it every line went alone.
 */
const STREAM_COALESCE_MS = 20;

/**
 * A stream (stdout, stderr) written asynchronously, one write in flight: lines that arrive
 * meanwhile go out together in the next one. A pipe nobody reads must neither block the server
 * nor grow without bound: past maxPendingChars, lines are dropped; a closed pipe drops them all
 * (a log collector gone, `| head`), never crashing the process.
 */
export function streamWriter(
  target: { write(bytes: Uint8Array): Promise<number> },
  maxPendingChars = 4 * 1024 * 1024,
  coalesceMs = STREAM_COALESCE_MS,
): LineWriter {
  const encoder = new TextEncoder();
  let lines: string[] = [];
  let chars = 0;
  let writing: Promise<void> | undefined;
  let broken = false;

  const pump = async () => {
    try {
      await new Promise((resolve) => setTimeout(resolve, coalesceMs));
      while (lines.length > 0 && !broken) {
        const bytes = encoder.encode(lines.join(""));
        lines = [];
        chars = 0;
        let written = 0;
        while (written < bytes.length) written += await target.write(bytes.subarray(written));
      }
    } catch {
      broken = true;
      lines = [];
    } finally {
      writing = undefined;
    }
  };

  return {
    write(line) {
      if (broken || chars >= maxPendingChars) return;
      lines.push(line);
      chars += line.length;
      writing ??= pump();
    },
    async close() {
      while (writing) await writing;
    },
  };
}
