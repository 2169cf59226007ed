// One drain pass, the core both `arrakis queue drain` (one pass) and the resident shipper (a
// pass per wake-up) run: delivers due spool items oldest first, in batches, each with its own
// requestId so a retry after a lost answer is a DUPLICATE on the server, never a second event.
// Correctness comes from the spool's rename claims, not from any lock: two drainers over one
// spool never hold the same file.
import {
  type DeliveryOutcome,
  fetchBatchLimits,
  sendBatch,
  sendEnvelope,
  type Target,
} from "../client.ts";
import type { Envelope } from "../schema.ts";
import type { Breaker } from "./breaker.ts";
import type { Spool, SpoolItem } from "./spool.ts";
import { log } from "../log.ts";

const logger = log("queue");
const deliveredLogger = log("queue", "delivered");

export interface DrainProgress {
  /** Items settled so far (delivered, put back to wait, or dead-lettered). */
  done: number;
  /** Best estimate of the items this run will handle. */
  total: number;
  delivered: number;
  elapsedMs: number;
}

export interface DrainOptions {
  spool: Spool;
  target: Target;
  /**
   * Items per POST /api/claude-hooks/batch, at most (fewer when the server takes fewer: see
   * PROBE_ABOVE); 1 with `oneByOne` means POST /api/claude-hooks.
   */
  batchSize: number;
  /** Bytes of spool files per batch, at most (the server's body limit; fewer if it says so). */
  maxBatchBytes?: number;
  timeoutMs: number;
  /** Send items still in backoff (the manual push). */
  ignoreBackoff?: boolean;
  /** Only these requestIds. */
  ids?: ReadonlySet<string>;
  /** Send each item on its own (the hook's path; the benchmark's reference). */
  oneByOne?: boolean;
  /**
   * Batches sent before the first is answered (default IN_FLIGHT; one by one always sends one
   * at a time).
   */
  inFlight?: number;
  breaker?: Breaker;
  signal?: AbortSignal;
  onProgress?: (progress: DrainProgress) => void;
  /** Called after each claim, before the send (tests use it to kill a drainer mid-batch). */
  onClaimed?: (items: SpoolItem[]) => void | Promise<void>;
  /** Called once a batch is answered, before the spool records it (the same, after the send). */
  onAnswered?: (items: SpoolItem[], outcomes: DeliveryOutcome[]) => void | Promise<void>;
}

/** Why a pass ended before every due item was tried. */
export type DrainStop = "unauthorized" | "unavailable" | "interrupted";

export interface DrainResult {
  /** processing/ files whose lease had passed, returned to pending/ first. */
  recovered: number;
  claimed: number;
  delivered: number;
  /** Delivered items the server had already stored (answered DUPLICATE). */
  duplicates: number;
  /** Put back in pending/ with a backoff. */
  retrying: number;
  /** Moved to failed/ (permanent answer or attempts exhausted). */
  failed: number;
  /** Why the run stopped before the spool was empty of due items, if it did, in words. */
  stoppedEarly: string | null;
  stoppedBy: DrainStop | null;
  /** The server's Retry-After on the batch that stopped the run, if it gave one. */
  retryAfterMs?: number;
  elapsedMs: number;
}

/**
 * Batches in flight at once: the next batch is read from the spool (files, signatures) and
 * sent while the server commits the previous one, whose group it then follows; with one, the
 * server idled while the drainer read files and the drainer idled while the server committed.
 */
export const IN_FLIGHT = 2;

/**
 * A backlog larger than this, drained in larger batches, first asks the server for its limits
 * (GET /health): every arrakis server takes batches of this many, and one configured for fewer
 * or more says so there. Below it no request is added to a pass.
 */
export const PROBE_ABOVE = 100;

/** How the delivered line names each event of its batch. */
interface DeliveredEvent {
  requestId: string;
  traceId: string;
  event: string;
  sessionId: string;
  attempt: number;
  status: string;
}

/** A batch sent and answered, not yet recorded in the spool. */
interface Answered {
  items: SpoolItem[];
  envelopes: Envelope[];
  outcomes: DeliveryOutcome[];
}

