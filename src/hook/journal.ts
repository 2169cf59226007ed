// The hook's log lines, kept in memory while it works and written once at the end, so a log
// directory that cannot be written never stops a capture (warnings and errors also go to
// stderr, which Claude Code shows in verbose mode).
import type { HookSettings } from "../config-core.ts";
import { appendLogFiles, formatLine, type LineLevel } from "./log-writer.ts";
import { createRedactor } from "../redact.ts";
import { errorMessage } from "../error_message.ts";

export type JournalLevel = LineLevel;

interface Entry {
  level: JournalLevel;
  /** Category under ["arrakis", "hook"]: "success", "queue", "transcript", ... */
  category: string;
  message: string;
  properties: Record<string, unknown>;
  at: string;
}

export interface Journal {
  /** Ids every line carries once the envelope exists (requestId, traceId). */
  ids: Record<string, string>;
  add(
    level: JournalLevel,
    category: string,
    message: string,
    properties?: Record<string, unknown>,
  ): void;
  /** Writes the lines; when even that fails, says so on stderr unless an error already was. */
  flush(
    settings: Pick<HookSettings, "logDir" | "logLevel"> & { logRoot?: string } | undefined,
  ): Promise<void>;
}

const LEVELS: JournalLevel[] = ["debug", "info", "warning", "error"];

/** Which lines each file of the log directory holds (the seed system's four logs). */
export const HOOK_LOG_FILES: { name: string; holds(entry: Entry): boolean }[] = [
  { name: "success.jsonl", holds: (entry) => entry.category === "success" },
  { name: "error.jsonl", holds: (entry) => LEVELS.indexOf(entry.level) >= 2 },
  { name: "queue.jsonl", holds: (entry) => entry.category === "queue" },
  { name: "debug.jsonl", holds: () => true },
];

/** Fills "{name}" placeholders as LogTape's JSON Lines formatter does (values as JSON). */
export function render(
  message: string,
  properties: Record<string, unknown>,
  quoteStrings = true,
): string {
  return message.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = properties[name];
    if (typeof value === "string" && !quoteStrings) return value;
    return JSON.stringify(value) ?? "undefined";
  });
}

export function createJournal(): Journal {
  const entries: Entry[] = [];
  let saidSomething = false;
  const journal: Journal = {
    ids: {},
    add(level, category, message, properties = {}) {
      entries.push({ level, category, message, properties, at: new Date().toISOString() });
      if (level === "error" || level === "warning") {
        saidSomething = true;
        const ids = journal.ids.requestId ? ` [${journal.ids.requestId}]` : "";
        const detail = properties.error === undefined ? "" : `: ${properties.error}`;
        console.error(`arrakis hook${ids}: ${render(message, properties, false)}${detail}`);
      }
    },
    async flush(config) {
      if (!config || entries.length === 0) return;
      const minimum = LEVELS.indexOf(config.logLevel);
      // Properties hold paths and error texts, never the key; redacted all the same.
      const redactor = createRedactor();
      const kept = entries.filter((entry) => LEVELS.indexOf(entry.level) >= minimum);
      const formatted = new Map<Entry, string>();
      for (const entry of kept) {
        const properties = redactor.value({ ...journal.ids, ...entry.properties });
        formatted.set(
          entry,
          formatLine({
            timestamp: entry.at,
            level: entry.level,
            message: render(entry.message, properties),
            logger: `arrakis.hook.${entry.category}`,
            properties,
          }),
        );
      }
      try {
        await appendLogFiles(
          config.logDir,
          HOOK_LOG_FILES.map((file) => ({
            name: file.name,
            lines: kept.filter(file.holds).map((entry) => formatted.get(entry)!),
          })),
          config.logRoot,
        );
      } catch (error) {
        // One line on stderr per problem: an unwritable spool usually means unwritable logs.
        if (saidSomething) return;
        console.error(
          `arrakis hook: cannot write logs to ${config.logDir}: ${errorMessage(error)}`,
        );
      }
    },
  };
  return journal;
}
