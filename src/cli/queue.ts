// `arrakis queue`: see and move the local spool. list, stats, retry (the manual push), drain (one
// pass), ship (the resident shipper), purge. Mistakes in the call (unknown id, bad duration)
// are UsageErrors: one line, exit 2.
import { loadConfig, parseDuration, resolveClientCredentials } from "../config.ts";
import type { Config } from "../config.ts";
import { REQUEST_ID_PATTERN, SpoolRecord } from "../schema.ts";
import {
  openSpool,
  type Spool,
  SPOOL_STATES,
  type SpoolItem,
  type SpoolState,
} from "../queue/spool.ts";
import { drain, type DrainResult } from "../queue/drain.ts";
import { createBreaker } from "../queue/breaker.ts";
import { tryDrainLock, tryShipperLock } from "../queue/lock.ts";
import { ship, type ShipperOptions, type ShipperResult } from "../queue/shipper.ts";
import { formatDuration, progressReporter } from "../queue/progress.ts";
import { parseFlags, UsageError } from "./args.ts";
import { atLeast, closeLogging, inCategory, log, setupLogging } from "../log.ts";
import { join } from "node:path";

export const usage = `Usage: arrakis queue <list|stats|retry|drain|ship|purge|adopt> [options]

The local spool of events waiting for the server, per user and project in ARRAKIS_QUEUE_DIR
(default ~/.arrakis/spool/<project>-<hash>): pending/, processing/ (claimed by a drainer),
failed/ (dead letters), corrupt/ (unreadable or unsigned files moved aside).

  list   [--state pending|processing|failed|all] [--event NAME] [--session ID] [--due]
         [--limit N] [--json]
         one line per item: state, requestId, event, session, attempts, next attempt, last error
  stats  [--json]
         counts per state, due now, corrupt files, oldest age, bytes
  retry  [requestId...|--all] [--failed] [--now] [--json]
         the manual push: named or all pending items lose their backoff; with --failed (or a
         named dead letter) dead letters go back to pending with attempts reset;
         --now then delivers them at once. 'retry --failed' alone revives every dead letter.
  drain  [--batch-size N] [--one-by-one] [--now] [--quiet] [--json]
         deliver due items oldest first, in batches (POST /api/claude-hooks/batch); one drainer
         at a time per spool (others exit 0 at once). --now ignores backoff.
  ship   [--quiet]
         the resident shipper (hooks start it): delivers new items as they are spooled, waits
         out backoff and outages, exits after ARRAKIS_SHIPPER_IDLE with nothing pending; one
         per spool (another exits 0 at once)
  purge  --failed [--older-than 30d] [--yes]
         delete dead letters (older than the given age); asks on a terminal, else needs --yes
  adopt  <old spool dir> [--yes]
         take in the pending and failed records of a spool arrakis cannot vouch for (the old
         in-repository .claude/queue): lists them, and with --yes signs them into this spool.
         The old directory is left as it is.

Environment: ARRAKIS_URL, ARRAKIS_API_KEY, ARRAKIS_QUEUE_DIR, ARRAKIS_RETRY_SCHEDULE
(default 1m,5m,15m,1h,2h), ARRAKIS_MAX_ATTEMPTS (5), ARRAKIS_LEASE (2m), ARRAKIS_BATCH_MAX (500),
ARRAKIS_BREAKER_THRESHOLD (3), ARRAKIS_BREAKER_COOLDOWN (30s), ARRAKIS_SHIPPER_IDLE (5m),
ARRAKIS_LOG_DIR, ARRAKIS_LOG_LEVEL, ARRAKIS_HOME, ARRAKIS_CONFIG (the client file with the
server's URL and key), CLAUDE_PROJECT_DIR (which project's spool).
See docs/QUEUE.md.`;

export async function run(args: string[]): Promise<number> {
  try {
    return await dispatch(args);
  } catch (error) {
    if (!isNotWritable(error)) throw error;
    // One line a person can act on, not a stack of rename errors.
    const dir = (() => {
      try {
        return loadConfig().queueDir;
      } catch {
        return "directory";
      }
    })();
    const reason = (error as Error).message.replace(/ \(os error \d+\).*$/s, "");
    console.error(`arrakis queue ${args[0]}: the spool ${dir} is not writable (${reason})`);
    return 1;
  }
}

