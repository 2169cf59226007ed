// Ingest through real HTTP (`arrakis serve` as a child process, this process the client), each
// figure beside its raw ceiling measured in the same run: postgres.js doing one INSERT of the
// same audit row per commit (fsync on) at the same concurrency, and one multi-row INSERT per
// batch. Two payload mixes, measured in interleaved rounds: every event of one session, and
// events spread over 32 sessions.
// Also: server CPU per event (server + its PostgreSQL backends, from /proc), round trips per
// event (from /metrics), how long the server's main thread waited for a CPU (what the tail
// latencies follow on a shared machine), the cost of the per-request log line, and the
// embedded store.
import postgres from "postgres";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { APP_ENTRIES } from "../src/install/self.ts";
import { PERMISSIONS } from "../src/permissions.ts";
import { CONFIG, MAIN } from "../tests/helpers/cli.ts";
import { loadMigrations, migrate } from "../src/store/migrate.ts";
import { newSpanId, newTraceId, uuidv7 } from "../src/ids.ts";
import { type BenchRow, percentile, table } from "./report.ts";
import { APPLICATION_NAME } from "../src/store/open.ts";
import { prepareTemplate } from "../src/store/embedded.ts";
import { cpuMeter, cpuSeconds, memoryMiB, runQueueMs } from "./proc.ts";

const ADMIN_URL = Deno.env.get("BENCH_DATABASE_URL") ??
  "postgres://postgres@127.0.0.1:5432/postgres";
const KEY = "bench-key-0123456789";
const SCALE = Number(Deno.env.get("BENCH_INGEST_SCALE") ?? 1);
const COUNTS: Record<number, number> = { 8: 2000 * SCALE, 32: 3000 * SCALE };
const MIXES = { "one session": 1, "32 sessions": 32 } as const;
type Mix = keyof typeof MIXES;
/** Interleaved rounds of the two mixes at each concurrency (their counts split among them). */
const MIX_ROUNDS = 4;
/** Warm-up events per mix before anything is measured. */
const WARM_EVENTS = 1000;
/** Interleaved rounds of the log line's cost (with, without, with, ...). */
const LOG_ROUNDS = 5;
/** Interleaved rounds of batches against their raw ceiling. */
const BATCH_ROUNDS = 5;
/** Rounds of first deliveries, each followed by the same events re-sent. */
const DUPLICATE_ROUNDS = 3;
/** The raw ceilings' connections, told apart from the server's (APPLICATION_NAME) by this name. */
const RAW_APPLICATION = "arrakis-bench-raw";
const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1];

function envelope(mix: Mix, tag: string, i: number) {
  const session = `${tag}-${i % MIXES[mix]}`;
  const payload = {
    session_id: session,
    transcript_path: `/home/dev/.claude/projects/x/${session}.jsonl`,
    cwd: "/home/dev/shop",
    permission_mode: "default",
    hook_event_name: "UserPromptSubmit",
    prompt: `Add a unit test for the cart total (${i}), and don't touch the payment code.`,
    prompt_id: `${tag}-p-${i}`,
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
  job: (i: number) => Promise<void>,
): Promise<{ latencies: number[]; seconds: number }> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count) {
      const i = next++;
      const t = performance.now();
      await job(i);
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
  const statuses = Array.isArray(answer.results)
    ? answer.results.map((r: { status: string }) => r.status)
    : [answer.status];
  if (statuses.some((s: string) => s !== expect)) {
    throw new Error(`expected ${expect}, got ${JSON.stringify(answer).slice(0, 300)}`);
  }
}

/** The audit row the server writes for an envelope, as plain column values. */
function auditRow(e: Envelope) {
  return {
    request_id: e.requestId,
    trace_id: e.traceId,
    span_id: e.spanId,
    session_id: e.sessionId,
    event_type: e.event,
    status: "SUCCESS",
    stage: "respond",
    http_status: 200,
    payload: e,
    response: { status: "SUCCESS", requestId: e.requestId },
  };
}

/** The raw ceiling: one INSERT of the audit row, one commit (autocommit), fsync on. */
function rawOne(sql: postgres.Sql, e: Envelope) {
  const r = auditRow(e);
  return sql`INSERT INTO webhook_events (request_id, trace_id, span_id, session_id, event_type,
    status, stage, http_status, payload, response) VALUES (${r.request_id}, ${r.trace_id},
    ${r.span_id}, ${r.session_id}, ${r.event_type}, 'SUCCESS', 'respond', 200,
    ${sql.json(r.payload as unknown as postgres.JSONValue)},
    ${sql.json(r.response)})`.then(() => {});
}

