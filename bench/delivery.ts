// Delivery latency with the server up, as the resident shipper gives it: from the moment an
// event is safe on disk to the moment the server committed it, read from the audit row
// (webhook_events.completed_at) of a real `arrakis serve` on PostgreSQL, reached over TLS
// through the delay proxy at 0, 40 and 120 ms RTT. Two starts: a real `arrakis hook` process
// (its exit time) and a bare spool write in this process (the shipper alone). The reference is
// one event POSTed straight to the server over a kept-alive connection through the same proxy:
// the network's and the server's own time.
// Also the shipper's idle RSS and CPU next to an idle bare `deno run`, over the same window.
import { join } from "node:path";
import postgres from "postgres";
import { type BenchRow, percentile, table } from "./report.ts";
import { startDelayProxy } from "./delay_proxy.ts";
import { cpuSeconds, memoryMiB } from "./proc.ts";
import { createTestDatabase, POSTGRES_REACHABLE } from "../tests/helpers/stores.ts";
import { startTestServer } from "../tests/helpers/server.ts";
import { arrakisCommand } from "../tests/helpers/cli.ts";
import { envelope } from "../tests/helpers/queue.ts";
import { loadConfig } from "../src/config.ts";
import { openSpool } from "../src/queue/spool.ts";

const RUNS = Number(Deno.env.get("BENCH_DELIVERY_RUNS") ?? 30);
const RTTS = [0, 40, 120];
const IDLE_SECONDS = Number(Deno.env.get("BENCH_IDLE_SECONDS") ?? 60);
const PROMPT = JSON.parse(
  await Deno.readTextFile(
    new URL("../tests/fixtures/hook-input/UserPromptSubmit.json", import.meta.url),
  ),
);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** completed_at (Unix ms) of the SUCCESS row a predicate finds, waiting up to 10 s. */
async function committedAt(
  sql: postgres.Sql,
  where: { requestId?: string; sessionId?: string },
): Promise<number> {
  const until = Date.now() + 10_000;
  while (Date.now() < until) {
    const rows = where.requestId
      ? await sql`SELECT completed_at FROM webhook_events
          WHERE request_id = ${where.requestId} AND status = 'SUCCESS'`
      : await sql`SELECT completed_at FROM webhook_events
          WHERE session_id = ${where.sessionId!} AND status = 'SUCCESS'`;
    if (rows.length > 0 && rows[0].completed_at) return (rows[0].completed_at as Date).getTime();
    await sleep(2);
  }
  throw new Error(`not committed within 10 s: ${JSON.stringify(where)}`);
}

function shipperCommand(env: Record<string, string>): Deno.ChildProcess {
  const child = arrakisCommand(["queue", "ship", "--quiet"], { env }).spawn();
  child.stdout.cancel();
  child.stderr.cancel();
  return child;
}

interface Series {
  hook: number[];
  spool: number[];
  floor: number[];
  connections: number;
}

async function series(
  rttMs: number,
  upstreamPort: number,
  apiKey: string,
  sql: postgres.Sql,
  work: string,
): Promise<Series> {
  const proxy = await startDelayProxy({ upstreamPort, rttMs });
  const project = join(work, `project-${rttMs}`);
  await Deno.mkdir(project, { recursive: true });
  const env = {
    CLAUDE_PROJECT_DIR: project,
    ARRAKIS_HOME: join(work, `home-${rttMs}`),
    ARRAKIS_URL: proxy.url,
    ARRAKIS_API_KEY: apiKey,
    ARRAKIS_SHIPPER_IDLE: "10m",
    ARRAKIS_LOG_LEVEL: "warning",
    DENO_CERT: proxy.certFile,
  };
  const config = loadConfig(env);
  // Signed with the key of the shipper's home, or it quarantines them.
  const spool = await openSpool(config.queueDir, {
    root: config.queueRoot,
    keyFile: config.spoolKeyFile,
  });
  const shipper = shipperCommand(env);
  const result: Series = { hook: [], spool: [], floor: [], connections: 0 };
  try {
    // Warm: the shipper's connection and the server's plans, as during a session.
    const warm = await spool.put(envelope());
    await committedAt(sql, { requestId: warm.id });

    for (let i = 0; i < RUNS; i++) {
      const sessionId = `bench-delivery-${rttMs}-${i}-${crypto.randomUUID()}`;
      const child = arrakisCommand(["hook"], { env, stdin: "" }).spawn();
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode(JSON.stringify({
        ...PROMPT,
        session_id: sessionId,
        transcript_path: join(project, "none.jsonl"),
        prompt: `bench prompt ${i}`,
      })));
      await writer.close();
      const { code } = await child.output();
      const exited = Date.now();
      if (code !== 0) throw new Error(`hook exited ${code}`);
      result.hook.push((await committedAt(sql, { sessionId })) - exited);

      const item = await spool.put(envelope());
      const spooled = Date.now();
      result.spool.push((await committedAt(sql, { requestId: item.id })) - spooled);
    }

    // The floor: one event at a time POSTed straight to the server over a kept-alive TLS
    // connection from this process (answered after its commit): the network and the server's
    // own time, with no spool and no shipper.
    const client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(proxy.certFile)] });
    try {
      for (let i = 0; i < RUNS + 1; i++) {
        const started = performance.now();
        const response = await fetch(`${proxy.url}/api/claude-hooks`, {
          client,
          method: "POST",
          headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
          body: JSON.stringify(envelope()),
        });
        await response.body?.cancel();
        if (!response.ok) throw new Error(`direct POST answered ${response.status}`);
        if (i > 0) result.floor.push(performance.now() - started);
      }
    } finally {
      client.close();
    }
    // The events' connections, before the floor's own one.
    result.connections = proxy.connections() - 1;
  } finally {
    shipper.kill("SIGTERM");
    await shipper.status;
    await proxy.close();
  }
  for (const list of [result.hook, result.spool, result.floor]) list.sort((a, b) => a - b);
  return result;
}

