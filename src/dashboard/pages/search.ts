// Search results: ranked hits with their matched words marked, each linking into its
// conversation at that message, which the page then highlights.
import { h, type Html } from "../html.ts";
import { page } from "../layout.ts";
import type { SearchHit, SearchQuery, SearchResult, SnippetPart } from "../../read/search.ts";
import { CANDIDATES, SEARCH_KINDS } from "../../read/search.ts";
import { basename, fmtTime, shortId } from "../format.ts";

const KIND_LABELS = { prompt: "Prompt", reply: "Reply", tool: "Tool call", error: "Failed tool" };
const KIND_PLURALS = {
  prompt: "Prompts",
  reply: "Replies",
  tool: "Tool calls",
  error: "Failed tools",
};

function snippet(parts: SnippetPart[]): Html {
  return h`${parts.map((part) => part.mark ? h`<mark>${part.text}</mark>` : h`${part.text}`)}`;
}

export function hitHref(hit: Pick<SearchHit, "session_id" | "anchor">): string {
  return `/sessions/${encodeURIComponent(hit.session_id)}?hit=${hit.anchor}#${hit.anchor}`;
}

export function searchPage(
  query: SearchQuery,
  result: SearchResult | { error: string },
): Html {
  const params = (cursor: string) => {
    const p = new URLSearchParams({ q: query.q });
    if (query.kinds?.length === 1) p.set("kind", query.kinds[0]);
    if (query.project) p.set("project", query.project);
    if (query.session) p.set("session", query.session);
    p.set("cursor", cursor);
    return p.toString();
  };
  const kind = query.kinds?.length === 1 ? query.kinds[0] : "";
  return page(
    query.q ? `Search: ${query.q}` : "Search",
    null,
    h`<h1>Search</h1>
<p class="sub">Prompts, replies, tool calls and errors of every session. Use "quotes" for a
phrase and -word to leave a word out.</p>
<form class="filters" method="get" action="/search" role="search">
  <label>Words<input type="search" name="q" value="${query.q}" size="40" required></label>
  <label>In<select name="kind"><option value="">everything</option>${
      SEARCH_KINDS.map((k) =>
        h`<option value="${k}"${k === kind ? h` selected` : ""}>${KIND_PLURALS[k]}</option>`
      )
    }</select></label>
  ${query.session ? h`<input type="hidden" name="session" value="${query.session}">` : ""}
  ${query.project ? h`<input type="hidden" name="project" value="${query.project}">` : ""}
  <button class="btn" type="submit">Search</button>
</form>
${
      "error" in result
        ? h`<div class="alert bad">${result.error}</div>`
        : h`${
          result.capped
            ? h`<p class="sub">So many matches that the newest ${
              CANDIDATES.toLocaleString("en-US")
            } of each kind are ranked: add words or a filter to narrow.</p>`
            : ""
        }<ol class="hits">${
          result.hits.length === 0
            ? h`<li class="card empty">Nothing matches that.</li>`
            : result.hits.map((hit) =>
              h`<li class="card hit-row kind-${hit.kind}"><div class="who"><span class="badge s-${
                hit.kind === "error" ? "failure" : "pending"
              }">${KIND_LABELS[hit.kind]}${hit.tool_name ? h` · ${hit.tool_name}` : ""}</span>
<a href="${hitHref(hit)}"><b>${basename(hit.project_dir)}</b> <span class="mono">${
                shortId(hit.session_id)
              }</span></a><span class="mono muted">${fmtTime(hit.at)}</span></div>
<a class="snippet" href="${hitHref(hit)}">${snippet(hit.snippet)}</a></li>`
            )
        }</ol>
<div class="pager"><span></span>${
          result.nextCursor ? h`<a href="/search?${params(result.nextCursor)}">More →</a>` : ""
        }</div>`
    }`,
  );
}
