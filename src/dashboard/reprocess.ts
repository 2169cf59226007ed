// Reprocessing a failed audit row: its stored envelope goes through the server's ingest
// pipeline again. A requestId that already succeeded is refused here, before ingest, so the
// person sees "refused" rather than a DUPLICATE that looks like work was done.
import type { Context } from "hono";
import type { DashboardDeps } from "./deps.ts";
import { getEvent, hasSucceeded } from "../read/events.ts";
import { FAILED_STATUSES } from "../schema.ts";
import { errorMessage } from "../error_message.ts";

export interface ReprocessOutcome {
  id: string;
  requestId: string | null;
  ok: boolean;
  /** The new answer's status, or REFUSED / NOT_FOUND when nothing was sent. */
  status: string;
  httpStatus?: number;
  message: string;
  /** The audit row ingest wrote for this attempt, when it says. */
  eventId?: number;
}

export async function reprocessOne(
  deps: DashboardDeps,
  c: Context,
  id: string,
): Promise<ReprocessOutcome> {
  const row = await getEvent(deps.sql, id);
  if (!row) {
    return { id, requestId: null, ok: false, status: "NOT_FOUND", message: "no such event" };
  }
  const base = { id, requestId: row.request_id };
  if (!FAILED_STATUSES.includes(row.status)) {
    return {
      ...base,
      ok: false,
      status: "REFUSED",
      message: `status ${row.status} is not a failure`,
    };
  }
  if (row.payload === null || row.payload === undefined) {
    return { ...base, ok: false, status: "REFUSED", message: "the payload was not stored" };
  }
  if (row.request_id && await hasSucceeded(deps.sql, row.request_id)) {
    return { ...base, ok: false, status: "REFUSED", message: "this requestId already succeeded" };
  }
  try {
    const { httpStatus, answer } = await deps.reprocess(c, row.payload);
    return {
      ...base,
      ok: answer.status === "SUCCESS",
      status: answer.status,
      httpStatus,
      message: answer.message ?? (answer.status === "SUCCESS" ? "stored" : answer.code ?? ""),
      eventId: answer.eventId,
    };
  } catch (error) {
    return {
      ...base,
      ok: false,
      status: "ERROR",
      message: errorMessage(error),
    };
  }
}

/** Reprocesses in the order given, one at a time (each is a full ingest). */
export async function reprocessMany(
  deps: DashboardDeps,
  c: Context,
  ids: string[],
): Promise<ReprocessOutcome[]> {
  const outcomes: ReprocessOutcome[] = [];
  for (const id of [...new Set(ids)].slice(0, 500)) outcomes.push(await reprocessOne(deps, c, id));
  return outcomes;
}