function isNotWritable(error: unknown): boolean {
  if (error instanceof Deno.errors.PermissionDenied) return true;
  const code = (error as { code?: unknown } | null)?.code;
  return code === "EROFS" || code === "EACCES" || code === "EPERM" ||
    (error instanceof Error && /\(os error (30|13|1)\)/.test(error.message));
}

async function dispatch(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case "list":
      return await list(rest);
    case "stats":
      return await stats(rest);
    case "retry":
      return await retry(rest);
    case "drain":
      return await drainCommand(rest);
    case "ship":
      return await shipCommand(rest);
    case "purge":
      return await purge(rest);
    case "adopt":
      return await adopt(rest);
    case undefined:
      throw new UsageError(
        "queue: missing subcommand (list, stats, retry, drain, ship, purge, adopt)",
      );
    default:
      throw new UsageError(
        `queue: unknown subcommand '${sub}' (list, stats, retry, drain, ship, purge, adopt)`,
      );
  }
}

/** Read-only commands answer "no spool here" instead of creating one. */
async function spoolExists(config: Config): Promise<boolean> {
  try {
    await Deno.lstat(config.queueDir);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

function noSpoolHere(config: Config): string {
  return `no spool here (${config.queueDir})`;
}

function spoolFor(config: Config): Promise<Spool> {
  return openSpool(config.queueDir, {
    root: config.queueRoot,
    keyFile: config.spoolKeyFile,
    retryScheduleMs: config.retryScheduleMs,
    maxAttempts: config.maxAttempts,
    leaseMs: config.leaseMs,
  });
}

function positiveInt(command: string, flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new UsageError(`${command}: ${flag} must be a positive whole number (got "${text}")`);
  }
  return value;
}

function itemJson(state: SpoolState, item: SpoolItem) {
  const { envelope, delivery } = item.record;
  return {
    state,
    requestId: item.id,
    event: envelope.event,
    sessionId: envelope.sessionId,
    occurredAt: envelope.occurredAt,
    attempts: delivery.attempts,
    firstAttemptAt: delivery.firstAttemptAt,
    lastAttemptAt: delivery.lastAttemptAt,
    nextAttemptAt: delivery.nextAttemptAt,
    lastHttpStatus: delivery.lastHttpStatus,
    lastError: delivery.lastError,
    lastAnswer: delivery.lastAnswer,
  };
}

async function list(args: string[]): Promise<number> {
  const { values } = parseFlags("queue list", args, {
    state: { type: "string" },
    event: { type: "string" },
    session: { type: "string" },
    due: { type: "boolean" },
    limit: { type: "string" },
    json: { type: "boolean" },
  });
  const stateFlag = values.state ?? "all";
  if (stateFlag !== "all" && !(SPOOL_STATES as readonly string[]).includes(stateFlag)) {
    throw new UsageError(
      `queue list: --state must be pending, processing, failed or all (got "${stateFlag}")`,
    );
  }
  const limit = positiveInt("queue list", "--limit", values.limit);
  const states = stateFlag === "all" ? SPOOL_STATES : [stateFlag as SpoolState];
  const config = loadConfig();
  if (!await spoolExists(config)) {
    console.log(values.json ? "[]" : noSpoolHere(config));
    return 0;
  }
  const spool = await spoolFor(config);
  const now = Date.now();
  const rows: ReturnType<typeof itemJson>[] = [];
  for (const state of states) {
    for (const item of await spool.list(state)) {
      const { envelope, delivery } = item.record;
      if (values.event && envelope.event !== values.event) continue;
      if (values.session && envelope.sessionId !== values.session) continue;
      if (values.due) {
        const next = delivery.nextAttemptAt;
        if (state !== "pending" || (next !== null && Date.parse(next) > now)) continue;
      }
      rows.push(itemJson(state, item));
    }
  }
  const shown = limit === undefined ? rows : rows.slice(0, limit);
  if (values.json) {
    console.log(JSON.stringify(shown, null, 2));
    return 0;
  }
  if (shown.length === 0) {
    console.log(
      "the spool is empty" + (rows.length === 0 && states.length === 1 ? ` (${stateFlag})` : ""),
    );
    return 0;
  }
  const table = shown.map((row) => [
    row.state,
    row.requestId,
    row.event,
    row.sessionId.length > 20 ? `${row.sessionId.slice(0, 19)}…` : row.sessionId,
    String(row.attempts),
    row.nextAttemptAt === null
      ? (row.state === "pending" ? "now" : "-")
      : relative(Date.parse(row.nextAttemptAt) - now),
    (row.lastError ?? "").replace(/\s+/g, " ").slice(0, 60),
  ]);
  printTable(["STATE", "REQUEST ID", "EVENT", "SESSION", "TRIES", "NEXT", "LAST ERROR"], table);
  if (shown.length < rows.length) console.log(`… ${rows.length - shown.length} more (--limit)`);
  return 0;
}

function relative(ms: number): string {
  return ms <= 0 ? "now" : `in ${formatDuration(ms)}`;
}

function printTable(head: string[], rows: string[][]): void {
  const widths = head.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => row[column].length))
  );
  const line = (cells: string[]) =>
    cells.map((cell, column) => column === cells.length - 1 ? cell : cell.padEnd(widths[column]))
      .join("  ").trimEnd();
  console.log(line(head));
  for (const row of rows) console.log(line(row));
}

