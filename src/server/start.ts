// Starting and stopping the server: keys, store, migrations, the stale-row sweep, Deno.serve,
// and a graceful shutdown that finishes in-flight requests before closing the store.
import type { Config } from "../config.ts";
import { log } from "../log.ts";
import { openStore, type Store } from "../store/open.ts";
import { loadMigrations, migrate } from "../store/migrate.ts";
import { startAlerts } from "../alerts/start.ts";
import type { ServerDeps } from "./deps.ts";
import { createMetrics } from "./metrics.ts";
import { deriveSessionSecret } from "./auth.ts";
import { resolveServerKeys } from "./api_key.ts";
import { createApp } from "./app.ts";
import { sweepStale } from "./audit.ts";
import { classifyFailure, errorMessage, RETRY_AFTER_SECONDS } from "./errors.ts";
import { SHUTDOWN_EVENT } from "../dashboard/stream.ts";
import { addressInUse } from "./listen.ts";

const logger = log("server");

export interface RunningServer {
  url: string;
  port: number;
  deps: ServerDeps;
  /** Where the generated/used key file is, when the key came from one. */
  keyFile?: string;
  keyGenerated: boolean;
  /** Resolves when the store is migrated and swept (ingest answers 503 until then). */
  prepared: Promise<void>;
  /** Stops accepting, finishes in-flight requests, closes the store. */
  shutdown(): Promise<void>;
}

export interface StartOptions {
  /** PostgreSQL pool size (the embedded store always uses one connection). */
  poolSize?: number;
  /** Start alert evaluation beside the server (default true). */
  alerts?: boolean;
}

const PREPARE_RETRY_MS = 2_000;

/** Migrations (unless disabled) and the sweep; retried while the database is unreachable. */
async function prepareStore(store: Store, config: Config, stopped: () => boolean): Promise<void> {
  const migrations = await loadMigrations();
  while (true) {
    try {
      if (config.migrateOnStart) {
        const applied = await migrate(store.sql, migrations);
        if (applied.length > 0) logger.info("applied migrations {applied}", { applied });
      }
      const swept = await sweepStale(store.sql);
      if (swept > 0) {
        logger.warn("{swept} unfinished audit rows from a previous run set to ERROR", { swept });
      }
      return;
    } catch (error) {
      if (classifyFailure(error) !== "unavailable" || stopped()) throw error;
      logger.warn("database unavailable at start ({error}); retrying", {
        error: errorMessage(error),
      });
      await new Promise((resolve) => setTimeout(resolve, PREPARE_RETRY_MS));
    }
  }
}

export async function startServer(
  config: Config,
  options: StartOptions = {},
): Promise<RunningServer> {
  const keys = await resolveServerKeys(config);
  const effective: Config = { ...config, apiKeys: keys.keys };
  const store = await openStore(effective, { max: options.poolSize ?? 20 });
  let stopped = false;
  let ready = false;
  const prepared = prepareStore(store, effective, () => stopped).then(() => {
    ready = true;
  });
  // A store that cannot be migrated at all (edited migration, wrong schema) is fatal at start.
  const firstAttempt = await Promise.race([
    prepared.then(() => "ok" as const),
    new Promise<"pending">((resolve) => setTimeout(() => resolve("pending"), 3_000)),
  ]).catch(async (error) => {
    await store.close().catch(() => {});
    throw error;
  });
  if (firstAttempt === "pending") prepared.catch(() => {});

  const deps: ServerDeps = {
    sql: store.sql,
    store,
    config: effective,
    metrics: createMetrics(),
    events: new EventTarget(),
    sessionSecret: deriveSessionSecret(keys.keys),
  };
  const app = createApp(deps);
  const alerts = options.alerts === false ? undefined : startAlerts(deps);
  const gate = (request: Request): Response | undefined => {
    if (ready || !new URL(request.url).pathname.startsWith("/api/claude-hooks")) return undefined;
    return Response.json(
      { status: "ERROR", code: "NOT_READY", message: "the store is not ready yet; retry" },
      { status: 503, headers: { "retry-after": String(RETRY_AFTER_SECONDS) } },
    );
  };
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve(
      { hostname: effective.host, port: effective.port, onListen: () => {} },
      (request, info) => gate(request) ?? app.fetch(request, info),
    );
  } catch (error) {
    stopped = true;
    await store.close().catch(() => {});
    throw addressInUse(error, effective.host, effective.port) ?? error;
  }
  const address = server.addr as Deno.NetAddr;
  const host = address.hostname.includes(":") ? `[${address.hostname}]` : address.hostname;
  const url = `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${address.port}`;
  logger.info("listening on {url} ({store})", { url, store: store.kind });

  let closing: Promise<void> | undefined;
  return {
    url,
    port: address.port,
    deps,
    keyFile: keys.file,
    keyGenerated: keys.generated,
    prepared,
    shutdown() {
      closing ??= (async () => {
        stopped = true;
        // Live dashboard streams never end on their own: tell them to close first.
        deps.events.dispatchEvent(new Event(SHUTDOWN_EVENT));
        await server.shutdown();
        await alerts?.stop();
        await prepared.catch(() => {});
        await store.close();
      })();
      return closing;
    },
  };
}
