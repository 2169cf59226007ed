// Starting and stopping the server: keys, store, migrations, the stale-row sweep, retention,
// this instance's heartbeat and live-event fan-out, the listener, and a graceful shutdown that
// finishes in-flight requests (up to a deadline) and hands leadership over before closing the
// store.
import type { Hono } from "hono";
import type { Config } from "../config.ts";
import { log } from "../log.ts";
import { uuidv7 } from "../ids.ts";
import { openStore, type Sql, type Store } from "../store/open.ts";
import { loadMigrations, migrate } from "../store/migrate.ts";
import { createEvents } from "../events.ts";
import type { AlertEvaluator } from "../alerts/evaluator.ts";
import { advisoryLeadership, type Leadership, SOLE_LEADER } from "../alerts/leader.ts";
import { loadPrices, type ModelPrice, storePrices } from "../cost/prices.ts";
import { startRetention } from "../retention/schedule.ts";
import type { ServerDeps } from "./deps.ts";
import { createMetrics } from "./metrics.ts";
import { deriveSessionSecret } from "./auth.ts";
import { resolveServerKeys } from "./api_key.ts";
import { createKeyRing } from "./keys.ts";
import { createApp } from "./app.ts";
import { sweepStale } from "./audit.ts";
import { type Heartbeat, registerInstance, STALE_HEARTBEATS, startHeartbeat } from "./instances.ts";
import { type Fanout, startFanout } from "./fanout.ts";
import { classifyFailure, RETRY_AFTER_SECONDS } from "./errors.ts";
import { addressInUse } from "./listen.ts";
import { listen } from "./listener.ts";
import { defaultMaxConnections } from "./file_limit.ts";
import { errorMessage } from "../error_message.ts";

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
  /** Starts the alert evaluator (the composition root decides which, if any). */
  alerts?: (sql: Sql, leadership: Leadership) => AlertEvaluator;
  /** Routes mounted at "/" beside the API (the dashboard), given the server's deps. */
  mount?: (deps: ServerDeps, alerts: AlertEvaluator | undefined) => Hono;
}

const PREPARE_RETRY_MS = 2_000;
/** How often the key ring rereads the keys: a revocation reaches every instance this fast. */
const KEY_REFRESH_MS = 2_000;

/** A peer that has not beaten for this long is gone; on the embedded store every other is. */
function staleMs(store: Store, config: Config): number {
  return store.kind === "pglite" ? 0 : config.heartbeatMs * STALE_HEARTBEATS;
}

/**
 * Migrations (unless disabled), this instance's row and the sweep of gone instances' rows;
 * retried while the database is unreachable.
 */
