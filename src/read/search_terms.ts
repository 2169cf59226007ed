// The words a search asks for, as the GIN index sees them: a phrase is its words in any order.
// The index cannot check word positions (every phrase candidate is a heap visit to recheck), so
// a search bounds its work by the rows that hold the words (src/read/search_candidates.ts) and
// the phrase filters those.

/** One token of tsquery text: a quoted lexeme with its :* / weight suffix, or an operator. */
const TOKEN = /\s*('(?:[^']|'')*'(?::[*A-Da-d]*)?|<-?\d*>|[!&|()])/y;

/**
 * The tsquery text `tsquery` (PostgreSQL's own rendering, as `websearch_to_tsquery(...)::text`
 * gives it) with every phrase operator that is not negated turned into AND: the rows it matches
 * are a superset of the rows `tsquery` matches, found by the index alone. A negated phrase stays
 * a phrase (NOT of the looser AND would match fewer rows, not more), and so does a phrase next
 * to a negated operand. Text this does not recognise comes back as it was: exact is always safe.
 */
export function relaxedTsquery(tsquery: string): string {
  const tokens: string[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < tsquery.length) {
    const at = TOKEN.lastIndex;
    const match = TOKEN.exec(tsquery);
    if (!match) {
      if (tsquery.slice(at).trim() === "") break;
      return tsquery;
    }
    tokens.push(match[1]);
  }
  // For each open parenthesis, whether a ! stands before it (or before an enclosing one).
  const negated: boolean[] = [];
  const out: string[] = [];
  for (const [i, token] of tokens.entries()) {
    const inNegation = negated.at(-1) ?? false;
    if (token === "(") negated.push(inNegation || tokens[i - 1] === "!");
    else if (token === ")") negated.pop();
    if (!token.startsWith("<") || inNegation) {
      out.push(token);
      continue;
    }
    // An operand of this phrase is negated: `!'a' <-> 'b'`, `!( … ) <-> 'b'`, `'a' <-> !'b'`.
    const before = tokens[i - 1] === ")" ? openerOf(tokens, i - 1) - 1 : i - 2;
    const negatedOperand = tokens[before] === "!" || tokens[i + 1] === "!";
    out.push(negatedOperand ? token : "&");
  }
  return out.join(" ");
}

/** The index of the "(" that the ")" at `close` closes. */
function openerOf(tokens: string[], close: number): number {
  let depth = 0;
  for (let i = close; i >= 0; i--) {
    if (tokens[i] === ")") depth++;
    else if (tokens[i] === "(" && --depth === 0) return i;
  }
  return -1;
}
