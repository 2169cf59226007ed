// Sessions list: one row per captured Claude Code session, searchable by prompt text.
import { h, type Html } from "../html.ts";
import { page } from "../layout.ts";
import type { SessionListRow } from "../queries.ts";
import {
  basename,
  fmtCompact,
  fmtDuration,
  fmtTime,
  fmtUsd,
  shortId,
  truncate,
} from "../format.ts";

export function sessionsPage(
  rows: SessionListRow[],
  options: { q?: string; offset: number; more: boolean; limit: number },
): Html {
  const link = (offset: number) => {
    const params = new URLSearchParams();
    if (options.q) params.set("q", options.q);
    if (offset > 0) params.set("offset", String(offset));
    const query = params.toString();
    return `/sessions${query ? `?${query}` : ""}`;
  };
  return page(
    "Sessions",
    "sessions",
    h`<h1>Sessions</h1>
<p class="sub">Every Claude Code session captured, newest first.</p>
<form class="filters" method="get" action="/sessions">
  <label>Prompt text<input type="search" name="q" value="${
      options.q ?? ""
    }" placeholder="search prompts" size="40"></label>
  <button class="btn" type="submit">Search</button>
  ${options.q ? h`<a class="btn ghost" href="/sessions">Clear</a>` : ""}
</form>
<div class="table-card"><table>
<thead><tr><th>Started (UTC)</th><th>Project</th><th>Session</th><th>First prompt</th><th class="num">Duration</th><th class="num">Prompts</th><th class="num">Tool calls</th><th class="num">Tokens in / out</th><th class="num">Cost</th><th>End</th></tr></thead>
<tbody>${
      rows.length === 0
        ? h`<tr><td colspan="10" class="empty">${
          options.q ? "No session has a prompt matching that." : "No sessions captured yet."
        }</td></tr>`
        : rows.map((row) => {
          const duration = row.last_at ? row.last_at.getTime() - row.started.getTime() : null;
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
  <td class="num">${row.tool_calls}${
            row.tool_failures
              ? h` <span class="badge s-failure">${row.tool_failures} failed</span>`
              : ""
          }</td>
  <td class="num nowrap">${fmtCompact(row.input_tokens)} / ${fmtCompact(row.output_tokens)}</td>
  <td class="num nowrap" data-cost>${
            row.cost.cost_usd === null && row.cost.unpriced_messages > 0
              ? h`<span class="unpriced" title="no price for ${
                row.cost.unpriced_models.join(", ")
              }">unknown</span>`
              : fmtUsd(row.cost.cost_usd ?? 0)
          }</td>
  <td>${
            row.end_reason ??
              (row.ended_at ? "ended" : h`<span class="badge s-pending">open</span>`)
          }</td>
</tr>`;
        })
    }</tbody></table></div>
<div class="pager">${
      options.offset > 0
        ? h`<a href="${link(Math.max(0, options.offset - options.limit))}">← Newer</a>`
        : h`<span></span>`
    }${options.more ? h`<a href="${link(options.offset + options.limit)}">Older →</a>` : ""}</div>`,
  );
}
