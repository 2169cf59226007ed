// Secrets never leave the machine: every string of a hook payload and of the transcript lines
// is scrubbed before it is spooled, and the server applies the same pass again to whatever any
// client sends. In the hook it also makes strings storable in PostgreSQL jsonb, which rejects
// \u0000 and lone UTF-16 surrogates (the server would answer 400 and the event would be
// dead-lettered for a reason the user never caused); the server rejects those before this.

export const REDACTED = "[REDACTED]";

/** Objects nested deeper than this (below the payload or a transcript line) become text. */
export const MAX_NESTING = 48;

interface Rule {
  pattern: RegExp;
  /** Replacement: keeps what names the secret (e.g. "Bearer ", "password=") and hides the rest. */
  replace: string | ((match: string, ...groups: string[]) => string);
}

// Token shapes of common providers; each is anchored so it does not fire inside longer words.
const BUILTIN_RULES: Rule[] = [
  {
    pattern:
      /-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY( BLOCK)?-----[\s\S]*?(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|$)/g,
    replace: `-----BEGIN $1PRIVATE KEY$2-----${REDACTED}-----END $1PRIVATE KEY$2-----`,
  },
  // Authorization header values (any scheme) and bare "Bearer xyz" anywhere.
  {
    pattern:
      /\b((?:proxy-)?authorization["']?\s*[:=]\s*["']?)(?:(bearer|basic|token|digest)\s+)?([^\s"',;]{4,})/gi,
    replace: (_m, head: string, scheme: string | undefined) =>
      `${head}${scheme ? scheme + " " : ""}${REDACTED}`,
  },
  { pattern: /\b(bearer\s+)[A-Za-z0-9._~+/=-]{8,}/gi, replace: `$1${REDACTED}` },
  // Anthropic, OpenAI and other "sk-" keys; Stripe-style sk_live_/rk_test_.
  { pattern: /(?<![A-Za-z0-9_-])sk-(?:ant-)?[A-Za-z0-9_-]{16,}/g, replace: REDACTED },
  { pattern: /(?<![A-Za-z0-9_])[sr]k_(?:live|test)_[A-Za-z0-9]{16,}/g, replace: REDACTED },
  // GitHub tokens (classic and fine-grained), GitLab, npm, Slack, AWS, Google.
  { pattern: /(?<![A-Za-z0-9_])gh[pousr]_[A-Za-z0-9]{20,}/g, replace: REDACTED },
  { pattern: /(?<![A-Za-z0-9_])github_pat_[A-Za-z0-9_]{20,}/g, replace: REDACTED },
  { pattern: /(?<![A-Za-z0-9_-])glpat-[A-Za-z0-9_-]{20,}/g, replace: REDACTED },
  { pattern: /(?<![A-Za-z0-9_])npm_[A-Za-z0-9]{36}/g, replace: REDACTED },
  { pattern: /(?<![A-Za-z0-9_-])xox[abposr]-[A-Za-z0-9-]{10,}/g, replace: REDACTED },
  { pattern: /(?<![A-Z0-9])(?:AKIA|ASIA)[0-9A-Z]{16}(?![A-Z0-9])/g, replace: REDACTED },
  { pattern: /(?<![A-Za-z0-9_-])AIza[0-9A-Za-z_-]{35,}/g, replace: REDACTED },
  // JWTs: base64url of '{"' starts every header and payload with "eyJ".
  {
    pattern: /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g,
    replace: REDACTED,
  },
  // Credentials inside URLs: scheme://user:password@host.
  { pattern: /\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@"']+:)[^\s@/"']+@/gi, replace: `$1${REDACTED}@` },
  // key=value / key: value pairs whose key names a secret (env files, CLI flags, YAML, JSON).
  {
    pattern:
      /\b((?:[A-Za-z0-9]+[_-])*(?:password|passwd|passphrase|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|client[_-]?secret|auth)(?:[_-][A-Za-z0-9]+)*["']?\s*[:=]\s*["']?)(?!\[REDACTED\])([^\s"'`,;&)}\]]{4,})/gi,
    replace: `$1${REDACTED}`,
  },
];

/** Object keys whose string values are secrets whatever they look like (headers, configs). */
const SECRET_KEYS =
  /^(?:(?:proxy-)?authorization|cookie|set-cookie|x-api-key|api[-_]?key|apikey|password|passwd|passphrase|secret|client[-_]?secret|(?:access|refresh|id|auth|bearer)[-_]?token|token|private[-_]?key)$/i;

export interface Redactor {
  /** Scrubs one string: secrets replaced, \u0000 and lone surrogates made storable. */
  string(text: string): string;
  /** A deep copy of a JSON value with every string (and object key) scrubbed. */
  value<T>(value: T): T;
}

/** A redactor with the built-in rules plus extra patterns (config.redactPatterns). */
export function createRedactor(extra: RegExp[] = []): Redactor {
  const rules: Rule[] = [
    ...BUILTIN_RULES,
    ...extra.map((pattern) => ({
      pattern: pattern.global ? pattern : new RegExp(pattern.source, pattern.flags + "g"),
      replace: REDACTED,
    })),
  ];

  const scrub = (text: string): string => {
    let out = storable(text);
    for (const rule of rules) {
      rule.pattern.lastIndex = 0;
      if (!rule.pattern.test(out)) continue;
      rule.pattern.lastIndex = 0;
      // deno-lint-ignore no-explicit-any
      out = out.replace(rule.pattern, rule.replace as any);
    }
    return out;
  };

  const walk = (value: unknown, depth: number): unknown => {
    if (typeof value === "string") return scrub(value);
    if (value === null || typeof value !== "object") return value;
    // The server refuses objects nested 64 deep (src/server/sanitize.ts): deeper values travel
    // as JSON text instead of sinking the whole event.
    if (depth >= MAX_NESTING) return scrub(JSON.stringify(value));
    if (Array.isArray(value)) return value.map((item) => walk(item, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      const cleanKey = storable(key);
      out[cleanKey] = typeof item === "string" && item !== "" && SECRET_KEYS.test(cleanKey)
        ? REDACTED
        : walk(item, depth + 1);
    }
    return out;
  };

  return { string: scrub, value: <T>(value: T) => walk(value, 0) as T };
}

/** Replaces \u0000 and lone surrogates with U+FFFD: PostgreSQL text and jsonb reject both. */
export function storable(text: string): string {
  const wellFormed = text.isWellFormed() ? text : text.toWellFormed();
  return wellFormed.includes("\u0000") ? wellFormed.replaceAll("\u0000", "\uFFFD") : wellFormed;
}
