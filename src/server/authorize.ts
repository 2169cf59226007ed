// The server's check of a request against the role policy (src/roles.ts): 401 without a known
// key or session, 403 with the reason when the key's role lacks what the route needs.
import type { Context, MiddlewareHandler } from "hono";
import { type Permission, refusal } from "../roles.ts";
import type { ServerDeps } from "./deps.ts";
import type { Identity } from "./keys.ts";
import { authenticate } from "./auth.ts";
import { requestIp } from "./meta.ts";
import { throttleUnauthenticated } from "./unauthorized.ts";

export type Authorization =
  | { ok: true; identity: Identity }
  | {
    ok: false;
    httpStatus: 401 | 403;
    code: "UNAUTHORIZED" | "FORBIDDEN";
    reason: string;
    /** The known key whose role fell short (403). */
    identity?: Identity;
  };

export async function authorize(
  c: Context,
  deps: ServerDeps,
  need: Permission,
): Promise<Authorization> {
  const result = await authenticate(c, deps);
  if (!result.ok) {
    return { ok: false, httpStatus: 401, code: "UNAUTHORIZED", reason: result.reason };
  }
  const reason = refusal(result.identity, need);
  if (reason !== undefined) {
    return { ok: false, httpStatus: 403, code: "FORBIDDEN", reason, identity: result.identity };
  }
  return { ok: true, identity: result.identity };
}

/** Middleware for JSON routes. */
export function requireRole(deps: ServerDeps, need: Permission): MiddlewareHandler {
  return async (c, next) => {
    const result = await authorize(c, deps, need);
    if (!result.ok) {
      if (result.httpStatus === 401) {
        const throttled = throttleUnauthenticated(
          c,
          deps,
          requestIp(c, deps.config.trustedProxies),
        );
        if (throttled) return throttled;
      }
      if (result.httpStatus === 401) c.header("WWW-Authenticate", 'Bearer realm="arrakis"');
      return c.json({ status: result.code, message: result.reason }, result.httpStatus);
    }
    await next();
  };
}
