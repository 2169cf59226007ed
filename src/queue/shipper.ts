// The resident shipper: one long-lived process per spool that delivers what hooks spool. It runs
// the drain pass (drain.ts) whenever pending/ changes, whenever a backoff or a dead drainer's
// lease ends, and on a slow safety tick; it holds back while the server is unreachable (the
// breaker) or refuses the key, and exits once nothing has been pending for its idle period.
import { join } from "node:path";
import type { DeliveryOutcome, Target } from "../client.ts";
import type { Breaker } from "./breaker.ts";
import { backoffDelayMs } from "./backoff.ts";
import { drain, type DrainResult } from "./drain.ts";
import type { Spool, SpoolItem } from "./spool.ts";
import { log } from "../log.ts";

const logger = log("queue", "shipper");

/** Events closer together than this make one pass: a burst of hooks is one batch. */
const COALESCE_MS = 5;
/** With a working watcher: a pass anyway this often, for anything the watcher missed. */
const SAFETY_TICK_MS = 30_000;
/** Without one (it failed to start or died): the poll that replaces it. */
const POLL_MS = 1_000;
/** The shortest pause after a refused key or a spool error, so neither is a hot loop. */
const MIN_HOLD_MS = 1_000;

export interface ShipperOptions {
  spool: Spool;
  /**
   * Read before each pass, so a key or URL fixed in the configuration needs no restart. Throws,
   * saying why, when there is no usable key.
   */
  target: () => Promise<Target>;
  batchSize: number;
  /** Bytes of spool files per batch, at most (drain.ts). */
  maxBatchBytes?: number;
  timeoutMs: number;
  /** Exit once nothing has been pending (or in flight) this long. */
  idleMs: number;
  breaker: Breaker;
  /** The retry schedule, which also paces the pauses after a refused key or a spool error. */
  retryScheduleMs: readonly number[];
  signal?: AbortSignal;
  now?: () => number;
  /** One line per change a person should know about (key refused, accepted again). */
  onNotice?: (line: string) => void;
  onClaimed?: (items: SpoolItem[]) => void | Promise<void>;
  onAnswered?: (items: SpoolItem[], outcomes: DeliveryOutcome[]) => void | Promise<void>;
  /** Watch pending/ (default true); without it the shipper polls. */
  watch?: boolean;
}

export interface ShipperResult {
  passes: number;
  delivered: number;
  failed: number;
  exit: "idle" | "interrupted";
}

