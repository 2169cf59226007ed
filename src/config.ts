// All configuration of arrakis: environment variables validated by zod, with defaults that
// work on a fresh machine. A bad value is a ConfigError naming the variable. Paths and the
// parsers the hook shares live in the zod-free src/config-core.ts.
import { z } from "zod";
import { join } from "node:path";
import {
  ConfigError,
  DEFAULT_LOG_LEVEL,
  localPaths,
  LOG_LEVELS,
  type LogLevel,
  parseDuration,
  parsePatterns,
} from "./config-core.ts";

export { ConfigError, parseDuration };

/** A zod issue in plain words, for people: no "Invalid input" or "discriminator". */
export function plainIssue(issue: z.core.$ZodIssue): string {
  const where = issue.path.length > 0 ? `${issue.path.join(".")} ` : "";
  switch (issue.code) {
    case "invalid_type":
      return `${where}must be ${article(issue.expected)}`;
    case "too_small":
      return `${where}must be at least ${issue.minimum}`;
    case "too_big":
      return `${where}must be at most ${issue.maximum}`;
    case "invalid_value":
      return `${where}must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
    case "invalid_union": {
      // A discriminated union names its options on the issue; a plain union in its branches.
      const named = (issue as { options?: unknown[] }).options ?? [];
      const options = named.map((v) => JSON.stringify(v)).concat(
        issue.errors.flatMap((errors) =>
          errors.flatMap((inner) =>
            inner.code === "invalid_value" ? inner.values.map((v) => JSON.stringify(v)) : []
          )
        ),
      );
      return options.length > 0
        ? `${where}must be one of ${[...new Set(options)].join(", ")}`
        : `${where}matches none of the allowed shapes`;
    }
    case "unrecognized_keys":
      return `${where}has unknown field${issue.keys.length === 1 ? "" : "s"} ${
        issue.keys.join(", ")
      }`;
    case "invalid_format":
      return `${where}must be ${article(issue.format)}`;
    default:
      return `${where}${issue.message}`;
  }
}

function article(noun: string): string {
  const word = noun === "int" ? "whole number" : noun;
  return `${/^[aeiou]/.test(word) ? "an" : "a"} ${word}`;
}

const duration = z.string().transform((text, ctx) => {
  const ms = parseDuration(text);
  if (ms === undefined) {
    ctx.addIssue({ code: "custom", message: `"${text}" is not a duration like 500ms, 30s, 5m` });
    return z.NEVER;
  }
  return ms;
});

const durationList = z.string().transform((text, ctx) => {
  const parts = text.split(",").map((part) => parseDuration(part));
  if (parts.length === 0 || parts.some((ms) => ms === undefined)) {
    ctx.addIssue({ code: "custom", message: `"${text}" is not a list like 1m,5m,15m` });
    return z.NEVER;
  }
  return parts as number[];
});

/** A retention period, or "forever" (also "off", "never") for keeping everything. */
const retention = z.string().transform((text, ctx) => {
  if (/^\s*(forever|off|never)\s*$/i.test(text)) return null;
  const ms = parseDuration(text);
  if (ms === undefined || ms <= 0) {
    ctx.addIssue({ code: "custom", message: `"${text}" is not a period like 30d, or "forever"` });
    return z.NEVER;
  }
  return ms;
});

const positiveInt = z.coerce.number().int().positive();
const httpUrl = z.url({ protocol: /^https?$/ }).transform((url) => url.replace(/\/+$/, ""));
const csv = z.string().transform((text) =>
  text.split(",").map((part) => part.trim()).filter((part) => part.length > 0)
);

// Each variable says, in words, what it takes: a bad value is reported as "NAME must be <that>,
// got ..." with no validator jargon.
const EnvSchema = z.object({
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional()
    .describe("a postgres:// or postgresql:// URL"),
  ARRAKIS_DIRECT_DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional()
    .describe("a postgres:// or postgresql:// URL"),
  ARRAKIS_PG_PREPARE: z.enum(["true", "false", "1", "0"]).default("true")
    .transform((value) => value === "true" || value === "1")
    .describe("true, false, 1 or 0"),
  ARRAKIS_HEARTBEAT: duration.default(5_000).describe("a duration like 2s, 5s"),
  ARRAKIS_URL: httpUrl.optional().describe("an http:// or https:// URL"),
  ARRAKIS_API_KEY: csv.optional().describe("a comma-separated list of keys"),
  ARRAKIS_HOME: z.string().min(1).optional().describe("a directory"),
  ARRAKIS_QUEUE_DIR: z.string().min(1).optional().describe("a directory"),
  ARRAKIS_LOG_DIR: z.string().min(1).optional().describe("a directory"),
  ARRAKIS_CONFIG: z.string().min(1).optional().describe("a file path"),
  CLAUDE_PROJECT_DIR: z.string().min(1).optional().describe("a directory"),
  HOME: z.string().min(1).optional().describe("a directory"),
  PORT: z.coerce.number().int().min(0).max(65535).default(7777)
    .describe("a whole number from 0 to 65535 (0 picks a free port)"),
  ARRAKIS_HOST: z.string().min(1).default("127.0.0.1").describe("a host name or IP address"),
  ARRAKIS_LOG_LEVEL: z.enum(LOG_LEVELS).default(DEFAULT_LOG_LEVEL)
    .describe(`one of ${LOG_LEVELS.join(", ")}`),
  ARRAKIS_MAX_BODY_BYTES: positiveInt.default(32 * 1024 * 1024)
    .describe("a whole number of bytes above 0"),
  ARRAKIS_BATCH_MAX: positiveInt.max(10_000).default(500)
    .describe("a whole number from 1 to 10000"),
  ARRAKIS_TRUSTED_PROXIES: csv.default([]).describe("a comma-separated list of addresses"),
  ARRAKIS_RETRY_SCHEDULE: durationList.default([60_000, 300_000, 900_000, 3_600_000, 7_200_000])
    .describe("a comma-separated list of durations like 1m,5m,15m"),
  ARRAKIS_MAX_ATTEMPTS: positiveInt.max(1000).default(5).describe("a whole number from 1 to 1000"),
  ARRAKIS_LEASE: duration.default(120_000).describe("a duration like 30s, 2m"),
  ARRAKIS_BREAKER_THRESHOLD: positiveInt.default(3).describe("a whole number above 0"),
  ARRAKIS_BREAKER_COOLDOWN: duration.default(30_000).describe("a duration like 30s, 1m"),
  ARRAKIS_SHIPPER_IDLE: duration.default(300_000).describe("a duration like 30s, 5m"),
  ARRAKIS_REDACT_PATTERNS: z.string().optional().describe("regular expressions, one a line"),
  ARRAKIS_PRICES: z.string().min(1).optional().describe("a JSON price file path"),
  ARRAKIS_MIGRATE_ON_START: z.enum(["true", "false", "1", "0"]).default("true")
    .transform((value) => value === "true" || value === "1")
    .describe("true, false, 1 or 0"),
  ARRAKIS_ALERT_WEBHOOK_URL: z.url({ protocol: /^https?$/ }).optional()
    .describe("an http:// or https:// URL"),
  ARRAKIS_ALERT_RULES: z.string().optional().describe("a JSON array of rules"),
  ARRAKIS_ALERT_INTERVAL: duration.default(30_000).describe("a duration like 30s, 1m"),
  ARRAKIS_MAX_CONNECTIONS: positiveInt.optional().describe("a whole number above 0"),
  ARRAKIS_HEADERS_TIMEOUT: duration.default(10_000).describe("a duration like 10s"),
  ARRAKIS_REQUEST_TIMEOUT: duration.default(120_000).describe("a duration like 2m"),
  // Longer than clients keep idle connections pooled (fetch/hyper: 90 s), so the client closes
  // first and never sends a request on a connection the server is closing.
  ARRAKIS_IDLE_TIMEOUT: duration.default(95_000).describe("a duration like 95s"),
  ARRAKIS_STATEMENT_TIMEOUT: duration.default(60_000).describe("a duration like 60s"),
  ARRAKIS_SHUTDOWN_TIMEOUT: duration.default(20_000).describe("a duration like 20s"),
  ARRAKIS_RETENTION_PAYLOADS: retention.default(30 * 86_400_000)
    .describe('a period like 30d, 12h, or "forever"'),
  ARRAKIS_RETENTION_SESSIONS: retention.default(null)
    .describe('a period like 90d, or "forever"'),
  ARRAKIS_RETENTION_INTERVAL: duration.default(3_600_000).describe("a duration like 1h, 30m"),
});

/** The client's config file (0600): where the server is and the key to use. */
const ClientConfigFile = z.object({
  url: httpUrl.optional(),
  apiKey: z.string().min(1).optional(),
});

export interface Config {
  databaseUrl: string | undefined;
  /**
   * PostgreSQL itself when DATABASE_URL goes through a transaction pooler (PgBouncer): the
   * LISTEN connection and the leader's advisory lock need a session of their own.
   */
  directDatabaseUrl: string | undefined;
  /** Named prepared statements; false behind a transaction pooler, which cannot keep them. */
  pgPrepare: boolean;
  /** How often an instance beats; a peer silent for 3 beats is gone. */
  heartbeatMs: number;
  /** Server URL the hook and drainer send to. */
  serverUrl: string;
  /** Whether serverUrl came from ARRAKIS_URL (then it beats the client config file). */
  serverUrlExplicit: boolean;
  /** Keys the server accepts; the first one is what clients send. */
  apiKeys: string[];
  home: string;
  /** Embedded PGlite data directory. */
  pgliteDir: string;
  /** Key generated by `serve` when none is configured (0600). */
  apiKeyFile: string;
  /** The project directory, symlinks resolved. */
  projectDir: string;
  /** This project's spool: <home>/spool/<project key> unless ARRAKIS_QUEUE_DIR. */
  queueDir: string;
  /** Where the checks of the spool's directories start (see LocalPaths). */
  queueRoot: string;
  /** The hook's and shipper's logs: <queueDir>/logs unless ARRAKIS_LOG_DIR. */
  logDir: string;
  /** Where the checks of the log directory start. */
  logRoot: string;
  /** The per-user secret that signs spool records. */
  spoolKeyFile: string;
  serverLogDir: string;
  clientConfigFile: string;
  port: number;
  host: string;
  logLevel: LogLevel;
  maxBodyBytes: number;
  batchMax: number;
  trustedProxies: string[];
  retryScheduleMs: number[];
  maxAttempts: number;
  leaseMs: number;
  breakerThreshold: number;
  breakerCooldownMs: number;
  /** How long the resident shipper stays with nothing pending before it exits. */
  shipperIdleMs: number;
  redactPatterns: RegExp[];
  /** A JSON file of model prices that override and extend data/prices.json. */
  pricesFile: string | undefined;
  migrateOnStart: boolean;
  /** Slack-compatible webhook the alert evaluator posts `{text}` to; alerts are off without it. */
  alertWebhookUrl: string | undefined;
  /** Alert rules as JSON (validated by src/alerts/rules.ts); undefined means the default rules. */
  alertRulesJson: string | undefined;
  alertIntervalMs: number;
  /** Open connections at most; undefined: what the open-file limit allows. */
  maxConnections: number | undefined;
  /** Time a client has to send its request headers. */
  headersTimeoutMs: number;
  /** Time a client has to send its whole request. */
  requestTimeoutMs: number;
  /** Idle time after which a kept-alive connection is closed. */
  idleTimeoutMs: number;
  /** PostgreSQL statement_timeout of every store connection. */
  statementTimeoutMs: number;
  /** How long a graceful shutdown waits for in-flight requests. */
  shutdownTimeoutMs: number;
  /** Payloads of stored audit rows are dropped after this; null keeps them. */
  retentionPayloadsMs: number | null;
  /** Whole sessions are deleted this long after their last event; null keeps them. */
  retentionSessionsMs: number | null;
  /** How often the server runs retention. */
  retentionIntervalMs: number;
}

/** Every variable arrakis reads (each is named in some command's --help). */
export const SETTING_NAMES = Object.keys(EnvSchema.shape);

/** What a setting takes, in words ("a whole number from 0 to 65535 (0 picks a free port)"). */
export function settingExpectation(name: keyof typeof EnvSchema.shape): string {
  return EnvSchema.shape[name].description ?? "a valid value";
}

/**
 * Reads the configuration from an environment (default: the process's). Throws ConfigError
 * with the variable's name on the first bad value.
 */
export function loadConfig(env: Record<string, string | undefined> = Deno.env.toObject()): Config {
  const defined = Object.fromEntries(
    Object.entries(env).filter(([key, value]) => key in EnvSchema.shape && value !== ""),
  );
  const parsed = EnvSchema.safeParse(defined);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const name = String(issue.path[0] ?? "environment");
    const expected = EnvSchema.shape[name as keyof typeof EnvSchema.shape]?.description ??
      plainIssue(issue);
    throw new ConfigError(
      `${name} must be ${expected}, got ${JSON.stringify(env[name] ?? "")}`,
      name,
      expected,
    );
  }
  const e = parsed.data;
  const { home, projectDir, queueDir, queueRoot, logDir, logRoot, spoolKeyFile } = localPaths(
    defined,
  );
  const port = e.PORT;
  if (!e.ARRAKIS_PG_PREPARE && e.DATABASE_URL && !e.ARRAKIS_DIRECT_DATABASE_URL) {
    throw new ConfigError(
      "ARRAKIS_DIRECT_DATABASE_URL: required with ARRAKIS_PG_PREPARE=false (behind a " +
        "transaction pooler): live events (LISTEN) and the alert leader's advisory lock need a " +
        "direct connection to PostgreSQL",
    );
  }
  return {
    databaseUrl: e.DATABASE_URL,
    directDatabaseUrl: e.ARRAKIS_DIRECT_DATABASE_URL,
    pgPrepare: e.ARRAKIS_PG_PREPARE,
    heartbeatMs: e.ARRAKIS_HEARTBEAT,
    serverUrl: e.ARRAKIS_URL ?? `http://127.0.0.1:${port}`,
    serverUrlExplicit: e.ARRAKIS_URL !== undefined,
    apiKeys: e.ARRAKIS_API_KEY ?? [],
    home,
    pgliteDir: join(home, "db"),
    apiKeyFile: join(home, "api-key"),
    projectDir,
    queueDir,
    queueRoot,
    logDir,
    logRoot,
    spoolKeyFile,
    serverLogDir: e.ARRAKIS_LOG_DIR ?? join(home, "logs"),
    clientConfigFile: e.ARRAKIS_CONFIG ?? join(home, "client.json"),
    port,
    host: e.ARRAKIS_HOST,
    logLevel: e.ARRAKIS_LOG_LEVEL,
    maxBodyBytes: e.ARRAKIS_MAX_BODY_BYTES,
    batchMax: e.ARRAKIS_BATCH_MAX,
    trustedProxies: e.ARRAKIS_TRUSTED_PROXIES,
    retryScheduleMs: e.ARRAKIS_RETRY_SCHEDULE,
    maxAttempts: e.ARRAKIS_MAX_ATTEMPTS,
    leaseMs: e.ARRAKIS_LEASE,
    breakerThreshold: e.ARRAKIS_BREAKER_THRESHOLD,
    breakerCooldownMs: e.ARRAKIS_BREAKER_COOLDOWN,
    shipperIdleMs: e.ARRAKIS_SHIPPER_IDLE,
    redactPatterns: parsePatterns(e.ARRAKIS_REDACT_PATTERNS),
    pricesFile: e.ARRAKIS_PRICES,
    migrateOnStart: e.ARRAKIS_MIGRATE_ON_START,
    alertWebhookUrl: e.ARRAKIS_ALERT_WEBHOOK_URL,
    alertRulesJson: e.ARRAKIS_ALERT_RULES,
    alertIntervalMs: e.ARRAKIS_ALERT_INTERVAL,
    maxConnections: e.ARRAKIS_MAX_CONNECTIONS,
    headersTimeoutMs: e.ARRAKIS_HEADERS_TIMEOUT,
    requestTimeoutMs: e.ARRAKIS_REQUEST_TIMEOUT,
    idleTimeoutMs: e.ARRAKIS_IDLE_TIMEOUT,
    statementTimeoutMs: e.ARRAKIS_STATEMENT_TIMEOUT,
    shutdownTimeoutMs: e.ARRAKIS_SHUTDOWN_TIMEOUT,
    retentionPayloadsMs: e.ARRAKIS_RETENTION_PAYLOADS,
    retentionSessionsMs: e.ARRAKIS_RETENTION_SESSIONS,
    retentionIntervalMs: e.ARRAKIS_RETENTION_INTERVAL,
  };
}

