// Alerts: the configured rules and what the evaluator last found.
import { h, type Html } from "../html.ts";
import { page } from "../layout.ts";
import type { AlertEvaluator } from "../../alerts/evaluator.ts";
import { fmtAgo, fmtTime } from "../format.ts";
import { RATE_DEFINITION } from "../../schema.ts";

/** Only the host of the webhook: Slack webhook paths are secrets. */
function webhookHost(url: string | undefined): string {
  if (!url) return "";
  try {
    return new URL(url).host;
  } catch {
    return "(invalid URL)";
  }
}

export function alertsPage(evaluator: AlertEvaluator | undefined, now: number): Html {
  if (!evaluator) {
    return page(
      "Alerts",
      "alerts",
      h`<h1>Alerts</h1><div class="alert info">The alert evaluator is not running in this server.
Set <code>ARRAKIS_ALERT_WEBHOOK_URL</code> (and optionally <code>ARRAKIS_ALERT_RULES</code>) and restart <code>arrakis serve</code>.</div>`,
    );
  }
  const states = evaluator.states();
  return page(
    "Alerts",
    "alerts",
    h`<h1>Alerts</h1>
<p class="sub">Rules are evaluated in the server every interval; each incident is posted once when it starts and once when it resolves.
The error rate uses the overview's definition: ${RATE_DEFINITION}.
${
      evaluator.webhookUrl
        ? h`Posting to <b>${webhookHost(evaluator.webhookUrl)}</b>.`
        : h`<b>No webhook configured</b> (ARRAKIS_ALERT_WEBHOOK_URL): states are shown here only.`
    }</p>
<div class="table-card"><table>
<thead><tr><th>Rule</th><th>State</th><th>Since (UTC)</th><th>Last figures</th><th>Evaluated</th></tr></thead>
<tbody>${
      states.length === 0
        ? h`<tr><td colspan="5" class="empty">No rules configured.</td></tr>`
        : states.map((s) =>
          h`<tr><td><b>${s.name}</b><div class="muted mono">${s.rule.kind}</div></td>
<td><span class="badge s-${s.firing ? "firing" : "ok"}">${s.firing ? "FIRING" : "OK"}</span>${
            s.firing !== s.notified ? h` <span class="muted">(notification pending)</span>` : ""
          }</td>
<td class="mono">${fmtTime(s.since)}</td>
<td>${s.detail || "—"}${s.lastError ? h`<div class="alert bad">${s.lastError}</div>` : ""}</td>
<td>${
            s.lastEvaluatedAt
              ? fmtAgo(new Date(s.lastEvaluatedAt), now)
              : evaluator.leading()
              ? "not yet"
              : "by the leading instance"
          }</td></tr>`
        )
    }</tbody></table></div>`,
  );
}
