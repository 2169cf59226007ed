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
  /**
   * What any text matching `pattern` must contain, as a cheap test: most strings hold no
   * secret, and one test of all gates together lets them skip every rule.
   */
  gate: RegExp;
  /** Replacement: keeps what names the secret (e.g. "Bearer ", "password=") and hides the rest. */
  replace: string | ((match: string, ...groups: string[]) => string);
}

// The one list of secret key names, shared by payload keys, key=value pairs inside text and log
// fields (src/log.ts, the hook's journal). A name is split into words (camelCase, snake_case,
// kebab-case, dots) and its last word decides: `dbPassword`, `SecretAccessKey`, `x-auth-token`,
// `PGPASSWORD` and `credentials` are secrets; `input_tokens`, `token_count`, `max_tokens` and
// `password_file` are not, so token usage (data!) and paths survive.

/** A last word ending in one of these names a secret (`password`, `PGPASSWORD`, `githubtoken`). */
const SECRET_SUFFIXES = [
  "password",
  "passwd",
  "passphrase",
  "passcode",
  "secret",
  "token",
  "apikey",
  "privatekey",
  "accesskey",
  "secretkey",
  "credential",
  "credentials",
];
/** Last words that are secrets as they are. */
const SECRET_WORDS = new Set(["auth", "authorization", "cookie", "pwd"]);
/** Words before a last word `key` that make it one (`apiKey`, `SecretAccessKey`, `signing_key`). */
const KEY_QUALIFIERS = new Set([
  "access",
  "account",
  "api",
  "auth",
  "client",
  "encryption",
  "license",
  "master",
  "private",
  "secret",
  "session",
  "shared",
  "signing",
  "subscription",
]);
/** Trailing words that say how a secret is written, not what it is (`token_value`, `secret_b64`). */
const ENCODING_WORDS = new Set(["value", "val", "string", "str", "raw", "plain", "b64", "base64"]);

/** Quick test a name must pass before it is split: it holds one of the keywords above. */
const KEYWORD = /pass|pwd|secret|token|key|auth|cookie|credential/i;
const WORD_BREAK = /[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])/;

const keyVerdicts = new Map<string, boolean>();

/** Whether an object key, field or variable name holds a secret (see the list above). */
export function isSecretKey(name: string): boolean {
  if (name.length > 128 || !KEYWORD.test(name)) return false;
  let verdict = keyVerdicts.get(name);
  if (verdict === undefined) {
    verdict = classify(name);
    // Keys repeat from event to event; a flood of distinct keys must not grow memory.
    if (keyVerdicts.size >= 10_000) keyVerdicts.clear();
    keyVerdicts.set(name, verdict);
  }
  return verdict;
}

function classify(name: string): boolean {
  const words = name.split(WORD_BREAK).filter((word) => word !== "").map((word) =>
    word.toLowerCase()
  );
  while (words.length > 1 && (ENCODING_WORDS.has(words.at(-1)!) || /^\d+$/.test(words.at(-1)!))) {
    words.pop();
  }
  const last = words.at(-1)?.replace(/\d+$/, "");
  if (!last) return false;
  if (SECRET_SUFFIXES.some((suffix) => last.endsWith(suffix))) return true;
  // A bare PWD is the working directory; MYSQL_PWD is a password.
  if (last === "pwd") return words.length > 1;
  if (SECRET_WORDS.has(last)) return true;
  return last === "key" && words.length > 1 && KEY_QUALIFIERS.has(words.at(-2)!);
}

/**
 * Values that are no secret: literals, type names in code (`token: string`), references to a
 * secret kept elsewhere (`$PGPASSWORD`, `process.env.API_KEY`) and calls (`getToken(`).
 */
