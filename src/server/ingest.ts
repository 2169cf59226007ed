// The ingest pipeline: audit row → (dedupe → process → SUCCESS, in one transaction) → answer.
// An HTTP 200 is only ever sent after that transaction committed.
import type { Envelope, IngestAnswer, IngestStage, WebhookStatus } from "../schema.ts";
import { log } from "../log.ts";
import type { RequestMeta, ServerDeps } from "./deps.ts";
import type { AuditDetail } from "../events.ts";
import { type AuditFields, type AuditFinal, finishAuditRow, insertAuditRows } from "./audit.ts";
import { classifyFailure, errorMessage, RETRY_AFTER_SECONDS, sqlState } from "./errors.ts";
import { headerAuditFields, prepare, type Prepared, type Problem } from "./prepare.ts";
import { processEnvelope, type Tx } from "./process.ts";

const logger = log("server", "ingest");

export interface IngestResult {
  httpStatus: number;
  answer: IngestAnswer;
  /** Seconds the client should wait (503). */
  retryAfter?: number;
}

/** Transactions that lost a deadlock or serialization race are simply run again. */
const TX_ATTEMPTS = 4;

export async function inTransaction<T>(deps: ServerDeps, fn: (tx: Tx) => Promise<T>): Promise<T> {
  for (let attempt = 1;; attempt++) {
    try {
      return await deps.sql.begin(fn) as T;
    } catch (error) {
      const state = sqlState(error);
      if (attempt < TX_ATTEMPTS && (state === "40P01" || state === "40001" || state === "23505")) {
        continue;
      }
      throw error;
    }
  }
}

function lockKey(requestId: string) {
  return requestId;
}

interface Succeeded {
  id: string;
  body_sha256: string | null;
  response: IngestAnswer | null;
}

function elapsed(meta: RequestMeta): number {
  return Math.round((performance.now() - meta.startedAt) * 1000) / 1000;
}

/** Runs after every final status: metrics, the "audit" event, a log line for failures. */
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

function answerFor(
  status: IngestAnswer["status"],
  fields: AuditFields,
  eventId: string | null,
  extra: Partial<IngestAnswer> = {},
): IngestAnswer {
  return {
    status,
    ...(fields.requestId ? { requestId: fields.requestId } : {}),
    ...(fields.traceId ? { traceId: fields.traceId } : {}),
    ...(eventId !== null ? { eventId: Number(eventId) } : {}),
    ...extra,
  };
}

/** A failure the database caused, as the answer and audit final it implies. */
function failureFinal(
  error: unknown,
  fields: AuditFields,
  id: string | null,
  stage: IngestStage,
  timings: Record<string, number>,
  meta: RequestMeta,
): AuditFinal & { retryAfter?: number } {
  const kind = classifyFailure(error);
  const message = errorMessage(error).slice(0, 500);
  if (kind === "bad_data") {
    return {
      status: "INVALID",
      stage,
      httpStatus: 400,
      errorCode: `DB_${sqlState(error)}`,
      errorMessage: message,
      answer: answerFor("INVALID", fields, id, {
        code: `DB_${sqlState(error)}`,
        message: `the database rejected a value: ${message}`,
      }),
      stageTimings: timings,
      processingMs: elapsed(meta),
    };
  }
  const unavailable = kind === "unavailable";
  return {
    status: "ERROR",
    stage,
    httpStatus: unavailable ? 503 : 500,
    errorCode: unavailable ? "DB_UNAVAILABLE" : "INTERNAL",
    errorMessage: message,
    answer: answerFor("ERROR", fields, id, {
      code: unavailable ? "DB_UNAVAILABLE" : "INTERNAL",
      message: unavailable
        ? "the database is unavailable; keep the event and retry"
        : "internal error; keep the event and retry",
    }),
    stageTimings: timings,
    processingMs: elapsed(meta),
    retryAfter: unavailable ? RETRY_AFTER_SECONDS : undefined,
  };
}

function problemFinal(
  problem: Problem,
  fields: AuditFields,
  id: string | null,
  stage: IngestStage,
  timings: Record<string, number>,
  meta: RequestMeta,
  status: WebhookStatus = "INVALID",
): AuditFinal {
  return {
    status,
    stage,
    httpStatus: problem.httpStatus,
    errorCode: problem.code,
    errorMessage: problem.message,
    answer: answerFor(status as IngestAnswer["status"], fields, id, {
      code: problem.code,
      message: problem.message,
      ...(problem.issues ? { issues: problem.issues } : {}),
    }),
    stageTimings: timings,
    processingMs: elapsed(meta),
  };
}

/**
 * Records a request rejected before its body became an envelope (401, 413, 415, bad JSON):
 * one final audit row, written in one statement. Returns what to answer.
 */