async function stats(args: string[]): Promise<number> {
  const { values } = parseFlags("queue stats", args, { json: { type: "boolean" } });
  const config = loadConfig();
  if (!await spoolExists(config)) {
    console.log(
      values.json ? JSON.stringify({ dir: config.queueDir, exists: false }) : noSpoolHere(config),
    );
    return 0;
  }
  const spool = await spoolFor(config);
  const result = await spool.stats();
  if (values.json) {
    console.log(JSON.stringify({ dir: config.queueDir, ...result }, null, 2));
    return 0;
  }
  console.log(`spool       ${config.queueDir}`);
  console.log(`pending     ${result.pending} (${result.due} due now)`);
  console.log(`processing  ${result.processing}`);
  console.log(`failed      ${result.failed}`);
  console.log(`corrupt     ${result.corrupt}`);
  console.log(
    `oldest      ${result.oldestAgeMs === null ? "-" : formatDuration(result.oldestAgeMs)}`,
  );
  console.log(`bytes       ${result.bytes}`);
  return 0;
}

async function retry(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags("queue retry", args, {
    all: { type: "boolean" },
    failed: { type: "boolean" },
    now: { type: "boolean" },
    json: { type: "boolean" },
  }, true);
  if (positionals.length > 0 && values.all) {
    throw new UsageError("queue retry: give requestIds or --all, not both");
  }
  if (positionals.length === 0 && !values.all && !values.failed) {
    throw new UsageError("queue retry: give requestIds, --all or --failed");
  }
  for (const id of positionals) {
    if (!REQUEST_ID_PATTERN.test(id)) {
      throw new UsageError(`queue retry: "${id}" is not a requestId (a lowercase UUID)`);
    }
  }
  const config = loadConfig();
  const spool = await spoolFor(config);

  const pending: SpoolItem[] = [];
  const dead: SpoolItem[] = [];
  let inFlight = 0;
  if (positionals.length > 0) {
    const unknown: string[] = [];
    for (const id of new Set(positionals)) {
      const found = await spool.find(id);
      if (!found) unknown.push(id);
      else if (found.state === "pending") pending.push(found.item);
      else if (found.state === "failed") dead.push(found.item);
      else inFlight++;
    }
    if (unknown.length > 0) {
      throw new UsageError(`queue retry: no spooled item with requestId ${unknown.join(", ")}`);
    }
  } else {
    if (values.all) pending.push(...await spool.list("pending"));
    if (values.failed) dead.push(...await spool.list("failed"));
  }

  let revived = 0;
  let cleared = 0;
  for (const item of dead) if (await spool.revive(item)) revived++;
  for (const item of pending) if (await spool.clearBackoff(item)) cleared++;
  const summary: Record<string, unknown> = { revived, cleared, inFlight };
  const parts = [`${revived} dead letter${revived === 1 ? "" : "s"} back in pending`];
  if (pending.length > 0 || values.all) parts.push(`${cleared} pending due now`);
  if (inFlight > 0) parts.push(`${inFlight} in flight with a drainer, left alone`);

  let code = 0;
  if (values.now) {
    const ids = positionals.length > 0
      ? new Set([...dead, ...pending].map((i) => i.id))
      : undefined;
    const result = await runDrain(config, spool, {
      ignoreBackoff: true,
      ids,
      quiet: values.json === true,
    });
    if (result === undefined) {
      parts.push("another drainer is running; it will send them");
    } else {
      summary.drain = result;
      parts.push(drainSummary(result));
      if (result.stoppedEarly) code = 1;
    }
  }
  if (values.json) console.log(JSON.stringify(summary, null, 2));
  else console.log(parts.join("; "));
  return code;
}

