// Full-text search over prompts, replies, tool calls and failed tools' errors (the generated
// search_tsv columns of migrations/0004), ranked, with highlighted snippets and keyset paging.
import type postgres from "postgres";
import type { Sql } from "../store/open.ts";
import { decodeCursor, encodeCursor } from "./cursor.ts";
import { ReadInputError } from "./errors.ts";
import { isStopCopy } from "./copies.ts";

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
   * True when a table had more matches than are ranked: the newest CANDIDATES matches of each
   * table are ranked, so a very common word answers fast; more words or a filter narrow it.
   */
  capped: boolean;
}

export const SEARCH_PAGE = 20;
/**
 * Matches ranked per table, newest first. Ranking reads every candidate's vector: without a cap
 * a word in half of a million messages costs seconds, and on the embedded store a search holds
 * the one connection ingest needs.
 */
export const CANDIDATES = 5000;
/**
 * Above this many estimated matches, the newest candidates are found by walking the table
 * newest first (a common word turns up within a few thousand rows); below it, by the GIN
 * index, whose every match is a heap visit. Left to itself the planner walked 750k rows for a
 * word in 0.7% of a million messages (measured), so the choice is made here.
 */
const COMMON_MATCHES = 50_000;

/** The planner's estimate of how many rows of `table` match: one EXPLAIN, no execution. */
async function estimatedMatches(
  tx: postgres.TransactionSql,
  table: "messages" | "tool_uses",
  q: string,
) {
  const [row] = await tx.unsafe(
    `EXPLAIN (FORMAT JSON) SELECT 1 FROM ${table} x
     WHERE x.search_tsv @@ websearch_to_tsquery('english', $1)`,
    [q],
  );
  const plan = (row["QUERY PLAN"] as { Plan: { "Plan Rows": number } }[])[0].Plan;
  return plan["Plan Rows"];
}
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
  capped: boolean;
}

export async function search(
  sql: Sql,
  query: SearchQuery,
): Promise<SearchResult> {
  const q = query.q.trim();
  if (q === "") throw new ReadInputError("q must hold at least one word to search for");
  if (q.length > MAX_QUERY) throw new ReadInputError(`q is longer than ${MAX_QUERY} characters`);
  const limit = Math.min(query.limit ?? SEARCH_PAGE, 100);
  const after = decodeCursor(query.cursor, ["number", "text", "id"]);
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

  const matches = sql`x.search_tsv @@ websearch_to_tsquery('english', ${q})`;
  const inProject = query.project
    ? sql`AND x.conversation_id IN (SELECT id FROM conversations WHERE project_dir = ${query.project})`
    : sql``;

  // Planned for these very words (a prepared statement's generic plan cannot tell a word in
  // half the messages from a rare one, and picked a plan that reads 750k rows for a rare one),
  // and without JIT: a common word's estimate is high enough to compile the query, and that
  // costs more than running it (470 ms of 970 ms, measured on 1M messages).
  const rows = await sql.begin(async (tx) => {
    await tx`SET LOCAL plan_cache_mode = force_custom_plan`;
    await tx`SET LOCAL jit = off`;
    // Booleans first: a query fragment is a thenable, and awaiting one would run it.
    const [commonMessages, commonTools] = await Promise.all([
      wantMessages ? estimatedMatches(tx, "messages", q).then((n) => n > COMMON_MATCHES) : false,
      wantTools ? estimatedMatches(tx, "tool_uses", q).then((n) => n > COMMON_MATCHES) : false,
    ]);
    const newest = (common: boolean) => common ? sql`x.id DESC` : sql`x.id + 0 DESC`;
    const messageOrder = newest(commonMessages);
    const toolOrder = newest(commonTools);
    return await tx<Row[]>`
    WITH query AS (SELECT websearch_to_tsquery('english', ${q}) AS tsq),
    hits AS (
      ${
      wantMessages
        ? sql`SELECT 'message' AS tbl, x.id, x.conversation_id,
          CASE WHEN x.role = 'user' THEN 'prompt' ELSE 'reply' END AS kind,
          NULL::text AS tool_name, x.occurred_at AS at,
          ts_rank_cd(x.search_tsv, query.tsq) AS rank
        FROM (
          SELECT x.id, x.conversation_id, x.role, x.source, x.content, x.occurred_at, x.search_tsv
          FROM messages x
          WHERE ${matches} AND x.role IN ${sql(roles)}
            ${bounds("x.occurred_at")} ${inProject}
          ORDER BY ${messageOrder} LIMIT ${CANDIDATES}
        ) x, query
        WHERE NOT ${isStopCopy(sql, "x")}`
        : sql``
    }
      ${wantMessages && wantTools ? sql`UNION ALL` : sql``}
      ${
      wantTools
        ? sql`SELECT 'tool' AS tbl, x.id, x.conversation_id,
          CASE WHEN x.status = 'failure' THEN 'error' ELSE 'tool' END AS kind,
          x.tool_name, coalesce(x.pre_at, x.post_at) AS at,
          ts_rank_cd(x.search_tsv, query.tsq) AS rank
        FROM (
          SELECT x.id, x.conversation_id, x.status, x.tool_name, x.pre_at, x.post_at,
            x.search_tsv FROM tool_uses x
          WHERE ${matches}
            ${statuses ? sql`AND x.status IN ${sql(statuses)}` : sql``}
            ${bounds("coalesce(x.pre_at, x.post_at)")} ${inProject}
          ORDER BY ${toolOrder} LIMIT ${CANDIDATES}
        ) x, query`
        : sql``
    }
    ),
    page AS (
      SELECT hits.*, c.session_id, c.project_dir FROM hits
      JOIN conversations c ON c.id = hits.conversation_id
      WHERE true
        ${
      after
        ? sql`AND (hits.rank < ${after[0]}::real OR (hits.rank = ${after[0]}::real
            AND (hits.tbl > ${after[1]} OR (hits.tbl = ${after[1]} AND hits.id < ${
          after[2]
        }::bigint))))`
        : sql``
    }
      ORDER BY hits.rank DESC, hits.tbl, hits.id DESC
      LIMIT ${limit + 1}
    )
    SELECT page.tbl, page.id::text, page.kind, page.session_id, page.project_dir, page.tool_name,
      page.at, page.rank,
      (SELECT coalesce(bool_or(n >= ${CANDIDATES}), false)
        FROM (SELECT count(*) AS n FROM hits GROUP BY tbl) counts) AS capped,
      ts_headline('english',
        CASE WHEN page.tbl = 'message' THEN ${stripped("m.content")}
          ELSE ${stripped("arrakis_tool_text(t.tool_name, t.tool_input, t.tool_response, t.error)")}
        END, query.tsq, ${HEADLINE}) AS headline
    FROM page CROSS JOIN query
    LEFT JOIN messages m ON page.tbl = 'message' AND m.id = page.id
    LEFT JOIN tool_uses t ON page.tbl = 'tool' AND t.id = page.id
    ORDER BY page.rank DESC, page.tbl, page.id DESC`;
  });
  const shown = rows.slice(0, limit);
  const last = shown.at(-1);
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
    nextCursor: rows.length > limit && last ? encodeCursor([last.rank, last.tbl, last.id]) : null,
    capped: rows[0]?.capped ?? false,
  };
}
