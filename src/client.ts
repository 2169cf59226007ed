// The HTTP client of the hook and the drainer: one envelope or a batch to the ingest API, every
// answer classified as delivered, retryable (try again later) or permanent (dead letter).
import { BatchAnswer, type Envelope, IngestAnswer } from "./schema.ts";
import { uuidv7 } from "./ids.ts";
import { VERSION } from "./version.ts";

export interface Target {
  /** Server base URL, no trailing slash. */
  url: string;
  apiKey: string | undefined;
}

export type DeliveryOutcome =
  | { kind: "delivered"; httpStatus: number; answer: IngestAnswer }
  | { kind: "retryable"; httpStatus: number | null; error: string; retryAfterMs?: number }
  | { kind: "permanent"; httpStatus: number; error: string; answer?: unknown };

const USER_AGENT = `arrakis/${VERSION}`;
/** Error text kept in a spool file is for people; a whole HTML error page is not. */
const MAX_ERROR_CHARS = 500;

/** Only these are worth another try; any other 4xx would fail the same way again. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date; undefined when absent or bad. */
export function parseRetryAfter(
  value: string | null,
  now: number = Date.now(),
): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

function headers(target: Target, requestId: string, traceparent: string): Headers {
  const result = new Headers({
    "Content-Type": "application/json",
    "User-Agent": USER_AGENT,
    "X-Request-Id": requestId,
    traceparent,
  });
  if (target.apiKey !== undefined) result.set("Authorization", `Bearer ${target.apiKey}`);
  return result;
}

/**
 * A failed request in words a person can act on, naming the server: "connection refused to
 * http://127.0.0.1:7778", never fetch's bare "fetch failed". Never echoes anything that could
 * carry the key: fetch errors name the URL, not headers.
 */
export function describeFetchError(error: unknown, url: string, timeoutMs: number): string {
  if (error instanceof DOMException && error.name === "TimeoutError") {
    return `no answer from ${url} within ${timeoutMs} ms`;
  }
  if (error instanceof DOMException && error.name === "AbortError") return "aborted";
  const cause = (error as { cause?: unknown } | null)?.cause;
  const detail =
    (cause instanceof Error
      ? cause.message
      : error instanceof Error
      ? error.message
      : String(error))
      // Deno's wording around the cause: "error sending request for url (...): client error
      // (Connect): tcp connect error: Connection refused (os error 111)".
      .replace(/^error sending request for url \([^)]*\):\s*/, "")
      .replace(/^client error \(\w+\):\s*/, "")
      .replace(/\s*\(os error \d+\)/, "");
  let text: string;
  if (/connection refused/i.test(detail)) text = `connection refused to ${url}`;
  else if (/dns error|lookup address|name or service not known/i.test(detail)) {
    text = `cannot resolve the host of ${url}`;
  } else if (/connection reset/i.test(detail)) text = `connection reset by ${url}`;
  else if (/tls|certificate|handshake|corrupt message|peer sent/i.test(detail)) {
    text = `TLS failed with ${url}: ${detail}`;
  } else text = `${detail} (${url})`;
  return text.slice(0, MAX_ERROR_CHARS);
}

interface RawResponse {
  status: number;
  body: unknown;
  text: string;
  retryAfterMs: number | undefined;
}

async function post(
  target: Target,
  path: string,
  init: { headers: Headers; body: string },
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<RawResponse | { error: string }> {
  const url = `${target.url}${path}`;
  const timeout = AbortSignal.timeout(timeoutMs);
  const combined = signal ? AbortSignal.any([timeout, signal]) : timeout;
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: init.headers,
      body: init.body,
      signal: combined,
    });
    const text = await response.text();
    let body: unknown = undefined;
    try {
      body = text.length > 0 ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    return {
      status: response.status,
      body,
      text,
      retryAfterMs: parseRetryAfter(response.headers.get("retry-after")),
    };
  } catch (error) {
    return { error: describeFetchError(error, target.url, timeoutMs) };
  }
}

function errorText(raw: RawResponse): string {
  const body = raw.body as { message?: unknown; status?: unknown } | undefined;
  const detail = typeof body?.message === "string"
    ? body.message
    : typeof body?.status === "string"
    ? body.status
    : raw.text;
  return `HTTP ${raw.status}${detail ? `: ${detail}` : ""}`.slice(0, MAX_ERROR_CHARS);
}

/**
 * Classifies one answer (a whole response, or one batch item with its own status). `checked`
 * is the body when it has passed the schema already (a batch item, checked with the whole
 * batch answer), so it is not checked again for each item.
 */
function classify(
  status: number,
  body: unknown,
  error: string,
  retryAfterMs: number | undefined,
  checked?: IngestAnswer,
): DeliveryOutcome {
  if (status >= 200 && status < 300) {
    const parsed = checked
      ? { success: true as const, data: checked }
      : IngestAnswer.safeParse(body);
    // 200 means committed: a body we cannot read does not undo that.
    return {
      kind: "delivered",
      httpStatus: status,
      answer: parsed.success ? parsed.data : { status: "SUCCESS" },
    };
  }
  if (isRetryableStatus(status)) {
    return retryAfterMs === undefined
      ? { kind: "retryable", httpStatus: status, error }
      : { kind: "retryable", httpStatus: status, error, retryAfterMs };
  }
  return { kind: "permanent", httpStatus: status, error, answer: body };
}

