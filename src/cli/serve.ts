// `arrakis serve`: the ingest API, the read API, the dashboard, health and metrics.
import { ConfigError, loadConfig, settingExpectation } from "../config.ts";
import { alertRulesFrom } from "../alerts/rules.ts";
import { assertAddressFree } from "../server/listen.ts";
import { atLeast, closeLogging, setupLogging } from "../log.ts";
import { parseFlags, UsageError } from "./args.ts";

export const usage = `Usage: arrakis serve [--port N] [--host ADDRESS]

Runs the arrakis server: POST /api/claude-hooks (and /batch), GET /api/sessions,
/api/sessions/:sessionId[/export], /api/cost, /api/events, /api/search, /api/stream,
/api/keys, the dashboard at /, GET /health, /ready, /metrics (behind a key unless listening
on loopback). Several instances may share one
PostgreSQL. Runs retention every hour (ARRAKIS_RETENTION_*).
Applies pending migrations at start (unless ARRAKIS_MIGRATE_ON_START=false), stops
gracefully on SIGTERM/SIGINT (in-flight requests finish, the store closes).

Options:
  --port N         listen port (default PORT or 7777; 0 picks a free one)
  --host ADDRESS   listen address (default ARRAKIS_HOST or 127.0.0.1; 0.0.0.0 in containers)

Environment:
  DATABASE_URL               PostgreSQL; without it the embedded store in ARRAKIS_HOME/db
  ARRAKIS_HOME               the embedded store (db/), the generated key (api-key) and the
                             server logs (logs/); default ~/.arrakis
  ARRAKIS_API_KEY            admin Bearer keys, comma-separated (required with DATABASE_URL;
                             on the embedded store one is generated into ARRAKIS_HOME/api-key);
                             keys per person or machine: 'arrakis keys'; each at least 16
                             random characters
  ARRAKIS_DIRECT_DATABASE_URL  PostgreSQL itself when DATABASE_URL is a transaction pooler:
                             LISTEN and the alert leader's lock need a session
  ARRAKIS_PG_PREPARE         false behind a transaction pooler such as PgBouncer (default true)
  ARRAKIS_HEARTBEAT          instance heartbeat; a peer silent for 3 is gone (default 5s)
  PORT, ARRAKIS_HOST         where to listen (what --port and --host set)
  ARRAKIS_MAX_BODY_BYTES     request body limit (default 32 MiB)
  ARRAKIS_BATCH_MAX          envelopes per batch request (default 500)
  ARRAKIS_TRUSTED_PROXIES    addresses/CIDRs whose X-Forwarded-For is believed
  ARRAKIS_MAX_CONNECTIONS    open connections at most (default: what the file limit allows)
  ARRAKIS_HEADERS_TIMEOUT    time a connection has to send its headers (default 10s)
  ARRAKIS_REQUEST_TIMEOUT    time a request has to arrive whole (default 2m)
  ARRAKIS_IDLE_TIMEOUT       idle time before a kept-alive connection closes (default 95s)
  ARRAKIS_STATEMENT_TIMEOUT  longest a database statement may run (default 60s)
  ARRAKIS_SHUTDOWN_TIMEOUT   how long SIGTERM waits for in-flight requests (default 20s)
  ARRAKIS_REDACT_PATTERNS    extra secret patterns, one regular expression a line
  ARRAKIS_PRICES             a JSON price file (the shape of data/prices.json) whose models
                             override and add to the bundled price table
  ARRAKIS_MIGRATE_ON_START   apply pending migrations at start (default true)
  ARRAKIS_ALERT_WEBHOOK_URL  Slack-compatible webhook for alerts (alerts are off without it)
  ARRAKIS_ALERT_RULES        alert rules as JSON (default: error rate, p95, silence)
  ARRAKIS_ALERT_INTERVAL     how often the rules are evaluated (default 30s)
  ARRAKIS_RETENTION_PAYLOADS drop payloads of stored audit rows after this (default 30d;
                             "forever" keeps them); rows and data tables stay
  ARRAKIS_RETENTION_SESSIONS delete whole sessions this long after their last event
                             (default forever)
  ARRAKIS_RETENTION_INTERVAL how often retention runs (default 1h)
  ARRAKIS_LOG_LEVEL          debug | info | warning | error; logs: JSON lines on stdout when
                             not on a terminal, text on stderr when on one, and files in
                             ARRAKIS_LOG_DIR (default ARRAKIS_HOME/logs)
See docs/API.md and docs/DEPLOY.md.`;

export async function run(args: string[]): Promise<number> {
  const { values } = parseFlags("serve", args, {
    port: { type: "string" },
    host: { type: "string" },
  });
  const env = Deno.env.toObject();
  if (values.port !== undefined) env.PORT = values.port;
  if (values.host !== undefined) env.ARRAKIS_HOST = values.host;
  // Every setting is checked before anything is opened or created, so a typo is reported as
  // itself, never as whatever resource happened to fail first.
  let config;
  try {
    config = loadConfig(env);
    if (values.port !== undefined && String(config.port) !== values.port) {
      throw new ConfigError("", "PORT", settingExpectation("PORT"));
    }
  } catch (error) {
    if (error instanceof ConfigError && error.variable === "PORT" && values.port !== undefined) {
      throw new UsageError(`serve: --port must be ${error.expected}, got "${values.port}"`);
    }
    throw error;
  }
  alertRulesFrom(config);
  assertAddressFree(config.host, config.port);
  const tty = Deno.stdout.isTerminal();
  await setupLogging({
    level: config.logLevel,
    dir: config.serverLogDir,
    files: [{ name: "server.jsonl" }, { name: "error.jsonl", filter: atLeast("warning") }],
    console: tty ? { stream: "stderr", format: "text" } : { stream: "stdout", format: "json" },
  });
  // Loaded after logging is set up so module-level loggers see the configuration.
  const { startArrakis } = await import("../compose.ts");
  let server;
  try {
    server = await startArrakis(config);
  } catch (error) {
    await closeLogging();
    throw error;
  }
  if (server.keyFile) {
    console.error(
      `arrakis serve: API key ${server.keyGenerated ? "generated in" : "read from"} ` +
        `${server.keyFile} (0600); arrakis hook on this machine uses it`,
    );
  }
  // On a terminal the log line above says it already; elsewhere the logs are JSON on stdout.
  if (!tty) {
    console.error(`arrakis serve: listening on ${server.url} (store: ${server.deps.store.kind})`);
  }

  const stop = Promise.withResolvers<string>();
  let stopping = false;
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    Deno.addSignalListener(signal, () => {
      // A repeated SIGTERM must not cut in-flight requests short; a second Ctrl-C forces exit.
      if (stopping && signal === "SIGINT") Deno.exit(130);
      stopping = true;
      stop.resolve(signal);
    });
  }
  const signal = await stop.promise;
  console.error(`arrakis serve: ${signal}: finishing in-flight requests`);
  await server.shutdown();
  await closeLogging();
  return 0;
}
