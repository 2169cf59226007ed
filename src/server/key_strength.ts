// Whether an API key is strong enough to guard a server: long enough, and not a short pattern
// repeated. Checked once at start, with one error naming the weak key by position, never by
// its text.
import { ConfigError } from "../config.ts";

export const MIN_KEY_CHARS = 16;
/** Estimated bits at least: length × the Shannon entropy of the key's own characters. */
export const MIN_KEY_BITS = 64;

/** Length × per-character Shannon entropy: "aaaa…" scores 0, a random base64url key ~5.5/char. */
export function estimatedBits(key: string): number {
  const counts = new Map<string, number>();
  for (const ch of key) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let perChar = 0;
  for (const n of counts.values()) {
    const p = n / key.length;
    perChar -= p * Math.log2(p);
  }
  return perChar * key.length;
}

/** Throws one ConfigError for the first weak key; `source` names where the keys came from. */
export function assertStrongKeys(keys: readonly string[], source: string): void {
  keys.forEach((key, i) => {
    const which = keys.length > 1 ? `key ${i + 1} of ${keys.length}` : "the key";
    if (key.length < MIN_KEY_CHARS) {
      throw new ConfigError(
        `${source}: ${which} has ${key.length} characters; use at least ${MIN_KEY_CHARS} ` +
          `random ones (e.g. openssl rand -base64 32)`,
      );
    }
    if (estimatedBits(key) < MIN_KEY_BITS) {
      throw new ConfigError(
        `${source}: ${which} is too predictable (about ${Math.floor(estimatedBits(key))} bits, ` +
          `at least ${MIN_KEY_BITS}); use random characters (e.g. openssl rand -base64 32)`,
      );
    }
  });
}