/** What a client sends to: the URL, its key, and why there is no key when there is none. */
export interface ClientCredentials {
  url: string;
  apiKey: string | undefined;
  /** Set when apiKey is undefined: one line naming the URL that has no key. */
  missingKey?: string;
}

/**
 * The server URL and key a client (hook, drainer) uses: environment first, then the client
 * config file, then the key `serve` generated under ARRAKIS_HOME. A key travels only to the
 * server it was written for: client.json's key to client.json's URL (the local default when
 * it names none), the generated key to a loopback server. So an ARRAKIS_URL pointing
 * elsewhere (an env block in a repository's settings, say) never receives them.
 */
export async function resolveClientCredentials(config: Config): Promise<ClientCredentials> {
  let url = config.serverUrl;
  let apiKey: string | undefined = config.apiKeys[0];
  let withheld: string | undefined;
  const file = await readJsonIfPresent(config.clientConfigFile);
  if (file !== undefined) {
    const parsed = ClientConfigFile.safeParse(file);
    if (!parsed.success) {
      throw new ConfigError(`${config.clientConfigFile}: ${plainIssue(parsed.error.issues[0])}`);
    }
    const fileUrl = parsed.data.url ?? `http://127.0.0.1:${config.port}`;
    if (!config.serverUrlExplicit) url = fileUrl;
    if (apiKey === undefined && parsed.data.apiKey !== undefined) {
      if (sameServer(url, fileUrl)) apiKey = parsed.data.apiKey;
      else withheld = `${config.clientConfigFile} holds the key for ${fileUrl}`;
    }
  }
  if (apiKey === undefined) {
    const generated = (await readTextIfPresent(config.apiKeyFile))?.trim() || undefined;
    if (generated !== undefined && isLoopback(url)) apiKey = generated;
    else if (generated !== undefined) withheld ??= `${config.apiKeyFile} is for a local server`;
  }
  if (apiKey !== undefined) return { url, apiKey };
  return {
    url,
    apiKey,
    missingKey: `no key for ${url}${
      withheld ? ` (${withheld}; set ARRAKIS_API_KEY for this one)` : ""
    }`,
  };
}

/** Same scheme, host, port and path: trailing slashes and default ports do not count. */
function sameServer(a: string, b: string): boolean {
  const norm = (text: string) => {
    const url = new URL(text);
    return `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
  };
  return norm(a) === norm(b);
}

function isLoopback(text: string): boolean {
  const host = new URL(text).hostname;
  return host === "localhost" || host === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

async function readTextIfPresent(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

async function readJsonIfPresent(path: string): Promise<unknown> {
  const text = await readTextIfPresent(path);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new ConfigError(`${path}: not valid JSON`);
  }
}