/** Resident memory (MiB) and CPU time (s) of a process, from /proc. */
async function usage(pid: number): Promise<{ rss: number; cpu: number }> {
  return { rss: (await memoryMiB(pid)).rss, cpu: await cpuSeconds(pid) };
}

/** The shipper and a bare `deno run` idling side by side for IDLE_SECONDS. */
async function idle(work: string): Promise<BenchRow[]> {
  const env = {
    CLAUDE_PROJECT_DIR: join(work, "idle-project"),
    ARRAKIS_HOME: join(work, "idle-home"),
    ARRAKIS_URL: "http://127.0.0.1:9",
    ARRAKIS_API_KEY: "k",
    ARRAKIS_SHIPPER_IDLE: `${IDLE_SECONDS + 60}s`,
  };
  await Deno.mkdir(env.CLAUDE_PROJECT_DIR, { recursive: true });
  const shipper = shipperCommand(env);
  const script = join(work, "idle.ts");
  await Deno.writeTextFile(script, "setInterval(() => {}, 1 << 30);\n");
  const bare = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", script],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    await sleep(3_000); // both started and settled
    const [shipperStart, bareStart] = await Promise.all([usage(shipper.pid), usage(bare.pid)]);
    await sleep(IDLE_SECONDS * 1000);
    const [shipperEnd, bareEnd] = await Promise.all([usage(shipper.pid), usage(bare.pid)]);
    const percent = (start: { cpu: number }, end: { cpu: number }) =>
      ((end.cpu - start.cpu) / IDLE_SECONDS) * 100;
    const bareRss = bareEnd.rss;
    const bareCpu = percent(bareStart, bareEnd);
    return [
      {
        benchmark: "delivery",
        metric: `shipper idle RSS (after ${IDLE_SECONDS} s idle)`,
        value: shipperEnd.rss,
        unit: "MiB",
        reference: { metric: "idle bare deno run", value: bareRss },
      },
      {
        benchmark: "delivery",
        metric: `shipper idle CPU over ${IDLE_SECONDS} s`,
        value: percent(shipperStart, shipperEnd),
        unit: "% of a core",
        reference: { metric: "idle bare deno run", value: bareCpu },
      },
    ];
  } finally {
    shipper.kill("SIGTERM");
    bare.kill("SIGTERM");
    await Promise.all([shipper.status, bare.status]);
  }
}

export async function run(): Promise<BenchRow[]> {
  if (!POSTGRES_REACHABLE) {
    console.error("bench delivery: no PostgreSQL reachable, skipped");
    return [];
  }
  const work = await Deno.makeTempDir({ prefix: "arrakis-bench-delivery-" });
  const db = await createTestDatabase("postgres");
  const server = await startTestServer(db, { ARRAKIS_LOG_LEVEL: "error" });
  const sql = postgres(db.databaseUrl!, { max: 1, onnotice: () => {} });
  const rows: BenchRow[] = [];
  try {
    const port = Number(new URL(server.url).port);
    for (const rtt of RTTS) {
      const s = await series(rtt, port, server.apiKey, sql, work);
      const floor = {
        metric: `one event POSTed directly, kept-alive TLS, ${rtt} ms RTT, p50`,
        value: percentile(s.floor, 50),
      };
      rows.push(
        {
          benchmark: "delivery",
          metric: `hook exit → committed, ${rtt} ms RTT, p50 (target ≤ ${100 + rtt} ms)`,
          value: percentile(s.hook, 50),
          unit: "ms",
          reference: floor,
        },
        {
          benchmark: "delivery",
          metric: `hook exit → committed, ${rtt} ms RTT, p99 (target ≤ 1000 ms)`,
          value: percentile(s.hook, 99),
          unit: "ms",
          reference: floor,
        },
        {
          benchmark: "delivery",
          metric: `spool write → committed (shipper alone), ${rtt} ms RTT, p50`,
          value: percentile(s.spool, 50),
          unit: "ms",
          reference: floor,
        },
        {
          benchmark: "delivery",
          metric: `spool write → committed (shipper alone), ${rtt} ms RTT, p99`,
          value: percentile(s.spool, 99),
          unit: "ms",
          reference: floor,
        },
        {
          benchmark: "delivery",
          // A hook that still sends on its own opens its own connection too.
          metric: `TLS handshakes through the proxy for ${2 * RUNS + 1} events, ${rtt} ms RTT`,
          value: s.connections,
          unit: "handshakes",
        },
      );
    }
    rows.push(...await idle(work));
  } finally {
    await sql.end();
    await server.stop();
    await db.destroy();
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
  return rows;
}

if (import.meta.main) {
  console.log(table(await run()));
}
