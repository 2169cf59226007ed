// Who is calling: a Bearer key the key ring knows (compared in constant time against every
// key) or a signed dashboard session cookie naming a key that is still live and a session id
// not signed out (revoked_sessions: every instance sees it, across restarts).
import type { Context } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { createHmac, timingSafeEqual } from "node:crypto";
import type { ServerDeps } from "./deps.ts";
import type { Identity } from "./keys.ts";

export const SESSION_COOKIE = "arrakis_session";
export const SESSION_TTL_SECONDS = 12 * 3600;

export type AuthResult =
  | { ok: true; via: "bearer" | "cookie"; identity: Identity }
  | { ok: false; reason: string };

function sign(secret: Uint8Array, payload: string): string {
  return createHmac("sha256", secret).update(payload).digest("base64url");
}

interface Session {
  /** Random id, what sign-out revokes. */
  sid: string;
  /** Expiry, seconds since the epoch. */
  exp: number;
  /** Hash of the key the session was signed in with. */
  kid: string;
}

const base64url = (text: string) =>
  btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

/** The session a cookie carries, when the cookie is genuine and fresh. */
function verifySessionValue(secret: Uint8Array, value: string, nowMs: number): Session | undefined {
  const dot = value.lastIndexOf(".");
  if (dot <= 0) return undefined;
  const payload = value.slice(0, dot);
  const expected = Buffer.from(sign(secret, payload));
  const given = Buffer.from(value.slice(dot + 1));
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
  try {
    const { sid, exp, kid } = JSON.parse(atob(payload.replace(/-/g, "+").replace(/_/g, "/")));
    return typeof exp === "number" && exp * 1000 > nowMs && typeof kid === "string" &&
        typeof sid === "string"
      ? { sid, exp, kid }
      : undefined;
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
    const identity = deps.keys.identify(match[1]);
    if (identity) return { ok: true, via: "bearer", identity };
    return { ok: false, reason: "API key not accepted" };
  }
  const cookie = getCookie(c, SESSION_COOKIE);
  if (cookie !== undefined) {
    const session = verifySessionValue(deps.sessionSecret, cookie, Date.now());
    // A revoked key ends its sessions too: the cookie names the key, the ring must know it.
    const identity = session === undefined ? undefined : deps.keys.byHash(session.kid);
    if (identity && !(await isRevoked(deps, session!.sid))) {
      return { ok: true, via: "cookie", identity };
    }
    return { ok: false, reason: "session expired, signed out or invalid; sign in again" };
  }
  return { ok: false, reason: "missing Authorization: Bearer <key>" };
}

/** Sets a signed session cookie for the identity the dashboard checked the key of. */
export function issueSessionCookie(c: Context, deps: ServerDeps, identity: Identity): void {
  const exp = Math.floor(Date.now() / 1000) + SESSION_TTL_SECONDS;
  const sid = base64url(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(18))));
  const payload = base64url(
    JSON.stringify({ sid, exp, kid: identity.keyHash } satisfies Session),
  );
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

/** The session HMAC key: derived from the API keys, so cookies survive restarts. */
export function deriveSessionSecret(apiKeys: readonly string[]): Uint8Array {
  return new Uint8Array(
    createHmac("sha256", apiKeys.join("\n")).update("arrakis dashboard session v1").digest(),
  );
}
