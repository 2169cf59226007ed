// Audit log: every request, newest first, filtered; the first page refreshes live.
import { h, type Html } from "../html.ts";
import { page, statusBadge } from "../layout.ts";
import type { EventListRow } from "../../read/events.ts";
import type { EventForm } from "../params.ts";
import { WEBHOOK_STATUSES } from "../../schema.ts";
import { fmtMs, fmtTime, shortId } from "../format.ts";

function toLocalInput(date: Date | undefined): string {
  return date ? date.toISOString().slice(0, 16) : "";
}

/** The filter as query parameters (without the cursor). */
export function filterQuery(filter: EventForm): URLSearchParams {
  const params = new URLSearchParams();
  if (filter.status) params.set("status", filter.status);
  if (filter.event) params.set("event", filter.event);
  if (filter.session) params.set("session", filter.session);
  if (filter.key) params.set("key", filter.key);
  if (filter.from) params.set("from", filter.from.toISOString());
  if (filter.to) params.set("to", filter.to.toISOString());
  if (filter.q) params.set("q", filter.q);
  return params;
}

export function eventRows(rows: EventListRow[]): Html {
  if (rows.length === 0) return h`<tr><td colspan="9" class="empty">No matching events.</td></tr>`;
  return h`${
    rows.map((row) =>
      h`<tr data-id="${row.id}">
  <td class="nowrap mono">${fmtTime(row.received_at)}</td>
  <td>${statusBadge(row.status)}</td>
  <td>${row.event_type ?? "—"}</td>
  <td class="mono">${
        row.session_id
          ? h`<a href="/sessions/${encodeURIComponent(row.session_id)}" title="${row.session_id}">${
            shortId(row.session_id)
          }</a>`
          : "—"
      }</td>
  <td class="mono"><a href="/events/${row.id}" title="${row.request_id ?? ""}">${
        row.request_id ?? `#${row.id}`
      }</a></td>
  <td class="num">${row.http_status ?? "—"}</td>
  <td>${row.stage}</td>
  <td class="mono">${row.error_code ?? ""}</td>
  <td class="num nowrap">${fmtMs(row.processing_ms)}</td>
</tr>`
    )
  }`;
}

export function eventsTable(
  rows: EventListRow[],
  next: string | null,
  filter: EventForm,
): Html {
  const params = filterQuery(filter);
  if (next) params.set("cursor", next);
  return h`<div class="table-card"><table>
<thead><tr><th>Received (UTC)</th><th>Status</th><th>Event</th><th>Session</th><th>Request id</th><th class="num">HTTP</th><th>Stage</th><th>Error</th><th class="num">Time</th></tr></thead>
<tbody>${eventRows(rows)}</tbody></table></div>
<div class="pager"><span>${rows.length} shown${filter.cursor ? " (older page)" : ""}</span>${
    next ? h`<a href="/events?${params.toString()}">Older →</a>` : h`<span></span>`
  }</div>`;
}

export function eventsPage(
  rows: EventListRow[],
  next: string | null,
  filter: EventForm,
  eventTypes: string[],
): Html {
  const live = filter.cursor === undefined;
  const option = (value: string, current: string | undefined) =>
    h`<option value="${value}"${value === current ? h` selected` : ""}>${value}</option>`;
  return page(
    "Audit log",
    "events",
    h`<h1>Audit log</h1>
<p class="sub">One row per request the server received, whatever its outcome. ${
      live
        ? "Updates live."
        : h`<a href="/events?${filterQuery(filter).toString()}">Back to newest</a>`
    }</p>
<form class="filters" method="get" action="/events">
  <label>Status<select name="status"><option value="">any</option>${
      WEBHOOK_STATUSES.map((s) => option(s, filter.status))
    }</select></label>
  <label>Event<select name="event"><option value="">any</option>${
      [...new Set([...eventTypes, ...(filter.event ? [filter.event] : [])])].map((e) =>
        option(e, filter.event)
      )
    }</select></label>
  <label>Session<input type="text" name="session" value="${
      filter.session ?? ""
    }" placeholder="session id" size="20"></label>
  <label>Key<input type="text" name="key" value="${
      filter.key ?? ""
    }" placeholder="key name" size="12"></label>
  <label>From (UTC)<input type="datetime-local" name="from" value="${
      toLocalInput(filter.from)
    }"></label>
  <label>To (UTC)<input type="datetime-local" name="to" value="${toLocalInput(filter.to)}"></label>
  <label>Id prefix or error text<input type="search" name="q" value="${
      filter.q ?? ""
    }" placeholder="request, trace, session id or error" size="26"></label>
  <button class="btn" type="submit">Filter</button>
  <a class="btn ghost" href="/events">Reset</a>
</form>
<div id="events"${
      live
        ? h` data-live="/fragments/events?${
          filterQuery(filter).toString()
        }" data-live-every="30000"`
        : ""
    }>
${eventsTable(rows, next, filter)}
</div>`,
  );
}