function drainSummary(result: DrainResult): string {
  const parts = [
    `delivered ${result.delivered}` +
    (result.duplicates > 0 ? ` (${result.duplicates} already stored)` : ""),
  ];
  if (result.retrying > 0) parts.push(`${result.retrying} waiting to retry`);
  if (result.failed > 0) parts.push(`${result.failed} dead-lettered`);
  if (result.recovered > 0) parts.push(`${result.recovered} expired leases recovered`);
  parts.push(`in ${formatDuration(result.elapsedMs)}`);
  if (result.stoppedEarly) parts.push(`stopped: ${result.stoppedEarly}`);
  return parts.join(", ");
}

interface RunDrainOptions {
  ignoreBackoff?: boolean;
  ids?: ReadonlySet<string>;
  batchSize?: number;
  oneByOne?: boolean;
  quiet?: boolean;
  noLock?: boolean;
}

const logger = log("queue");

/** The same log directory as the hook's, so `grep <requestId>` follows an event through both. */
async function queueLogging(config: Config): Promise<void> {
  await setupLogging({
    level: config.logLevel,
    dir: config.logDir,
    root: config.logRoot,
    files: [
      { name: "queue.jsonl", filter: inCategory("queue") },
      { name: "success.jsonl", filter: inCategory("queue", "delivered") },
      { name: "error.jsonl", filter: atLeast("warning") },
    ],
  }).catch(() => {/* an unwritable log directory never stops a delivery */});
}

/** Where to send and with which key; a missing key is an Error saying why. */
async function keyedTarget(config: Config): Promise<{ url: string; apiKey: string }> {
  const credentials = await resolveClientCredentials(config);
  if (credentials.apiKey === undefined) {
    throw new Error(credentials.missingKey ?? `no key for ${credentials.url}`);
  }
  return { url: credentials.url, apiKey: credentials.apiKey };
}

/** A send must end well inside the lease, or another drainer could take the items over. */
function sendTimeoutMs(config: Config): number {
  return Math.max(1_000, Math.min(30_000, Math.floor(config.leaseMs / 2)));
}

/** Drains under the lock; undefined when another drainer holds it. */
async function runDrain(
  config: Config,
  spool: Spool,
  options: RunDrainOptions,
): Promise<DrainResult | undefined> {
  // No key: one line naming the server, before anything is claimed or sent.
  const target = await keyedTarget(config);
  const lock = options.noLock ? { release() {} } : await tryDrainLock(config.queueDir);
  if (!lock) return undefined;
  await queueLogging(config);
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  Deno.addSignalListener("SIGINT", onSignal);
  const reporter = options.quiet ? undefined : progressReporter(Deno.stderr.isTerminal());
  try {
    const result = await drain({
      spool,
      target,
      batchSize: options.batchSize ?? config.batchMax,
      maxBatchBytes: config.maxBodyBytes,
      timeoutMs: sendTimeoutMs(config),
      ignoreBackoff: options.ignoreBackoff,
      ids: options.ids,
      oneByOne: options.oneByOne,
      signal: abort.signal,
      onProgress: reporter?.update,
    });
    if (result.stoppedBy === "unauthorized") {
      logger.error("{reason}; events stay pending", {
        reason: result.stoppedEarly,
        dir: config.queueDir,
      });
    }
    return result;
  } finally {
    reporter?.finish();
    Deno.removeSignalListener("SIGINT", onSignal);
    lock.release();
    await closeLogging();
  }
}

