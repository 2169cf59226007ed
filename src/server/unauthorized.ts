// What an unauthenticated request may cost: a counter in /metrics, one sampled audit row per
// source per minute (headers truncated), and 429 + Retry-After past a per-source limit. A flood
// of bad keys must not fill the database (it was one 6.6 KB row per 401) nor the CPU.
import type { Context } from "hono";
import type { RequestMeta, ServerDeps } from "./deps.ts";
import { createThrottle, type Throttle } from "./throttle.ts";
import { recordRejected } from "./ingest.ts";

/** Unauthenticated requests one source may make per minute before it gets 429s. */
export const UNAUTHENTICATED_PER_MINUTE = 120;
/** Failed dashboard sign-ins one source may make per minute. */
export const FAILED_SIGN_INS_PER_MINUTE = 10;
/** Header values kept on a sampled row (a full row keeps 512 characters). */
const SAMPLED_HEADER_CHARS = 128;
const MINUTE_MS = 60_000;
const MAX_SAMPLED_SOURCES = 10_000;

interface Guard {
  requests: Throttle;
  signIns: Throttle;
  /** source → the minute its last sampled row was written. */
  sampled: Map<string, number>;
}

const guards = new WeakMap<object, Guard>();

/** The counters of one server (its deps), made on first use. */
function guardOf(deps: ServerDeps): Guard {
  let guard = guards.get(deps);
  if (!guard) {
    guard = {
      requests: createThrottle(UNAUTHENTICATED_PER_MINUTE),
      signIns: createThrottle(FAILED_SIGN_INS_PER_MINUTE),
      sampled: new Map(),
    };
    guards.set(deps, guard);
  }
  return guard;
}

function sourceOf(ip: string | null): string {
  return ip ?? "unknown";
}

function tooMany(c: Context, retryAfter: number, what: string): Response {
  c.header("Retry-After", String(retryAfter));
  return c.json({
    status: "RATE_LIMITED",
    code: "RATE_LIMITED",
    message: `too many ${what} from this address; retry in ${retryAfter} s`,
  }, 429);
}

/**
 * Counts an unauthenticated request and throttles its source: the 429 to send, or undefined
 * when the request may get its 401.
 */
export function throttleUnauthenticated(
  c: Context,
  deps: ServerDeps,
  ip: string | null,
): Response | undefined {
  deps.metrics.recordUnauthorized();
  const verdict = guardOf(deps).requests.hit(sourceOf(ip), Date.now());
  return verdict.allowed ? undefined : tooMany(c, verdict.retryAfter, "unauthenticated requests");
}

/** Whether this source's row for the current minute is still to be written. */
function takeSample(guard: Guard, source: string, now: number): boolean {
  const minute = Math.floor(now / MINUTE_MS);
  if (guard.sampled.get(source) === minute) return false;
  if (guard.sampled.size >= MAX_SAMPLED_SOURCES) {
    for (const [key, at] of guard.sampled) if (at !== minute) guard.sampled.delete(key);
    if (guard.sampled.size >= MAX_SAMPLED_SOURCES) return false;
  }
  guard.sampled.set(source, minute);
  return true;
}

/** The answer to an ingest request without a valid key (its body is never read). */
export async function rejectUnauthenticated(
  c: Context,
  deps: ServerDeps,
  meta: RequestMeta,
  reason: string,
): Promise<Response> {
  await c.req.raw.body?.cancel().catch(() => {});
  const throttled = throttleUnauthenticated(c, deps, meta.ip);
  if (throttled) return throttled;
  c.header("WWW-Authenticate", 'Bearer realm="arrakis"');
  const problem = { httpStatus: 401, code: "UNAUTHORIZED", message: reason };
  if (!takeSample(guardOf(deps), sourceOf(meta.ip), Date.now())) {
    return c.json({ status: "UNAUTHORIZED", code: "UNAUTHORIZED", message: reason }, 401);
  }
  const headers = Object.fromEntries(
    Object.entries(meta.headers).map((
      [name, value],
    ) => [name, value.slice(0, SAMPLED_HEADER_CHARS)]),
  );
  const sampledMeta = {
    ...meta,
    headers,
    userAgent: meta.userAgent?.slice(0, SAMPLED_HEADER_CHARS) ?? null,
  };
  const result = await recordRejected(deps, sampledMeta, problem, "UNAUTHORIZED", "authenticate");
  return c.json(result.answer as object, 401);
}

/** Seconds this source must wait before trying another key at /login, or undefined. */
export function signInBlocked(deps: ServerDeps, ip: string | null): number | undefined {
  return guardOf(deps).signIns.blocked(sourceOf(ip), Date.now());
}

/** Counts a failed sign-in against its source (and in /metrics). */
export function recordFailedSignIn(deps: ServerDeps, ip: string | null): void {
  deps.metrics.recordUnauthorized();
  guardOf(deps).signIns.hit(sourceOf(ip), Date.now());
}
