// Wiring for `arrakis serve`: start the evaluator beside the server and let the dashboard find it.
import type { Config } from "../config.ts";
import type { Sql } from "../store/open.ts";
import { log } from "../log.ts";
import { type AlertEvaluator, createAlertEvaluator } from "./evaluator.ts";
import { alertRulesFrom } from "./rules.ts";

const running = new WeakMap<object, AlertEvaluator>();

/**
 * Parses the rules (ConfigError on bad ARRAKIS_ALERT_RULES), starts evaluating them every
 * config.alertIntervalMs and registers the evaluator under `owner` (the server's deps) for the
 * dashboard's Alerts page. Call `stop()` on shutdown.
 */
export function startAlerts(
  owner: { sql: Sql; config: Config },
  options: { now?: () => number; post?: (url: string, text: string) => Promise<void> } = {},
): AlertEvaluator {
  const logger = log("alerts");
  const evaluator = createAlertEvaluator({
    sql: owner.sql,
    rules: alertRulesFrom(owner.config),
    webhookUrl: owner.config.alertWebhookUrl,
    label: `arrakis ${owner.config.serverUrl}`,
    now: options.now,
    post: options.post,
    onError: (error) =>
      logger.warn("alert evaluation failed: {error}", {
        error: error instanceof Error ? error.message : String(error),
      }),
  });
  evaluator.start(owner.config.alertIntervalMs);
  running.set(owner, evaluator);
  return evaluator;
}

/** The evaluator started for these deps, if any. */
export function alertsOf(owner: object): AlertEvaluator | undefined {
  return running.get(owner);
}

/** Registers an evaluator made elsewhere (tests, custom wiring). */
export function registerAlerts(owner: object, evaluator: AlertEvaluator): void {
  running.set(owner, evaluator);
}
