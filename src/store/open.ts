// One postgres.js `sql` for everything: a real PostgreSQL when DATABASE_URL is set, the
// embedded PGlite store otherwise.
import postgres from "postgres";
import { join } from "node:path";
import type { Config } from "../config.ts";
import { type EmbeddedOptions, startEmbedded } from "./embedded.ts";

export type Sql = postgres.Sql;

export interface Store {
  sql: Sql;
  kind: "postgres" | "pglite";
  /** Connection URL without password (for messages and psql). */
  displayUrl: string;
  /**
   * PostgreSQL itself, for what lives in a session (LISTEN, the leader's advisory lock), which
   * a transaction pooler in front of `sql` would not keep. Absent on the embedded store.
   */
  session?: Sql;
  close(): Promise<void>;
}

export interface OpenStoreOptions {
  /** Pool size on PostgreSQL; the embedded store always uses one connection. */
  max?: number;
  /** statement_timeout of every connection, so no request holds the store for ever. */
  statementTimeoutMs?: number;
  /** Where the server's notices go: nowhere unless asked (a test reading auto_explain's plans). */
  onNotice?: (notice: postgres.Notice) => void;
  /** PGlite extensions the embedded store loads (a test's auto_explain). */
  pgliteExtensions?: EmbeddedOptions["extensions"];
}

/** The application_name of every arrakis connection (what pg_stat_activity shows). */
export const APPLICATION_NAME = "arrakis";

/** What the session pool needs: one connection for LISTEN, one for the leader's lock. */
const SESSION_POOL = 2;

function connect(
  url: string,
  max: number,
  prepare = true,
  options: OpenStoreOptions = {},
  path?: string,
): Sql {
  const { statementTimeoutMs } = options;
  return postgres(url, {
    max,
    ...(path ? { path } : {}),
    prepare,
    onnotice: options.onNotice ?? (() => {}),
    connect_timeout: 10,
    idle_timeout: 0,
    connection: {
      application_name: APPLICATION_NAME,
      ...(statementTimeoutMs ? { statement_timeout: statementTimeoutMs } : {}),
    },
  });
}

function withoutPassword(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = "***";
  return parsed.toString();
}

export async function openStore(
  config:
    & Pick<Config, "databaseUrl" | "pgliteDir">
    & Partial<Pick<Config, "directDatabaseUrl" | "pgPrepare" | "home">>,
  options: OpenStoreOptions = {},
): Promise<Store> {
  if (config.databaseUrl) {
    const prepare = config.pgPrepare ?? true;
    // PgBouncer (prepare off) refuses statement_timeout as a startup parameter: there the
    // role's own setting applies (docs/DEPLOY.md).
    const sql = connect(
      config.databaseUrl,
      options.max ?? 10,
      prepare,
      prepare ? options : { ...options, statementTimeoutMs: undefined },
    );
    // Opened on first use (postgres.js connects lazily): commands that never listen pay nothing.
    const session = config.directDatabaseUrl
      ? connect(config.directDatabaseUrl, SESSION_POOL)
      : sql;
    return {
      sql,
      kind: "postgres",
      displayUrl: withoutPassword(config.databaseUrl),
      session,
      async close() {
        if (session !== sql) await session.end({ timeout: 5 });
        await sql.end({ timeout: 5 });
      },
    };
  }
  const embedded = await startEmbedded(config.pgliteDir, {
    home: config.home,
    // New stores are unpacked from a template kept in the home (src/store/template.ts).
    ...(config.home === undefined ? {} : { templateDir: join(config.home, "cache") }),
    extensions: options.pgliteExtensions,
  });
  // PGlite is one backend: a single connection keeps each transaction whole.
  const sql = connect(
    "postgres://postgres@localhost/postgres",
    1,
    true,
    options,
    embedded.socketPath,
  );
  return {
    sql,
    kind: "pglite",
    displayUrl: `postgres://postgres@/postgres?host=${embedded.socketDir}`,
    async close() {
      await sql.end({ timeout: 5 });
      await embedded.close();
    },
  };
}
