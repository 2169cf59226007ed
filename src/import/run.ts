// The import loop: every transcript under the paths, read from where the last run stopped, in
// byte ranges the hook would also send, batched to the server's batch endpoint; the state file
// moves on only for ranges the server committed. Bad lines are counted, never fatal.
import { type DeliveryOutcome, sendBatch, type Target } from "../client.ts";
import { type Envelope, lenientTranscriptLine, type TranscriptLine } from "../schema.ts";
import { MAX_TRANSCRIPT_BYTES, readTranscriptChunk } from "../hook/transcript.ts";
import { importEnvelope, type ImportSource } from "./envelope.ts";
import { scanTranscripts, type TranscriptFile } from "./scan.ts";
import { type ImportState, readState, writeState } from "./state.ts";
import type { Redactor } from "../redact.ts";

export interface ImportOptions {
  paths: string[];
  /** The transcripts under `paths`, when the caller has scanned them already. */
  files?: TranscriptFile[];
  statePath: string;
  target: Target;
  source: ImportSource;
  /** Applied to every line before it leaves the machine, as the hook does. */
  redactor: Redactor;
  /** Aborted on Ctrl-C: the batch in flight finishes, the state is saved, the run stops. */
  signal?: AbortSignal;
  /** Bytes of transcript per request (the server's body limit must allow it). */
  batchBytes?: number;
  batchMax?: number;
  timeoutMs?: number;
  /** Retries of a batch the server could not take now (5xx, 429, network) before giving up. */
  retries?: number;
  onProgress?: (progress: ImportProgress) => void;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export interface BadLine {
  path: string;
  /** 1-based line number in the file (counted from where this run started reading it). */
  line: number;
  head: string;
}

export interface ImportProgress {
  files: number;
  filesDone: number;
  bytesTotal: number;
  bytesDone: number;
  lines: number;
  startedAt: number;
}

export interface ImportReport extends ImportProgress {
  sessions: number;
  agents: number;
  envelopes: number;
  /** Ranges the server stored now / had stored before (DUPLICATE) / refused (CONFLICT). */
  stored: number;
  alreadyThere: number;
  conflicts: number;
  /** Ranges the server rejected as invalid (answered 4xx): reported, skipped. */
  rejected: { path: string; from: number; message: string }[];
  badLines: number;
  badLineSamples: BadLine[];
  /** Files whose last line is incomplete (no newline yet): left for the next run. */
  tornFiles: string[];
  interrupted: boolean;
  /** Set when the server kept refusing: the state holds what was committed. */
  failure?: string;
  elapsedMs: number;
}

const DEFAULT_BATCH_BYTES = 16 * 1024 * 1024;
/** Answers about one item (invalid, conflicting): the others of the batch were still judged. */
// Answers about one envelope. A batch too large as a whole is split by sendBatch, so a 413 that
// comes back belongs to an envelope too large by itself: it is reported, the rest goes on.
const PER_ITEM = new Set([400, 409, 413]);
const BAD_LINE_SAMPLES = 10;

interface Pending {
  file: TranscriptFile;
  envelope: Envelope;
  to: number;
  bytes: number;
}

export async function runImport(options: ImportOptions): Promise<ImportReport> {
  const now = options.now ?? (() => performance.now());
  const sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  const batchBytes = options.batchBytes ?? DEFAULT_BATCH_BYTES;
  const batchMax = options.batchMax ?? 100;
  const retries = options.retries ?? 5;
  const state: ImportState = await readState(options.statePath);
  const files = options.files ?? await scanTranscripts(options.paths);
  const startOf = (file: TranscriptFile) => {
    const known = state.files[file.path];
    return known && known.offset <= file.size ? known.offset : 0;
  };
  const report: ImportReport = {
    files: files.length,
    filesDone: 0,
    bytesTotal: files.reduce((sum, f) => sum + f.size - startOf(f), 0),
    bytesDone: 0,
    lines: 0,
    startedAt: now(),
    sessions: new Set(files.map((f) => f.sessionId)).size,
    agents: files.filter((f) => f.agent).length,
    envelopes: 0,
    stored: 0,
    alreadyThere: 0,
    conflicts: 0,
    rejected: [],
    badLines: 0,
    badLineSamples: [],
    tornFiles: [],
    interrupted: false,
    elapsedMs: 0,
  };
  let pending: Pending[] = [];
  let pendingBytes = 0;

  const flush = async (): Promise<boolean> => {
    if (pending.length === 0) return true;
    const batch = pending;
    pending = [];
    pendingBytes = 0;
    let outcomes: DeliveryOutcome[] = [];
    for (let attempt = 0;; attempt++) {
      outcomes = await sendBatch(options.target, batch.map((p) => p.envelope), {
        timeoutMs: options.timeoutMs ?? 120_000,
      });
      // Refused as a whole (a wrong key): nothing was judged,
      // so nothing may be marked done.
      const refused = outcomes.find((o) => o.kind === "permanent" && !PER_ITEM.has(o.httpStatus));
      if (refused && refused.kind === "permanent") {
        report.failure = refused.error;
        return false;
      }
      const again = outcomes.filter((o) => o.kind === "retryable");
      if (again.length === 0) break;
      if (attempt >= retries) {
        report.failure = again[0].kind === "retryable" ? again[0].error : "retries exhausted";
        return false;
      }
      await sleep(Math.min(30_000, 500 * 2 ** attempt));
    }
    batch.forEach((item, i) => {
      const outcome = outcomes[i];
      if (outcome.kind === "delivered") {
        if (outcome.answer.status === "DUPLICATE") report.alreadyThere++;
        else report.stored++;
      } else if (outcome.kind === "permanent" && outcome.httpStatus === 409) {
        report.conflicts++;
      } else if (outcome.kind === "permanent") {
        report.rejected.push({
          path: item.file.path,
          from: item.envelope.transcriptRange!.from,
          message: outcome.error,
        });
      }
      // Each range in file order: the offset only ever moves to the end of a settled range.
      state.files[item.file.path] = { offset: item.to, ino: null };
      report.bytesDone += item.bytes;
    });
    await writeState(options.statePath, state);
    options.onProgress?.({ ...report });
    return true;
  };

  try {
    for (const file of files) {
      if (options.signal?.aborted) break;
      let offset = startOf(file);
      let lineNumber = 0;
      while (!options.signal?.aborted) {
        const chunk = await readTranscriptChunk(file.path, offset, null, MAX_TRANSCRIPT_BYTES);
        if (!chunk || chunk.to === chunk.from) {
          if (chunk && chunk.to < file.size) report.tornFiles.push(file.path);
          break;
        }
        const lines: TranscriptLine[] = [];
        // The hook's reader leaves the schema check to whoever can load zod: here, that is us.
        for (const line of chunk.lines.map(lenientTranscriptLine)) {
          lineNumber++;
          if (line.type === "arrakis.unparsed") {
            report.badLines++;
            if (report.badLineSamples.length < BAD_LINE_SAMPLES) {
              report.badLineSamples.push({
                path: file.path,
                line: lineNumber,
                head: String(line.raw ?? "").slice(0, 80),
              });
            }
            continue;
          }
          lines.push(options.redactor.value(line) as TranscriptLine);
        }
        report.lines += lines.length;
        const bytes = chunk.to - chunk.from;
        pending.push({
          file,
          envelope: importEnvelope(file, chunk, lines, options.source),
          to: chunk.to,
          bytes,
        });
        report.envelopes++;
        pendingBytes += bytes;
        offset = chunk.to;
        if (pendingBytes >= batchBytes || pending.length >= batchMax) {
          if (!(await flush())) return finish();
        }
      }
      report.filesDone++;
    }
    if (!(await flush())) return finish();
  } finally {
    report.interrupted = options.signal?.aborted ?? false;
  }
  return finish();

  function finish(): ImportReport {
    report.interrupted = options.signal?.aborted ?? false;
    report.elapsedMs = now() - report.startedAt;
    return report;
  }
}
