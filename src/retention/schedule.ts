// The server's retention loop: prune every interval while it runs, log what went, never let a
// failed run (the store restarting, a timeout) end the server or stop later runs.
import type { Sql } from "../store/open.ts";
import type { Config } from "../config.ts";
import { log } from "../log.ts";
import { prune, type PruneCounts, type RetentionPolicy } from "./prune.ts";
import { errorMessage } from "../error_message.ts";

export function policyOf(config: Config): RetentionPolicy {
  return { payloadsMs: config.retentionPayloadsMs, sessionsMs: config.retentionSessionsMs };
}

export interface RetentionLoop {
  /** Waits for a run in progress to end its current batch, then stops. */
  stop(): Promise<void>;
}

/** Starts pruning after `firstDelayMs`, then every `config.retentionIntervalMs`. */
export function startRetention(
  sql: Sql,
  config: Config,
  options: { firstDelayMs?: number; onRun?: (counts: PruneCounts) => void } = {},
): RetentionLoop {
  const logger = log("server", "retention");
  const policy = policyOf(config);
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<void> = Promise.resolve();
  if (policy.payloadsMs === null && policy.sessionsMs === null) {
    return { stop: () => Promise.resolve() };
  }
  const run = async () => {
    try {
      const counts = await prune(sql, policy, { stopped: () => stopped });
      if (counts.payloads + counts.sessions + counts.sessionEvents > 0) {
        logger.info(
          "retention: dropped {payloads} payloads, deleted {sessions} sessions and {sessionEvents} of their audit rows",
          { ...counts },
        );
      }
      options.onRun?.(counts);
    } catch (error) {
      logger.warn("retention run failed, trying again next interval: {error}", {
        error: errorMessage(error),
      });
    }
  };
  const schedule = (delay: number) => {
    timer = setTimeout(() => {
      running = run().then(() => {
        if (!stopped) schedule(config.retentionIntervalMs);
      });
    }, delay);
  };
  schedule(options.firstDelayMs ?? 60_000);
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