/** The batch ceiling: one multi-row INSERT of the same audit rows. */
function rawMany(sql: postgres.Sql, es: Envelope[]) {
  return sql`INSERT INTO webhook_events (request_id, trace_id, span_id, session_id, event_type,
    status, stage, http_status, payload, response)
    SELECT x.request_id, x.trace_id, x.span_id, x.session_id, x.event_type,
      x.status::webhook_status, x.stage, x.http_status, x.payload, x.response
    FROM jsonb_to_recordset(${sql.json(es.map(auditRow) as unknown as postgres.JSONValue)})
      AS x(request_id text, trace_id text, span_id text, session_id text, event_type text,
        status text, stage text, http_status int, payload jsonb, response jsonb)`.then(() => {});
}

interface Served {
  base: string;
  pid: number;
  /** From spawn to /ready answering 200. */
  readyMs: number;
  stop(): Promise<void>;
}

async function serve(
  env: Record<string, string>,
  program: { config: string; main: string } = { config: CONFIG, main: MAIN },
): Promise<Served> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "--config", program.config, ...PERMISSIONS, program.main, "serve"],
    env: { ARRAKIS_API_KEY: KEY, PORT: String(port), ARRAKIS_LOG_LEVEL: "info", ...env },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  // A server that dies mid-run says why.
  const stderr = new Response(child.stderr).text();
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 1200; i++) {
    try {
      if ((await fetch(`${base}/ready`).then((r) => (r.body?.cancel(), r.status))) === 200) break;
    } catch { /* not up yet */ }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  const readyMs = performance.now() - started;
  return {
    base,
    pid: child.pid,
    readyMs,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch { /* it already ended */ }
      const status = await child.status;
      if (status.code !== 0) console.error(`server exited ${status.code}: ${await stderr}`);
    },
  };
}

async function counter(base: string, name: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  return Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? NaN);
}

/** One mix's figures summed over its interleaved rounds. */
interface Pooled {
  latencies: number[];
  seconds: number;
  rawCount: number;
  rawSeconds: number;
  cpu: number;
  /** The raw ceiling's PostgreSQL backends. */
  rawCpu: number;
  /** The server main thread's time runnable but off the CPU. */
  waitedMs: number;
  groups: number;
  trips: number;
}

function emptyPooled(): Pooled {
  return {
    latencies: [],
    seconds: 0,
    rawCount: 0,
    rawSeconds: 0,
    cpu: 0,
    rawCpu: 0,
    waitedMs: 0,
    groups: 0,
    trips: 0,
  };
}

function rate(result: { latencies: number[]; seconds: number }, perJob = 1): number {
  return (result.latencies.length * perJob) / result.seconds;
}

