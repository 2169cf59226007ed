// The CPU-only part of ingest, before any database work: make the body storable, redact it,
// hash it for idempotency and validate it against the one schema.
import { sha256Of } from "../digest.ts";
import {
  Envelope,
  REQUEST_ID_PATTERN,
  SPAN_ID_PATTERN,
  TRACE_ID_PATTERN,
  type ValidationIssue,
} from "../schema.ts";
import type { RequestMeta } from "./deps.ts";
import type { AuditFields } from "./audit.ts";
import { findUnstorable } from "./sanitize.ts";
import { createRedactor, type Redactor } from "../redact.ts";

export interface Problem {
  httpStatus: number;
  code: string;
  message: string;
  issues?: ValidationIssue[];
}

export interface Prepared {
  fields: AuditFields;
  /** The valid envelope, or undefined with a problem. */
  envelope?: Envelope;
  problem?: Problem;
}

/** JSON with object keys sorted and undefined members left out, built in one pass. */
function canonical(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) {
    let out = "[";
    for (let i = 0; i < value.length; i++) out += (i > 0 ? "," : "") + canonical(value[i]);
    return out + "]";
  }
  const record = value as Record<string, unknown>;
  // Sorted by UTF-16 code units, as the comparison operators do.
  const keys = Object.keys(record).sort();
  let out = "{";
  let first = true;
  for (const key of keys) {
    const item = record[key];
    if (item === undefined) continue;
    out += (first ? "" : ",") + JSON.stringify(key) + ":" + canonical(item);
    first = false;
  }
  return out + "}";
}

/**
 * The idempotency hash: the envelope without what legitimately changes between deliveries of
 * one event (`attempt`, and `spanId`, which a retry may mint afresh), key order ignored.
 */
export function envelopeHash(value: Record<string, unknown>): string {
  const { attempt: _attempt, spanId: _spanId, ...rest } = value;
  return sha256Of(canonical(rest)).digest("hex");
}

function pick(value: unknown, pattern?: RegExp, max = 256): string | null {
  if (typeof value !== "string" || value.length === 0) return null;
  if (pattern && !pattern.test(value)) return null;
  return value.slice(0, max);
}

// The same redaction the hook applies, as a second line of defence for any other client.
const redactors = new WeakMap<RegExp[], Redactor>();
function redactorFor(patterns: RegExp[]): Redactor {
  let redactor = redactors.get(patterns);
  if (!redactor) redactors.set(patterns, redactor = createRedactor(patterns));
  return redactor;
}

/** What the request's headers alone say about it, before its body is read. */
export function headerAuditFields(meta: RequestMeta): AuditFields {
  return {
    requestId: pick(meta.headerRequestId, REQUEST_ID_PATTERN),
    traceId: meta.traceId,
    spanId: meta.spanId,
    sessionId: null,
    event: null,
    attempt: null,
    payload: null,
    bodySha256: null,
  };
}

export function prepare(raw: unknown, meta: RequestMeta, patterns: RegExp[]): Prepared {
  const fields = headerAuditFields(meta);
  const unstorable = findUnstorable(raw);
  if (unstorable) {
    return {
      fields,
      problem: {
        httpStatus: 400,
        code: unstorable.code,
        message: unstorable.message,
        issues: [{ path: unstorable.path, message: unstorable.message }],
      },
    };
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    return {
      fields: { ...fields, payload: raw ?? null },
      problem: { httpStatus: 400, code: "NOT_AN_OBJECT", message: "body must be a JSON object" },
    };
  }
  const body = redactorFor(patterns).value(raw) as Record<string, unknown>;
  const payload = body.payload as Record<string, unknown> | undefined;
  fields.requestId = pick(body.requestId, REQUEST_ID_PATTERN) ?? fields.requestId;
  fields.traceId = pick(body.traceId, TRACE_ID_PATTERN) ?? fields.traceId;
  fields.spanId = pick(body.spanId, SPAN_ID_PATTERN) ?? fields.spanId;
  fields.sessionId = pick(body.sessionId) ?? pick(payload?.session_id);
  fields.event = pick(body.event, undefined, 128) ?? pick(payload?.hook_event_name, undefined, 128);
  fields.attempt = Number.isSafeInteger(body.attempt) && Math.abs(body.attempt as number) < 2 ** 31
    ? body.attempt as number
    : null;
  fields.payload = body;
  fields.bodySha256 = envelopeHash(body);
  const parsed = Envelope.safeParse(body);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 20).map((issue) => ({
      path: issue.path.filter((part) => typeof part !== "symbol") as (string | number)[],
      message: issue.message,
    }));
    const first = issues[0];
    return {
      fields,
      problem: {
        httpStatus: 400,
        code: "SCHEMA",
        message: first
          ? `invalid envelope: ${first.path.join(".") || "(root)"}: ${first.message}`
          : "invalid envelope",
        issues,
      },
    };
  }
  return { fields, envelope: parsed.data };
}
