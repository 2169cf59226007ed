// The dashboard as the server mounts it: adapts ServerDeps (auth, ingest, events) to the
// plain functions the pages use.
import type { Hono } from "hono";
import type { ServerDeps } from "../server/deps.ts";
import {
  authenticate,
  clearSessionCookie,
  issueSessionCookie,
  matchesApiKey,
} from "../server/auth.ts";
import { ingestEnvelope } from "../server/ingest.ts";
import { requestMeta } from "../server/meta.ts";
import { alertsOf } from "../alerts/start.ts";
import { createDashboard } from "./app.ts";

export function dashboardRoutes(deps: ServerDeps): Hono {
  return createDashboard({
    sql: deps.sql,
    events: deps.events,
    isSignedIn: (c) => Promise.resolve(authenticate(c, deps).ok),
    signIn(c, apiKey) {
      if (deps.config.apiKeys.length === 0 || !matchesApiKey(apiKey, deps.config.apiKeys)) {
        return Promise.resolve(false);
      }
      issueSessionCookie(c, deps);
      return Promise.resolve(true);
    },
    signOut: (c) => clearSessionCookie(c),
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
