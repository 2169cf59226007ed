// Evaluates the alert rules on an interval. Incidents live in alert_incidents (at most one open
// per rule), so across instances and restarts each one is announced once when it starts and
// once when it resolves: only the leader measures and writes; a failed post is retried on the
// leader's next tick; every instance reads the table to show the states.
import type { Sql } from "../store/open.ts";
import { type AlertRule, ruleName } from "./rules.ts";
import { measure } from "./measure.ts";
import { postWebhook } from "./webhook.ts";
import { errorMessage } from "../error_message.ts";

export interface RuleState {
  rule: AlertRule;
  name: string;
  /** Whether an incident is open. */
  firing: boolean;
  /** What the webhook was last told (so a failed post is retried, a success never repeated). */
  notified: boolean;
  /** When the current incident started (firing) or the last one ended (ok). */
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
  /** Whether this instance leads now (default: always, the single-process case). */
  isLeader?: () => Promise<boolean>;
}

export interface AlertEvaluator {
  /** One evaluation of every rule (when leading); returns what was posted. */
  tick(): Promise<Notification[]>;
  start(intervalMs: number): void;
  stop(): Promise<void>;
  states(): readonly RuleState[];
  /** Whether this instance led at its last tick (else another instance evaluates). */
  leading(): boolean;
  readonly webhookUrl: string | undefined;
}

interface IncidentRow {
  id: string;
  started_at: Date;
  detail: string;
  notified_at: Date | null;
  resolved_at: Date | null;
  resolved_detail: string | null;
  resolve_notified_at: Date | null;
}

function minutes(ms: number): string {
  const m = Math.round(ms / 60_000);
  return m < 1 ? "under a minute" : `${m} min`;
}

export function createAlertEvaluator(options: AlertEvaluatorOptions): AlertEvaluator {
  const { sql } = options;
  const now = options.now ?? Date.now;
  const post = options.post ?? ((url, text) => postWebhook(url, text));
  const label = options.label ?? "arrakis";
  const isLeader = options.isLeader ?? (() => Promise.resolve(true));
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
  let led = false;

  /** The rule's open incident, else its latest one. */
  async function latest(name: string): Promise<IncidentRow | undefined> {
    const [row] = await sql<IncidentRow[]>`
      SELECT id, started_at, detail, notified_at, resolved_at, resolved_detail,
             resolve_notified_at
      FROM alert_incidents WHERE rule = ${name}
      ORDER BY (resolved_at IS NULL) DESC, started_at DESC, id DESC LIMIT 1`;
    return row;
  }

  /** Opens or resolves the rule's incident as the measurement says (leader only). */
  async function record(state: RuleState, at: number): Promise<void> {
    const found = await measure(sql, state.rule, at);
    state.lastEvaluatedAt = at;
    const open = await latest(state.name).then((row) => row?.resolved_at ? undefined : row);
    if (found.firing && !open) {
      await sql`
        INSERT INTO alert_incidents (rule, started_at, detail)
        VALUES (${state.name}, ${new Date(at)}, ${found.detail})
        ON CONFLICT (rule) WHERE resolved_at IS NULL DO NOTHING`;
    } else if (!found.firing && open) {
      await sql`
        UPDATE alert_incidents SET resolved_at = ${new Date(at)}, resolved_detail = ${found.detail}
        WHERE id = ${open.id} AND resolved_at IS NULL`;
    } else if (open) {
      await sql`UPDATE alert_incidents SET detail = ${found.detail} WHERE id = ${open.id}`;
    }
  }

  /** Posts what the webhook has not heard yet, marking each message once it was accepted. */
  async function announce(state: RuleState, row: IncidentRow): Promise<Notification | undefined> {
    const firing = row.resolved_at === null;
    if (firing ? row.notified_at !== null : row.resolve_notified_at !== null) return undefined;
    let notification: Notification | undefined;
    if (options.webhookUrl) {
      const text = firing
        ? `:rotating_light: [${label}] FIRING: ${state.name}: ${row.detail}`
        : `:white_check_mark: [${label}] RESOLVED: ${state.name}: ${row.resolved_detail}` +
          ` (after ${minutes(row.resolved_at!.getTime() - row.started_at.getTime())})`;
      // A resolve the webhook never heard the start of is still told: the page said FIRING.
      await post(options.webhookUrl, text);
      notification = { rule: state.name, kind: firing ? "firing" : "resolved", text };
    }
    if (firing) {
      await sql`UPDATE alert_incidents SET notified_at = now() WHERE id = ${row.id}`;
    } else {
      await sql`UPDATE alert_incidents SET resolve_notified_at = now(),
                  notified_at = coalesce(notified_at, now()) WHERE id = ${row.id}`;
    }
    return notification;
  }

  function show(state: RuleState, row: IncidentRow | undefined): void {
    state.firing = row !== undefined && row.resolved_at === null;
    state.since = row ? (row.resolved_at ?? row.started_at).getTime() : null;
    state.detail = row ? (row.resolved_detail ?? row.detail) : "";
    state.notified = row === undefined ||
      (state.firing ? row.notified_at !== null : row.resolve_notified_at !== null);
  }

  async function tick(): Promise<Notification[]> {
    const sent: Notification[] = [];
    const leading = await isLeader().catch((error) => {
      options.onError?.(error);
      return false;
    });
    led = leading;
    for (const state of states) {
      try {
        if (leading) await record(state, now());
        const row = await latest(state.name);
        show(state, row);
        const notification = leading && row ? await announce(state, row) : undefined;
        if (notification) {
          sent.push(notification);
          show(state, await latest(state.name));
        }
        state.lastError = null;
      } catch (error) {
        state.lastError = errorMessage(error);
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
    leading: () => led,
  };
}
