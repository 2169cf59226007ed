// Who may call the API: a Bearer key from config.apiKeys (compared in constant time against
// every key, for rotation) or a signed dashboard session cookie whose session id was not
// signed out (revoked_sessions: every instance sees it, across restarts).
import type { Context, MiddlewareHandler } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { ServerDeps } from "./deps.ts";
import { throttleUnauthenticated } from "./unauthorized.ts";
import { requestIp } from "./meta.ts";

export const SESSION_COOKIE = "arrakis_session";
export const SESSION_TTL_SECONDS = 12 * 3600;

export type AuthResult =
  | { ok: true; via: "bearer" | "cookie" }
  | { ok: false; reason: string };

function digest(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

/** True when `candidate` is one of `keys`; every key is compared, equal work either way. */
export function matchesApiKey(candidate: string, keys: readonly string[]): boolean {
  // Hashing first gives equal-length inputs, so timingSafeEqual never leaks the key length.
  const presented = digest(candidate);
  let found = false;
  for (const key of keys) {
    if (timingSafeEqual(presented, digest(key))) found = true;
  }
  return found;
}

function sign(secret: Uint8Array, payload: string): string {
  return createHmac("sha256", secret).update(payload).digest("base64url");
}

interface Session {
  /** Random id, what sign-out revokes. */
  sid: string;
  /** Expiry, seconds since the epoch. */
  exp: number;
}

const base64url = (text: string) =>
  btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

/** The session a cookie value carries, when its signature holds and it has not expired. */
function verifySessionValue(secret: Uint8Array, value: string, nowMs: number): Session | undefined {
  const dot = value.lastIndexOf(".");
  if (dot <= 0) return undefined;
  const payload = value.slice(0, dot);
  const expected = Buffer.from(sign(secret, payload));
  const given = Buffer.from(value.slice(dot + 1));
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
  try {
    const { sid, exp } = JSON.parse(atob(payload.replace(/-/g, "+").replace(/_/g, "/")));
    if (typeof sid !== "string" || typeof exp !== "number" || exp * 1000 <= nowMs) return undefined;
    return { sid, exp };
  } catch {
    return undefined;
  }
}

async function isRevoked(deps: ServerDeps, sid: string): Promise<boolean> {
  const [row] = await deps.sql`SELECT 1 FROM revoked_sessions WHERE session_id = ${sid}`;
  return row !== undefined;
}

export async function authenticate(c: Context, deps: ServerDeps): Promise<AuthResult> {
  const header = c.req.header("authorization");
  if (header !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) return { ok: false, reason: "Authorization header must be 'Bearer <key>'" };
    if (deps.config.apiKeys.length > 0 && matchesApiKey(match[1], deps.config.apiKeys)) {
      return { ok: true, via: "bearer" };
    }
    return { ok: false, reason: "API key not accepted" };
  }
  const cookie = getCookie(c, SESSION_COOKIE);
  if (cookie !== undefined) {
    const session = verifySessionValue(deps.sessionSecret, cookie, Date.now());
    if (session && !(await isRevoked(deps, session.sid))) return { ok: true, via: "cookie" };
    return { ok: false, reason: "session expired, signed out or invalid; sign in again" };
  }
  return { ok: false, reason: "missing Authorization: Bearer <key>" };
}

/** Sets a signed session cookie (after the dashboard checked an API key). */
export function issueSessionCookie(c: Context, deps: ServerDeps): void {
  const exp = Math.floor(Date.now() / 1000) + SESSION_TTL_SECONDS;
  const sid = base64url(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(18))));
  const payload = base64url(JSON.stringify({ sid, exp } satisfies Session));
  const secure = new URL(c.req.url).protocol === "https:" ||
    c.req.header("x-forwarded-proto") === "https";
  setCookie(c, SESSION_COOKIE, `${payload}.${sign(deps.sessionSecret, payload)}`, {
    httpOnly: true,
    sameSite: "Strict",
    path: "/",
    secure,
    maxAge: SESSION_TTL_SECONDS,
  });
}

/** Signs the request's session out: its id is revoked until it would have expired anyway. */
export async function revokeSession(c: Context, deps: ServerDeps): Promise<void> {
  const cookie = getCookie(c, SESSION_COOKIE);
  const session = cookie ? verifySessionValue(deps.sessionSecret, cookie, Date.now()) : undefined;
  if (session) {
    await deps.sql`
      INSERT INTO revoked_sessions (session_id, expires_at)
      VALUES (${session.sid}, to_timestamp(${session.exp}))
      ON CONFLICT (session_id) DO NOTHING`;
    await deps.sql`DELETE FROM revoked_sessions WHERE expires_at < now()`;
  }
  setCookie(c, SESSION_COOKIE, "", { httpOnly: true, sameSite: "Strict", path: "/", maxAge: 0 });
}

/** 401 JSON (429 past the per-source limit) unless authenticate() accepts the request. */
export function requireAuth(deps: ServerDeps): MiddlewareHandler {
  return async (c, next) => {
    const result = await authenticate(c, deps);
    if (!result.ok) {
      const throttled = throttleUnauthenticated(c, deps, requestIp(c, deps.config.trustedProxies));
      if (throttled) return throttled;
      c.header("WWW-Authenticate", 'Bearer realm="arrakis"');
      return c.json({ status: "UNAUTHORIZED", message: result.reason }, 401);
    }
    await next();
  };
}

/** The session HMAC key: derived from the API keys, so cookies survive restarts. */
export function deriveSessionSecret(apiKeys: readonly string[]): Uint8Array {
  return new Uint8Array(
    createHmac("sha256", apiKeys.join("\n")).update("arrakis dashboard session v1").digest(),
  );
}