const NOT_A_VALUE =
  /^(?:null|true|false|none|undefined|\[REDACTED\]|bearer|basic|digest|token|string|number|boolean|str|int|bool|any|unknown|object|bytes)$|^(?:\$|process\.env\.|os\.environ)|\($/i;

const NAME_CHAR = /[A-Za-z0-9_.-]/;

/**
 * key=value, key: value, "key": "value" (also JSON-in-JSON \"key\": \"value\") whose key is
 * secret. The pattern starts at the keyword, which is fast to find; the callback reads the rest
 * of the name backwards from there.
 */
function replacePair(
  match: string,
  doubleQuoted: string | undefined,
  escapedQuoted: string | undefined,
  singleQuoted: string | undefined,
  bare: string | undefined,
  offset: number,
  text: string,
): string {
  const value = doubleQuoted ?? escapedQuoted ?? singleQuoted ?? bare ?? "";
  if (value === "" || NOT_A_VALUE.test(value)) return match;
  let start = offset;
  while (start > 0 && NAME_CHAR.test(text[start - 1])) start--;
  const name = text.slice(start, offset) + /^[A-Za-z0-9_.-]*/.exec(match)![0];
  if (!isSecretKey(name)) return match;
  const literal = doubleQuoted !== undefined
    ? `"${value}"`
    : escapedQuoted !== undefined
    ? `\\"${value}\\"`
    : singleQuoted !== undefined
    ? `'${value}'`
    : value;
  const head = match.slice(0, match.length - literal.length);
  return head + literal.replace(value, REDACTED);
}

/** --password X, --api-key=X, --token "X": flags whose name is a secret key. */
function replaceFlag(match: string, head: string, name: string, value: string): string {
  if (NOT_A_VALUE.test(value.replace(/^["']|["']$/g, "")) || !isSecretKey(name)) return match;
  return `${head}${REDACTED}`;
}

const QUOTED_OR_WORD = `("[^"\\n]*"|'[^'\\n]*'|[^\\s"'|;&<>]+)`;

// Token shapes of common providers; each is anchored so it does not fire inside longer words.
const BUILTIN_RULES: Rule[] = [
  {
    gate: /-----BEGIN/,
    pattern:
      /-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY( BLOCK)?-----[\s\S]*?(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|$)/g,
    replace: `-----BEGIN $1PRIVATE KEY$2-----${REDACTED}-----END $1PRIVATE KEY$2-----`,
  },
  // Authorization header values (any scheme) and bare "Bearer xyz" anywhere.
  {
    gate: /authorization/i,
    pattern:
      /\b((?:proxy-)?authorization["']?\s*[:=]\s*["']?)(?:(bearer|basic|token|digest)\s+)?([^\s"',;]{4,})/gi,
    replace: (_m, head: string, scheme: string | undefined) =>
      `${head}${scheme ? scheme + " " : ""}${REDACTED}`,
  },
  { gate: /bearer/i, pattern: /\b(bearer\s+)[A-Za-z0-9._~+/=-]{8,}/gi, replace: `$1${REDACTED}` },
  // Anthropic, OpenAI and other "sk-" keys; Stripe-style sk_live_/rk_test_/whsec_.
  { gate: /sk-/, pattern: /(?<![A-Za-z0-9_-])sk-(?:ant-)?[A-Za-z0-9_-]{16,}/g, replace: REDACTED },
  {
    gate: /k_live_|k_test_|whsec_/,
    pattern: /(?<![A-Za-z0-9_])(?:[sr]k_(?:live|test)|whsec)_[A-Za-z0-9]{16,}/g,
    replace: REDACTED,
  },
  // GitHub tokens (classic and fine-grained), GitLab, npm, Slack, AWS, Google.
  {
    gate: /gh[pousr]_/,
    pattern: /(?<![A-Za-z0-9_])gh[pousr]_[A-Za-z0-9]{20,}/g,
    replace: REDACTED,
  },
  {
    gate: /github_pat_/,
    pattern: /(?<![A-Za-z0-9_])github_pat_[A-Za-z0-9_]{20,}/g,
    replace: REDACTED,
  },
  { gate: /glpat-/, pattern: /(?<![A-Za-z0-9_-])glpat-[A-Za-z0-9_-]{20,}/g, replace: REDACTED },
  { gate: /npm_/, pattern: /(?<![A-Za-z0-9_])npm_[A-Za-z0-9]{36}/g, replace: REDACTED },
  { gate: /xox/, pattern: /(?<![A-Za-z0-9_-])xox[abposre]-[A-Za-z0-9-]{10,}/g, replace: REDACTED },
  { gate: /xapp-/, pattern: /(?<![A-Za-z0-9_-])xapp-[A-Za-z0-9-]{10,}/g, replace: REDACTED },
  {
    gate: /AKIA|ASIA/,
    pattern: /(?<![A-Z0-9])(?:AKIA|ASIA)[0-9A-Z]{16}(?![A-Z0-9])/g,
    replace: REDACTED,
  },
  { gate: /AIza/, pattern: /(?<![A-Za-z0-9_-])AIza[0-9A-Za-z_-]{35,}/g, replace: REDACTED },
  { gate: /ya29\./, pattern: /(?<![A-Za-z0-9_-])ya29\.[0-9A-Za-z_-]{20,}/g, replace: REDACTED },
  // Hugging Face, DigitalOcean, Shopify, PyPI, SendGrid, age.
  { gate: /hf_/, pattern: /(?<![A-Za-z0-9_])hf_[A-Za-z0-9]{30,}/g, replace: REDACTED },
  { gate: /do[opr]_v1_/, pattern: /(?<![A-Za-z0-9_])do[opr]_v1_[a-f0-9]{64}/g, replace: REDACTED },
  {
    gate: /shp/,
    pattern: /(?<![A-Za-z0-9_])shp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}/g,
    replace: REDACTED,
  },
  { gate: /pypi-/, pattern: /(?<![A-Za-z0-9_-])pypi-[A-Za-z0-9_-]{50,}/g, replace: REDACTED },
  {
    gate: /SG\./,
    pattern: /(?<![A-Za-z0-9_-])SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}/g,
    replace: REDACTED,
  },
  { gate: /AGE-SECRET-KEY/, pattern: /AGE-SECRET-KEY-1[0-9A-Z]{50,}/g, replace: REDACTED },
  // JWTs: base64url of '{"' starts every header and payload with "eyJ".
  {
    gate: /eyJ/,
    pattern: /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g,
    replace: REDACTED,
  },
  // Credentials inside URLs: scheme://user:password@host, Sentry DSNs (https://<key>@host),
  // and webhook URLs whose path is the secret.
  {
    gate: /:\/\//,
    pattern: /\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@"']+:)[^\s@/"']+@/gi,
    replace: `$1${REDACTED}@`,
  },
  {
    gate: /\/\/[0-9a-f]{32}@/i,
    pattern: /\b(https?:\/\/)[0-9a-f]{32}@/gi,
    replace: `$1${REDACTED}@`,
  },
  {
    gate: /hooks\.slack\.com/,
    pattern: /\b(https:\/\/hooks\.slack\.com\/(?:services|workflows|triggers)\/)[A-Za-z0-9_/-]+/g,
    replace: `$1${REDACTED}`,
  },
  {
    gate: /discord/,
    pattern: /\b(https:\/\/(?:\w+\.)?discord(?:app)?\.com\/api\/webhooks\/\d+\/)[A-Za-z0-9_-]+/g,
    replace: `$1${REDACTED}`,
  },
  // Passwords on command lines: mysql -p<pw>, sshpass -p <pw>, redis-cli -a <pw>.
  {
    gate: /mysql/,
    pattern: new RegExp(`(\\bmysql\\w*\\b[^\\n;&|]*?\\s-p)${QUOTED_OR_WORD}`, "g"),
    replace: `$1${REDACTED}`,
  },
  {
    gate: /sshpass/,
    pattern: new RegExp(`(\\bsshpass\\b[^\\n;&|]*?\\s-p\\s*)${QUOTED_OR_WORD}`, "g"),
    replace: `$1${REDACTED}`,
  },
  {
    gate: /redis-cli/,
    pattern: new RegExp(`(\\bredis-cli\\b[^\\n;&|]*?\\s-a\\s+)${QUOTED_OR_WORD}`, "g"),
    replace: `$1${REDACTED}`,
  },
  // --flag value / --flag=value whose flag names a secret.
  {
    pattern: new RegExp(
      `((?<![\\w-])--([A-Za-z][A-Za-z0-9-]*)(?:\\s+|=))(?=[^\\s-])${QUOTED_OR_WORD}`,
      "g",
    ),
    gate: /--[\w-]*(?:pass|pwd|secret|token|key|auth|cookie|credential)/i,
    replace: replaceFlag as Rule["replace"],
  },
  // key=value / key: value pairs whose key is a secret name (env files, YAML, JSON text).
  // "tokens" never ends a secret name (isSecretKey): skipping it in the pattern saves a
  // callback per usage field of every transcript text.
  {
    gate: /(?:pass|pwd|secret|token|key|auth|cookie|credential)[\w.-]*\\?["']?\s*[:=]/i,
    pattern:
      /(?:pass|pwd|secret|token(?!s)|key|auth|cookie|credential)[A-Za-z0-9_.-]*(?:\\?["'])?\s*[:=](?![=>:])\s*(?:"((?:[^"\\\n]|\\[^"])*)"|\\"([^"\\\n]*)\\"|'([^'\n]*)'|(\[REDACTED\]|[^\s"'`,;&)}\]]+))/gi,
    replace: replacePair as unknown as Rule["replace"],
  },
];

/** Every gate in one test: a string that passes none of them skips all the built-in rules. */
const ANY_GATE = new RegExp(BUILTIN_RULES.map((rule) => rule.gate.source).join("|"), "i");

export interface Redactor {
  /** Scrubs one string: secrets replaced, \u0000 and lone surrogates made storable. */
  string(text: string): string;
  /** A deep copy of a JSON value with every string (and object key) scrubbed. */
  value<T>(value: T): T;
}

/** A redactor with the built-in rules plus extra patterns (config.redactPatterns). */
export function createRedactor(extra: RegExp[] = []): Redactor {
  const configured = extra.map((pattern) =>
    pattern.global ? pattern : new RegExp(pattern.source, pattern.flags + "g")
  );

  const scrub = (text: string): string => {
    let out = storable(text);
    if (ANY_GATE.test(out)) {
      for (const rule of BUILTIN_RULES) {
        if (!rule.gate.test(out)) continue;
        rule.pattern.lastIndex = 0;
        // deno-lint-ignore no-explicit-any
        out = out.replace(rule.pattern, rule.replace as any);
      }
    }
    for (const pattern of configured) {
      pattern.lastIndex = 0;
      out = out.replace(pattern, REDACTED);
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
      out[cleanKey] = typeof item === "string" && item !== "" && isSecretKey(cleanKey)
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
