// The zod-free core of the configuration, shared by src/config.ts and the hook (which must not
// load zod): where arrakis keeps its files on this machine, and the parsers for log levels,
// durations and redaction patterns. Each of these decisions is made here only.
import { basename, dirname, join, resolve } from "./paths.ts";
import { sha256Hex } from "./sha256.ts";

export class ConfigError extends Error {
  override name = "ConfigError";
  /**
   * @param variable the setting at fault, when one is
   * @param expected what it takes, in words ("a whole number from 0 to 65535")
   */
  constructor(message: string, readonly variable?: string, readonly expected?: string) {
    super(message);
  }
}

export type Env = Record<string, string | undefined>;

export const LOG_LEVELS = ["debug", "info", "warning", "error"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const DEFAULT_LOG_LEVEL: LogLevel = "info";

const DURATION_UNITS_MS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** Parses "250ms", "30s", "5m", "1h", "30d" (a bare number is milliseconds). */
export function parseDuration(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  if (!match) return undefined;
  return Math.round(Number(match[1]) * DURATION_UNITS_MS[match[2] ?? "ms"]);
}

/** ARRAKIS_REDACT_PATTERNS: one regular expression a line; a bad one is a ConfigError. */
export function parsePatterns(text: string | undefined): RegExp[] {
  if (!text) return [];
  return text.split("\n").filter((line) => line.trim() !== "").map((source) => {
    try {
      return new RegExp(source, "g");
    } catch {
      throw new ConfigError(
        `ARRAKIS_REDACT_PATTERNS must be regular expressions, one a line, got ${
          JSON.stringify(source)
        }`,
        "ARRAKIS_REDACT_PATTERNS",
        "regular expressions, one a line",
      );
    }
  });
}

/** Where arrakis keeps its files on this machine for one project. */
export interface LocalPaths {
  /** ARRAKIS_HOME, default ~/.arrakis (0700). */
  home: string;
  /** The project directory, resolved (CLAUDE_PROJECT_DIR, else the working directory). */
  projectDir: string;
  /** Readable and unique per project directory: "<basename slug>-<16 hex of its sha256>". */
  projectKey: string;
  /** The spool: ARRAKIS_QUEUE_DIR, default <home>/spool/<projectKey>. */
  queueDir: string;
  /**
   * Where the checks of the spool's directories start (see ensurePrivateDir): home, or the
   * parent of ARRAKIS_QUEUE_DIR, so the spool directory itself is never a symlink.
   */
  queueRoot: string;
  /** The hook's and shipper's logs: ARRAKIS_LOG_DIR, default <queueDir>/logs. */
  logDir: string;
  /** Where the checks of the log directory start, as queueRoot. */
  logRoot: string;
  /** The secret that signs spool records (0600), one per user. */
  spoolKeyFile: string;
}

/**
 * The paths of one project. The spool lives per user, outside every repository: a repository
 * can commit anything under .claude/ (symlinks, forged spool files), so nothing there is read or
 * written unless ARRAKIS_QUEUE_DIR / ARRAKIS_LOG_DIR point there explicitly.
 */
export function localPaths(env: Env): LocalPaths {
  const value = (name: string) => env[name] === "" ? undefined : env[name];
  const home = value("ARRAKIS_HOME") ?? join(userHome(value("HOME")), ".arrakis");
  const projectDir = resolveDir(value("CLAUDE_PROJECT_DIR") ?? Deno.cwd());
  const projectKey = projectKeyOf(projectDir);
  const queueOverride = value("ARRAKIS_QUEUE_DIR");
  const queueDir = queueOverride ? resolve(queueOverride) : join(home, "spool", projectKey);
  const queueRoot = queueOverride ? dirname(queueDir) : home;
  const logOverride = value("ARRAKIS_LOG_DIR");
  const logDir = logOverride ? resolve(logOverride) : join(queueDir, "logs");
  return {
    home,
    projectDir,
    projectKey,
    queueDir,
    queueRoot,
    logDir,
    logRoot: logOverride ? dirname(logDir) : queueRoot,
    spoolKeyFile: join(home, "spool.key"),
  };
}

/** "<slug of the basename>-<first 16 hex of sha256(dir)>": unique per resolved directory. */
export function projectKeyOf(resolvedDir: string): string {
  const slug = basename(resolvedDir).toLowerCase().replace(/[^a-z0-9._-]+/g, "-")
    .replace(/^[-.]+|-+$/g, "").slice(0, 40) || "root";
  return `${slug}-${sha256Hex(resolvedDir).slice(0, 16)}`;
}

/** Symlinks resolved, so one project reached by two paths has one spool. */
function resolveDir(dir: string): string {
  try {
    return Deno.realPathSync(dir);
  } catch {
    return resolve(dir);
  }
}

function userHome(home: string | undefined): string {
  if (home) return home;
  throw new ConfigError(
    "HOME is not set, so there is no ~/.arrakis: set ARRAKIS_HOME to a directory",
    "HOME",
    "a directory",
  );
}

/** What the hook needs of the configuration, checked without zod. */
export interface HookSettings extends LocalPaths {
  logLevel: LogLevel;
  redactPatterns: RegExp[];
}

/**
 * The hook's settings. A bad value never costs an event: it is named in `problems` and its
 * default applies.
 */
export function hookSettings(env: Env): { settings: HookSettings; problems: string[] } {
  const problems: string[] = [];
  const level = env.ARRAKIS_LOG_LEVEL || DEFAULT_LOG_LEVEL;
  let logLevel = DEFAULT_LOG_LEVEL;
  if ((LOG_LEVELS as readonly string[]).includes(level)) logLevel = level as LogLevel;
  else {
    problems.push(`ARRAKIS_LOG_LEVEL must be one of ${LOG_LEVELS.join(", ")}, got "${level}"`);
  }
  let redactPatterns: RegExp[] = [];
  try {
    redactPatterns = parsePatterns(env.ARRAKIS_REDACT_PATTERNS);
  } catch (error) {
    problems.push((error as Error).message);
  }
  return { settings: { ...localPaths(env), logLevel, redactPatterns }, problems };
}
