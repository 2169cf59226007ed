// Logging through LogTape: JSON Lines files with size rotation, plus one console stream.
// Every record passes src/redact.ts before any sink sees it: the same list of secret key names
// and value patterns as payloads, so a log line never holds what the spool would not.
import {
  configure,
  dispose,
  type Filter,
  getLogger,
  getStreamSink,
  getTextFormatter,
  jsonLinesFormatter,
  type Logger,
  type LogLevel,
  type LogRecord,
  type Sink,
  withFilter,
} from "@logtape/logtape";
import { getRotatingFileSink } from "@logtape/file";
import { join } from "node:path";
import { ensurePrivateDir, openPrivateFile } from "./durable.ts";
import { createRedactor } from "./redact.ts";

export const LOG_MAX_BYTES = 10 * 1024 * 1024;
/** Files kept per log, the live one included (so at most 50 MB per log). */
export const LOG_MAX_FILES = 5;
/** Bytes of log lines a file sink holds before it writes and fsyncs them. */
const LOG_BUFFER_BYTES = 64 * 1024;

const redactor = createRedactor();

/** A sink that sees the record with secret-named properties and secret-shaped text redacted. */
function redacting(sink: Sink): Sink {
  const wrapped: Sink & Partial<AsyncDisposable & Disposable> = (record: LogRecord) =>
    sink({
      ...record,
      rawMessage: typeof record.rawMessage === "string"
        ? redactor.string(record.rawMessage)
        : record.rawMessage,
      message: record.message.map((part) =>
        typeof part === "string" ? redactor.string(part) : redactor.value(part)
      ),
      properties: redactor.value(record.properties),
    });
  // dispose() flushes file sinks through these: a wrapper without them loses buffered lines.
  const disposable = sink as Sink & Partial<AsyncDisposable & Disposable>;
  if (disposable[Symbol.dispose]) wrapped[Symbol.dispose] = disposable[Symbol.dispose];
  if (disposable[Symbol.asyncDispose]) {
    wrapped[Symbol.asyncDispose] = disposable[Symbol.asyncDispose];
  }
  return wrapped;
}

export interface LogFile {
  /** File name inside the log directory, e.g. "error.jsonl". */
  name: string;
  /** Which records go to this file; all by default. */
  filter?: Filter;
}

export interface LoggingOptions {
  level: LogLevel;
  /** Directory for the JSON Lines files (created 0700); no files when undefined. */
  dir?: string;
  /** Where the checks of `dir` start (config.logRoot): no directory below it may be a link. */
  root?: string;
  files?: LogFile[];
  /** One console stream: human text or JSON Lines, on stderr or stdout. */
  console?: { stream: "stderr" | "stdout"; format: "text" | "json"; level?: LogLevel };
}

const LEVEL_ORDER: LogLevel[] = ["trace", "debug", "info", "warning", "error", "fatal"];

export function atLeast(level: LogLevel): Filter {
  const min = LEVEL_ORDER.indexOf(level);
  return (record: LogRecord) => LEVEL_ORDER.indexOf(record.level) >= min;
}

export function inCategory(...prefix: string[]): Filter {
  return (record: LogRecord) => prefix.every((part, index) => record.category[index + 1] === part);
}

/** Configures LogTape for this process. Safe to call again (it resets). */
export async function setupLogging(options: LoggingOptions): Promise<void> {
  const sinks: Record<string, Sink> = {};
  if (options.dir && options.files?.length) {
    await ensurePrivateDir(options.dir, options.root);
    for (const file of options.files) {
      const path = join(options.dir, file.name);
      // Created 0600 up front, and refused when it is a link (the sink follows links): the sink
      // appends to it and keeps its mode.
      (await openPrivateFile(path, { append: true })).file.close();
      const sink = getRotatingFileSink(path, {
        maxSize: LOG_MAX_BYTES,
        // LogTape counts rotated files only.
        maxFiles: LOG_MAX_FILES - 1,
        // The sink fsyncs each full buffer inside the event loop: 8 KiB (its default) is an
        // fsync every ~20 request lines. A line is still written by the next fill or the 5 s
        // check, and at closeLogging().
        bufferSize: LOG_BUFFER_BYTES,
        formatter: jsonLinesFormatter,
      });
      sinks[`file:${file.name}`] = file.filter ? withFilter(sink, file.filter) : sink;
    }
  }
  if (options.console) {
    const { stream, format, level } = options.console;
    const sink = getStreamSink(ignoringWriteErrors(stream), {
      formatter: format === "json"
        ? jsonLinesFormatter
        : getTextFormatter({ timestamp: "time", value: "bare" }),
    });
    sinks.console = level ? withFilter(sink, atLeast(level)) : sink;
  }
  const redacted = Object.fromEntries(
    Object.entries(sinks).map(([id, sink]) => [id, redacting(sink)]),
  );
  const ids = Object.keys(redacted);
  await configure({
    reset: true,
    sinks: redacted,
    loggers: [
      { category: ["arrakis"], lowestLevel: options.level, sinks: ids },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ids },
    ],
  });
}

/**
 * The console stream, where a closed pipe (a log collector gone, `| head`) loses log lines
 * instead of crashing the process with an unhandled rejection.
 */
function ignoringWriteErrors(stream: "stderr" | "stdout"): WritableStream<Uint8Array> {
  const target = stream === "stdout" ? Deno.stdout : Deno.stderr;
  let broken = false;
  return new WritableStream({
    async write(chunk) {
      if (broken) return;
      try {
        let written = 0;
        while (written < chunk.length) written += await target.write(chunk.subarray(written));
      } catch {
        broken = true;
      }
    },
  });
}

/** Flushes and closes every sink; call before the process exits. */
export async function closeLogging(): Promise<void> {
  await dispose();
}

export function log(...category: string[]): Logger {
  return getLogger(["arrakis", ...category]);
}