/** Ships until idle or aborted. Never throws for a delivery problem; those wait and retry. */
export async function ship(options: ShipperOptions): Promise<ShipperResult> {
  const { spool, breaker } = options;
  const now = options.now ?? Date.now;
  const wake = wakeup(options.signal);
  const watcher = options.watch === false ? undefined : watchPending(spool.dir, wake.notify);
  const result: ShipperResult = { passes: 0, delivered: 0, failed: 0, exit: "interrupted" };
  let idleSince: number | null = null;
  let lastSafetyPass = now();
  // This machine's problem (a refused key, unreadable settings, a spool it cannot work): the
  // events wait, never dead-lettered, and passes pause with backoff. One line per streak.
  let holds = 0;
  let heldUntil = 0;
  let recoveredLine = "";
  const holdBack = (reason: string, recovered: string) => {
    holds++;
    heldUntil = now() + backoffDelayMs(holds, options.retryScheduleMs, MIN_HOLD_MS);
    if (holds > 1) return;
    recoveredLine = recovered;
    logger.error("{reason}; events stay pending, retrying with backoff", {
      reason,
      dir: spool.dir,
    });
    options.onNotice?.(`${reason}; events stay pending, retrying with backoff`);
  };
  const recovered = () => {
    if (holds === 0) return;
    holds = 0;
    heldUntil = 0;
    logger.info(recoveredLine);
    options.onNotice?.(recoveredLine);
  };

  /** One drain pass, unless held back; undefined when none ran or it could not finish. */
  const attempt = async (): Promise<DrainResult | undefined> => {
    if (now() < Math.max(breaker.openUntil(), heldUntil)) return undefined;
    if (now() - lastSafetyPass >= SAFETY_TICK_MS) {
      // Another process (`queue retry`) may have cleared a backoff this instance remembers.
      spool.forgetBackoff();
      lastSafetyPass = now();
    }
    let target: Target;
    try {
      target = await options.target();
    } catch (error) {
      // No key for the server, or a client.json that does not read: nothing is sent without one.
      holdBack((error as Error).message, "a key for the server is there again");
      return undefined;
    }
    let pass: DrainResult;
    try {
      pass = await drain({
        spool,
        target,
        batchSize: options.batchSize,
        maxBatchBytes: options.maxBatchBytes,
        timeoutMs: options.timeoutMs,
        breaker,
        signal: options.signal,
        onClaimed: options.onClaimed,
        onAnswered: options.onAnswered,
      });
    } catch (error) {
      holdBack(`cannot work the spool: ${(error as Error).message}`, "the spool works again");
      return undefined;
    }
    result.passes++;
    result.delivered += pass.delivered;
    result.failed += pass.failed;
    if (pass.stoppedBy === "unauthorized") {
      holdBack(pass.stoppedEarly!, "the server accepts the API key again");
    } else if (pass.delivered > 0 || (pass.stoppedBy === null && pass.claimed > 0)) recovered();
    return pass;
  };

  logger.info("shipper {pid} started on {dir}", { pid: Deno.pid, dir: spool.dir });
  try {
    while (!options.signal?.aborted) {
      const pass = await attempt();
      const outlook = await spool.outlook();
      const at = now();
      if (outlook.pending + outlook.processing === 0 && outlook.tempRecoverableAt === null) {
        idleSince ??= at;
        if (at - idleSince >= options.idleMs) {
          result.exit = "idle";
          break;
        }
      } else idleSince = null;

      const held = Math.max(breaker.openUntil(), heldUntil);
      const wakeAt = [at + (watcher?.alive() ? SAFETY_TICK_MS : POLL_MS)];
      if (idleSince !== null) wakeAt.push(idleSince + options.idleMs);
      if (held > at) wakeAt.push(held);
      // Due items were left untried because a batch found the server down: try the next batch.
      else if (pass?.stoppedBy === "unavailable") wakeAt.push(at);
      else if (outlook.nextDueAt !== null) wakeAt.push(outlook.nextDueAt);
      if (outlook.leaseEndsAt !== null) wakeAt.push(Math.max(outlook.leaseEndsAt, held));
      if (outlook.tempRecoverableAt !== null) wakeAt.push(outlook.tempRecoverableAt);
      await wake.wait(Math.max(0, Math.min(...wakeAt) - at));
    }
  } finally {
    watcher?.close();
    wake.close();
  }
  logger.info("shipper {pid} exits ({exit}): {delivered} delivered in {passes} passes", {
    pid: Deno.pid,
    ...result,
  });
  return result;
}

interface Wakeup {
  /** Ends the current (or the next) wait after a short coalescing delay. */
  notify(): void;
  /** Waits up to ms, or until notified or aborted. */
  wait(ms: number): Promise<void>;
  close(): void;
}

function wakeup(signal?: AbortSignal): Wakeup {
  let notified = false;
  let end: (() => void) | undefined;
  const onAbort = () => end?.();
  signal?.addEventListener("abort", onAbort);
  return {
    notify() {
      if (notified) return;
      notified = true;
      if (end) {
        const finish = end;
        setTimeout(finish, COALESCE_MS);
      }
    },
    async wait(ms) {
      if (signal?.aborted) return;
      if (notified) {
        notified = false;
        await new Promise((resolve) => setTimeout(resolve, COALESCE_MS));
        return;
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        end = resolve;
        timer = setTimeout(resolve, ms);
      });
      clearTimeout(timer);
      end = undefined;
      notified = false;
    },
    close() {
      signal?.removeEventListener("abort", onAbort);
      end?.();
    },
  };
}

/** Watches pending/ for new files; alive() turns false if the watcher cannot run. */
function watchPending(dir: string, onChange: () => void) {
  let alive = true;
  let watcher: Deno.FsWatcher | undefined;
  try {
    watcher = Deno.watchFs(join(dir, "pending"), { recursive: false });
  } catch (error) {
    alive = false;
    logger.warning("cannot watch {dir}, polling instead: {error}", { dir, error: String(error) });
  }
  if (watcher) {
    const events = watcher;
    (async () => {
      try {
        for await (const event of events) {
          // Removals are our own claims and deliveries; temp files are writes not yet done.
          if (event.kind === "remove" || event.kind === "access") continue;
          if (event.paths.every((path) => path.split("/").pop()?.startsWith("."))) continue;
          onChange();
        }
      } catch (error) {
        logger.warning("the watcher of {dir} failed, polling instead: {error}", {
          dir,
          error: String(error),
        });
      }
      alive = false;
      onChange();
    })();
  }
  return {
    alive: () => alive,
    close() {
      try {
        watcher?.close();
      } catch {
        // Already closed.
      }
    },
  };
}