async function drainCommand(args: string[]): Promise<number> {
  const { values } = parseFlags("queue drain", args, {
    "batch-size": { type: "string" },
    "one-by-one": { type: "boolean" },
    now: { type: "boolean" },
    quiet: { type: "boolean", short: "q" },
    json: { type: "boolean" },
    "no-lock": { type: "boolean" },
  });
  const batchSize = positiveInt("queue drain", "--batch-size", values["batch-size"]);
  const config = loadConfig();
  const spool = await spoolFor(config);
  const quiet = values.quiet === true || values.json === true;
  const result = await runDrain(config, spool, {
    ignoreBackoff: values.now,
    batchSize,
    oneByOne: values["one-by-one"],
    quiet,
    noLock: values["no-lock"],
  });
  if (result === undefined) {
    if (!values.quiet) {
      console.error("queue drain: another drainer is running on this spool; nothing to do");
    }
    if (values.json) console.log(JSON.stringify({ skipped: "another drainer is running" }));
    return 0;
  }
  const waiting = await inBackoff(spool);
  if (values.json) console.log(JSON.stringify({ ...result, waiting }, null, 2));
  else if (!values.quiet) {
    console.log(drainSummary(result) + (waiting.count > 0 ? `; ${waitingSummary(waiting)}` : ""));
  }
  return result.stoppedEarly ? 1 : 0;
}

interface Waiting {
  count: number;
  /** ISO times, to the second: the first and the last item in backoff to come due. */
  next: string | null;
  last: string | null;
}

/** Pending items still in backoff after a drain: what a plain `queue drain` left for later. */
async function inBackoff(spool: Spool): Promise<Waiting> {
  const now = Date.now();
  const times = (await spool.list("pending"))
    .map((item) => Date.parse(item.record.delivery.nextAttemptAt ?? ""))
    .filter((at) => at > now)
    .sort((a, b) => a - b);
  const second = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
  return {
    count: times.length,
    next: times.length > 0 ? second(times[0]) : null,
    last: times.length > 0 ? second(times[times.length - 1]) : null,
  };
}

function waitingSummary(waiting: Waiting): string {
  const when = waiting.count === 1
    ? ` until ${waiting.next}`
    : `, the next due at ${waiting.next}, the last at ${waiting.last}`;
  return `${waiting.count} still waiting in backoff${when}; ` +
    `'arrakis queue drain --now' sends ${waiting.count === 1 ? "it" : "them"} at once`;
}

export interface ShipperHooks {
  /** Foreground: lines for the person watching (stderr). */
  notice?: (line: string) => void;
  onClaimed?: ShipperOptions["onClaimed"];
  onAnswered?: ShipperOptions["onAnswered"];
}

/**
 * Runs the resident shipper under the shipper lock; undefined when another shipper holds it.
 * Tests reach it through an entry point of their own to inject the step callbacks.
 */
export async function runShipper(
  config: Config,
  hooks: ShipperHooks = {},
): Promise<ShipperResult | undefined> {
  const spool = await spoolFor(config);
  const lock = await tryShipperLock(config.queueDir);
  if (!lock) return undefined;
  await queueLogging(config);
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  for (const signal of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(signal, onSignal);
  try {
    return await ship({
      spool,
      target: () => keyedTarget(config),
      batchSize: config.batchMax,
      maxBatchBytes: config.maxBodyBytes,
      timeoutMs: sendTimeoutMs(config),
      idleMs: config.shipperIdleMs,
      breaker: createBreaker({
        threshold: config.breakerThreshold,
        cooldownMs: config.breakerCooldownMs,
      }),
      retryScheduleMs: config.retryScheduleMs,
      signal: abort.signal,
      onNotice: hooks.notice,
      onClaimed: hooks.onClaimed,
      onAnswered: hooks.onAnswered,
    });
  } catch (error) {
    logger.error("shipper failed: {error}", { error: String(error) });
    throw error;
  } finally {
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      Deno.removeSignalListener(signal, onSignal);
    }
    lock.release();
    await closeLogging();
  }
}

async function shipCommand(args: string[]): Promise<number> {
  const { values } = parseFlags("queue ship", args, { quiet: { type: "boolean", short: "q" } });
  const config = loadConfig();
  const say = values.quiet ? undefined : (line: string) => console.error(`queue ship: ${line}`);
  // A lock file arrakis will not use (a planted link) is an error main prints in one line.
  const result = await runShipper(config, { notice: say });
  if (result === undefined) {
    say?.(`a shipper already runs on ${config.queueDir}`);
    return 0;
  }
  say?.(
    `${result.exit === "idle" ? "idle" : "stopped"}: delivered ${result.delivered}` +
      (result.failed > 0 ? `, ${result.failed} dead-lettered` : ""),
  );
  return 0;
}

