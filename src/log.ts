// Logging through LogTape: JSON Lines files with size rotation, plus one console stream.
// Every record passes src/redact.ts before any sink sees it: the same list of secret key names
// and value patterns as payloads, so a log line never holds what the spool would not.
import {
  configure,
  dispose,
  type Filter,
  getLogger,
  getTextFormatter,
  jsonLinesFormatter,
  type Logger,
  type LogLevel,
  type LogRecord,
  type Sink,
} from "@logtape/logtape";
import { join } from "node:path";
import { ensurePrivateDir } from "./durable.ts";
import { createRedactor } from "./redact.ts";
import { type LineWriter, rotatingFileWriter, streamWriter } from "./log_sinks.ts";

export const LOG_MAX_BYTES = 10 * 1024 * 1024;
/** Files kept per log, the live one included (so at most 50 MB per log). */
export const LOG_MAX_FILES = 5;
/**
 * Characters of log lines a file holds before it writes them (~200 request lines), and how long
 * a line may wait for that: writes are batched, never fsynced (src/log_sinks.ts).
 */
const LOG_BUFFER_CHARS = 64 * 1024;
const LOG_FLUSH_MS = 1_000;

const redactor = createRedactor();

/** The record with secret-named properties and secret-shaped text redacted. */
function redacted(record: LogRecord): LogRecord {
  return {
    ...record,
    rawMessage: typeof record.rawMessage === "string"
      ? redactor.string(record.rawMessage)
      : record.rawMessage,
    message: record.message.map((part) =>
      typeof part === "string" ? redactor.string(part) : redactor.value(part)
    ),
    properties: redactor.value(record.properties),
  };
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

/** One destination of log lines: which records, in which format. */
interface Target {
  filter?: Filter;
  json: boolean;
  writer: LineWriter;
}

const textFormatter = getTextFormatter({ timestamp: "time", value: "bare" });
const urgent = atLeast("warning");

/**
 * The one sink: each record is redacted once and formatted once per format, whatever number of
 * files and streams take it (each had its own redaction and formatting before).
 */
function fanOut(targets: Target[]): Sink & AsyncDisposable {
  const sink = (record: LogRecord) => {
    const wanted = targets.filter((target) => !target.filter || target.filter(record));
    if (wanted.length === 0) return;
    const clean = redacted(record);
    const now = urgent(record);
    let json: string | undefined;
    let text: string | undefined;
    for (const target of wanted) {
      target.writer.write(
        target.json ? (json ??= jsonLinesFormatter(clean)) : (text ??= textFormatter(clean)),
        now,
      );
    }
  };
  // dispose() (closeLogging) writes what the files and streams still buffer.
  return Object.assign(sink, {
    async [Symbol.asyncDispose]() {
      await Promise.all(targets.map((target) => target.writer.close()));
    },
  });
}

/** Configures LogTape for this process. Safe to call again (it resets). */
export async function setupLogging(options: LoggingOptions): Promise<void> {
  const targets: Target[] = [];
  if (options.dir && options.files?.length) {
    await ensurePrivateDir(options.dir, options.root);
    for (const file of options.files) {
      const path = join(options.dir, file.name);
      // Opened 0600, and refused when it is a link (openPrivateFileSync).
      const writer = rotatingFileWriter(path, {
        maxBytes: LOG_MAX_BYTES,
        keep: LOG_MAX_FILES - 1,
        bufferChars: LOG_BUFFER_CHARS,
        flushMs: LOG_FLUSH_MS,
        onError: (error) =>
          console.error(`arrakis: log file ${path}: ${error}; its log lines are dropped`),
      });
      targets.push({ filter: file.filter, json: true, writer });
    }
  }
  if (options.console) {
    const { stream, format, level } = options.console;
    targets.push({
      filter: level ? atLeast(level) : undefined,
      json: format === "json",
      writer: streamWriter(stream === "stdout" ? Deno.stdout : Deno.stderr),
    });
  }
  const sinks: Record<string, Sink> = targets.length > 0 ? { all: fanOut(targets) } : {};
  const ids = Object.keys(sinks);
  await configure({
    reset: true,
    sinks,
    loggers: [
      { category: ["arrakis"], lowestLevel: options.level, sinks: ids },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ids },
    ],
  });
}

/** Flushes and closes every sink; call before the process exits. */
export async function closeLogging(): Promise<void> {
  await dispose();
}

export function log(...category: string[]): Logger {
  return getLogger(["arrakis", ...category]);
}