export async function run(): Promise<BenchRow[]> {
  const name = `arrakis_bench_${Date.now().toString(36)}`;
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const databaseUrl = url.toString();
  const sql = postgres(databaseUrl, {
    max: 32,
    onnotice: () => {},
    connection: { application_name: RAW_APPLICATION },
  });
  const home = await Deno.makeTempDir({ prefix: "arrakis-bench-ingest-" });
  const out: BenchRow[] = [];
  const row = (metric: string, value: number, unit: string, reference?: BenchRow["reference"]) =>
    out.push({ benchmark: "ingest", metric, value, unit, ...(reference ? { reference } : {}) });
  let server: Served | undefined;
  const serverCpu = () =>
    cpuMeter(admin, { database: name, application: APPLICATION_NAME, pids: [server!.pid] });
  const rawCpu = () => cpuMeter(admin, { database: name, application: RAW_APPLICATION });
  try {
    await migrate(sql, await loadMigrations());
    server = await serve({ DATABASE_URL: databaseUrl, ARRAKIS_HOME: home });
    const ingestUrl = `${server.base}/api/claude-hooks`;
    // Warm-up: JIT, connection pools, prepared statements, the V8 heap's growth. Both mixes,
    // long enough that the first measured round does not pay for a cold server (300 events
    // were not: whichever mix was measured first ran at up to 1.4x the CPU per event of later
    // rounds, and the one-session mix, always first, got p99s the same mix measured later
    // did not have).
    for (const mix of Object.keys(MIXES) as Mix[]) {
      const tag = `warm${mix.replace(/\W/g, "")}`;
      await load(8, WARM_EVENTS, (i) => send(ingestUrl, envelope(mix, tag, i), "SUCCESS"));
    }
    await load(8, 300, (i) => rawOne(sql, envelope("32 sessions", "rawwarm", i)));

    for (const concurrency of [8, 32]) {
      // The mixes in interleaved rounds (one, 32, 32, one, ...), each round a fresh session
      // tag, figures pooled per mix: one after the other, the second mix measured a machine
      // and a server the first had left in another state (p99s of 69 and 91 ms went to
      // whichever phase a stall fell in).
      const figures = new Map<Mix, Pooled>();
      const mixes = Object.keys(MIXES) as Mix[];
      for (let round = 0; round < MIX_ROUNDS; round++) {
        for (const mix of round % 2 === 0 ? mixes : [...mixes].reverse()) {
          const count = COUNTS[concurrency] / MIX_ROUNDS;
          const tag = `${mix.replace(/\W/g, "")}-${concurrency}-${round}`;
          const rawMeter = await rawCpu();
          const raw = await load(
            concurrency,
            count,
            (i) => rawOne(sql, envelope(mix, `raw${tag}`, i)),
          );
          const rawCpuUsed = await rawMeter();
          const groupsBefore = await counter(server.base, "arrakis_ingest_groups_total");
          const tripsBefore = await counter(server.base, "arrakis_ingest_round_trips_total");
          const cpu = await serverCpu();
          const waitedBefore = await runQueueMs(server.pid);
          const http = await load(
            concurrency,
            count,
            (i) => send(ingestUrl, envelope(mix, tag, i), "SUCCESS"),
          );
          const cpuUsed = await cpu();
          const waited = await runQueueMs(server.pid) - waitedBefore;
          const pooled = figures.get(mix) ?? emptyPooled();
          pooled.latencies.push(...http.latencies);
          pooled.seconds += http.seconds;
          pooled.rawCount += raw.latencies.length;
          pooled.rawSeconds += raw.seconds;
          pooled.cpu += cpuUsed;
          pooled.rawCpu += rawCpuUsed;
          pooled.waitedMs += waited;
          pooled.groups += await counter(server.base, "arrakis_ingest_groups_total") -
            groupsBefore;
          pooled.trips += await counter(server.base, "arrakis_ingest_round_trips_total") -
            tripsBefore;
          figures.set(mix, pooled);
        }
      }
      for (const [mix, pooled] of figures) {
        const count = pooled.latencies.length;
        const latencies = pooled.latencies.sort((a, b) => a - b);
        const label = `single events, ${mix}, c=${concurrency}`;
        row(`${label}: events/s`, count / pooled.seconds, "events/s", {
          metric: "raw: 1 INSERT per commit, same c",
          value: pooled.rawCount / pooled.rawSeconds,
        });
        row(`${label}: p50`, percentile(latencies, 50), "ms");
        row(`${label}: p99`, percentile(latencies, 99), "ms");
        row(`${label}: server+PostgreSQL CPU per event`, (pooled.cpu / count) * 1000, "ms", {
          metric: "raw: its PostgreSQL backends' per INSERT",
          value: (pooled.rawCpu / pooled.rawCount) * 1000,
        });
        row(`${label}: events per group commit`, count / pooled.groups, "events");
        row(`${label}: database round trips per event`, pooled.trips / count, "round trips");
        row(
          `${label}: server main thread waiting for a CPU`,
          (pooled.waitedMs / 10) / pooled.seconds,
          "% of wall time",
        );
      }
    }

    // Batches of 100 (the shipper's path) against one multi-row INSERT of the same rows, in
    // interleaved rounds: one round of 40 batches lasted about a second, and one slow second
    // moved the figure by 2x.
    for (const mix of Object.keys(MIXES) as Mix[]) {
      const tag = mix.replace(/\W/g, "");
      const batches = 40 * SCALE;
      const rawRates: number[] = [];
      const httpRates: number[] = [];
      let cpuUsed = 0;
      let rawCpuUsed = 0;
      let trips = 0;
      for (let round = 0; round < BATCH_ROUNDS; round++) {
        const rawMeter = await rawCpu();
        const raw = await load(
          4,
          batches,
          (i) =>
            rawMany(
              sql,
              Array.from(
                { length: 100 },
                (_, k) => envelope(mix, `rawb${tag}${round}`, i * 100 + k),
              ),
            ),
        );
        rawCpuUsed += await rawMeter();
        rawRates.push(rate(raw, 100));
        const tripsBefore = await counter(server.base, "arrakis_ingest_round_trips_total");
        const cpu = await serverCpu();
        const http = await load(4, batches, (i) =>
          send(
            `${server!.base}/api/claude-hooks/batch`,
            Array.from({ length: 100 }, (_, k) => envelope(mix, `b${tag}${round}`, i * 100 + k)),
            "SUCCESS",
          ));
        cpuUsed += await cpu();
        trips += await counter(server.base, "arrakis_ingest_round_trips_total") - tripsBefore;
        httpRates.push(rate(http, 100));
      }
      const events = BATCH_ROUNDS * batches * 100;
      row(
        `batches of 100, ${mix}, c=4: events/s (median of ${BATCH_ROUNDS})`,
        median(httpRates),
        "events/s",
        { metric: "raw: 1 multi-row INSERT of 100", value: median(rawRates) },
      );
      row(
        `batches of 100, ${mix}, c=4: server+PostgreSQL CPU per event`,
        (cpuUsed / events) * 1000,
        "ms",
        { metric: "raw: its PostgreSQL backends' per row", value: (rawCpuUsed / events) * 1000 },
      );
      row(
        `batches of 100, ${mix}, c=4: database round trips per event`,
        trips / events,
        "round trips",
      );
    }

    // A duplicate's cost: events re-sent after their first delivery succeeded (a client that lost
    // the answer), each answered DUPLICATE from the earlier row, against those first deliveries,
    // in alternating rounds. A group writes without reading first, so a run of duplicates pays one
    // rejected group before the groups after it read first (src/server/group.ts).
    const fresh: number[] = [];
    const again: number[] = [];
    for (let round = 0; round < DUPLICATE_ROUNDS; round++) {
      const count = COUNTS[8] / 2;
      const sent = Array.from(
        { length: count },
        (_, i) => envelope("32 sessions", `dup${round}`, i),
      );
      fresh.push(rate(await load(8, count, (i) => send(ingestUrl, sent[i], "SUCCESS"))));
      again.push(rate(
        await load(8, count, (i) => send(ingestUrl, { ...sent[i], attempt: 2 }, "DUPLICATE")),
      ));
    }
    row(
      `single events c=8, each re-sent after it succeeded (DUPLICATE): events/s (median of ${DUPLICATE_ROUNDS})`,
      median(again),
      "events/s",
      { metric: "their first deliveries, same c", value: median(fresh) },
    );

    // The per-request log line: the same load with it (info) and without it (warning), on two
    // servers of the same database started together, in interleaved rounds (a long-run server
    // against a fresh one, one after the other, measured the table's growth and the machine's
    // drift too; the long-run one against a fresh one, interleaved, still measured the state
    // the long run left in its own connections: 0.54x where two fresh servers gave 0.8-0.9x).
    const [logged, quiet] = await Promise.all([
      serve({ DATABASE_URL: databaseUrl, ARRAKIS_HOME: home }),
      serve({ DATABASE_URL: databaseUrl, ARRAKIS_HOME: home, ARRAKIS_LOG_LEVEL: "warning" }),
    ]);
    try {
      for (const [target, tag] of [[logged, "logwarm"], [quiet, "quietwarm"]] as const) {
        const url = `${target.base}/api/claude-hooks`;
        await load(8, 300, (i) => send(url, envelope("32 sessions", tag, i), "SUCCESS"));
      }
      const withLog: number[] = [];
      const withoutLog: number[] = [];
      // The server process's own CPU per event: the line costs no database work, and CPU is
      // what a loaded machine blurs least.
      const cpuWith: number[] = [];
      const cpuWithout: number[] = [];
      const count = COUNTS[8] / 2;
      const measure = async (target: Served, tag: string, rates: number[], cpus: number[]) => {
        const before = await cpuSeconds(target.pid);
        const url = `${target.base}/api/claude-hooks`;
        rates.push(rate(
          await load(8, count, (i) => send(url, envelope("32 sessions", tag, i), "SUCCESS")),
        ));
        cpus.push(((await cpuSeconds(target.pid) - before) / count) * 1000);
      };
      for (let round = 0; round < LOG_ROUNDS; round++) {
        await measure(logged, `log${round}`, withLog, cpuWith);
        await measure(quiet, `quiet${round}`, withoutLog, cpuWithout);
      }
      row(
        `single events c=8 with the per-request log line: events/s (median of ${LOG_ROUNDS})`,
        median(withLog),
        "events/s",
        { metric: "the same without it", value: median(withoutLog) },
      );
      row(
        `single events c=8 with the per-request log line: server CPU per event (median of ${LOG_ROUNDS})`,
        median(cpuWith),
        "ms",
        { metric: "the same without it", value: median(cpuWithout) },
      );
    } finally {
      await Promise.all([logged.stop(), quiet.stop()]);
    }
    await server.stop();
    server = undefined;

    out.push(...await embedded(rate));
  } finally {
    await server?.stop();
    await sql.end();
    await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
    await Deno.remove(home, { recursive: true });
  }
  return out;
}

