// Claude Code deletes transcripts older than cleanupPeriodDays (its settings; 30 by default):
// which of the files found it will delete soon, so the user knows what only arrakis will keep.
import { join } from "node:path";
import type { TranscriptFile } from "./scan.ts";

export const DEFAULT_CLEANUP_DAYS = 30;
/** "Soon": within this many days. */
export const WARN_WITHIN_DAYS = 7;
const DAY_MS = 86_400_000;

/** cleanupPeriodDays from ~/.claude/settings.json, else Claude Code's default. */
export async function cleanupPeriodDays(home: string | undefined): Promise<number> {
  if (!home) return DEFAULT_CLEANUP_DAYS;
  try {
    const settings = JSON.parse(await Deno.readTextFile(join(home, ".claude", "settings.json")));
    const days = settings?.cleanupPeriodDays;
    if (typeof days === "number" && Number.isFinite(days) && days >= 0) return days;
  } catch { /* no settings, or unreadable: Claude Code uses its default too */ }
  return DEFAULT_CLEANUP_DAYS;
}

/** The files Claude Code will delete within WARN_WITHIN_DAYS (by last modification). */
export function expiringSoon(
  files: readonly TranscriptFile[],
  days: number,
  now: number = Date.now(),
): TranscriptFile[] {
  return files.filter((f) => f.mtimeMs + days * DAY_MS < now + WARN_WITHIN_DAYS * DAY_MS);
}
