// Wiring for `arrakis serve`: an evaluator of the configured rules, ticking every
// config.alertIntervalMs, measuring and posting only while this instance leads.
import type { Config } from "../config.ts";
import type { Sql } from "../store/open.ts";
import { log } from "../log.ts";
import { type AlertEvaluator, createAlertEvaluator } from "./evaluator.ts";
import type { Leadership } from "./leader.ts";
import { alertRulesFrom } from "./rules.ts";
import { errorMessage } from "../error_message.ts";

/** Parses the rules (ConfigError on bad ARRAKIS_ALERT_RULES) and starts the evaluator. */
export function startAlerts(
  sql: Sql,
  config: Config,
  leadership: Leadership,
  options: { now?: () => number; post?: (url: string, text: string) => Promise<void> } = {},
): AlertEvaluator {
  const logger = log("alerts");
  const evaluator = createAlertEvaluator({
    sql,
    rules: alertRulesFrom(config),
    webhookUrl: config.alertWebhookUrl,
    label: `arrakis ${config.serverUrl}`,
    now: options.now,
    post: options.post,
    isLeader: () => leadership.check(),
    onError: (error) =>
      logger.warn("alert evaluation failed: {error}", {
        error: errorMessage(error),
      }),
  });
  evaluator.start(config.alertIntervalMs);
  return evaluator;
}
