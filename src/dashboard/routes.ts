// The dashboard as the server mounts it: adapts ServerDeps (auth, ingest, events) to the
// plain functions the pages use.
import type { Hono } from "hono";
import type { ServerDeps } from "../server/deps.ts";
import { authenticate, issueSessionCookie, matchesApiKey, revokeSession } from "../server/auth.ts";
import { ingestEnvelope } from "../server/ingest.ts";
import { requestIp, requestMeta } from "../server/meta.ts";
import { recordFailedSignIn, signInBlocked } from "../server/unauthorized.ts";
import { alertsOf } from "../alerts/start.ts";
import { createDashboard } from "./app.ts";

export function dashboardRoutes(deps: ServerDeps): Hono {
  return createDashboard({
    sql: deps.sql,
    events: deps.events,
    isSignedIn: async (c) => (await authenticate(c, deps)).ok,
    signIn(c, apiKey) {
      // Throttled before the key is even compared: guessing costs the guesser a minute.
      const ip = requestIp(c, deps.config.trustedProxies);
      const retryAfter = signInBlocked(deps, ip);
      if (retryAfter !== undefined) return Promise.resolve({ ok: false, retryAfter });
      if (deps.config.apiKeys.length === 0 || !matchesApiKey(apiKey, deps.config.apiKeys)) {
        recordFailedSignIn(deps, ip);
        return Promise.resolve({ ok: false });
      }
      issueSessionCookie(c, deps);
      return Promise.resolve({ ok: true });
    },
    signOut: (c) => revokeSession(c, deps),
    reprocess(c, envelope) {
      // The person's request, marked as a replay; ids come from the stored envelope itself.
      const meta = requestMeta(c, deps.config.trustedProxies);
      return ingestEnvelope(deps, envelope, {
        ...meta,
        headers: { ...meta.headers, "x-arrakis-reprocess": "dashboard" },
        headerRequestId: null,
        traceId: null,
        spanId: null,
      });
    },
    alerts: () => alertsOf(deps),
  });
}
