// What each ingest request ends as, decided by pure functions that the single and batch
// endpoints both use, so that their answers cannot drift.
import type { IngestAnswer, IngestStage, WebhookStatus } from "../schema.ts";
import type { AuditFields, AuditFinal, Succeeded } from "./audit.ts";
import type { FailureKind } from "./errors.ts";
import type { Problem } from "./prepare.ts";
import { RETRY_AFTER_SECONDS } from "./errors.ts";

/** The committed SUCCESS of a requestId (see findSucceeded). */
export type Earlier = Succeeded;

/** Stage timings and the elapsed time so far, both in milliseconds. */
export interface Clock {
  timings: Record<string, number>;
  processingMs: number;
}

export function answerFor(
  status: IngestAnswer["status"],
  fields: AuditFields,
  extra: Partial<IngestAnswer> = {},
): IngestAnswer {
  return {
    status,
    ...(fields.requestId ? { requestId: fields.requestId } : {}),
    ...(fields.traceId ? { traceId: fields.traceId } : {}),
    ...extra,
  };
}

/** A request refused for what it is (4xx): its problem becomes its answer. */
export function problemFinal(
  problem: Problem,
  fields: AuditFields,
  stage: IngestStage,
  clock: Clock,
  status: WebhookStatus = "INVALID",
): AuditFinal {
  return {
    status,
    stage,
    httpStatus: problem.httpStatus,
    errorCode: problem.code,
    errorMessage: problem.message,
    answer: answerFor(status as IngestAnswer["status"], fields, {
      code: problem.code,
      message: problem.message,
      ...(problem.issues ? { issues: problem.issues } : {}),
    }),
    stageTimings: clock.timings,
    processingMs: clock.processingMs,
  };
}

export function conflictFinal(fields: AuditFields, clock: Clock): AuditFinal {
  return problemFinal(
    {
      httpStatus: 409,
      code: "REQUEST_ID_REUSED",
      message: `requestId ${fields.requestId} was already processed with a different body`,
    },
    fields,
    "dedupe",
    clock,
    "CONFLICT",
  );
}

export function duplicateFinal(fields: AuditFields, earlier: Earlier, clock: Clock): AuditFinal {
  return {
    status: "DUPLICATE",
    stage: "dedupe",
    httpStatus: 200,
    answer: {
      ...(earlier.response ?? {}),
      ...answerFor("DUPLICATE", fields, { message: "already processed; nothing new was written" }),
      originalEventId: Number(earlier.id),
    } as IngestAnswer,
    stageTimings: clock.timings,
    processingMs: clock.processingMs,
  };
}

export function successFinal(fields: AuditFields, clock: Clock): AuditFinal {
  return {
    status: "SUCCESS",
    stage: "respond",
    httpStatus: 200,
    answer: answerFor("SUCCESS", fields),
    stageTimings: clock.timings,
    processingMs: clock.processingMs,
  };
}

/** A failure the database caused: bad data (400) or a fault the client should retry (5xx). */
export function failureFinal(
  kind: FailureKind,
  state: string | undefined,
  message: string,
  fields: AuditFields,
  stage: IngestStage,
  clock: Clock,
): AuditFinal & { retryAfter?: number } {
  const text = message.slice(0, 500);
  if (kind === "bad_data") {
    return problemFinal(
      {
        httpStatus: 400,
        code: `DB_${state}`,
        message: `the database rejected a value: ${text}`,
      },
      fields,
      stage,
      clock,
    );
  }
  const unavailable = kind === "unavailable";
  const code = unavailable ? "DB_UNAVAILABLE" : "INTERNAL";
  return {
    status: "ERROR",
    stage,
    httpStatus: unavailable ? 503 : 500,
    errorCode: code,
    errorMessage: text,
    answer: answerFor("ERROR", fields, {
      code,
      message: unavailable
        ? "the database is unavailable; keep the event and retry"
        : "internal error; keep the event and retry",
    }),
    stageTimings: clock.timings,
    processingMs: clock.processingMs,
    retryAfter: unavailable ? RETRY_AFTER_SECONDS : undefined,
  };
}

/**
 * What one prepared item becomes, given the SUCCESS already committed for its requestId:
 * a final outcome, or "process" when its rows are to be written.
 */
export function decide(
  item: { fields: AuditFields; problem?: Problem; valid: boolean },
  earlier: Earlier | undefined,
  clock: Clock,
): AuditFinal | "process" {
  if (!item.valid) {
    // A known requestId with an unacceptable body is a reuse of the id, not a new bad event.
    return earlier
      ? conflictFinal(item.fields, clock)
      : problemFinal(item.problem!, item.fields, "validate", clock);
  }
  if (!earlier) return "process";
  return earlier.bodySha256 === item.fields.bodySha256
    ? duplicateFinal(item.fields, earlier, clock)
    : conflictFinal(item.fields, clock);
}

/** The answer a client receives: the final answer with the id of its audit row. */
export function withEventId(final: AuditFinal, id: string | null): IngestAnswer {
  return id === null ? final.answer : { ...final.answer, eventId: Number(id) };
}
