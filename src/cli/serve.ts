// `arrakis serve`: the ingest API, the read API, the dashboard, health and metrics.
import { loadConfig } from "../config.ts";
import { atLeast, closeLogging, setupLogging } from "../log.ts";
import { parseFlags, UsageError } from "./args.ts";

export const usage = `Usage: arrakis serve [--port N] [--host ADDRESS]

Runs the arrakis server: POST /api/claude-hooks (and /batch), GET /api/sessions,
/api/sessions/:sessionId[/export], /api/events, /api/search, the dashboard at /, GET /health,
/ready, /metrics. Runs retention every hour (ARRAKIS_RETENTION_*).
Applies pending migrations at start (unless ARRAKIS_MIGRATE_ON_START=false), stops
gracefully on SIGTERM/SIGINT (in-flight requests finish, the store closes).

Options:
  --port N         listen port (default PORT or 7777; 0 picks a free one)
  --host ADDRESS   listen address (default ARRAKIS_HOST or 127.0.0.1; 0.0.0.0 in containers)

Environment:
  DATABASE_URL               PostgreSQL; without it the embedded store in ARRAKIS_HOME/db
  ARRAKIS_API_KEY            accepted Bearer keys, comma-separated (required with DATABASE_URL;
                             on the embedded store one is generated into ARRAKIS_HOME/api-key)
  ARRAKIS_MAX_BODY_BYTES     request body limit (default 32 MiB)
  ARRAKIS_BATCH_MAX          envelopes per batch request (default 100)
  ARRAKIS_TRUSTED_PROXIES    addresses/CIDRs whose X-Forwarded-For is believed
  ARRAKIS_RETENTION_PAYLOADS drop payloads of stored audit rows after this (default 30d;
                             "forever" keeps them); rows and data tables stay
  ARRAKIS_RETENTION_SESSIONS delete whole sessions this long after their last event
                             (default forever)
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
  const config = loadConfig(env);
  if (values.port !== undefined && String(config.port) !== values.port) {
    throw new UsageError(`serve: --port must be a number between 0 and 65535`);
  }
  const tty = Deno.stdout.isTerminal();
  await setupLogging({
    level: config.logLevel,
    dir: config.serverLogDir,
    files: [{ name: "server.jsonl" }, { name: "error.jsonl", filter: atLeast("warning") }],
    console: tty ? { stream: "stderr", format: "text" } : { stream: "stdout", format: "json" },
  });
  // Loaded after logging is set up so module-level loggers see the configuration.
  const { startServer } = await import("../server/start.ts");
  let server;
  try {
    server = await startServer(config);
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
  console.error(`arrakis serve: listening on ${server.url} (store: ${server.deps.store.kind})`);

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
