// Full-text search over prompts, replies, tool calls and failed tools' errors (the generated
// search_tsv columns of migrations/0004), ranked, with highlighted snippets and keyset paging.
import type postgres from "postgres";
import type { Sql } from "../store/open.ts";
import { decodeCursor, encodeCursor } from "./cursor.ts";
import { ReadInputError } from "./errors.ts";
import { isStopCopy } from "./copies.ts";
import { type Candidates, candidates } from "./search_candidates.ts";
import { relaxedTsquery } from "./search_terms.ts";

export const SEARCH_KINDS = ["prompt", "reply", "tool", "error"] as const;
/** prompt: a user prompt; reply: assistant text; tool: a tool call; error: a failed tool call. */
export type SearchKind = typeof SEARCH_KINDS[number];

export interface SearchQuery {
  /** websearch syntax: words (all must match), "a phrase", -excluded, or. */
  q: string;
  project?: string;
  session?: string;
  since?: Date;
  until?: Date;
  kinds?: readonly SearchKind[];
  limit?: number;
  cursor?: string;
}

/** A piece of a snippet; `mark` pieces are the words that matched. Renderers escape `text`. */
export interface SnippetPart {
  text: string;
  mark: boolean;
}

export interface SearchHit {
  kind: SearchKind;
  /** The messages or tool_uses row id. */
  id: string;
  session_id: string;
  project_dir: string | null;
  tool_name: string | null;
  at: Date | null;
  rank: number;
  snippet: SnippetPart[];
  /** The element id of this hit on the conversation page. */
  anchor: string;
}

export interface SearchResult {
  hits: SearchHit[];
  nextCursor: string | null;
  /**
   * True when a table had more rows holding the words than are ranked: the newest CANDIDATES of
   * each table are ranked (for a phrase: the newest rows holding its words, of which those with
   * the phrase are hits), so a very common word answers fast; more words or a filter narrow it.
   */
  capped: boolean;
}

export const SEARCH_PAGE = 20;
/**
 * Rows ranked per table: the newest this many that hold the words (src/read/search_candidates.ts).
 * Each costs a heap visit, wherever it lies: bounded, a word in half of a million messages
 * answers as fast as a rare one, and on the embedded store a search never holds the one
 * connection ingest needs for long. 500 against 1,000, same run on 1M messages (loaded
 * machine): p95 150 against 188 ms.
 */
export const CANDIDATES = 500;
const MAX_QUERY = 500;

// Matches are marked with control characters (stripped from the text first), so the snippet
// can be split into parts without trusting anything in the stored text to be markup. Angle
// brackets travel as two private-use characters, so the parser finds the words between them as
// the index did (see arrakis_search_vector), and come back here.
const START = "\u0002";
const STOP = "\u0003";
const LT = "\ue000";
const GT = "\ue001";
const HEADLINE = `StartSel=${START}, StopSel=${STOP}, MaxWords=32, MinWords=12, ` +
  `MaxFragments=2, FragmentDelimiter=" … "`;
/** What ts_headline reads; the same cap as the index (arrakis_search_vector). */
const DOC_CAP = 65536;

export function anchorOf(table: "message" | "tool", id: string): string {
  return table === "message" ? `m-${id}` : `t-${id}`;
}

function splitSnippet(headline: string): SnippetPart[] {
  const text = headline.replaceAll(LT, "<").replaceAll(GT, ">");
  const parts: SnippetPart[] = [];
  for (const [i, piece] of text.split(START).entries()) {
    const [marked, rest] = i === 0 ? [null, piece] : piece.split(STOP, 2);
    if (marked) parts.push({ text: marked, mark: true });
    if (rest) parts.push({ text: rest, mark: false });
  }
  return parts;
}

interface Row {
  tbl: "message" | "tool";
  id: string;
  kind: SearchKind;
  session_id: string;
  project_dir: string | null;
  tool_name: string | null;
  at: Date | null;
  rank: number;
  headline: string | null;
}

type Fragment = postgres.PendingQuery<postgres.Row[]>;

