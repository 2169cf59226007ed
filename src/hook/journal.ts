// The hook's log lines, kept in memory while it works and written once at the end: LogTape is
// loaded while the hook waits on disk and network instead of before its first step, and a log
// directory that cannot be written never stops a capture (the lines then go to stderr).
import type { Config } from "../config.ts";

export type JournalLevel = "debug" | "info" | "warning" | "error";

interface Entry {
  level: JournalLevel;
  /** Category under ["arrakis", "hook"]: "success", "queue", "transcript", ... */
  category: string;
  message: string;
  properties: Record<string, unknown>;
  at: string;
}

export interface Journal {
  /** Ids every line carries once the envelope exists. */
  ids: Record<string, string>;
  add(
    level: JournalLevel,
    category: string,
    message: string,
    properties?: Record<string, unknown>,
  ): void;
  /** Starts loading the logger early, so the import overlaps the hook's I/O waits. */
  preload(): void;
  flush(config: Pick<Config, "logDir" | "logLevel"> | undefined): Promise<void>;
}

/** Log files of the hook, as the seed system had them (see docs/HOOK.md). */
export const HOOK_LOG_FILES = ["success.jsonl", "error.jsonl", "queue.jsonl", "debug.jsonl"];

export function createJournal(): Journal {
  const entries: Entry[] = [];
  let loading: Promise<typeof import("../log.ts")> | undefined;
  const journal: Journal = {
    ids: {},
    add(level, category, message, properties = {}) {
      entries.push({ level, category, message, properties, at: new Date().toISOString() });
      if (level === "error" || level === "warning") {
        // Claude Code shows a hook's stderr in verbose mode only: the user still finds out why.
        const ids = journal.ids.requestId ? ` [${journal.ids.requestId}]` : "";
        const text = message.replace(/\{(\w+)\}/g, (_, name) => String(properties[name]));
        const detail = properties.error === undefined ? "" : `: ${properties.error}`;
        console.error(`arrakis hook${ids}: ${text}${detail}`);
      }
    },
    preload() {
      loading ??= import("../log.ts");
    },
    async flush(config) {
      if (!config || entries.length === 0) return;
      try {
        journal.preload();
        const { setupLogging, closeLogging, log, atLeast } = await loading!;
        const last = (name: string) => (record: { category: readonly string[] }) =>
          record.category[record.category.length - 1] === name;
        await setupLogging({
          level: config.logLevel,
          dir: config.logDir,
          files: [
            { name: "success.jsonl", filter: last("success") },
            { name: "error.jsonl", filter: atLeast("warning") },
            { name: "queue.jsonl", filter: last("queue") },
            { name: "debug.jsonl" },
          ],
        });
        for (const entry of entries) {
          const logger = log("hook", entry.category).with({ ...journal.ids, at: entry.at });
          // Messages are templates over their own properties, e.g. "spooled {event}".
          logger[entry.level](entry.message, entry.properties);
        }
        await closeLogging();
      } catch (error) {
        console.error(
          `arrakis hook: cannot write logs to ${config.logDir}: ${
            error instanceof Error ? error.message : String(error)
          }`,
        );
      }
    },
  };
  return journal;
}
