// One audit row in full: envelope, stored answer, stage timings, headers, error, and the other
// deliveries of the same trace or requestId.
import { h, type Html, json } from "../html.ts";
import { page, statusBadge } from "../layout.ts";
import type { EventListRow } from "../../read/events.ts";
import { FAILED_STATUSES, type WebhookEventRow } from "../../schema.ts";
import { meter } from "../charts.ts";
import { fmtMs, fmtTime } from "../format.ts";
import { eventRows } from "./events.ts";

function stageTimings(timings: Record<string, number> | null): Html {
  const entries = Object.entries(timings ?? {}).filter(([, ms]) => typeof ms === "number");
  if (entries.length === 0) return h`<p class="muted">No stage timings recorded.</p>`;
  const max = Math.max(...entries.map(([, ms]) => ms));
  return h`<div class="stages">${
    entries.map(([stage, ms]) =>
      h`<span>${stage}</span>${meter(ms, max, "accent")}<span class="mono right">${
        fmtMs(ms)
      }</span>`
    )
  }</div>`;
}

export function eventPage(
  row: WebhookEventRow,
  related: EventListRow[],
  succeeded: boolean,
): Html {
  const canReprocess = FAILED_STATUSES.includes(row.status) && row.payload !== null && !succeeded;
  const headers = Object.entries(row.headers ?? {});
  return page(
    `Event ${row.request_id ?? row.id}`,
    "events",
    h`<div class="row spread">
  <div><h1>${row.event_type ?? "Event"} ${statusBadge(row.status)}</h1>
  <p class="sub mono">${row.request_id ?? `audit row #${row.id}`}</p></div>
  ${
      canReprocess
        ? h`<form method="post" action="/failed/reprocess"><input type="hidden" name="id" value="${row.id}"><button class="btn" type="submit">Reprocess from stored payload</button></form>`
        : succeeded && row.status !== "SUCCESS"
        ? h`<span class="badge s-SUCCESS">succeeded in a later delivery</span>`
        : ""
    }
</div>
${
      row.error_code || row.error_message
        ? h`<div class="alert bad"><b>${row.error_code ?? "error"}</b>${
          row.error_message ? h`: ${row.error_message}` : ""
        }</div>`
        : ""
    }
<div class="grid two">
  <section class="card"><h2>Request</h2><dl class="kv">
    <dt>Audit row</dt><dd class="mono">#${row.id}</dd>
    <dt>Request id</dt><dd class="mono">${row.request_id ?? "—"}</dd>
    <dt>Trace id</dt><dd class="mono">${
      row.trace_id ? h`<a href="/events?q=${row.trace_id}">${row.trace_id}</a>` : "—"
    }</dd>
    <dt>Span id</dt><dd class="mono">${row.span_id ?? "—"}</dd>
    <dt>Session</dt><dd class="mono">${
      row.session_id
        ? h`<a href="/sessions/${encodeURIComponent(row.session_id)}">${row.session_id}</a>`
        : "—"
    }</dd>
    <dt>Attempt</dt><dd>${row.attempt ?? "—"}</dd>
    <dt>Batch</dt><dd class="mono">${row.batch_id ?? "—"}</dd>
    <dt>HTTP status</dt><dd>${row.http_status ?? "—"}</dd>
    <dt>Stage reached</dt><dd>${row.stage}</dd>
    <dt>Received</dt><dd class="mono">${fmtTime(row.received_at)} UTC</dd>
    <dt>Completed</dt><dd class="mono">${fmtTime(row.completed_at)}</dd>
    <dt>Processing</dt><dd>${fmtMs(row.processing_ms)}</dd>
    <dt>Client IP</dt><dd class="mono">${row.ip ?? "—"}</dd>
    <dt>User agent</dt><dd class="mono">${row.user_agent ?? "—"}</dd>
    <dt>Body SHA-256</dt><dd class="mono">${row.body_sha256 ?? "—"}</dd>
  </dl></section>
  <section class="card"><h2>Stage timings</h2>${stageTimings(row.stage_timings)}
    <h2 class="gap">Headers kept</h2>${
      headers.length
        ? h`<dl class="kv">${
          headers.map(([k, v]) => h`<dt class="mono">${k}</dt><dd class="mono">${v}</dd>`)
        }</dl>`
        : h`<p class="muted">None.</p>`
    }
  </section>
</div>
<div class="grid two" id="bodies">
  <section class="card"><h2>Envelope (as stored, redacted)</h2><pre id="payload">${
      row.payload === null ? "not stored" : json(row.payload)
    }</pre></section>
  <section class="card"><h2>Stored response</h2><pre id="response">${
      row.response === null ? "none" : json(row.response)
    }</pre></section>
</div>
<h2 class="gap" id="related">Same trace or request id (${related.length})</h2>
<div class="table-card"><table>
<thead><tr><th>Received (UTC)</th><th>Status</th><th>Event</th><th>Session</th><th>Request id</th><th class="num">HTTP</th><th>Stage</th><th>Error</th><th class="num">Time</th></tr></thead>
<tbody>${eventRows(related)}</tbody></table></div>`,
  );
}
