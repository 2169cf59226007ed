// The batch endpoint's pipeline: every item gets its own audit row (one multi-row insert) and
// its own answer; valid items are processed in one transaction with a savepoint each, so one
// bad item never takes the others down and a backlog costs few round trips.
import type { BatchItemAnswer } from "../schema.ts";
import { uuidv7 } from "../ids.ts";
import { log } from "../log.ts";
import type { RequestMeta, ServerDeps } from "./deps.ts";
import { type AuditFinal, finishAuditRow, insertAuditRows } from "./audit.ts";
import { classifyFailure, errorMessage, RETRY_AFTER_SECONDS, sqlState } from "./errors.ts";
import { prepare, type Prepared } from "./prepare.ts";
import { jsonValue, processEnvelope } from "./process.ts";
import { announce, inTransaction } from "./ingest.ts";

const logger = log("server", "batch");

export interface BatchResult {
  httpStatus: number;
  results: BatchItemAnswer[];
  retryAfter?: number;
}

interface Succeeded {
  id: string;
  hash: string | null;
  answer: Record<string, unknown>;
}

function base(prepared: Prepared, id: string) {
  const { requestId, traceId } = prepared.fields;
  return {
    ...(requestId ? { requestId } : {}),
    ...(traceId ? { traceId } : {}),
    eventId: Number(id),
  };
}

export async function ingestBatch(
  deps: ServerDeps,
  items: unknown[],
  requestMeta: RequestMeta,
): Promise<BatchResult> {
  const meta: RequestMeta = { ...requestMeta, batchId: uuidv7() };
  const elapsed = () => Math.round((performance.now() - meta.startedAt) * 1000) / 1000;
  const itemMeta = (item: unknown): RequestMeta => {
    const requestId = (item as { requestId?: unknown } | null)?.requestId;
    // The batch's X-Request-Id / traceparent belong to the batch, not to its items.
    return {
      ...meta,
      headerRequestId: typeof requestId === "string" ? requestId : null,
      traceId: null,
      spanId: null,
    };
  };
  const prepared = items.map((item) => prepare(item, itemMeta(item), deps.config.redactPatterns));

  // Invalid items are final at once; their answers are known before any database work.
  const invalidFinal = (p: Prepared): AuditFinal => ({
    status: "INVALID",
    stage: "validate",
    httpStatus: p.problem!.httpStatus,
    errorCode: p.problem!.code,
    errorMessage: p.problem!.message,
    answer: {
      status: "INVALID",
      ...(p.fields.requestId ? { requestId: p.fields.requestId } : {}),
      code: p.problem!.code,
      message: p.problem!.message,
      ...(p.problem!.issues ? { issues: p.problem!.issues } : {}),
    },
    stageTimings: {},
    processingMs: elapsed(),
  });

  let ids: string[];
  try {
    ids = await insertAuditRows(
      deps.sql,
      prepared.map((p, i) => ({
        fields: p.fields,
        meta: itemMeta(items[i]),
        final: p.envelope ? undefined : invalidFinal(p),
      })),
    );
  } catch (error) {
    deps.metrics.recordDbError();
    return wholeFailure(deps, error, prepared, null);
  }

  const results: BatchItemAnswer[] = prepared.map((p, i) =>
    p.envelope
      ? { status: "ERROR", httpStatus: 500, ...base(p, ids[i]) }
      : { ...invalidFinal(p).answer, ...base(p, ids[i]), httpStatus: p.problem!.httpStatus }
  );
  const finals: (AuditFinal | undefined)[] = prepared.map((p) =>
    p.envelope ? undefined : invalidFinal(p)
  );
  const valid = prepared.map((p, i) => ({ p, i })).filter(({ p }) => p.envelope);

  if (valid.length > 0) {
    try {
      await inTransaction(deps, async (tx) => {
        // Every advisory lock in one statement, in one global order: no lock-order deadlocks
        // between concurrent batches.
        const requestIds = [...new Set(valid.map(({ p }) => p.envelope!.requestId))];
        await tx`
          SELECT pg_advisory_xact_lock(k) FROM (
            SELECT DISTINCT hashtextextended(r, 0) AS k FROM unnest(${requestIds}::text[]) AS r
          ) AS keys ORDER BY k`;
        const earlier = await tx<
          {
            id: string;
            request_id: string;
            body_sha256: string | null;
            response: Record<string, unknown> | null;
          }[]
        >`
          SELECT id, request_id, body_sha256, response FROM webhook_events
          WHERE status = 'SUCCESS' AND request_id = ANY(${requestIds}::text[])`;
        const known = new Map<string, Succeeded>(
          earlier.map((row) => [
            row.request_id,
            { id: row.id, hash: row.body_sha256, answer: row.response ?? {} },
          ]),
        );
        for (const { p, i } of valid) {
          const envelope = p.envelope!;
          const id = ids[i];
          const seen = known.get(envelope.requestId);
          let final: AuditFinal;
          if (seen) {
            final = seen.hash === p.fields.bodySha256
              ? {
                status: "DUPLICATE",
                stage: "dedupe",
                httpStatus: 200,
                answer: {
                  ...seen.answer,
                  status: "DUPLICATE",
                  ...base(p, id),
                  message: "already processed; nothing new was written",
                  originalEventId: Number(seen.id),
                } as AuditFinal["answer"],
                stageTimings: {},
                processingMs: elapsed(),
              }
              : {
                status: "CONFLICT",
                stage: "dedupe",
                httpStatus: 409,
                errorCode: "REQUEST_ID_REUSED",
                errorMessage: "requestId already processed with a different body",
                answer: {
                  status: "CONFLICT",
                  ...base(p, id),
                  code: "REQUEST_ID_REUSED",
                  message:
                    `requestId ${envelope.requestId} was already processed with a different body`,
                },
                stageTimings: {},
                processingMs: elapsed(),
              };
            await finishAuditRow(tx, id, final);
          } else {
            const mark = performance.now();
            try {
              final = await tx.savepoint(async (sp) => {
                const conversationId = await processEnvelope(sp, envelope);
                const done: AuditFinal = {
                  status: "SUCCESS",
                  stage: "respond",
                  httpStatus: 200,
                  answer: { status: "SUCCESS", ...base(p, id) },
                  conversationId,
                  stageTimings: { process: performance.now() - mark },
                  processingMs: elapsed(),
                };
                await finishAuditRow(sp, id, done);
                return done;
              }) as AuditFinal;
              known.set(envelope.requestId, {
                id,
                hash: p.fields.bodySha256,
                answer: final.answer,
              });
            } catch (error) {
              // A connection failure ends the whole transaction; anything else ends this item.
              if (classifyFailure(error) === "unavailable") throw error;
              const badData = classifyFailure(error) === "bad_data";
              const code = badData ? `DB_${sqlState(error)}` : "INTERNAL";
              final = {
                status: badData ? "INVALID" : "ERROR",
                stage: "process",
                httpStatus: badData ? 400 : 500,
                errorCode: code,
                errorMessage: errorMessage(error).slice(0, 500),
                answer: {
                  status: badData ? "INVALID" : "ERROR",
                  ...base(p, id),
                  code,
                  message: errorMessage(error).slice(0, 500),
                },
                stageTimings: {},
                processingMs: elapsed(),
              };
              await finishAuditRow(tx, id, final);
            }
          }
          finals[i] = final;
          results[i] = { ...final.answer, httpStatus: final.httpStatus };
        }
      });
    } catch (error) {
      deps.metrics.recordDbError();
      logger.warn("batch transaction failed: {error}", {
        error: errorMessage(error),
        sqlState: sqlState(error),
      });
      return wholeFailure(deps, error, prepared, ids);
    }
  }
  prepared.forEach((p, i) => announce(deps, ids[i], p.fields, finals[i]!));
  return { httpStatus: 200, results };
}

