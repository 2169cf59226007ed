// The HTTP surface: ingest, batch, the read API, operations endpoints and the dashboard.
import { type Context, Hono } from "hono";
import { log } from "../log.ts";
import { VERSION } from "../version.ts";
import { assertMigrated, loadMigrations, type Migration } from "../store/migrate.ts";
import { auditStream } from "../stream.ts";
import type { RequestMeta, ServerDeps } from "./deps.ts";
import { type Authorization, authorize, requireRole } from "./authorize.ts";
import { keysApi } from "./keys_api.ts";
import { requestMeta } from "./meta.ts";
import { readJsonBody } from "./body.ts";
import { ingestBatch, ingestEnvelope, type IngestResult, recordRejected } from "./ingest.ts";
import { rejectUnauthenticated } from "./unauthorized.ts";
import { queryRoutes } from "./query.ts";
import { classifyFailure, RETRY_AFTER_SECONDS } from "./errors.ts";
import { nulInUrl } from "../params.ts";
import { ReadInputError } from "../read/errors.ts";
import { errorMessage } from "../error_message.ts";

const httpLog = log("server", "http");
const errorLog = log("server", "error");

/** What a handler learnt about its request, for the one log line written when it ends. */
const requestNotes = new WeakMap<Request, Record<string, unknown>>();

function note(c: Context, fields: Record<string, unknown>): void {
  requestNotes.set(c.req.raw, { ...requestNotes.get(c.req.raw), ...fields });
}

function reply(
  c: Context,
  result: IngestResult | { httpStatus: number; body: unknown; retryAfter?: number },
) {
  if (result.retryAfter !== undefined) c.header("Retry-After", String(result.retryAfter));
  const body = "answer" in result ? result.answer : result.body;
  return c.json(body as object, result.httpStatus as 200);
}

/** Route label for metrics: the matched pattern, never the raw path (unbounded values). */
function routeOf(c: Context): string {
  const path = c.req.routePath;
  return path && path !== "/*" && path !== "*" ? path : "other";
}

/** Whether a listen address is reachable from this machine only. */
function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** The audit row's record of who sent the request: set once its key was checked. */
function stamp(meta: RequestMeta, deps: ServerDeps, auth: Authorization): void {
  meta.sender = { keyName: auth.identity?.name ?? null, instanceId: deps.instanceId };
}

/**
 * The ingest routes' refusal of a key: no valid key is the cheap, sampled, throttled path
 * (unauthorized.ts); a known key whose role falls short gets its audit row and the 403.
 */
async function refuse(
  c: Context,
  deps: ServerDeps,
  meta: RequestMeta,
  auth: Exclude<Authorization, { ok: true }>,
) {
  if (auth.httpStatus === 401) return rejectUnauthenticated(c, deps, meta, auth.reason);
  await c.req.raw.body?.cancel().catch(() => {});
  return reply(
    c,
    await recordRejected(
      deps,
      meta,
      { httpStatus: auth.httpStatus, code: auth.code, message: auth.reason },
      "UNAUTHORIZED",
      "authenticate",
    ),
  );
}

