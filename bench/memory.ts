// Server memory: `arrakis serve` on PostgreSQL idle, then its peak under a load of real-sized
// events (tool outputs of 64 KB), next to a bare Deno HTTP server under the same load in the
// same run (the floor for any Deno web service).
import postgres from "postgres";
import { arrakisCommand } from "../tests/helpers/cli.ts";
import { freePort, waitForHttp } from "../tests/helpers/net.ts";
import { fixturePayload, makeEnvelope } from "../tests/helpers/server.ts";
import { type BenchRow, table } from "./report.ts";
import { memoryMiB } from "./proc.ts";

const ADMIN_URL = Deno.env.get("BENCH_DATABASE_URL") ??
  "postgres://postgres@127.0.0.1:5432/postgres";
const KEY = "bench-memory-key-0123456789";
const EVENTS = Number(Deno.env.get("BENCH_MEMORY_EVENTS") ?? 2_000);
const CONCURRENCY = 16;
const OUTPUT = "x".repeat(64 * 1024);

async function load(url: string, headers: Record<string, string>) {
  const base = fixturePayload("PostToolUse");
  let next = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < EVENTS) {
      const i = next++;
      const payload = {
        ...base,
        session_id: `memory-${i % 50}`,
        tool_use_id: `toolu_memory_${i}`,
        tool_response: { stdout: OUTPUT, stderr: "", interrupted: false },
      };
      const response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify(makeEnvelope(payload)),
      });
      await response.body?.cancel();
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
    }
  }));
}

export async function run(): Promise<BenchRow[]> {
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
  const name = `arrakis_bench_memory_${Date.now()}`;
  await admin.unsafe(`CREATE DATABASE ${name}`);
  const databaseUrl = ADMIN_URL.replace(/\/[^/]*$/, `/${name}`);
  const home = await Deno.makeTempDir({ prefix: "arrakis-bench-memory-" });
  const port = await freePort();
  const server = arrakisCommand(["serve"], {
    env: {
      DATABASE_URL: databaseUrl,
      ARRAKIS_API_KEY: KEY,
      PORT: String(port),
      ARRAKIS_HOME: home,
      ARRAKIS_LOG_LEVEL: "warning",
    },
  }).spawn();
  server.stdout.cancel();
  server.stderr.cancel();
  const barePort = await freePort();
  const bare = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `Deno.serve({ port: ${barePort}, hostname: "127.0.0.1", onListen() {} }, async (r) => ` +
      `{ await r.arrayBuffer(); return new Response("ok"); });`,
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    await waitForHttp(`http://127.0.0.1:${port}/ready`);
    await waitForHttp(`http://127.0.0.1:${barePort}/`);
    const idle = await memoryMiB(server.pid);
    const bareIdle = await memoryMiB(bare.pid);
    await load(`http://127.0.0.1:${port}/api/claude-hooks`, { authorization: `Bearer ${KEY}` });
    await load(`http://127.0.0.1:${barePort}/`, {});
    const loaded = await memoryMiB(server.pid);
    const bareLoaded = await memoryMiB(bare.pid);
    const workload = `${EVENTS} events of 64 KB, ${CONCURRENCY} at a time`;
    return [
      {
        benchmark: "memory",
        metric: "server RSS idle",
        value: idle.rss,
        unit: "MiB",
        reference: { metric: "bare Deno.serve idle", value: bareIdle.rss },
      },
      {
        benchmark: "memory",
        metric: `server peak RSS (${workload})`,
        value: loaded.peak,
        unit: "MiB",
        reference: { metric: "bare Deno.serve peak, same load", value: bareLoaded.peak },
      },
      {
        benchmark: "memory",
        metric: "server RSS after the load",
        value: loaded.rss,
        unit: "MiB",
        reference: { metric: "bare Deno.serve after", value: bareLoaded.rss },
      },
    ];
  } finally {
    server.kill("SIGTERM");
    await server.status;
    bare.kill("SIGKILL");
    await bare.status;
    await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
    await Deno.remove(home, { recursive: true });
  }
}

if (import.meta.main) console.log(table(await run()));
