// Overview: throughput, success rate, latency and breakdowns for one window, refreshed live.
import { OK_STATUSES, RATE_DEFINITION } from "../../schema.ts";
import { h, type Html } from "../html.ts";
import { page, statusBadge } from "../layout.ts";
import { COST_DAYS, type Overview, type WindowName, WINDOWS } from "../../read/overview.ts";
import { latencyChart, meter, throughputChart } from "../charts.ts";
import { fmtAgo, fmtInt, fmtMs, fmtPercent, fmtRate, fmtUsd } from "../format.ts";

function stat(
  key: string,
  label: string,
  value: string,
  note: string,
  tone = "",
  definition = "",
): Html {
  return h`<div class="card stat ${tone}" data-stat="${key}" title="${definition}"><div class="label">${label}</div><div class="value">${value}</div><div class="note">${note}</div></div>`;
}

export function overviewFragment(o: Overview): Html {
  const label = WINDOWS[o.window].label;
  const rateTone = o.successRate === null
    ? ""
    : o.successRate >= 0.99
    ? "good"
    : o.successRate >= 0.95
    ? "warn"
    : "bad";
  const maxStatus = Math.max(1, ...o.byStatus.map((row) => row.n));
  const maxEvent = Math.max(1, ...o.byEvent.map((row) => row.n));
  return h`<div class="grid cards">
  ${stat("rps", "Requests / s", fmtRate(o.perSecondLastMinute), "last minute")}
  ${stat("requests", "Requests", fmtInt(o.total), `${fmtRate(o.perSecondWindow)}/s over ${label}`)}
  ${
    stat(
      "success",
      "Success rate",
      fmtPercent(o.successRate),
      `${fmtInt(o.ok)} stored · ${fmtInt(o.failed)} failed`,
      rateTone,
      `Success rate: ${RATE_DEFINITION}`,
    )
  }
  ${stat("p50", "p50 processing", fmtMs(o.p50), label)}
  ${stat("p95", "p95 processing", fmtMs(o.p95), label)}
  ${
    stat(
      "open",
      "Open sessions",
      fmtInt(o.openSessions),
      `last event ${fmtAgo(o.lastEventAt, o.now)}`,
    )
  }
</div>
<p class="sub" data-rate-definition>Success rate: ${RATE_DEFINITION}.</p>
<div class="grid two">
  <section class="card">
    <div class="row spread"><h2>Requests</h2><div class="legend"><span><i class="ok"></i>stored</span><span><i class="bad"></i>failed</span></div></div>
    ${throughputChart(o.buckets)}
  </section>
  <section class="card">
    <div class="row spread"><h2>p95 processing time</h2><div class="legend"><span><i class="p95"></i>p95 per interval</span></div></div>
    ${latencyChart(o.buckets)}
  </section>
  <section class="table-card">
    <table><thead><tr><th>Status</th><th class="num">Count</th><th></th></tr></thead><tbody>
    ${
    o.byStatus.length === 0
      ? h`<tr><td colspan="3" class="empty">No requests in the last ${label}.</td></tr>`
      : o.byStatus.map((row) =>
        h`<tr><td><a href="/events?status=${row.status}">${
          statusBadge(row.status)
        }</a></td><td class="num">${fmtInt(row.n)}</td><td class="bar">${
          meter(
            row.n,
            maxStatus,
            OK_STATUSES.includes(row.status) ? "ok" : "bad",
          )
        }</td></tr>`
      )
  }
    </tbody></table>
  </section>
  <section class="table-card">
    <table><thead><tr><th>Event type</th><th class="num">Count</th><th class="num">Failed</th><th></th></tr></thead><tbody>
    ${
    o.byEvent.length === 0
      ? h`<tr><td colspan="4" class="empty">No events in the last ${label}.</td></tr>`
      : o.byEvent.map((row) =>
        h`<tr><td><a href="/events?event=${
          encodeURIComponent(row.event)
        }">${row.event}</a></td><td class="num">${fmtInt(row.n)}</td><td class="num">${
          row.failed ? h`<span class="fail">${fmtInt(row.failed)}</span>` : "0"
        }</td><td class="bar">${meter(row.n, maxEvent, "accent")}</td></tr>`
      )
  }
    </tbody></table>
  </section>
</div>
${costTable(o)}
${spoolTable(o)}`;
}

/** Dollars by day and model; usage of a model without a price is flagged, never shown as $0. */
function costTable(o: Overview): Html {
  const total = o.costs.reduce((sum, row) => sum + (row.cost_usd ?? 0), 0);
  const unpriced = o.costs.reduce((sum, row) => sum + row.unpriced_messages, 0);
  return h`<section class="table-card" data-section="cost">
  <table><thead><tr><th>Cost, last ${COST_DAYS} days: ${fmtUsd(total)}${
    unpriced > 0 ? h` <span class="unpriced">(${fmtInt(unpriced)} replies not priced)</span>` : ""
  }</th><th>Model</th><th class="num">Replies</th><th class="num">Output tokens</th><th class="num">Cost</th></tr></thead><tbody>
  ${
    o.costs.length === 0
      ? h`<tr><td colspan="5" class="empty">No token usage in the last ${COST_DAYS} days.</td></tr>`
      : o.costs.map((row) =>
        h`<tr data-cost-day="${row.day}" data-cost-model="${
          row.model ?? ""
        }"><td class="mono">${row.day}</td><td>${row.model ?? "(none)"}</td><td class="num">${
          fmtInt(row.messages)
        }</td><td class="num">${fmtInt(row.output_tokens)}</td><td class="num">${
          row.cost_usd === null
            ? h`<span class="unpriced" title="no price for this model">not priced</span>`
            : h`${fmtUsd(row.cost_usd)}${
              row.unpriced_messages > 0
                ? h` <span class="unpriced">+${row.unpriced_messages} unpriced</span>`
                : ""
            }`
        }</td></tr>`
      )
  }
  </tbody></table>
</section>`;
}

/** What the hooks last said about their own spools: a backlog or dead letters show here. */
function spoolTable(o: Overview): Html {
  if (o.spools.length === 0) return h``;
  return h`<section class="table-card" data-section="spools">
  <table><thead><tr><th>Hook spool (as last reported)</th><th>Host</th><th class="num">Waiting</th><th class="num">Dead letters</th><th class="num">Reported</th></tr></thead><tbody>
  ${
    o.spools.map((row) =>
      h`<tr><td>${row.project ?? "(unknown project)"}</td><td>${
        row.host ?? ""
      }</td><td class="num">${
        (row.pending ?? 0) > 0 ? h`<span class="fail">${fmtInt(row.pending)}</span>` : "0"
      }</td><td class="num">${
        (row.failed ?? 0) > 0 ? h`<span class="fail">${fmtInt(row.failed)}</span>` : "0"
      }</td><td class="num">${fmtAgo(new Date(row.reportedAt), o.now)}</td></tr>`
    )
  }
  </tbody></table>
</section>`;
}

export function overviewPage(o: Overview): Html {
  const window: WindowName = o.window;
  return page(
    "Overview",
    "overview",
    h`<div class="row spread">
  <div><h1>Overview</h1><p class="sub">Capture health across every project sending to this server.</p></div>
  <div class="tabs">${
      (Object.keys(WINDOWS) as WindowName[]).map((name) =>
        h`<a href="/?window=${name}"${name === window ? h` class="active"` : ""}>${
          WINDOWS[name].label
        }</a>`
      )
    }</div>
</div>
<div id="overview" data-live="/fragments/overview?window=${window}" data-live-every="10000">
${overviewFragment(o)}
</div>`,
  );
}
