// Values PostgreSQL's jsonb (or text) cannot hold, or that no real hook sends, found before
// any of them reaches the database: absurd nesting, \u0000, lone surrogates, huge strings.

export const MAX_DEPTH = 64;
/** Longest string accepted anywhere in an envelope (real tool output is far smaller). */
export const MAX_STRING_CHARS = 16 * 1024 * 1024;

export interface StorableProblem {
  code: "TOO_DEEP" | "NUL_CHARACTER" | "LONE_SURROGATE" | "STRING_TOO_LONG";
  path: (string | number)[];
  message: string;
}

/** A path part safe to store and echo: the offending characters become U+FFFD. */
function printable(part: string | number): string | number {
  return typeof part === "string"
    ? part.toWellFormed().replaceAll("\u0000", "\uFFFD").slice(0, 200)
    : part;
}

function checkString(text: string, at: (string | number)[]): StorableProblem | undefined {
  if (text.length > MAX_STRING_CHARS) {
    return {
      code: "STRING_TOO_LONG",
      path: at.map(printable),
      message: `string longer than ${MAX_STRING_CHARS} characters`,
    };
  }
  if (text.includes("\u0000")) {
    return {
      code: "NUL_CHARACTER",
      path: at.map(printable),
      message: "string contains \\u0000, which PostgreSQL cannot store",
    };
  }
  if (!text.isWellFormed()) {
    return {
      code: "LONE_SURROGATE",
      path: at.map(printable),
      message: "string contains a lone UTF-16 surrogate (not valid Unicode)",
    };
  }
  return undefined;
}

/**
 * The first problem that would make the value unstorable, or undefined when it is fine. One
 * path is kept while walking (pushed and popped) and copied only into a problem: every request
 * body passes here, and a path array per value was most of the walk's cost.
 */
export function findUnstorable(value: unknown): StorableProblem | undefined {
  const path: (string | number)[] = [];
  const visit = (item: unknown, depth: number): StorableProblem | undefined => {
    if (typeof item === "string") return checkString(item, path);
    if (item === null || typeof item !== "object") return undefined;
    if (depth >= MAX_DEPTH) {
      return {
        code: "TOO_DEEP",
        path: [...path],
        message: `nested deeper than ${MAX_DEPTH} levels`,
      };
    }
    if (Array.isArray(item)) {
      for (let i = 0; i < item.length; i++) {
        path.push(i);
        const problem = visit(item[i], depth + 1);
        path.pop();
        if (problem) return problem;
      }
      return undefined;
    }
    for (const key in item) {
      if (!Object.hasOwn(item, key)) continue;
      path.push(key);
      const problem = checkString(key, path) ??
        visit((item as Record<string, unknown>)[key], depth + 1);
      path.pop();
      if (problem) return problem;
    }
    return undefined;
  };
  return visit(value, 0);
}

/**
 * Most JSON values (keys, elements, containers) one request body may hold. An event holds a few
 * hundred, but a Stop may carry up to 8 MB of transcript lines and a batch a hundred events, so
 * the bound is generous; parsing millions blocks the event loop for seconds, so bodies past it
 * are refused (413: a client splits the batch) before JSON.parse.
 */
export const MAX_BODY_NODES = 1_000_000;

/**
 * Counts the values of a JSON text from its structural bytes (`{ [ , :` outside strings), up to
 * limit + 1: a linear scan with no allocation, stopping as soon as the limit is passed.
 */
export function countJsonNodes(bytes: Uint8Array, limit: number): number {
  let count = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (inString) {
      if (b === 0x5c) i++;
      else if (b === 0x22) inString = false;
    } else if (b === 0x22) inString = true;
    else if (b === 0x2c || b === 0x3a || b === 0x5b || b === 0x7b) {
      if (++count > limit) return count;
    }
  }
  return count;
}
