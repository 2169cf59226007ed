// Failed events grouped by error code, reprocessable one at a time or as a selection.
import { h, type Html } from "../html.ts";
import { page, statusBadge } from "../layout.ts";
import type { FailedRow } from "../../read/events.ts";
import { fmtTime, shortId, truncate } from "../format.ts";
import type { ReprocessOutcome } from "../reprocess.ts";

export function failedPage(
  data: { groups: { code: string; n: number }[]; rows: FailedRow[]; nextCursor: string | null },
  options: { code?: string; includeResolved: boolean; outcomes?: ReprocessOutcome[] },
): Html {
  const total = data.groups.reduce((sum, g) => sum + g.n, 0);
  const link = (code: string | undefined, resolved = options.includeResolved) => {
    const params = new URLSearchParams();
    if (code) params.set("code", code);
    if (resolved) params.set("resolved", "1");
    const query = params.toString();
    return `/failed${query ? `?${query}` : ""}`;
  };
  return page(
    "Failed events",
    "failed",
    h`<h1>Failed events</h1>
<p class="sub">Requests answered ERROR, INVALID or CONFLICT. Reprocessing runs the stored envelope through
the ingest pipeline again; a requestId that already succeeded is never processed twice.</p>
${options.outcomes ? outcomesPanel(options.outcomes) : ""}
<div class="row spread">
<div class="chips">
  <a class="chip${options.code ? "" : " active"}" href="${link(undefined)}">All<b>${total}</b></a>
  ${
      data.groups.map((g) =>
        h`<a class="chip${g.code === options.code ? " active" : ""}" href="${
          link(g.code)
        }">${g.code}<b>${g.n}</b></a>`
      )
    }
</div>
<a class="muted" href="${link(options.code, !options.includeResolved)}">${
      options.includeResolved ? "Hide resolved" : "Show resolved too"
    }</a>
</div>
<form method="post" action="/failed/reprocess" id="failed-form">
<div class="table-card"><table>
<thead><tr><th><input type="checkbox" data-select-all aria-label="select all"></th><th>Received (UTC)</th><th>Status</th><th>Error</th><th>Event</th><th>Session</th><th>Request id</th><th></th></tr></thead>
<tbody>${
      data.rows.length === 0
        ? h`<tr><td colspan="8" class="empty">Nothing failed${
          options.code ? " with this code" : ""
        }. Good.</td></tr>`
        : data.rows.map((row) => {
          const why = notReprocessable(row);
          const blocked = why !== undefined;
          return h`<tr data-id="${row.id}">
  <td><input type="checkbox" name="id" value="${row.id}"${
            blocked ? h` disabled title="${why}"` : ""
          } aria-label="select ${row.id}"></td>
  <td class="mono nowrap">${fmtTime(row.received_at)}</td>
  <td>${statusBadge(row.status)}${
            row.resolved ? h` <span class="badge s-SUCCESS">resolved</span>` : ""
          }</td>
  <td><span class="mono">${row.error_code ?? "—"}</span><div class="muted">${
            truncate(row.error_message, 120)
          }</div></td>
  <td>${
            row.event_type ?? "—"
          }</td>
  <td class="mono">${
            row.session_id
              ? h`<a href="/sessions/${encodeURIComponent(row.session_id)}">${
                shortId(row.session_id)
              }</a>`
              : "—"
          }</td>
  <td class="mono"><a href="/events/${row.id}">${row.request_id ?? `#${row.id}`}</a></td>
  <td class="right">${
            blocked
              ? h`<span class="muted" data-why>Cannot reprocess: ${why}</span>`
              : h`<button class="btn small ghost" type="submit" name="one" value="${row.id}">Reprocess</button>`
          }</td>
</tr>`;
        })
    }</tbody></table></div>
<div class="pager"><button class="btn" type="submit" id="reprocess-selected">Reprocess selected</button>${
      data.nextCursor
        ? h`<a href="${link(options.code)}${
          link(options.code).includes("?") ? "&" : "?"
        }cursor=${data.nextCursor}">Older →</a>`
        : ""
    }</div>
</form>`,
  );
}

/** Why a failed row cannot be run again, in words; undefined when it can. */
export function notReprocessable(
  row: Pick<FailedRow, "resolved" | "has_payload" | "request_id">,
): string | undefined {
  if (row.resolved) return "this requestId has since been stored successfully";
  if (!row.has_payload) {
    return "the request was rejected before a valid envelope could be kept (too large, not JSON, or not an object), so there is nothing to run again";
  }
  if (!row.request_id) {
    return "the envelope has no valid requestId, so a rerun could not be told apart from a new event; the client must resend it";
  }
  return undefined;
}

function outcomesPanel(outcomes: ReprocessOutcome[]): Html {
  const good = outcomes.filter((o) => o.ok).length;
  return h`<section class="alert ${good === outcomes.length ? "ok" : "bad"}" id="outcomes">
<b>Reprocessed ${outcomes.length}: ${good} stored, ${outcomes.length - good} not.</b>
<table class="outcomes"><tbody>${
    outcomes.map((o) =>
      h`<tr><td class="mono"><a href="/events/${o.id}">${o.requestId ?? `#${o.id}`}</a></td><td>${
        statusBadge(o.status)
      }</td><td>${o.httpStatus ?? ""}</td><td>${o.message}</td><td>${
        o.eventId ? h`<a href="/events/${o.eventId}">new audit row #${o.eventId}</a>` : ""
      }</td></tr>`
    )
  }</tbody></table></section>`;
}
