// The team server's sizing figures: bytes the database keeps per captured event (against the
// bytes posted), and how many NOTIFYs the live-event fan-out sends for a burst of ingest
// (against the events ingested), through a real `arrakis serve` on the local PostgreSQL.
import postgres from "postgres";
import { join } from "node:path";
import { loadConfig } from "../src/config.ts";
import { startArrakis } from "../src/compose.ts";
import { loadMigrations, migrate } from "../src/store/migrate.ts";
import { AUDIT_CHANNEL } from "../src/server/fanout.ts";
import { newSpanId, newTraceId, uuidv7 } from "../src/ids.ts";
import { type BenchRow, table } from "./report.ts";

const ADMIN_URL = Deno.env.get("BENCH_DATABASE_URL") ??
  "postgres://postgres@127.0.0.1:5432/postgres";
const KEY = "bench-team-key-0123456789";
const SESSIONS = 200;
const FIXTURES = new URL("../tests/fixtures/", import.meta.url);
const EVENTS = [
  "SessionStart",
  "UserPromptSubmit",
  "PreToolUse",
  "PostToolUse",
  "PostToolUseFailure",
  "Notification",
  "PreCompact",
  "SubagentStop",
  "Stop",
  "SessionEnd",
];

function sessionEnvelopes(session: string): Record<string, unknown>[] {
  const transcript = Deno.readTextFileSync(new URL("transcript.jsonl", FIXTURES)).split("\n")
    .filter((line) => line.trim() !== "").map((line) => JSON.parse(line));
  return EVENTS.map((event) => {
    const payload = JSON.parse(
      Deno.readTextFileSync(new URL(`hook-input/${event}.json`, FIXTURES)),
    );
    payload.session_id = session;
    if (payload.tool_use_id) payload.tool_use_id = `${payload.tool_use_id}-${session}`;
    return {
      requestId: uuidv7(),
      traceId: newTraceId(),
      spanId: newSpanId(),
      event,
      sessionId: session,
      occurredAt: new Date().toISOString(),
      attempt: 1,
      source: { host: "bench", user: "dev", projectDir: "/home/dev/shop", version: "bench" },
      payload,
      ...(event === "Stop"
        ? {
          // Own ids per session, so every session stores its own messages and token usage.
          transcript: transcript.map((line) => ({
            ...line,
            sessionId: session,
            uuid: `${line.uuid}-${session}`,
            ...(line.message?.id
              ? { message: { ...line.message, id: `${line.message.id}-${session}` } }
              : {}),
          })),
        }
        : {}),
    };
  });
}

export async function run(): Promise<BenchRow[]> {
  const name = `arrakis_bench_team_${Date.now().toString(36)}`;
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const sql = postgres(url.toString(), { max: 2, onnotice: () => {} });
  const home = await Deno.makeTempDir({ prefix: "arrakis-bench-team-" });
  try {
    await migrate(sql, await loadMigrations());
    const server = await startArrakis(
      loadConfig({
        DATABASE_URL: url.toString(),
        ARRAKIS_API_KEY: KEY,
        ARRAKIS_HOME: home,
        ARRAKIS_LOG_DIR: join(home, "logs"),
        ARRAKIS_LOG_LEVEL: "error",
        PORT: "0",
      }),
      { alerts: false },
    );
    await server.prepared;
    let notifications = 0;
    const listening = await sql.listen(AUDIT_CHANNEL, () => notifications++);
    const sizes = async () => {
      const [row] = await sql<{ bytes: string }[]>`
        SELECT sum(pg_total_relation_size(c.oid))::bigint AS bytes
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'm')`;
      return Number(row.bytes);
    };
    const before = await sizes();
    let posted = 0;
    let events = 0;
    const batches = Array.from({ length: SESSIONS }, (_, i) => sessionEnvelopes(`bench-${i}`));
    await Promise.all([0, 1].map(async () => {
      for (let batch = batches.shift(); batch; batch = batches.shift()) {
        const body = JSON.stringify(batch);
        posted += body.length;
        events += batch.length;
        const response = await fetch(`${server.url}/api/claude-hooks/batch`, {
          method: "POST",
          headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
          body,
        });
        await response.body?.cancel();
        if (!response.ok) throw new Error(`batch answered ${response.status}`);
      }
    }));
    // The fan-out flushes at most every 200 ms: let the last one arrive.
    await new Promise((resolve) => setTimeout(resolve, 500));
    await sql`VACUUM`.catch(() => {});
    const stored = (await sizes()) - before;
    await listening.unlisten();
    await server.shutdown();
    return [
      {
        benchmark: "team",
        metric: `database bytes per captured event (${events} events, fixture sessions)`,
        value: stored / events,
        unit: "B",
        reference: { metric: "bytes posted per event", value: posted / events },
      },
      {
        benchmark: "team",
        metric: `live-event NOTIFYs for ${events} events ingested`,
        value: notifications,
        unit: "",
        reference: { metric: "events ingested", value: events },
      },
    ];
  } finally {
    await sql.end();
    await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
    await Deno.remove(home, { recursive: true });
  }
}

if (import.meta.main) console.log(table(await run()));