/** Resets a process's peak RSS (VmHWM), so the next peak is the one of what follows. */
async function resetPeak(pid: number): Promise<void> {
  await Deno.writeTextFile(`/proc/${pid}/clear_refs`, "5").catch(() => {});
}

/**
 * A copy of arrakis as `arrakis install --self` copies it, without the shipped store base: its
 * first start is the fallback a PGlite upgrade without a new base would get (initdb).
 */
async function copyWithoutBase(into: string): Promise<{ config: string; main: string }> {
  const root = fileURLToPath(new URL("..", import.meta.url));
  for (const entry of APP_ENTRIES) {
    const { code } = await new Deno.Command("cp", { args: ["-a", join(root, entry), into] })
      .output();
    if (code !== 0) throw new Error(`could not copy ${entry}`);
  }
  await Deno.remove(join(into, "data", "store-base"), { recursive: true });
  return { config: join(into, "deno.json"), main: join(into, "main.ts") };
}

/**
 * The embedded store: a fresh first start (a new clone: the shipped base, migrated), a first
 * start of a new store from the template `arrakis install --self` caches, a restart, idle memory
 * after each, throughput at c=8 and the peak RSS under that load (the first start's own peak is
 * reported apart, as it happens once per machine), then a first start without the shipped base
 * (initdb + migrations: the fallback).
 */
