// The hook's JSON Lines log files, written with Deno's own file API. src/log.ts (LogTape) is
// what every other command uses; loading it costs the hook 40-100 ms (its file sink pulls in
// node:fs), more than everything else the hook does. So the hook writes the same line format
// (LogTape's jsonLinesFormatter) with the same rotation policy itself; tests/hook_log_test.ts
// holds the two to the same constants and shape.
import { join } from "../paths.ts";
import { ensurePrivateDir, openPrivateFile, writeGitignore } from "../durable.ts";

/** Same policy as src/log.ts: LOG_MAX_BYTES per file, LOG_MAX_FILES kept (live one included). */
export const HOOK_LOG_MAX_BYTES = 10 * 1024 * 1024;
export const HOOK_LOG_MAX_FILES = 5;

export type LineLevel = "debug" | "info" | "warning" | "error";

export interface LogLine {
  timestamp: string;
  level: LineLevel;
  message: string;
  /** Dotted logger name, e.g. "arrakis.hook.queue". */
  logger: string;
  properties: Record<string, unknown>;
}

/** LogTape's JSON Lines shape: {"@timestamp","level","message","logger","properties"}. */
export function formatLine(line: LogLine): string {
  return JSON.stringify({
    "@timestamp": line.timestamp,
    level: line.level === "warning" ? "WARN" : line.level.toUpperCase(),
    message: line.message,
    logger: line.logger,
    properties: line.properties,
  }) + "\n";
}

/**
 * Appends lines to dir/name (0600, never through a symlink), rotating to name.1 … name.4 past
 * the size limit. `root` (config.logRoot) is where the checks of the directories start.
 */
export async function appendLines(
  dir: string,
  name: string,
  lines: string[],
  root?: string,
): Promise<void> {
  await appendLogFiles(dir, [{ name, lines }], root);
}

/**
 * appendLines for several files of one directory: the directory is checked once (its chain of
 * lstats from `root` down is most of a small append's syscalls), then each file with lines is
 * appended to. Every file is tried; the first failure is thrown once all were.
 */
export async function appendLogFiles(
  dir: string,
  files: { name: string; lines: string[] }[],
  root?: string,
): Promise<void> {
  const due = files.filter((file) => file.lines.length > 0);
  if (due.length === 0) return;
  if (await ensurePrivateDir(dir, root)) await writeGitignore(dir);
  let failure: unknown;
  for (const file of due) {
    try {
      await appendFile(join(dir, file.name), new TextEncoder().encode(file.lines.join("")));
    } catch (error) {
      failure ??= error;
    }
  }
  if (failure !== undefined) throw failure;
}

async function appendFile(path: string, bytes: Uint8Array): Promise<void> {
  let size = 0;
  try {
    size = Deno.lstatSync(path).size;
  } catch { /* not created yet */ }
  if (size > 0 && size + bytes.length > HOOK_LOG_MAX_BYTES) await rotate(path);
  const { file } = await openPrivateFile(path, { append: true });
  try {
    // Synchronous writes: see src/durable.ts (an async op costs a thread hop per call).
    let written = 0;
    while (written < bytes.length) written += file.writeSync(bytes.subarray(written));
  } finally {
    file.close();
  }
}

async function rotate(path: string): Promise<void> {
  // Another hook may rotate at the same moment: a missing file is someone else's rename.
  await Deno.remove(`${path}.${HOOK_LOG_MAX_FILES - 1}`).catch(() => {});
  for (let index = HOOK_LOG_MAX_FILES - 2; index >= 1; index--) {
    await Deno.rename(`${path}.${index}`, `${path}.${index + 1}`).catch(() => {});
  }
  await Deno.rename(path, `${path}.1`).catch(() => {});
}