export async function recordRejected(
  deps: ServerDeps,
  meta: RequestMeta,
  problem: Problem,
  status: "INVALID" | "UNAUTHORIZED",
  stage: IngestStage,
): Promise<IngestResult> {
  const fields = headerAuditFields(meta);
  const final = problemFinal(problem, fields, null, stage, {}, meta, status);
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

/** Dedupe and process one valid envelope inside tx; returns its final status. */
async function dedupeAndProcess(
  tx: Tx,
  id: string,
  prepared: Prepared,
  envelope: Envelope,
  meta: RequestMeta,
  timings: Record<string, number>,
  known: Map<string, Succeeded>,
): Promise<AuditFinal> {
  const fields = prepared.fields;
  let mark = performance.now();
  let earlier = known.get(envelope.requestId);
  if (!earlier) {
    await tx`SELECT pg_advisory_xact_lock(hashtextextended(${lockKey(envelope.requestId)}, 0))`;
    [earlier] = await tx<Succeeded[]>`
      SELECT id, body_sha256, response FROM webhook_events
      WHERE request_id = ${envelope.requestId} AND status = 'SUCCESS' LIMIT 1`;
  }
  timings.dedupe = performance.now() - mark;
  if (earlier) {
    const same = earlier.body_sha256 === fields.bodySha256;
    const final: AuditFinal = same
      ? {
        status: "DUPLICATE",
        stage: "dedupe",
        httpStatus: 200,
        answer: {
          ...(earlier.response ?? {}),
          ...answerFor("DUPLICATE", fields, id, {
            message: "already processed; nothing new was written",
          }),
          originalEventId: Number(earlier.id),
        } as IngestAnswer,
        stageTimings: timings,
        processingMs: elapsed(meta),
      }
      : problemFinal(
        {
          httpStatus: 409,
          code: "REQUEST_ID_REUSED",
          message: `requestId ${envelope.requestId} was already processed with a different body`,
        },
        fields,
        id,
        "dedupe",
        timings,
        meta,
        "CONFLICT",
      );
    await finishAuditRow(tx, id, final);
    return final;
  }
  mark = performance.now();
  const conversationId = await processEnvelope(tx, envelope);
  timings.process = performance.now() - mark;
  const final: AuditFinal = {
    status: "SUCCESS",
    stage: "respond",
    httpStatus: 200,
    answer: answerFor("SUCCESS", fields, id),
    conversationId,
    stageTimings: timings,
    processingMs: elapsed(meta),
  };
  await finishAuditRow(tx, id, final);
  known.set(envelope.requestId, {
    id,
    body_sha256: fields.bodySha256,
    response: final.answer,
  });
  return final;
}

async function conflictsWithSuccess(deps: ServerDeps, requestId: string | null): Promise<boolean> {
  if (!requestId) return false;
  const rows = await deps.sql`
    SELECT 1 FROM webhook_events WHERE request_id = ${requestId} AND status = 'SUCCESS' LIMIT 1`;
  return rows.length > 0;
}

function finish(final: AuditFinal & { retryAfter?: number }): IngestResult {
  return { httpStatus: final.httpStatus, answer: final.answer, retryAfter: final.retryAfter };
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
  const timings: Record<string, number> = {};
  let mark = performance.now();
  const prepared = prepare(rawBody, meta, deps.config.redactPatterns);
  timings.validate = performance.now() - mark;
  const { fields } = prepared;
  const ctx = { requestId: fields.requestId, traceId: fields.traceId, event: fields.event };

  // Not even the audit row could be written: answer 5xx so the client keeps the event.
  const auditFailed = (error: unknown) => {
    deps.metrics.recordDbError();
    const failed = failureFinal(error, fields, null, "audit", timings, meta);
    announce(deps, null, fields, failed);
    logger.warn("audit write failed for {requestId}: {error}", {
      ...ctx,
      error: errorMessage(error),
    });
    return finish(failed);
  };

  if (prepared.problem || !prepared.envelope) {
    const problem = prepared.problem!;
    let final: AuditFinal;
    try {
      final = await conflictsWithSuccess(deps, fields.requestId)
        ? problemFinal(
          {
            httpStatus: 409,
            code: "REQUEST_ID_REUSED",
            message: `requestId ${fields.requestId} was already processed with a different body`,
          },
          fields,
          null,
          "dedupe",
          timings,
          meta,
          "CONFLICT",
        )
        : problemFinal(problem, fields, null, "validate", timings, meta);
      const [id] = await insertAuditRows(deps.sql, [{ fields, meta, final }]);
      final.answer.eventId = Number(id);
      // The stored answer lacks the id (unknown before the insert); the row id is the link.
      announce(deps, id, fields, final);
      logger.info("rejected {requestId}: {code}", { ...ctx, code: final.errorCode });
      return finish(final);
    } catch (error) {
      return auditFailed(error);
    }
  }

  const envelope = prepared.envelope;
  let id: string;
  mark = performance.now();
  try {
    [id] = await insertAuditRows(deps.sql, [{ fields, meta }]);
  } catch (error) {
    return auditFailed(error);
  }
  timings.audit = performance.now() - mark;

  try {
    const final = await inTransaction(
      deps,
      (tx) => dedupeAndProcess(tx, id, prepared, envelope, meta, { ...timings }, new Map()),
    );
    announce(deps, id, fields, final);
    return finish(final);
  } catch (error) {
    deps.metrics.recordDbError();
    const failed = failureFinal(error, fields, id, "process", timings, meta);
    logger.warn("processing {requestId} failed: {error}", {
      ...ctx,
      error: errorMessage(error),
      sqlState: sqlState(error),
    });
    try {
      await finishAuditRow(deps.sql, id, failed);
    } catch { /* the database is gone; the start-up sweep will close this row */ }
    announce(deps, id, fields, failed);
    return finish(failed);
  }
}
