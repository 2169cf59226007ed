// Server-side redaction of an envelope before it is hashed, stored or processed: a second line
// of defence behind the hook's own. Deterministic, so a stored payload re-sent (reprocess)
// hashes the same.
import { SECRET_FIELDS } from "../log.ts";

export const REDACTED = "[REDACTED]";

export function redactValue(value: unknown, patterns: readonly RegExp[]): unknown {
  if (typeof value === "string") {
    let text = value;
    for (const pattern of patterns) text = text.replace(pattern, REDACTED);
    return text;
  }
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((item) => redactValue(item, patterns));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    out[key] = SECRET_FIELDS.some((field) => field.test(key)) && item !== null &&
        typeof item !== "object"
      ? REDACTED
      : redactValue(item, patterns);
  }
  return out;
}
