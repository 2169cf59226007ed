// `arrakis serve` assembled: the server, the dashboard mounted beside its API, and the alert
// evaluator started with the server's leadership. The one module that knows both the server
// and the dashboard, so neither imports the other.
import type { Hono } from "hono";
import type { Config } from "./config.ts";
import type { ServerDeps } from "./server/deps.ts";
import { authenticate, issueSessionCookie, revokeSession } from "./server/auth.ts";
import { ingestEnvelope } from "./server/ingest.ts";
import { requestIp, requestMeta } from "./server/meta.ts";
import { recordFailedSignIn, signInBlocked } from "./server/unauthorized.ts";
import { type RunningServer, startServer } from "./server/start.ts";
import type { AlertEvaluator } from "./alerts/evaluator.ts";
import { startAlerts } from "./alerts/start.ts";
import { createDashboard } from "./dashboard/app.ts";
import { refusal } from "./roles.ts";

/** The dashboard over this server: its key ring, session cookies and ingest pipeline. */
export function dashboardFor(deps: ServerDeps, alerts: AlertEvaluator | undefined): Hono {
  return createDashboard({
    sql: deps.sql,
    events: deps.events,
    async viewer(c) {
      const result = await authenticate(c, deps);
      return result.ok ? result.identity : undefined;
    },
    signIn(c, apiKey) {
      const identity = deps.keys.identify(apiKey);
      if (!identity) recordFailedSignIn(deps, requestIp(c, deps.config.trustedProxies));
      else if (refusal(identity, "read") === undefined) issueSessionCookie(c, deps, identity);
      return Promise.resolve(identity);
    },
    signInWait: (c) => signInBlocked(deps, requestIp(c, deps.config.trustedProxies)),
    signOut: (c) => revokeSession(c, deps),
    async reprocess(c, envelope) {
      // The person's request, marked as a replay; ids come from the stored envelope itself.
      const meta = requestMeta(c, deps.config.trustedProxies);
      const who = await authenticate(c, deps);
      return ingestEnvelope(deps, envelope, {
        ...meta,
        headers: { ...meta.headers, "x-arrakis-reprocess": "dashboard" },
        headerRequestId: null,
        traceId: null,
        spanId: null,
        sender: { keyName: who.ok ? who.identity.name : null, instanceId: deps.instanceId },
      });
    },
    alerts,
  });
}

export interface ServeOptions {
  poolSize?: number;
  /** Evaluate alert rules beside the server (default true). */
  alerts?: boolean;
}

export function startArrakis(config: Config, options: ServeOptions = {}): Promise<RunningServer> {
  return startServer(config, {
    poolSize: options.poolSize,
    alerts: options.alerts === false
      ? undefined
      : (sql, leadership) => startAlerts(sql, config, leadership),
    mount: dashboardFor,
  });
}