async function prepareStore(
  store: Store,
  config: Config,
  instanceId: string,
  prices: ModelPrice[],
  stopped: () => boolean,
): Promise<void> {
  const migrations = await loadMigrations();
  while (true) {
    try {
      if (config.migrateOnStart) {
        const applied = await migrate(store.sql, migrations);
        if (applied.length > 0) logger.info("applied migrations {applied}", { applied });
      }
      await storePrices(store.sql, prices);
      await registerInstance(store.sql, instanceId);
      const swept = await sweepStale(store.sql, {
        instanceId,
        staleMs: staleMs(store, config),
      });
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
  // A bad price file is a configuration error: refuse to start rather than price wrongly.
  const prices = await loadPrices(config.pricesFile);
  const keys = await resolveServerKeys(config);
  const effective: Config = { ...config, apiKeys: keys.keys };
  const store = await openStore(effective, {
    max: options.poolSize ?? 20,
    statementTimeoutMs: effective.statementTimeoutMs,
  });
  const instanceId = uuidv7();
  const events = createEvents((error) =>
    logger.warn("a live-event listener failed: {error}", { error: errorMessage(error) })
  );
  const warn = (what: string) => (error: unknown) =>
    logger.warn(`${what}: {error}`, { error: errorMessage(error) });
  const keyRing = createKeyRing({
    sql: store.sql,
    envKeys: keys.keys,
    onError: warn("reading the API keys failed"),
  });
  const leadership = store.session ? advisoryLeadership(store.session) : SOLE_LEADER;
  let stopped = false;
  let ready = false;
  let heartbeat: Heartbeat | undefined;
  let fanout: Fanout | undefined;
  const prepared = prepareStore(store, effective, instanceId, prices, () => stopped).then(
    async () => {
      // Neither a failed first key load nor a failed LISTEN may keep ingest closed: the key ring
      // retries on its timer, and the fan-out is only the live pages of other instances.
      await keyRing.refresh().catch(warn("reading the API keys failed"));
      keyRing.start(KEY_REFRESH_MS);
      heartbeat = startHeartbeat(
        store.sql,
        instanceId,
        effective.heartbeatMs,
        () => leadership.check(),
        (swept) =>
          logger.warn("{swept} unfinished audit rows of stopped instances set to ERROR", { swept }),
        warn("heartbeat failed"),
      );
      if (store.session) {
        fanout = await startFanout(
          store.sql,
          store.session,
          events,
          instanceId,
          warn("live events"),
        )
          .catch((error) => void warn("listening for other instances' events failed")(error));
      }
      ready = true;
    },
  );
  /** This instance leaves the team: no more beats, fan-out or key refreshes; leadership freed. */
  const stopInstance = async () => {
    keyRing.stop();
    await fanout?.stop();
    await heartbeat?.stop();
    // Unlocking now lets a peer lead from its next tick instead of a dead connection's.
    await leadership.release();
  };
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
    events,
    sessionSecret: deriveSessionSecret(keys.keys),
    keys: keyRing,
    instanceId,
  };
  const alerts = options.alerts?.(store.sql, leadership);
  const app = createApp(deps, options.mount?.(deps, alerts));
  // Retention needs the migrated schema (its indexes) and runs only once the store is ready.
  const retention = prepared.then(() => stopped ? undefined : startRetention(store.sql, effective));
  const gate = (request: Request): Response | undefined => {
    if (ready || !new URL(request.url).pathname.startsWith("/api/claude-hooks")) return undefined;
    return Response.json(
      { status: "ERROR", code: "NOT_READY", message: "the store is not ready yet; retry" },
      { status: 503, headers: { "retry-after": String(RETRY_AFTER_SECONDS) } },
    );
  };
  const maxConnections = effective.maxConnections ?? await defaultMaxConnections();
  let listener;
  try {
    listener = listen({
      hostname: effective.host,
      port: effective.port,
      limits: {
        headersTimeoutMs: effective.headersTimeoutMs,
        requestTimeoutMs: effective.requestTimeoutMs,
        idleTimeoutMs: effective.idleTimeoutMs,
        maxConnections,
        shutdownTimeoutMs: effective.shutdownTimeoutMs,
      },
      fetch: (request, env) => gate(request) ?? app.fetch(request, env),
    });
  } catch (error) {
    stopped = true;
    await alerts?.stop();
    await prepared.catch(() => {});
    await stopInstance().catch(() => {});
    await store.close().catch(() => {});
    throw addressInUse(error, effective.host, effective.port) ?? error;
  }
  const host = listener.hostname.includes(":") ? `[${listener.hostname}]` : listener.hostname;
  const wildcard = host === "0.0.0.0" || host === "[::]";
  const url = `http://${wildcard ? "127.0.0.1" : host}:${listener.port}`;
  logger.info("listening on {url} ({store}, at most {maxConnections} connections)", {
    url,
    store: store.kind,
    maxConnections,
  });

  let closing: Promise<void> | undefined;
  return {
    url,
    port: listener.port,
    deps,
    keyFile: keys.file,
    keyGenerated: keys.generated,
    prepared,
    shutdown() {
      closing ??= (async () => {
        stopped = true;
        // Live streams never end on their own: tell them to close first.
        events.emit("shutdown", {});
        await listener.close();
        await alerts?.stop();
        await (await retention.catch(() => undefined))?.stop();
        await prepared.catch(() => {});
        await stopInstance();
        await store.close();
      })();
      return closing;
    },
  };
}
