// Which rows of a table a search ranks: the newest CANDIDATES rows the GIN index finds for the
// words (with the search's filters), found by reading about that many rows, not every match,
// and ranked as they are read, so no row is visited twice.
//
// Why: a row the index finds costs a heap visit (to rank it, to recheck a phrase), and those rows
// lie all over the table. Sorting every match to keep the newest visits them all: 20k visits for a
// word in 2% of a million messages, 25k for a phrase of two common words of which 1.5k were the
// phrase (240–500 ms on a loaded machine). Walking the table newest first instead reads rows that
// do not match: 50k of them per 1,000 matches of that word. So the newest rows are searched in id
// windows sized from the planner's estimate to hold a few more matches than needed, each window
// walked newest first when most rows match, else found through the GIN index (intersected with
// the window's primary key range when the planner sees fit), and older windows, sized from what
// the last one held, only when it did not hold enough.
import type postgres from "postgres";

export type SearchTable = "messages" | "tool_uses";

/** What to find and rank in a table; every condition and expression is on alias `x`. */
export interface CandidateQuery {
  table: SearchTable;
  /** A condition the GIN index answers (the words, a phrase as its words) with the filters. */
  where: Fragment;
  /**
   * The words with only the filters every row of a walk is checked against (the kind): how
   * densely rows hold them decides between walking and the index. A session, project or time
   * filter is left out: their rows are found by their own indexes, or are the newest ones (a
   * walk's first), so a word common in all rows is walked for even when few rows pass them.
   */
  dense: Fragment;
  /** Whether a candidate is a hit (the exact words: a phrase checked on the row). */
  hit: Fragment;
  /** A hit's rank. */
  rank: Fragment;
  /** How many candidates to rank. */
  limit: number;
  /** The newest id to consider (the newest when the first page was asked for, so later pages
   * rank the same rows), or null for the newest now. */
  ceiling: number | null;
}

/** The hits among the candidates, as PostgreSQL array literals in the same order. */
export interface Candidates {
  ids: string;
  ranks: string;
  /** The newest id searched: the ceiling of the next pages. */
  ceiling: number;
  /** True when older rows hold the words too and are not ranked. */
  capped: boolean;
}

/**
 * Each window is sized to hold this many times the matches it is meant to find: the planner's
 * estimate of a word is close (its statistics sample 30k rows), and a window that falls short is
 * followed by one sized from what it found, so a small margin costs little when it fails.
 */
const WINDOW_MARGIN = 1.25;
/** A window that found no match at all is followed by one this many times larger. */
const WINDOW_GROWTH = 4;
/**
 * Above this share of rows matching, a window is walked newest first (each row read is a match
 * this often); below it, the GIN index finds the window's matches. Measured on 1M messages (a
 * loaded machine; the ratios are what count): a walk reads a row in 1.5 µs, a bitmap costs 0.2 µs
 * per id of the window and 5 µs per match read, so walking wins above about 1 row in 10. The
 * planner, left to choose, walked 150k rows for a pair of words in 0.7% of them (220 ms, against
 * 40 through the index).
 */
const WALK_DENSITY = 0.1;

type Fragment = postgres.PendingQuery<postgres.Row[]>;

/** The newest `limit` rows of the table matching `where`, and which of them are hits, ranked. */
export async function candidates(
  tx: postgres.TransactionSql,
  query: CandidateQuery,
): Promise<Candidates | null> {
  const { table, where, hit, rank, limit } = query;
  const { matching, dense, rows } = await estimates(tx, table, where, query.dense);
  // Index scans off for the index's way: the planner would otherwise walk the primary key
  // through the window (or all of it) reading rows that hold none of the words. Bitmap scans
  // stay, of the GIN index and of the window's primary key range, which it may intersect. Set
  // in a statement that the setting does not change (the planner has planned it already), and
  // set back by the last window's, so the page's query finds its rows by index again.
  const scan = dense / rows > WALK_DENSITY ? "on" : "off";
  const [span] = await tx<{ lowest: number | null; highest: number | null }[]>`
    SELECT min(id)::float8 AS lowest, max(id)::float8 AS highest,
      set_config('enable_indexscan', ${scan}, true)
    FROM ${tx(table)}`;
  const top = Math.min(query.ceiling ?? span.highest ?? 0, span.highest ?? 0);
  const bottom = (span.lowest ?? 1) - 1;
  let window = Math.ceil((top - bottom) * Math.min(1, WINDOW_MARGIN * limit / matching));
  const ids: string[] = [];
  const ranks: string[] = [];
  let high = top;
  let need = limit;
  while (true) {
    const low = Math.max(bottom, high - window);
    // The hits come back as two strings, so hundreds of them cost one row to parse; a rank
    // as text is the exact float4 (shortest round-trip form).
    const [found] = await tx<{ n: number; ids: string | null; ranks: string | null }[]>`
      SELECT count(*)::int AS n,
        string_agg(id::text, ',' ORDER BY id DESC) FILTER (WHERE hit) AS ids,
        string_agg(rank::text, ',' ORDER BY id DESC) FILTER (WHERE hit) AS ranks,
        set_config('enable_indexscan',
          CASE WHEN count(*) >= ${need} THEN 'on' ELSE ${low <= bottom ? "on" : scan} END, true)
      FROM (
        SELECT x.id, ${hit} AS hit, ${rank} AS rank FROM ${tx(table)} x
        WHERE ${where} AND x.id > ${low}::bigint AND x.id <= ${high}::bigint
        ORDER BY x.id DESC LIMIT ${need}
      ) newest`;
    if (found.ids !== null && found.ranks !== null) {
      ids.push(found.ids);
      ranks.push(found.ranks);
    }
    const capped = found.n >= need;
    if (capped || low <= bottom) {
      if (ids.length === 0 && !capped) return null;
      return { ids: `{${ids.join(",")}}`, ranks: `{${ranks.join(",")}}`, ceiling: top, capped };
    }
    // The next window from the density this one showed, or larger when it showed none.
    window = found.n > 0
      ? Math.ceil(window * WINDOW_MARGIN * (need - found.n) / found.n)
      : window * WINDOW_GROWTH;
    need -= found.n;
    high = low;
  }
}

/**
 * The planner's estimates of the rows of `table` matching `where`, matching `dense`, and of all
 * its rows: one EXPLAIN, no execution.
 */
async function estimates(
  tx: postgres.TransactionSql,
  table: SearchTable,
  where: Fragment,
  dense: Fragment,
): Promise<{ matching: number; dense: number; rows: number }> {
  const [row] = await tx`EXPLAIN (FORMAT JSON)
    SELECT 1 FROM ${tx(table)} x WHERE ${where}
    UNION ALL SELECT 1 FROM ${tx(table)} x WHERE ${dense}
    UNION ALL SELECT 1 FROM ${tx(table)}`;
  type Node = { "Plan Rows": number; Plans?: Node[] };
  const branches = (row["QUERY PLAN"] as { Plan: Node }[])[0].Plan.Plans ?? [];
  const [matching, common, all] = branches.map((node) => Math.max(1, node["Plan Rows"]));
  return { matching: matching ?? 1, dense: common ?? 1, rows: all ?? 1 };
}
