// Ingest throughput and latency through real HTTP against PostgreSQL (`arrakis serve` as a
// child process, this process as the client) at several concurrency levels; in the same run
// the raw ceiling (the same rows written by plain postgres.js, no HTTP, no validation), the
// cost of a duplicate, and the batch endpoint.
import postgres from "postgres";
import { PERMISSIONS } from "../src/permissions.ts";
import { CONFIG, MAIN } from "../tests/helpers/cli.ts";
import { loadMigrations, migrate } from "../src/store/migrate.ts";
import { newSpanId, newTraceId, uuidv7 } from "../src/ids.ts";
import { type BenchRow, percentile, table } from "./report.ts";

const ADMIN_URL = Deno.env.get("BENCH_DATABASE_URL") ??
  "postgres://postgres@127.0.0.1:5432/postgres";
const KEY = "bench-key-0123456789";
const LEVELS: [concurrency: number, requests: number][] = [[1, 400], [8, 2000], [32, 4000]];

function envelope(session: string, i: number) {
  const payload = {
    session_id: session,
    transcript_path: `/home/dev/.claude/projects/x/${session}.jsonl`,
    cwd: "/home/dev/shop",
    permission_mode: "default",
    hook_event_name: "UserPromptSubmit",
    prompt: `Add a unit test for the cart total (${i}), and don't touch the payment code.`,
    prompt_id: `p-${i}`,
  };
  return {
    requestId: uuidv7(),
    traceId: newTraceId(),
    spanId: newSpanId(),
    event: "UserPromptSubmit",
    sessionId: session,
    occurredAt: new Date().toISOString(),
    attempt: 1,
    source: { host: "bench", user: "dev", projectDir: "/home/dev/shop", version: "bench" },
    payload,
  };
}

type Envelope = ReturnType<typeof envelope>;

/** Runs `count` jobs with `concurrency` workers; returns per-job ms and wall seconds. */
async function load(
  concurrency: number,
  count: number,
  job: (worker: number, i: number) => Promise<void>,
): Promise<{ latencies: number[]; seconds: number }> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async (_, worker) => {
    while (next < count) {
      const i = next++;
      const t = performance.now();
      await job(worker, i);
      latencies.push(performance.now() - t);
    }
  }));
  return {
    latencies: latencies.sort((a, b) => a - b),
    seconds: (performance.now() - started) / 1000,
  };
}

