// The one ingest path: each envelope is prepared (CPU only), then joins the next group commit;
// a single POST is a batch of one. An HTTP 200 is only ever sent after its group committed.
import type { BatchItemAnswer, IngestAnswer, IngestStage } from "../schema.ts";
import { uuidv7 } from "../ids.ts";
import { log } from "../log.ts";
import type { RequestMeta, ServerDeps } from "./deps.ts";
import type { AuditDetail } from "../events.ts";
import { type AuditFields, type AuditFinal, elapsedMs, insertAuditRows } from "./audit.ts";
import { sqlState } from "./errors.ts";
import { headerAuditFields, prepare, type Problem } from "./prepare.ts";
import { type Committer, createCommitter, type Settled } from "./group.ts";
import { problemFinal, withEventId } from "./outcome.ts";
import { errorMessage } from "../error_message.ts";

const logger = log("server", "ingest");

export interface IngestResult {
  httpStatus: number;
  answer: IngestAnswer;
  /** Seconds the client should wait (503). */
  retryAfter?: number;
}

export interface BatchResult {
  httpStatus: number;
  results: BatchItemAnswer[];
  retryAfter?: number;
}

/** Runs after every final status: metrics, the "audit" event. */
export function announce(
  deps: ServerDeps,
  id: string | null,
  fields: AuditFields,
  final: Pick<AuditFinal, "status" | "httpStatus" | "processingMs" | "errorCode">,
): void {
  deps.metrics.recordIngest(fields.event, final.status, final.processingMs / 1000);
  if (id === null) return;
  const detail: AuditDetail = {
    id: Number(id),
    requestId: fields.requestId,
    traceId: fields.traceId,
    event: fields.event,
    sessionId: fields.sessionId,
    status: final.status,
    httpStatus: final.httpStatus,
    processingMs: final.processingMs,
  };
  deps.events.emit("audit", detail);
}

/**
 * Records a request rejected before its body became an envelope (401, 413, 415, bad JSON, a
 * client gone mid-body): one final audit row, written in one statement. Returns what to answer.
 */
export async function recordRejected(
  deps: ServerDeps,
  meta: RequestMeta,
  problem: Problem,
  status: "INVALID" | "UNAUTHORIZED" | "ABORTED",
  stage: IngestStage,
): Promise<IngestResult> {
  const fields = headerAuditFields(meta);
  const final = problemFinal(
    problem,
    fields,
    stage,
    { timings: {}, processingMs: elapsedMs(meta) },
    status,
  );
  let id: string | null = null;
  try {
    [id] = await insertAuditRows(deps.sql, [{ fields, meta, final }]);
  } catch (error) {
    deps.metrics.recordDbError();
    logger.warn("could not write the audit row of a rejected request: {error}", {
      error: errorMessage(error),
    });
  }
  announce(deps, id, fields, final);
  return { httpStatus: final.httpStatus, answer: final.answer };
}

// One committer per server: its groups are what share a transaction.
/**
 * Session lanes on PostgreSQL: a backlog commits as one group per lane at once, over disjoint
 * sessions (bench/ingest.ts). Two groups in flight over the same sessions measured worse three
 * ways (docs/DESIGN.md): they queued on each other's row locks.
 */
const LANES = 2;
const committers = new WeakMap<ServerDeps, Committer>();

function committerFor(deps: ServerDeps): Committer {
  let committer = committers.get(deps);
  if (!committer) {
    committer = createCommitter(deps.sql, {
      // The embedded store has one connection: never more than one group.
      lanes: deps.store.kind === "pglite" ? 1 : LANES,
      onGroup: (stats) => deps.metrics.recordGroup(stats.size, stats.roundTrips),
      onFailure(error, size) {
        deps.metrics.recordDbError();
        logger.warn("a group of {size} failed: {error}", {
          size,
          error: errorMessage(error),
          sqlState: sqlState(error),
        });
      },
    });
    committers.set(deps, committer);
  }
  return committer;
}

/** Prepares every item, submits them all to the group commit, and waits for their answers. */
async function ingestItems(
  deps: ServerDeps,
  items: { raw: unknown; meta: RequestMeta }[],
): Promise<Settled[]> {
  const committer = committerFor(deps);
  const prepared = items.map(({ raw, meta }) => {
    const mark = performance.now();
    return { prepared: prepare(raw, meta, deps.config.redactPatterns), meta, mark };
  });
  const settled = await committer.submit(
    prepared.map(({ prepared, meta, mark }) => ({
      prepared,
      meta,
      timings: { validate: performance.now() - mark },
      submittedAt: performance.now(),
    })),
  );
  prepared.forEach(({ prepared }, i) =>
    announce(deps, settled[i].id, prepared.fields, settled[i].final)
  );
  return settled;
}

/**
 * The full pipeline for one envelope (already parsed JSON). Also what the dashboard's
 * "reprocess" calls with a stored payload and a fresh meta.
 */
export async function ingestEnvelope(
  deps: ServerDeps,
  rawBody: unknown,
  meta: RequestMeta,
): Promise<IngestResult> {
  const [{ final, id }] = await ingestItems(deps, [{ raw: rawBody, meta }]);
  return {
    httpStatus: final.httpStatus,
    answer: withEventId(final, id),
    retryAfter: final.retryAfter,
  };
}

/**
 * A batch: every item gets its own audit row and answer. The batch answers 200 unless the
 * database was unavailable for all of it (503, so a client retries the whole request).
 */
export async function ingestBatch(
  deps: ServerDeps,
  items: unknown[],
  requestMeta: RequestMeta,
): Promise<BatchResult> {
  const meta: RequestMeta = { ...requestMeta, batchId: uuidv7() };
  const settled = await ingestItems(
    deps,
    items.map((raw) => {
      const requestId = (raw as { requestId?: unknown } | null)?.requestId;
      // The batch's X-Request-Id / traceparent belong to the batch, not to its items.
      return {
        raw,
        meta: {
          ...meta,
          headerRequestId: typeof requestId === "string" ? requestId : null,
          traceId: null,
          spanId: null,
        },
      };
    }),
  );
  const results = settled.map(({ final, id }) => ({
    ...withEventId(final, id),
    httpStatus: final.httpStatus,
  }));
  const unavailable = settled.every(({ final }) => final.httpStatus === 503);
  return {
    httpStatus: unavailable ? 503 : 200,
    results,
    retryAfter: unavailable ? settled[0].final.retryAfter : undefined,
  };
}