/** The server's routes; `dashboard`, when given, is mounted at "/" beside them. */
export function createApp(deps: ServerDeps, dashboard?: Hono): Hono {
  const app = new Hono();
  const { config, metrics } = deps;
  let migrations: Promise<Migration[]> | undefined;
  /**
   * What both ingest endpoints do first: the request's meta, its key, its JSON body. Returns
   * the answer already recorded when one of them refuses it.
   */
  async function admit(
    c: Context,
  ): Promise<Response | { meta: RequestMeta; body: { value: unknown } }> {
    const meta = requestMeta(c, config.trustedProxies);
    note(c, { ip: meta.ip, traceId: meta.traceId });
    const auth = await authorize(c, deps, "ingest");
    stamp(meta, deps, auth);
    if (!auth.ok) return refuse(c, deps, meta, auth);
    const body = await readJsonBody(c, config.maxBodyBytes);
    if (!body.ok) {
      note(c, { code: body.code });
      const status = body.aborted ? "ABORTED" : "INVALID";
      return reply(c, await recordRejected(deps, meta, body, status, "validate"));
    }
    return { meta, body };
  }

  app.use("*", async (c, next) => {
    const started = performance.now();
    metrics.inFlight(1);
    try {
      await next();
    } finally {
      metrics.inFlight(-1);
      const status = c.res.status;
      metrics.recordHttp(routeOf(c), status);
      const fields = {
        method: c.req.method,
        path: c.req.path,
        status,
        ms: Math.round((performance.now() - started) * 10) / 10,
        ...requestNotes.get(c.req.raw),
      };
      const level = status >= 500 ? "warning" : "info";
      httpLog[level === "warning" ? "warn" : "info"](
        "{method} {path} {status} {ms}ms",
        fields,
      );
    }
  });

  app.use("*", async (c, next) => {
    const nul = nulInUrl(c.req.url);
    if (nul) return c.json({ status: "INVALID", message: nul }, 400);
    await next();
  });

  app.get("/health", (c) =>
    c.json({
      status: "ok",
      version: VERSION,
      store: deps.store.kind,
      instance: deps.instanceId,
      limits: { maxBodyBytes: config.maxBodyBytes, batchMax: config.batchMax },
    }));

  app.get("/ready", async (c) => {
    try {
      migrations ??= loadMigrations();
      await deps.sql`SELECT 1`;
      await assertMigrated(deps.sql, await migrations);
      return c.json({ status: "ready", store: deps.store.kind });
    } catch (error) {
      c.header("Retry-After", String(RETRY_AFTER_SECONDS));
      return c.json({ status: "unavailable", message: errorMessage(error) }, 503);
    }
  });

  // Open on loopback (a local scraper); behind a key wherever others can reach the port.
  if (!isLoopback(config.host)) app.use("/metrics", requireRole(deps, "read"));
  app.get(
    "/metrics",
    (c) =>
      c.body(metrics.render(), 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" }),
  );

  app.post("/api/claude-hooks", async (c) => {
    const admitted = await admit(c);
    if (admitted instanceof Response) return admitted;
    const { meta, body } = admitted;
    const result = await ingestEnvelope(deps, body.value, meta);
    note(c, {
      requestId: result.answer.requestId,
      traceId: result.answer.traceId ?? meta.traceId,
      ingest: result.answer.status,
      code: result.answer.code,
    });
    return reply(c, result);
  });

  app.post("/api/claude-hooks/batch", async (c) => {
    const admitted = await admit(c);
    if (admitted instanceof Response) return admitted;
    const { meta, body } = admitted;
    if (!Array.isArray(body.value) || body.value.length === 0) {
      return reply(
        c,
        await recordRejected(
          deps,
          meta,
          {
            httpStatus: 400,
            code: "NOT_A_BATCH",
            message: "batch body must be a non-empty JSON array of envelopes",
          },
          "INVALID",
          "validate",
        ),
      );
    }
    if (body.value.length > config.batchMax) {
      return reply(
        c,
        await recordRejected(
          deps,
          meta,
          {
            httpStatus: 413,
            code: "TOO_MANY_ITEMS",
            message: `batch of ${body.value.length} envelopes; at most ${config.batchMax} ` +
              `per request: split it`,
          },
          "INVALID",
          "validate",
        ),
      );
    }
    const result = await ingestBatch(deps, body.value, meta);
    note(c, { items: body.value.length });
    return reply(c, {
      httpStatus: result.httpStatus,
      retryAfter: result.retryAfter,
      body: { results: result.results },
    });
  });

  app.route("/api/keys", keysApi(deps));
  const api = new Hono();
  api.use("*", requireRole(deps, "read"));
  api.get("/stream", (c) => auditStream(c, deps.events));
  api.route("/", queryRoutes(deps));
  app.route("/api", api);

  if (dashboard) app.route("/", dashboard);

  app.notFound((c) =>
    c.json({ status: "NOT_FOUND", message: `no route ${c.req.method} ${c.req.path}` }, 404)
  );

  app.onError((error, c) => {
    if (error instanceof ReadInputError) {
      return c.json({ status: "INVALID", message: error.message }, 400);
    }
    if (classifyFailure(error) === "unavailable") {
      metrics.recordDbError();
      c.header("Retry-After", String(RETRY_AFTER_SECONDS));
      return c.json(
        { status: "ERROR", code: "DB_UNAVAILABLE", message: "database unavailable" },
        503,
      );
    }
    errorLog.error("unhandled error on {method} {path}: {error}", {
      method: c.req.method,
      path: c.req.path,
      error: errorMessage(error),
      stack: error instanceof Error ? error.stack : undefined,
    });
    return c.json({ status: "ERROR", code: "INTERNAL", message: "internal error" }, 500);
  });

  return app;
}
