// Sessions list: one row per captured Claude Code session, newest first, a page at a time.
import { h, type Html } from "../html.ts";
import { page } from "../layout.ts";
import type { SessionPage } from "../../read/sessions.ts";
import {
  basename,
  fmtCompact,
  fmtDuration,
  fmtTime,
  fmtUsd,
  shortId,
  truncate,
} from "../format.ts";

export function sessionsPage(data: SessionPage, options: { cursor?: string; key?: string }): Html {
  const link = (cursor?: string) => {
    const params = new URLSearchParams();
    if (options.key) params.set("key", options.key);
    if (cursor) params.set("cursor", cursor);
    const query = params.toString();
    return `/sessions${query ? `?${query}` : ""}`;
  };
  return page(
    "Sessions",
    "sessions",
    h`<h1>Sessions</h1>
<p class="sub">Every Claude Code session captured, newest first. To find words in any of them,
use the search box at the top.</p>
<div class="table-card"><table>
<thead><tr><th>Started (UTC)</th><th>Project</th><th>Session</th><th>First prompt</th><th class="num">Duration</th><th class="num">Prompts</th><th class="num">Tool calls</th><th class="num">Tokens in / out</th><th class="num">Cost</th><th>End</th></tr></thead>
<tbody>${
      data.sessions.length === 0
        ? h`<tr><td colspan="10" class="empty">No sessions captured yet.</td></tr>`
        : data.sessions.map((row) => {
          const last = row.ended_at ?? row.last_event_at;
          const duration = last ? last.getTime() - row.started.getTime() : null;
          const href = `/sessions/${encodeURIComponent(row.session_id)}`;
          return h`<tr>
  <td class="mono nowrap">${fmtTime(row.started)}</td>
  <td title="${row.project_dir ?? row.cwd ?? ""}"><b>${
            basename(row.project_dir ?? row.cwd)
          }</b></td>
  <td class="mono"><a href="${href}" title="${row.session_id}">${shortId(row.session_id)}</a></td>
  <td><a href="${href}">${
            truncate(row.first_prompt, 90) || h`<span class="muted">—</span>`
          }</a></td>
  <td class="num nowrap">${fmtDuration(duration)}</td>
  <td class="num">${row.prompts}</td>
  <td class="num">${row.tool_uses}${
            row.tool_failures
              ? h` <span class="badge s-failure">${row.tool_failures} failed</span>`
              : ""
          }</td>
  <td class="num nowrap">${fmtCompact(row.input_tokens)} / ${fmtCompact(row.output_tokens)}</td>
  <td class="num nowrap" data-cost>${
            row.cost_usd === null && row.unpriced_messages > 0
              ? h`<span class="unpriced" title="no price for ${
                row.unpriced_models.join(", ")
              }">unknown</span>`
              : fmtUsd(row.cost_usd ?? 0)
          }</td>
  <td>${
            row.end_reason ??
              (row.ended_at ? "ended" : h`<span class="badge s-pending">open</span>`)
          }</td>
</tr>`;
        })
    }</tbody></table></div>
<div class="pager">${options.cursor ? h`<a href="${link()}">← Newest</a>` : h`<span></span>`}${
      data.nextCursor ? h`<a href="${link(data.nextCursor)}">Older →</a>` : ""
    }</div>`,
  );
}
