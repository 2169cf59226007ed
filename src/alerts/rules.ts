// Alert rules: what to watch and when it is an incident. Configured as JSON in
// ARRAKIS_ALERT_RULES, e.g. [{"kind":"error_rate","threshold":0.05,"window":"5m"}].
import { z } from "zod";
import { type Config, ConfigError, parseDuration, plainIssue } from "../config.ts";

const Duration = z.union([z.number().int().positive(), z.string()]).transform((value, ctx) => {
  const ms = typeof value === "number" ? value : parseDuration(value);
  if (ms === undefined || ms <= 0) {
    ctx.addIssue({ code: "custom", message: `"${value}" is not a duration like 30s, 5m, 1h` });
    return z.NEVER;
  }
  return ms;
});

const Base = { name: z.string().min(1).max(200).optional() };

export const AlertRule = z.discriminatedUnion("kind", [
  z.object({
    ...Base,
    kind: z.literal("error_rate"),
    /** Fraction of finished requests that failed (ERROR, INVALID, CONFLICT), 0..1. */
    threshold: z.number().min(0).max(1),
    window: Duration.default(300_000),
    /** Below this many finished requests in the window the rate means nothing: no alert. */
    minEvents: z.number().int().positive().default(5),
  }),
  z.object({
    ...Base,
    kind: z.literal("p95"),
    thresholdMs: z.number().positive(),
    window: Duration.default(300_000),
    minEvents: z.number().int().positive().default(5),
  }),
  z.object({
    ...Base,
    kind: z.literal("no_events"),
    /** Silence longer than this while a session is open is an incident. */
    minutes: z.number().positive(),
    /** A session counts as open when not ended and seen within this long (default 1h). */
    openWithin: Duration.default(3_600_000),
  }),
]);
export type AlertRule = z.infer<typeof AlertRule>;

export const DEFAULT_ALERT_RULES: AlertRule[] = [
  { kind: "error_rate", threshold: 0.05, window: 300_000, minEvents: 5 },
  { kind: "p95", thresholdMs: 2_000, window: 300_000, minEvents: 5 },
  { kind: "no_events", minutes: 15, openWithin: 3_600_000 },
];

/** Parses ARRAKIS_ALERT_RULES (JSON array); throws ConfigError naming the variable. */
export function parseAlertRules(json: string | undefined): AlertRule[] {
  if (json === undefined) return DEFAULT_ALERT_RULES;
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new ConfigError("ARRAKIS_ALERT_RULES: not valid JSON");
  }
  const parsed = z.array(AlertRule).max(100).safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const [index, ...path] = issue.path;
    const which = typeof index === "number" ? `rule ${index + 1}: ` : "";
    throw new ConfigError(
      `ARRAKIS_ALERT_RULES: ${which}${plainIssue({ ...issue, path })}`,
      "ARRAKIS_ALERT_RULES",
    );
  }
  return parsed.data;
}

export function alertRulesFrom(config: Pick<Config, "alertRulesJson">): AlertRule[] {
  return parseAlertRules(config.alertRulesJson);
}

function formatMs(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** A stable, readable name: the configured one or one derived from the rule. */
export function ruleName(rule: AlertRule): string {
  if (rule.name) return rule.name;
  switch (rule.kind) {
    case "error_rate":
      return `error rate > ${+(rule.threshold * 100).toFixed(2)}% over ${formatMs(rule.window)}`;
    case "p95":
      return `p95 processing > ${rule.thresholdMs} ms over ${formatMs(rule.window)}`;
    case "no_events":
      return `no events for ${rule.minutes} min while sessions are open`;
  }
}
