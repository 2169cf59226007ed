// Evaluates the alert rules on an interval inside the server. Each rule is a two-state machine
// (ok / firing); the webhook hears about a transition exactly once: a failed post is retried on
// the next tick, and a condition that holds across ticks is not announced again.
import type { Sql } from "../store/open.ts";
import { type AlertRule, ruleName } from "./rules.ts";
import { measure } from "./measure.ts";
import { postWebhook } from "./webhook.ts";

export interface RuleState {
  rule: AlertRule;
  name: string;
  /** What the last evaluation found. */
  firing: boolean;
  /** What the webhook was last told (so a failed post is retried, a success never repeated). */
  notified: boolean;
  /** When the current incident started (firing) or ended (ok). */
  since: number | null;
  detail: string;
  lastEvaluatedAt: number | null;
  lastError: string | null;
}

export interface Notification {
  rule: string;
  kind: "firing" | "resolved";
  text: string;
}

export interface AlertEvaluatorOptions {
  sql: Sql;
  rules: AlertRule[];
  /** Without a URL, rules are still evaluated (and shown on the dashboard), nothing is posted. */
  webhookUrl?: string;
  now?: () => number;
  post?: (url: string, text: string) => Promise<void>;
  /** Prefix naming this server in messages. */
  label?: string;
  onError?: (error: unknown) => void;
}

export interface AlertEvaluator {
  /** One evaluation of every rule; returns what was posted. */
  tick(): Promise<Notification[]>;
  start(intervalMs: number): void;
  stop(): Promise<void>;
  states(): readonly RuleState[];
  readonly webhookUrl: string | undefined;
}

function minutes(ms: number): string {
  const m = Math.round(ms / 60_000);
  return m < 1 ? "under a minute" : `${m} min`;
}

export function createAlertEvaluator(options: AlertEvaluatorOptions): AlertEvaluator {
  const now = options.now ?? Date.now;
  const post = options.post ?? ((url, text) => postWebhook(url, text));
  const label = options.label ?? "arrakis";
  const states: RuleState[] = options.rules.map((rule) => ({
    rule,
    name: ruleName(rule),
    firing: false,
    notified: false,
    since: null,
    detail: "",
    lastEvaluatedAt: null,
    lastError: null,
  }));
  let timer: ReturnType<typeof setInterval> | undefined;
  let running: Promise<unknown> = Promise.resolve();

  async function evaluate(state: RuleState): Promise<Notification | undefined> {
    const at = now();
    const found = await measure(options.sql, state.rule, at);
    state.lastEvaluatedAt = at;
    state.detail = found.detail;
    if (found.firing !== state.firing) {
      state.firing = found.firing;
      state.since = at;
    }
    if (state.firing === state.notified || !options.webhookUrl) {
      if (!options.webhookUrl) state.notified = state.firing;
      return undefined;
    }
    const text = state.firing
      ? `:rotating_light: [${label}] FIRING: ${state.name}: ${found.detail}`
      : `:white_check_mark: [${label}] RESOLVED: ${state.name}: ${found.detail}` +
        ` (after ${minutes(at - (state.since ?? at))})`;
    await post(options.webhookUrl, text);
    state.notified = state.firing;
    return { rule: state.name, kind: state.firing ? "firing" : "resolved", text };
  }

  async function tick(): Promise<Notification[]> {
    const sent: Notification[] = [];
    for (const state of states) {
      try {
        const notification = await evaluate(state);
        state.lastError = null;
        if (notification) sent.push(notification);
      } catch (error) {
        state.lastError = error instanceof Error ? error.message : String(error);
        options.onError?.(error);
      }
    }
    return sent;
  }

  return {
    webhookUrl: options.webhookUrl,
    tick,
    start(intervalMs) {
      if (timer !== undefined) return;
      // Ticks never overlap: a slow database delays the next one instead of stacking them.
      timer = setInterval(() => {
        running = running.then(tick);
      }, intervalMs);
    },
    async stop() {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      await running;
    },
    states: () => states,
  };
}