async function embedded(
  rateOf: (result: { latencies: number[]; seconds: number }) => number,
): Promise<BenchRow[]> {
  const home = await Deno.makeTempDir({ prefix: "arrakis-bench-embedded-" });
  const rows: BenchRow[] = [];
  const row = (metric: string, value: number, unit: string) =>
    rows.push({ benchmark: "ingest", metric: `embedded store: ${metric}`, value, unit });
  let server = await serve({ ARRAKIS_HOME: join(home, "home") });
  try {
    row("fresh first start (shipped base) to /ready", server.readyMs, "ms");
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const first = await memoryMiB(server.pid);
    row("peak RSS during the first start", first.peak, "MiB");
    row("idle RSS after the first start", first.rss, "MiB");
    await server.stop();
    // A new store where the template is cached (home/cache, as `arrakis install --self` leaves
    // it): unpacked from it instead of from the shipped base.
    await prepareTemplate(join(home, "home", "cache"));
    await Deno.remove(join(home, "home", "db"), { recursive: true });
    server = await serve({ ARRAKIS_HOME: join(home, "home") });
    row("first start from the cached template to /ready", server.readyMs, "ms");
    await server.stop();
    server = await serve({ ARRAKIS_HOME: join(home, "home") });
    row("restart to /ready", server.readyMs, "ms");
    await new Promise((resolve) => setTimeout(resolve, 2000));
    row("idle RSS after a restart", (await memoryMiB(server.pid)).rss, "MiB");
    await resetPeak(server.pid);
    const url = `${server.base}/api/claude-hooks`;
    await load(8, 200, (i) => send(url, envelope("32 sessions", "ewarm", i), "SUCCESS"));
    const single = await load(
      8,
      1500 * SCALE,
      (i) => send(url, envelope("32 sessions", "embedded", i), "SUCCESS"),
    );
    row("single events, 32 sessions, c=8: events/s", rateOf(single), "events/s");
    row("single events c=8: p99", percentile(single.latencies, 99), "ms");
    const batch = await load(2, 20 * SCALE, (i) =>
      send(
        `${server.base}/api/claude-hooks/batch`,
        Array.from({ length: 100 }, (_, k) => envelope("32 sessions", "eb", i * 100 + k)),
        "SUCCESS",
      ));
    row(
      "batches of 100, c=2: events/s",
      (batch.latencies.length * 100) / batch.seconds,
      "events/s",
    );
    row("peak RSS under this load", (await memoryMiB(server.pid)).peak, "MiB");
    await server.stop();
    const app = join(home, "app");
    await Deno.mkdir(app);
    server = await serve({ ARRAKIS_HOME: join(home, "cold") }, await copyWithoutBase(app));
    row(
      "first start without the shipped base (initdb + migrations) to /ready",
      server.readyMs,
      "ms",
    );
    await new Promise((resolve) => setTimeout(resolve, 2000));
    row("idle RSS after that first start", (await memoryMiB(server.pid)).rss, "MiB");
    return rows;
  } finally {
    await server.stop();
    await Deno.remove(home, { recursive: true });
  }
}

if (import.meta.main) {
  console.log(table(await run()));
}