function traceparentOf(envelope: Envelope): string {
  return `00-${envelope.traceId}-${envelope.spanId}-01`;
}

/** Sends one envelope to POST {url}/api/claude-hooks. Never throws. */
export async function sendEnvelope(
  target: Target,
  envelope: Envelope,
  opts: { timeoutMs: number; signal?: AbortSignal },
): Promise<DeliveryOutcome> {
  const raw = await post(
    target,
    "/api/claude-hooks",
    {
      headers: headers(target, envelope.requestId, traceparentOf(envelope)),
      body: JSON.stringify(envelope),
    },
    opts.timeoutMs,
    opts.signal,
  );
  if ("error" in raw) return { kind: "retryable", httpStatus: null, error: raw.error };
  return classify(raw.status, raw.body, errorText(raw), raw.retryAfterMs);
}

/** What the server takes in one batch request (its GET /health `limits`). */
export interface BatchLimits {
  /** Envelopes per request (ARRAKIS_BATCH_MAX there). */
  items?: number;
  /** Bytes of body per request (ARRAKIS_MAX_BODY_BYTES there). */
  bytes?: number;
}

/**
 * The server's batch limits from GET {url}/health (no key: it needs none), so a drainer sizes
 * its batches to them instead of learning them from 413s, each of which the server records as
 * an INVALID audit row. Empty when the server does not say (an older one, a proxy, an error).
 * Never throws.
 */
export async function fetchBatchLimits(
  target: Target,
  opts: { timeoutMs: number; signal?: AbortSignal },
): Promise<BatchLimits> {
  const timeout = AbortSignal.timeout(opts.timeoutMs);
  try {
    const response = await fetch(`${target.url}/health`, {
      headers: { "User-Agent": USER_AGENT },
      signal: opts.signal ? AbortSignal.any([timeout, opts.signal]) : timeout,
    });
    const text = await response.text();
    if (!response.ok) return {};
    const limits = (JSON.parse(text) as { limits?: Record<string, unknown> } | null)?.limits;
    const count = (value: unknown) =>
      typeof value === "number" && Number.isSafeInteger(value) && value > 0 ? value : undefined;
    return { items: count(limits?.batchMax), bytes: count(limits?.maxBodyBytes) };
  } catch {
    return {};
  }
}

/**
 * Sends envelopes to POST {url}/api/claude-hooks/batch: one outcome per envelope, same order.
 * A failure of the whole request gives every item that outcome. A server without the batch
 * route (404/405) gets the envelopes one by one instead. Never throws.
 */
export async function sendBatch(
  target: Target,
  envelopes: Envelope[],
  opts: { timeoutMs: number; signal?: AbortSignal },
): Promise<DeliveryOutcome[]> {
  if (envelopes.length === 0) return [];
  const first = envelopes[0];
  const raw = await post(
    target,
    "/api/claude-hooks/batch",
    {
      headers: headers(target, uuidv7(), traceparentOf(first)),
      body: JSON.stringify(envelopes),
    },
    opts.timeoutMs,
    opts.signal,
  );
  if ("error" in raw) {
    return envelopes.map(() => ({ kind: "retryable", httpStatus: null, error: raw.error }));
  }
  if (raw.status === 404 || raw.status === 405) {
    const outcomes: DeliveryOutcome[] = [];
    for (const envelope of envelopes) outcomes.push(await sendEnvelope(target, envelope, opts));
    return outcomes;
  }
  if (raw.status === 413 && envelopes.length > 1) {
    // Too large as a whole (bytes, items or JSON values): halves, down to single envelopes, so
    // only an envelope too large by itself is refused.
    const half = Math.ceil(envelopes.length / 2);
    return [
      ...await sendBatch(target, envelopes.slice(0, half), opts),
      ...await sendBatch(target, envelopes.slice(half), opts),
    ];
  }
  if (raw.status < 200 || raw.status >= 300) {
    const whole = classify(raw.status, raw.body, errorText(raw), raw.retryAfterMs);
    return envelopes.map(() => whole);
  }
  const parsed = BatchAnswer.safeParse(raw.body);
  if (!parsed.success || parsed.data.results.length !== envelopes.length) {
    // A 200 we cannot map to items proves nothing per item: retry them (the server dedupes).
    const error = `HTTP ${raw.status}: batch answer unreadable`;
    return envelopes.map(() => ({ kind: "retryable", httpStatus: raw.status, error }));
  }
  return parsed.data.results.map((item) => {
    const { httpStatus, ...answer } = item;
    const error = `HTTP ${httpStatus}: ${answer.message ?? answer.status}`.slice(
      0,
      MAX_ERROR_CHARS,
    );
    const outcome = classify(httpStatus, answer, error, undefined, answer);
    if (outcome.kind === "retryable" && raw.retryAfterMs !== undefined) {
      return { ...outcome, retryAfterMs: raw.retryAfterMs };
    }
    return outcome;
  });
}