async function purge(args: string[]): Promise<number> {
  const { values } = parseFlags("queue purge", args, {
    failed: { type: "boolean" },
    "older-than": { type: "string" },
    yes: { type: "boolean", short: "y" },
  });
  if (!values.failed) {
    throw new UsageError("queue purge: only dead letters can be purged; pass --failed");
  }
  let olderThanMs = 0;
  if (values["older-than"] !== undefined) {
    const parsed = parseDuration(values["older-than"]);
    if (parsed === undefined) {
      throw new UsageError(
        `queue purge: --older-than "${values["older-than"]}" is not a duration like 30d, 12h, 90m`,
      );
    }
    olderThanMs = parsed;
  }
  const spool = await spoolFor(loadConfig());
  const now = Date.now();
  const victims = (await spool.list("failed")).filter((item) => {
    const { delivery, envelope } = item.record;
    const when = Date.parse(delivery.lastAttemptAt ?? envelope.occurredAt);
    return Number.isNaN(when) || now - when >= olderThanMs;
  });
  if (victims.length === 0) {
    console.log("no dead letters to purge");
    return 0;
  }
  const what = `${victims.length} dead letter${victims.length === 1 ? "" : "s"}`;
  if (!values.yes) {
    if (!Deno.stdin.isTerminal()) {
      throw new UsageError(`queue purge: would delete ${what}; pass --yes to confirm`);
    }
    if (!confirm(`Delete ${what} for good?`)) {
      console.log("nothing deleted");
      return 1;
    }
  }
  let removed = 0;
  for (const item of victims) if (await spool.purge(item)) removed++;
  console.log(`deleted ${removed} dead letter${removed === 1 ? "" : "s"}`);
  return 0;
}

/**
 * `queue adopt <dir>`: records of an old spool carry no signature (older versions kept the spool
 * in the repository, where anyone could commit one), so only the user can vouch for them: they
 * are listed, and taken in with --yes. Links and malformed files are skipped and named.
 */
async function adopt(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags("queue adopt", args, {
    yes: { type: "boolean", short: "y" },
  }, true);
  if (positionals.length !== 1) {
    throw new UsageError("queue adopt: name one old spool directory (e.g. .claude/queue)");
  }
  const from = positionals[0];
  const config = loadConfig();
  const found: { state: "pending" | "failed"; record: SpoolRecord }[] = [];
  let skipped = 0;
  for (const state of ["pending", "failed"] as const) {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(join(from, state))];
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) continue;
      throw error;
    }
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (!entry.name.endsWith(".json")) continue;
      const record = await readOldRecord(join(from, state, entry.name));
      if (record === undefined) {
        console.error(`queue adopt: skipped ${join(from, state, entry.name)} (not a spool record)`);
        skipped++;
        continue;
      }
      found.push({ state, record });
    }
  }
  if (!values.yes) {
    for (const { state, record } of found) {
      const { envelope } = record;
      console.log(`${state}  ${envelope.requestId}  ${envelope.event}  ${envelope.sessionId}`);
    }
    console.log(
      `${found.length} record${found.length === 1 ? "" : "s"} to adopt into ${config.queueDir}` +
        (found.length > 0 ? "; run again with --yes to take them in" : ""),
    );
    return 0;
  }
  const spool = await spoolFor(config);
  let adopted = 0;
  for (const { state, record } of found) if (await spool.adopt(record, state)) adopted++;
  console.log(
    `adopted ${adopted} of ${found.length} into ${config.queueDir}` +
      (skipped > 0 ? ` (${skipped} skipped)` : "") + `; ${from} is left as it was`,
  );
  return skipped > 0 ? 1 : 0;
}

async function readOldRecord(path: string): Promise<SpoolRecord | undefined> {
  try {
    if (!(await Deno.lstat(path)).isFile) return undefined;
    const parsed = SpoolRecord.safeParse(JSON.parse(await Deno.readTextFile(path)));
    if (!parsed.success) return undefined;
    return path.endsWith(`${parsed.data.envelope.requestId}.json`) ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