async function send(url: string, body: unknown, expect: string): Promise<void> {
  const response = await fetch(url, {
    method: "POST",
    headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const answer = await response.json();
  const status = Array.isArray(answer.results) ? answer.results[0].status : answer.status;
  if (status !== expect) throw new Error(`expected ${expect}, got ${JSON.stringify(answer)}`);
}

/** What the server writes for one prompt, minus HTTP, auth, validation, dedupe and timings. */
async function rawInsert(sql: postgres.Sql, e: Envelope): Promise<void> {
  await sql.begin(async (tx) => {
    await tx`INSERT INTO webhook_events (request_id, trace_id, span_id, session_id, event_type,
      status, stage, payload) VALUES (${e.requestId}, ${e.traceId}, ${e.spanId}, ${e.sessionId},
      ${e.event}, 'SUCCESS', 'respond', ${tx.json(e as unknown as postgres.JSONValue)})`;
    const [c] = await tx`INSERT INTO conversations (session_id, cwd, last_event_at)
      VALUES (${e.sessionId}, ${e.payload.cwd}, ${e.occurredAt}::timestamptz)
      ON CONFLICT (session_id) DO UPDATE SET last_event_at = EXCLUDED.last_event_at RETURNING id`;
    await tx`INSERT INTO messages (conversation_id, session_id, role, source, dedupe_key, content,
      request_id, occurred_at) VALUES (${c.id}, ${e.sessionId}, 'user', 'prompt',
      ${"prompt:" + e.payload.prompt_id + e.requestId}, ${e.payload.prompt}, ${e.requestId},
      ${e.occurredAt}::timestamptz) ON CONFLICT DO NOTHING`;
  });
}

function rows(name: string, result: { latencies: number[]; seconds: number }, reference?: number) {
  const rate = result.latencies.length / result.seconds;
  const out: BenchRow[] = [{
    benchmark: "ingest",
    metric: `${name} events/s`,
    value: rate,
    unit: "events/s",
    ...(reference
      ? { reference: { metric: "raw postgres.js, same concurrency", value: reference } }
      : {}),
  }];
  for (const p of [50, 95, 99]) {
    out.push({
      benchmark: "ingest",
      metric: `${name} latency p${p}`,
      value: percentile(result.latencies, p),
      unit: "ms",
    });
  }
  return out;
}

export async function run(): Promise<BenchRow[]> {
  const name = `arrakis_bench_${Date.now().toString(36)}`;
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const databaseUrl = url.toString();
  const sql = postgres(databaseUrl, { max: 32, onnotice: () => {} });
  const home = await Deno.makeTempDir({ prefix: "arrakis-bench-ingest-" });
  let server: Deno.ChildProcess | undefined;
  const out: BenchRow[] = [];
  try {
    await migrate(sql, await loadMigrations());
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close();
    server = new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", "--config", CONFIG, ...PERMISSIONS, MAIN, "serve"],
      env: {
        DATABASE_URL: databaseUrl,
        ARRAKIS_API_KEY: KEY,
        PORT: String(port),
        ARRAKIS_HOME: home,
        ARRAKIS_LOG_LEVEL: "info",
      },
      stdout: "null",
      stderr: "null",
    }).spawn();
    const base = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 300; i++) {
      try {
        if ((await fetch(`${base}/ready`).then((r) => (r.body?.cancel(), r.status))) === 200) break;
      } catch { /* not up yet */ }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const ingestUrl = `${base}/api/claude-hooks`;
    // Warm-up: JIT, connection pools, prepared statements.
    await load(8, 300, (w, i) => send(ingestUrl, envelope(`warm-${w}`, i), "SUCCESS"));
    await load(8, 300, (w, i) => rawInsert(sql, envelope(`rawwarm-${w}`, i)));

    const sent: Envelope[] = [];
    for (const [concurrency, count] of LEVELS) {
      const raw = await load(
        concurrency,
        count,
        (w, i) => rawInsert(sql, envelope(`raw-${concurrency}-${w}`, i)),
      );
      const rawRate = raw.latencies.length / raw.seconds;
      out.push(...rows(`raw postgres.js c=${concurrency}`, raw));
      const http = await load(concurrency, count, async (w, i) => {
        const e = envelope(`c${concurrency}-${w}`, i);
        await send(ingestUrl, e, "SUCCESS");
        if (sent.length < 2000) sent.push(e);
      });
      out.push(...rows(`HTTP ingest c=${concurrency}`, http, rawRate));
    }

    // Duplicates: already-processed requestIds sent again (a retry after a lost 200).
    const fresh = out.find((r) => r.metric === "HTTP ingest c=8 events/s")!.value;
    const dup = await load(
      8,
      sent.length,
      (_, i) => send(ingestUrl, { ...sent[i], attempt: 2 }, "DUPLICATE"),
    );
    const dupRows = rows("HTTP duplicate c=8", dup);
    dupRows[0].reference = { metric: "HTTP ingest c=8 (new events)", value: fresh };
    out.push(...dupRows);
    // The dedupe check alone, in SQL: advisory lock + lookup of the SUCCESS row, one transaction.
    const probe = await load(8, 2000, (_, i) =>
      sql.begin(async (tx) => {
        await tx`SELECT pg_advisory_xact_lock(hashtextextended(${
          sent[i % sent.length].requestId
        }, 0))`;
        await tx`SELECT id, body_sha256, response FROM webhook_events
          WHERE request_id = ${sent[i % sent.length].requestId} AND status = 'SUCCESS' LIMIT 1`;
      }).then(() => {}));
    out.push({
      benchmark: "ingest",
      metric: "dedupe check alone (lock + lookup tx, c=8) p50",
      value: percentile(probe.latencies, 50) * 1000,
      unit: "µs",
    });

    // Batch endpoint (the drainer's path): 100 envelopes a request.
    const batch = await load(4, 40, (w, i) =>
      send(
        `${base}/api/claude-hooks/batch`,
        Array.from({ length: 100 }, (_, k) => envelope(`batch-${w}`, i * 100 + k)),
        "SUCCESS",
      ));
    out.push({
      benchmark: "ingest",
      metric: "HTTP batch of 100, c=4 events/s",
      value: (batch.latencies.length * 100) / batch.seconds,
      unit: "events/s",
      reference: {
        metric: "raw postgres.js, c=32",
        value: out.find((r) => r.metric === "raw postgres.js c=32 events/s")!.value,
      },
    });
    out.push({
      benchmark: "ingest",
      metric: "HTTP batch of 100, c=4 latency p50",
      value: percentile(batch.latencies, 50),
      unit: "ms",
    });
  } finally {
    if (server) {
      server.kill("SIGTERM");
      await server.status;
    }
    await sql.end();
    await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
    await Deno.remove(home, { recursive: true });
  }
  return out;
}

if (import.meta.main) {
  console.log(table(await run()));
}
