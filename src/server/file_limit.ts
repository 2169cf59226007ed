// The open-file limit the server runs under: raised from the soft toward the hard limit where
// the system allows it, so that the connection cap (not EMFILE) is what stops a flood.
import { log } from "../log.ts";

const logger = log("server", "limits");

export interface FileLimit {
  soft: number;
  hard: number;
}

/** Reads "Max open files" from /proc/self/limits; undefined where there is no /proc. */
export async function readFileLimit(): Promise<FileLimit | undefined> {
  try {
    const text = await Deno.readTextFile("/proc/self/limits");
    const match = /^Max open files\s+(\S+)\s+(\S+)/m.exec(text);
    if (!match) return undefined;
    const value = (s: string) => s === "unlimited" ? Number.MAX_SAFE_INTEGER : Number(s);
    return { soft: value(match[1]), hard: value(match[2]) };
  } catch {
    return undefined;
  }
}

/** Desired soft limit: no higher than needed, so a raised limit stays a modest one. */
const WANTED = 65_536;

/**
 * Deno has no setrlimit; util-linux `prlimit --pid` may raise another process's soft limit up
 * to its hard limit when both run as the same user. Without it (or without --allow-run) the
 * limit stays as it is and the log says how to raise it.
 */
export async function raiseFileLimit(): Promise<FileLimit | undefined> {
  const before = await readFileLimit();
  if (!before || before.soft >= Math.min(before.hard, WANTED)) return before;
  const target = Math.min(before.hard, WANTED);
  try {
    const { code } = await new Deno.Command("prlimit", {
      args: ["--pid", String(Deno.pid), `--nofile=${target}:${before.hard}`],
      stdout: "null",
      stderr: "null",
    }).output();
    if (code === 0) {
      const after = await readFileLimit();
      if (after && after.soft > before.soft) {
        logger.info("open-file limit raised from {from} to {to}", {
          from: before.soft,
          to: after.soft,
        });
        return after;
      }
    }
  } catch { /* no prlimit, or no permission to run it */ }
  logger.info(
    "open-file limit is {soft} (hard {hard}); raise it with `ulimit -n` or LimitNOFILE= " +
      "for more concurrent connections",
    { soft: before.soft, hard: before.hard },
  );
  return before;
}

/** File descriptors kept back from connections: store pool, log files, PGlite, spare. */
export const RESERVED_FILES = 96;

/** The connection cap when ARRAKIS_MAX_CONNECTIONS is not set: what the file limit allows. */
export function defaultMaxConnections(limit: FileLimit | undefined): number {
  if (!limit) return 1_024;
  return Math.max(16, Math.min(10_000, limit.soft - RESERVED_FILES));
}
