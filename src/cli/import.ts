// `arrakis import [PATH...]`: sends the transcripts already on disk (default ~/.claude/projects)
// through the server's batch endpoint, resumably, with progress on a terminal and one summary
// line otherwise.
import { hostname, userInfo } from "node:os";
import { join } from "node:path";
import { parseFlags, UsageError } from "./args.ts";
import { loadConfig, resolveClientCredentials } from "../config.ts";
import { type ImportProgress, type ImportReport, runImport } from "../import/run.ts";
import { scanTranscripts } from "../import/scan.ts";
import { createRedactor } from "../redact.ts";
import { cleanupPeriodDays, expiringSoon, WARN_WITHIN_DAYS } from "../import/retention.ts";

export const usage = `Usage: arrakis import [PATH...] [--state <file>] [--batch-mb <n>]

Imports Claude Code's transcripts (every session and subagent JSONL under PATH, default
~/.claude/projects) into the arrakis server (ARRAKIS_URL, else the client config), through the
batch endpoint, so the server keeps the same rows and audit trail live capture would.
Importing twice, or importing sessions also captured live, adds nothing. Ctrl-C stops after
the batch in flight; running it again resumes where it stopped.

  --state <file>   where progress is kept (default: $ARRAKIS_HOME/import-state.json)
  --batch-mb <n>   transcript megabytes per request (default 16; the server's
                   ARRAKIS_MAX_BODY_BYTES must allow it)`;

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags("import", args, {
    state: { type: "string" },
    "batch-mb": { type: "string" },
  }, true);
  const batchMb = values["batch-mb"] === undefined ? 16 : Number(values["batch-mb"]);
  if (!Number.isFinite(batchMb) || batchMb <= 0 || batchMb > 1024) {
    throw new UsageError("import: --batch-mb must be a number of megabytes between 0 and 1024");
  }
  const env = Deno.env.toObject();
  const config = loadConfig(env);
  const paths = positionals.length > 0
    ? positionals
    : [join(env.HOME ?? ".", ".claude", "projects")];
  const target = await resolveClientCredentials(config);
  const statePath = values.state ?? join(config.home, "import-state.json");

  const days = await cleanupPeriodDays(env.HOME);
  const files = await scanTranscripts(paths);
  const expiring = expiringSoon(files, days);
  if (expiring.length > 0) {
    console.error(
      `arrakis import: Claude Code will delete ${expiring.length} of these transcripts within ` +
        `${WARN_WITHIN_DAYS} days (cleanupPeriodDays = ${days}); once imported, arrakis keeps them`,
    );
  }

  const stop = new AbortController();
  const onSignal = () => stop.abort();
  Deno.addSignalListener("SIGINT", onSignal);
  const tty = Deno.stderr.isTerminal();
  let report: ImportReport;
  try {
    report = await runImport({
      paths,
      files,
      statePath,
      target,
      source: { host: hostname(), user: safeUser() },
      redactor: createRedactor(config.redactPatterns),
      signal: stop.signal,
      batchBytes: batchMb * 1024 * 1024,
      onProgress: tty
        ? (p) => Deno.stderr.writeSync(encode(`\r${progressLine(p)}\x1b[K`))
        : undefined,
    });
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
  }
  if (tty) Deno.stderr.writeSync(encode("\r\x1b[K"));
  console.log(summaryLine(report));
  for (const bad of report.badLineSamples) {
    console.error(`  bad line: ${bad.path}:${bad.line}: ${JSON.stringify(bad.head)}`);
  }
  for (const rejected of report.rejected.slice(0, 10)) {
    console.error(`  rejected: ${rejected.path} at byte ${rejected.from}: ${rejected.message}`);
  }
  if (report.failure) {
    console.error(
      `arrakis import: the server did not take the events (${report.failure}); ` +
        `progress is saved in ${statePath}: run it again to resume`,
    );
    return 1;
  }
  if (report.interrupted) {
    console.error(
      `arrakis import: interrupted; progress is saved in ${statePath}: ` +
        `run it again to resume`,
    );
    return 130;
  }
  return 0;
}

const encode = (text: string) => new TextEncoder().encode(text);

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return "unknown";
  }
}

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.round(seconds);
  return s >= 3600
    ? `${Math.floor(s / 3600)}h${String(Math.floor(s % 3600 / 60)).padStart(2, "0")}m`
    : s >= 60
    ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`
    : `${s}s`;
}

/** One terminal line: files, lines, rate and the time left at the current byte rate. */
export function progressLine(p: ImportProgress, now = performance.now()): string {
  const seconds = (now - p.startedAt) / 1000;
  const lineRate = seconds > 0 ? p.lines / seconds : 0;
  const byteRate = seconds > 0 ? p.bytesDone / seconds : 0;
  const eta = byteRate > 0 ? (p.bytesTotal - p.bytesDone) / byteRate : Infinity;
  const percent = p.bytesTotal > 0 ? Math.floor(100 * p.bytesDone / p.bytesTotal) : 100;
  return `importing: ${p.filesDone}/${p.files} files, ${p.lines.toLocaleString("en")} lines, ` +
    `${Math.round(lineRate).toLocaleString("en")} lines/s, ${percent}%, ETA ${duration(eta)}`;
}

export function summaryLine(r: ImportReport): string {
  return `arrakis import: ${r.files} files (${r.sessions} sessions, ${r.agents} subagents), ` +
    `${r.lines} lines in ${(r.elapsedMs / 1000).toFixed(1)} s ` +
    `(${Math.round(r.lines / Math.max(r.elapsedMs / 1000, 0.001))} lines/s); ` +
    `${r.stored} ranges stored, ${r.alreadyThere} already there, ${r.conflicts} conflicts, ` +
    `${r.rejected.length} rejected; ${r.badLines} bad lines, ` +
    `${r.tornFiles.length} torn last lines`;
}