/** A page's cursor: the last hit's sort key, and the newest ids the first page ranked. */
function decodeSearchCursor(cursor: string | undefined) {
  const key = decodeCursor(cursor, ["number", "text", "id", "id", "id"]);
  return key && {
    rank: key[0] as number,
    tbl: key[1] as string,
    id: key[2] as string,
    ceilings: { messages: Number(key[3]), tool_uses: Number(key[4]) },
  };
}

export async function search(
  sql: Sql,
  query: SearchQuery,
): Promise<SearchResult> {
  const q = query.q.trim();
  if (q === "") throw new ReadInputError("q must hold at least one word to search for");
  if (q.length > MAX_QUERY) throw new ReadInputError(`q is longer than ${MAX_QUERY} characters`);
  const limit = Math.min(query.limit ?? SEARCH_PAGE, 100);
  const after = decodeSearchCursor(query.cursor);
  const kinds = query.kinds?.length ? query.kinds : SEARCH_KINDS;
  const wantMessages = kinds.includes("prompt") || kinds.includes("reply");
  const wantTools = kinds.includes("tool") || kinds.includes("error");
  const roles = [
    ...(kinds.includes("prompt") ? ["user"] : []),
    ...(kinds.includes("reply") ? ["assistant"] : []),
  ];
  const statuses = kinds.includes("tool")
    ? (kinds.includes("error") ? null : ["pending", "success"])
    : ["failure"];
  const bounds = (column: string) =>
    sql`${query.session ? sql`AND x.session_id = ${query.session}` : sql``}
      ${query.since ? sql`AND ${sql.unsafe(column)} >= ${query.since}` : sql``}
      ${query.until ? sql`AND ${sql.unsafe(column)} < ${query.until}` : sql``}`;
  const stripped = (text: string) =>
    sql`translate(regexp_replace(left(${sql.unsafe(text)}, ${DOC_CAP}),
      ${`[${START}${STOP}${LT}${GT}]`}, '', 'g'), '<>', ${LT + GT})`;
  const inProject = () =>
    query.project
      ? sql`AND x.conversation_id IN (SELECT id FROM conversations WHERE project_dir = ${query.project})`
      : sql``;
  // Each table's filters after a match condition: the kind, then the others.
  const messageKind = () => sql`AND x.role IN ${sql(roles)}`;
  const toolKind = () => statuses ? sql`AND x.status IN ${sql(statuses)}` : sql``;
  const messagesWhere = (match: Fragment) =>
    sql`${match} ${messageKind()} ${bounds("x.occurred_at")} ${inProject()}`;
  const toolsWhere = (match: Fragment) =>
    sql`${match} ${toolKind()} ${bounds("coalesce(x.pre_at, x.post_at)")} ${inProject()}`;

  // The words as asked, a constant when planning so the planner sees them (a CTE's column would
  // hide them).
  const words = () => sql`websearch_to_tsquery('english', ${q})`;

  // One snapshot for the candidates and the page, so both see the same rows. Planned for these
  // very words (a prepared statement's generic plan cannot tell a word in half the messages from
  // a rare one), and without JIT: a common word's estimate is high enough to compile the query,
  // and that costs more than running it (470 ms of 970 ms, measured on 1M messages). Settings
  // and the words in one statement: each round trip counts at these latencies.
  return await sql.begin("isolation level repeatable read read only", async (tx) => {
    const [{ tsq }] = await tx<{ tsq: string }[]>`
      SELECT set_config('plan_cache_mode', 'force_custom_plan', true),
        set_config('jit', 'off', true), ${words()}::text AS tsq`;
    // Only stop words: nothing to find.
    if (tsq === "") return { hits: [], nextCursor: null, capped: false };
    // The words as the index finds them: a phrase as its words, in any order.
    const relaxed = () => sql`x.search_tsv @@ ${relaxedTsquery(tsq)}::tsquery`;
    const rank = () => sql`ts_rank_cd(x.search_tsv, ${words()})`;
    // One table after the other: each sets how its rows are scanned.
    const messages = wantMessages
      ? await candidates(tx, {
        table: "messages",
        where: messagesWhere(relaxed()),
        dense: sql`${relaxed()} ${messageKind()}`,
        hit: sql`x.search_tsv @@ ${words()} AND NOT ${isStopCopy(sql, "x")}`,
        rank: rank(),
        limit: CANDIDATES,
        ceiling: after?.ceilings.messages ?? null,
      })
      : null;
    const tools = wantTools
      ? await candidates(tx, {
        table: "tool_uses",
        where: toolsWhere(relaxed()),
        dense: sql`${relaxed()} ${toolKind()}`,
        hit: sql`x.search_tsv @@ ${words()}`,
        rank: rank(),
        limit: CANDIDATES,
        ceiling: after?.ceilings.tool_uses ?? null,
      })
      : null;
    if (!messages && !tools) return { hits: [], nextCursor: null, capped: false };
    const ranked = (tbl: string, found: Candidates) =>
      sql`SELECT ${tbl}::text AS tbl, h.id, h.rank
        FROM unnest(${found.ids}::bigint[], ${found.ranks}::real[]) AS h(id, rank)`;
    // Only the page's rows are read again: for what a hit shows, and its snippet.
    const rows = await tx<Row[]>`
    WITH query AS (SELECT ${words()} AS tsq),
    hits AS (
      ${messages ? ranked("message", messages) : sql``}
      ${messages && tools ? sql`UNION ALL` : sql``}
      ${tools ? ranked("tool", tools) : sql``}
    ),
    page AS (
      SELECT hits.* FROM hits
      WHERE true
        ${
      after
        ? sql`AND (hits.rank < ${after.rank}::real OR (hits.rank = ${after.rank}::real
            AND (hits.tbl > ${after.tbl} OR (hits.tbl = ${after.tbl}
              AND hits.id < ${after.id}::bigint))))`
        : sql``
    }
      ORDER BY hits.rank DESC, hits.tbl, hits.id DESC
      LIMIT ${limit + 1}
    )
    SELECT page.tbl, page.id::text, page.rank,
      CASE WHEN page.tbl = 'message'
        THEN CASE WHEN m.role = 'user' THEN 'prompt' ELSE 'reply' END
        ELSE CASE WHEN t.status = 'failure' THEN 'error' ELSE 'tool' END
      END AS kind,
      c.session_id, c.project_dir, t.tool_name,
      CASE WHEN page.tbl = 'message' THEN m.occurred_at
        ELSE coalesce(t.pre_at, t.post_at) END AS at,
      ts_headline('english',
        CASE WHEN page.tbl = 'message' THEN ${stripped("m.content")}
          ELSE ${stripped("arrakis_tool_text(t.tool_name, t.tool_input, t.tool_response, t.error)")}
        END, query.tsq, ${HEADLINE}) AS headline
    FROM page CROSS JOIN query
    LEFT JOIN messages m ON page.tbl = 'message' AND m.id = page.id
    LEFT JOIN tool_uses t ON page.tbl = 'tool' AND t.id = page.id
    JOIN conversations c ON c.id = coalesce(m.conversation_id, t.conversation_id)
    ORDER BY page.rank DESC, page.tbl, page.id DESC`;
    const shown = rows.slice(0, limit);
    const last = shown.at(-1);
    const ceiling = (found: Candidates | null) => String(found?.ceiling ?? 0);
    return {
      hits: shown.map((row) => ({
        kind: row.kind,
        id: row.id,
        session_id: row.session_id,
        project_dir: row.project_dir,
        tool_name: row.tool_name,
        at: row.at,
        rank: row.rank,
        snippet: splitSnippet(row.headline ?? ""),
        anchor: anchorOf(row.tbl, row.id),
      })),
      nextCursor: rows.length > limit && last
        ? encodeCursor([last.rank, last.tbl, last.id, ceiling(messages), ceiling(tools)])
        : null,
      capped: Boolean(messages?.capped || tools?.capped),
    };
  });
}