/** The transaction (or the audit insert) failed: every valid item gets the same failure. */
async function wholeFailure(
  deps: ServerDeps,
  error: unknown,
  prepared: Prepared[],
  ids: string[] | null,
): Promise<BatchResult> {
  const unavailable = classifyFailure(error) === "unavailable";
  const httpStatus = unavailable ? 503 : 500;
  const code = unavailable ? "DB_UNAVAILABLE" : "INTERNAL";
  const message = unavailable
    ? "the database is unavailable; keep the events and retry"
    : `internal error: ${errorMessage(error).slice(0, 300)}`;
  if (ids) {
    const pending = ids.filter((_, i) => prepared[i].envelope);
    try {
      await deps.sql`
        UPDATE webhook_events SET status = 'ERROR', stage = 'process', http_status = ${httpStatus},
          error_code = ${code}, error_message = ${errorMessage(error).slice(0, 500)},
          response = ${jsonValue({ status: "ERROR", code, message })}::jsonb,
          completed_at = clock_timestamp()
        WHERE id = ANY(${pending}::bigint[]) AND status = 'RECEIVED'`;
    } catch { /* still down: the start-up sweep closes these rows */ }
  }
  const results: BatchItemAnswer[] = prepared.map((p) => ({
    status: "ERROR",
    httpStatus,
    code,
    message,
    ...(p.fields.requestId ? { requestId: p.fields.requestId } : {}),
  }));
  for (const p of prepared) deps.metrics.recordIngest(p.fields.event, "ERROR", 0);
  return { httpStatus, results, retryAfter: unavailable ? RETRY_AFTER_SECONDS : undefined };
}
