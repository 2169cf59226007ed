// Query parameters read at the HTTP edge, for the JSON API and the pages alike: each parser
// returns a value the store can take as it is, or throws BadParam (a 400 naming the parameter).
// Nothing malformed reaches SQL: postgres.js fails on an invalid Date while serializing, which
// on the single embedded connection wedged the store.
import { WebhookStatus } from "./schema.ts";
import { parseDuration } from "./config.ts";
import { ReadInputError } from "./read/errors.ts";

/** A read's refusal of its input, raised at the edge with the parameter's name. */
export class BadParam extends ReadInputError {
  override name = "BadParam";
  constructor(readonly param: string, message: string) {
    super(`${param}: ${message}`);
  }
}

/** A message when the URL carries a NUL (%00), which PostgreSQL text cannot hold. */
export function nulInUrl(url: string): string | undefined {
  return /%00/.test(url) ? "NUL (%00) is not allowed in a URL" : undefined;
}

/** `text` when it names an own property of `table` (never Object.prototype's), else BadParam. */
export function ownKey<T extends object>(
  param: string,
  table: T,
  text: string | undefined,
  fallback: keyof T & string,
): keyof T & string {
  if (text === undefined || text === "") return fallback;
  if (Object.hasOwn(table, text)) return text as keyof T & string;
  throw new BadParam(param, `must be one of ${Object.keys(table).join(", ")}`);
}

/** PostgreSQL and JavaScript both represent these instants: years 1 to 9999. */
const EARLIEST_MS = Date.parse("0001-01-01T00:00:00Z");
const LATEST_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

function bounded(param: string, ms: number): Date {
  if (!Number.isFinite(ms) || ms < EARLIEST_MS || ms > LATEST_MS) {
    throw new BadParam(param, "is not a time between the years 1 and 9999");
  }
  return new Date(ms);
}

/** An ISO time; a datetime-local value without a zone is read as UTC (the form says so). */
export function parseInstant(param: string, text: string | undefined): Date | undefined {
  if (text === undefined || text === "") return undefined;
  const zoned = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?$/.test(text) ? `${text}Z` : text;
  const ms = Date.parse(zoned);
  if (Number.isNaN(ms)) throw new BadParam(param, "must be an ISO time like 2026-12-01T09:00Z");
  return bounded(param, ms);
}

/** A duration back from now ("15m", "7d") or an ISO time. */
export function parseSince(param: string, text: string | undefined, now: number): Date | undefined {
  if (text === undefined || text === "") return undefined;
  const duration = parseDuration(text);
  if (duration !== undefined) return bounded(param, now - duration);
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new BadParam(param, "must be an ISO time or a duration like 15m");
  return bounded(param, ms);
}

/** A positive integer, at most `max` (larger asks get `max`). */
export function parseLimit(
  param: string,
  text: string | undefined,
  fallback: number,
  max: number,
): number {
  if (text === undefined || text === "") return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new BadParam(param, "must be a positive integer");
  return Math.min(n, max);
}

/** `A,B`: audit statuses, each one of the schema's. */
export function parseStatuses(param: string, text: string | undefined): WebhookStatus[] {
  if (text === undefined || text === "") return [];
  return text.split(",").map((part) => {
    const status = WebhookStatus.safeParse(part.trim());
    if (!status.success) {
      throw new BadParam(param, `must be one of ${WebhookStatus.options.join(", ")}`);
    }
    return status.data;
  });
}