/** Drains until no due item is left, the server is unreachable, or the signal aborts. */
export async function drain(options: DrainOptions): Promise<DrainResult> {
  const { spool } = options;
  const started = performance.now();
  const result: DrainResult = {
    recovered: await spool.recoverExpired(),
    claimed: 0,
    delivered: 0,
    duplicates: 0,
    retrying: 0,
    failed: 0,
    stoppedEarly: null,
    stoppedBy: null,
    elapsedMs: 0,
  };
  // Items tried in this run are not tried again in it, even when backoff is ignored.
  const tried = new Set<string>();
  let total = options.ids?.size ?? await spool.countPending();
  let batchSize = Math.max(1, options.batchSize);
  let maxBytes = options.maxBatchBytes ?? Infinity;
  if (!options.oneByOne && batchSize > PROBE_ABOVE && total > PROBE_ABOVE) {
    const limits = await fetchBatchLimits(options.target, {
      timeoutMs: options.timeoutMs,
      signal: options.signal,
    });
    batchSize = Math.min(batchSize, limits.items ?? batchSize);
    maxBytes = Math.min(maxBytes, limits.bytes ?? maxBytes);
  }
  const inFlight = options.oneByOne ? 1 : Math.max(1, options.inFlight ?? IN_FLIGHT);
  let empty = false;
  // More than one batch only once the server took one: a server that is down or refuses the
  // key costs one batch's claim, as before.
  let proven = false;
  // One claim at a time (the spool's listing cursor is shared): a batch is claimed once the
  // one before it is claimed and on its way.
  let claims: Promise<unknown> = Promise.resolve();

  async function claimNext(): Promise<SpoolItem[]> {
    const items = await spool.claim(options.oneByOne ? 1 : batchSize, {
      ignoreBackoff: options.ignoreBackoff,
      ids: options.ids,
      skip: tried,
      maxBytes,
    });
    for (const item of items) tried.add(item.id);
    return items;
  }

  /** Claims the next batch and sends it; null when nothing due is left. */
  async function launch(): Promise<Answered | null> {
    const claimed = Promise.withResolvers<void>();
    const previous = claims;
    claims = claimed.promise;
    try {
      await previous;
      const items = await claimNext();
      if (items.length === 0) {
        empty = true;
        return null;
      }
      result.claimed += items.length;
      if (options.onClaimed) await options.onClaimed(items);
      claimed.resolve();
      return await send(items);
    } finally {
      claimed.resolve();
    }
  }

  async function send(items: SpoolItem[]): Promise<Answered> {
    const envelopes = items.map((item) => spool.envelopeForSend(item));
    const sendOptions = { timeoutMs: options.timeoutMs, signal: options.signal };
    const outcomes: DeliveryOutcome[] = options.oneByOne
      ? [await sendEnvelope(options.target, envelopes[0], sendOptions)]
      : await sendBatch(options.target, envelopes, sendOptions);
    if (options.onAnswered) await options.onAnswered(items, outcomes);
    return { items, envelopes, outcomes };
  }

  /** Records one answered batch in the spool; says why the run must stop, if it must. */
  async function settle({ items, envelopes, outcomes }: Answered): Promise<DrainStop | null> {
    if (outcomes.every((outcome) => isAuthFailure(outcome))) {
      // A wrong or missing key is this machine's problem, not the events': keep them pending
      // untouched instead of dead-lettering the whole spool.
      for (const item of items) await spool.release(item);
      if (result.stoppedBy === null) {
        result.stoppedEarly = `server refused the API key (${describe(outcomes[0])})`;
        result.stoppedBy = "unauthorized";
      }
      return "unauthorized";
    }

    const delivered: SpoolItem[] = [];
    const deliveredEvents: DeliveredEvent[] = [];
    let unreachable = 0;
    for (let index = 0; index < items.length; index++) {
      const outcome = outcomes[index];
      const { envelope } = items[index].record;
      const ids = {
        requestId: envelope.requestId,
        traceId: envelope.traceId,
        event: envelope.event,
        sessionId: envelope.sessionId,
        attempt: envelopes[index].attempt,
      };
      if (outcome.kind === "delivered") {
        deliveredEvents.push({ ...ids, status: outcome.answer.status });
        delivered.push(items[index]);
        if (outcome.answer.status === "DUPLICATE") result.duplicates++;
        continue;
      }
      if (
        outcome.kind === "retryable" &&
        (outcome.httpStatus === null || outcome.httpStatus === 429 || outcome.httpStatus === 503)
      ) {
        unreachable++;
      }
      const where = await spool.recordFailure(items[index], outcome);
      const level = where === "failed" ? "error" : "warning";
      logger[level]("{event} {requestId} {where}: {error}", {
        ...ids,
        where: where === "failed" ? "dead-lettered" : "waiting to retry",
        error: outcome.error,
        httpStatus: outcome.httpStatus,
      });
      if (where === "failed") result.failed++;
      else result.retrying++;
    }
    await spool.completeMany(delivered);
    result.delivered += delivered.length;
    // One line per batch, naming each event: a line per event was ~20 µs of the drainer's CPU
    // per event (LogTape's record, redaction, formatting), a fifth of all it spent.
    if (deliveredEvents.length > 0) {
      deliveredLogger.info("delivered {count} events", {
        count: deliveredEvents.length,
        events: deliveredEvents,
      });
    }

    if (delivered.length > 0) {
      options.breaker?.recordSuccess();
      proven = true;
    }
    const done = result.delivered + result.retrying + result.failed;
    total = Math.max(total, done);
    options.onProgress?.({
      done,
      total,
      delivered: result.delivered,
      elapsedMs: performance.now() - started,
    });
    if (unreachable < items.length) return null;
    // The server is down or shedding load: everything else would fail the same way now.
    if (result.stoppedBy === null) {
      const waits = outcomes.flatMap((outcome) =>
        outcome.kind === "retryable" && outcome.retryAfterMs !== undefined
          ? [outcome.retryAfterMs]
          : []
      );
      if (waits.length > 0) result.retryAfterMs = Math.max(...waits);
      options.breaker?.recordUnavailable(result.retryAfterMs);
      const first = outcomes[0];
      result.stoppedEarly = `server unavailable (${first.kind === "retryable" ? first.error : ""})`;
      result.stoppedBy = "unavailable";
    }
    return "unavailable";
  }

  // Batches settle in the order they were claimed; a stop lets those already sent settle too
  // (their items are claimed: each is recorded or released, never left in processing/).
  const queue: Promise<Answered | null>[] = [];
  const fill = () => {
    while (
      queue.length < (proven ? inFlight : 1) && !empty && result.stoppedBy === null &&
      !options.signal?.aborted
    ) {
      const next = launch();
      // Awaited in its turn; until then a failure must not count as unhandled.
      next.catch(() => {});
      queue.push(next);
    }
  };
  fill();
  try {
    while (queue.length > 0) {
      const answered = await queue.shift()!;
      if (answered) await settle(answered);
      fill();
    }
  } catch (error) {
    // A spool that fails (disk full, permissions) ends the run; what is in flight ends first.
    await Promise.allSettled(queue);
    throw error;
  }
  if (options.signal?.aborted && result.stoppedEarly === null) {
    result.stoppedEarly = "interrupted";
    result.stoppedBy = "interrupted";
  }
  result.elapsedMs = performance.now() - started;
  // A resident shipper runs a pass per wake-up: only passes that did something are news.
  if (result.claimed > 0 || result.recovered > 0) {
    logger.info("drain finished: {delivered} delivered, {retrying} retrying, {failed} failed", {
      ...result,
    });
  }
  return result;
}

function isAuthFailure(outcome: DeliveryOutcome): boolean {
  return outcome.kind === "permanent" && (outcome.httpStatus === 401 || outcome.httpStatus === 403);
}

function describe(outcome: DeliveryOutcome): string {
  return outcome.kind === "delivered" ? `HTTP ${outcome.httpStatus}` : outcome.error;
}
