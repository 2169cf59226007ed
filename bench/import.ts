// `arrakis import` throughput: transcript lines per second importing a generated history
// (BENCH_IMPORT_MB, default 100 MB, of sessions with usage, tool calls and results) through a
// real `arrakis serve` on PostgreSQL; in the same run the batch ingest ceiling: the same kind
// of lines, already in memory as envelopes, posted to the same batch endpoint.
import postgres from "postgres";
import { join } from "node:path";
import { PERMISSIONS } from "../src/permissions.ts";
import { CONFIG, MAIN } from "../tests/helpers/cli.ts";
import { loadMigrations, migrate } from "../src/store/migrate.ts";
import { runImport } from "../src/import/run.ts";
import { importEnvelope } from "../src/import/envelope.ts";
import { scanTranscripts } from "../src/import/scan.ts";
import { parseLines } from "../src/hook/transcript.ts";
import { sendBatch } from "../src/client.ts";
import { createRedactor } from "../src/redact.ts";
import { type BenchRow, table } from "./report.ts";

const ADMIN_URL = Deno.env.get("BENCH_DATABASE_URL") ??
  "postgres://postgres@127.0.0.1:5432/postgres";
const KEY = "bench-key-0123456789";
const MB = Number(Deno.env.get("BENCH_IMPORT_MB") ?? "100");
const SESSION_BYTES = 1024 * 1024;

/** One session file of about SESSION_BYTES: prompt, then tool call / result / reply rounds. */
function session(id: string, project: number): string {
  const lines: string[] = [];
  let bytes = 0;
  let n = 0;
  const push = (line: unknown) => {
    const text = JSON.stringify(line) + "\n";
    lines.push(text);
    bytes += text.length;
  };
  const at = (i: number) =>
    new Date(Date.UTC(2026, 10, 1 + project % 28, 9, 0, 0) + i * 1000)
      .toISOString();
  push({
    type: "user",
    uuid: `${id}-u0`,
    sessionId: id,
    cwd: `/home/dev/p${project}`,
    timestamp: at(0),
    message: { role: "user", content: `Task ${id}: make the cart total right.` },
  });
  while (bytes < SESSION_BYTES) {
    n++;
    const tool = `toolu_${id}_${n}`;
    push({
      type: "assistant",
      uuid: `${id}-a${n}`,
      sessionId: id,
      requestId: `req_${id}_${n}`,
      timestamp: at(2 * n),
      message: {
        id: `msg_${id}_${n}`,
        role: "assistant",
        model: "claude-sonnet-4-5",
        content: [{
          type: "tool_use",
          id: tool,
          name: "Read",
          input: { file_path: `/src/f${n}.ts` },
        }],
        usage: {
          input_tokens: 1200 + n,
          output_tokens: 80,
          cache_read_input_tokens: 9000,
          cache_creation_input_tokens: 300,
          cache_creation: { ephemeral_5m_input_tokens: 300, ephemeral_1h_input_tokens: 0 },
        },
      },
    });
    push({
      type: "user",
      uuid: `${id}-r${n}`,
      sessionId: id,
      timestamp: at(2 * n + 1),
      message: {
        role: "user",
        content: [{ type: "tool_result", tool_use_id: tool, content: "x".repeat(600) }],
      },
      toolUseResult: {
        type: "text",
        file: { filePath: `/src/f${n}.ts`, content: "x".repeat(600) },
      },
    });
  }
  return lines.join("");
}

async function generate(root: string, megabytes: number, prefix: string): Promise<void> {
  const sessions = Math.max(1, Math.round(megabytes * 1024 * 1024 / SESSION_BYTES));
  for (let s = 0; s < sessions; s++) {
    const dir = join(root, `-home-dev-p${s % 10}`);
    await Deno.mkdir(dir, { recursive: true });
    const id = `${prefix}-${String(s).padStart(5, "0")}`;
    await Deno.writeTextFile(join(dir, `${id}.jsonl`), session(id, s % 10));
  }
}

export async function run(): Promise<BenchRow[]> {
  const name = `arrakis_bench_${Date.now().toString(36)}`;
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const databaseUrl = url.toString();
  const sql = postgres(databaseUrl, { max: 4, onnotice: () => {} });
  const home = await Deno.makeTempDir({ prefix: "arrakis-bench-import-" });
  let server: Deno.ChildProcess | undefined;
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
        ARRAKIS_LOG_LEVEL: "warning",
        ARRAKIS_BATCH_MAX: "1000",
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
    const target = { url: base, apiKey: KEY };
    const source = { host: "bench", user: "dev" };
    const redactor = createRedactor();

    // Warm-up (JIT, connection pool, prepared statements), not counted.
    const warmRoot = join(home, "warm");
    await generate(warmRoot, 2, "warm");
    await runImport({
      paths: [warmRoot],
      statePath: join(home, "warm.json"),
      target,
      source,
      redactor,
    });

    // The ceiling: envelopes built in memory (no file reading, no state file).
    const ceilingRoot = join(home, "ceiling");
    await generate(ceilingRoot, Math.max(4, MB / 4), "ceiling");
    const files = await scanTranscripts([ceilingRoot]);
    const envelopes = await Promise.all(files.map(async (file) => {
      const text = await Deno.readTextFile(file.path);
      const lines = parseLines(text);
      return { envelope: importEnvelope(file, { from: 0, to: text.length }, lines, source), lines };
    }));
    let ceilingLines = 0;
    const ceilingStart = performance.now();
    for (let i = 0; i < envelopes.length; i += 16) {
      const slice = envelopes.slice(i, i + 16);
      const outcomes = await sendBatch(target, slice.map((e) => e.envelope), {
        timeoutMs: 300_000,
      });
      for (const outcome of outcomes) {
        if (outcome.kind !== "delivered") throw new Error(`ceiling: ${JSON.stringify(outcome)}`);
      }
      ceilingLines += slice.reduce((sum, e) => sum + e.lines.length, 0);
    }
    const ceiling = ceilingLines / ((performance.now() - ceilingStart) / 1000);

    const root = join(home, "projects");
    await generate(root, MB, "import");
    const report = await runImport({
      paths: [root],
      statePath: join(home, "import-state.json"),
      target,
      source,
      redactor,
      batchBytes: 16 * 1024 * 1024,
    });
    if (report.failure) throw new Error(`import failed: ${report.failure}`);
    const rate = report.lines / (report.elapsedMs / 1000);
    const again = await runImport({
      paths: [root],
      statePath: join(home, "import-state-2.json"),
      target,
      source,
      redactor,
    });
    const [{ rows }] = await sql<{ rows: number }[]>`SELECT count(*)::int AS rows FROM messages`;
    console.error(
      `bench import: ${report.files} files, ${report.lines} lines, ${
        (report.bytesDone / 2 ** 20).toFixed(0)
      } MB in ${(report.elapsedMs / 1000).toFixed(1)} s; again: ${again.alreadyThere} ranges ` +
        `already there; ${rows} message rows`,
    );
    const reference = { metric: "batch ingest ceiling (same lines, in memory)", value: ceiling };
    return [
      {
        benchmark: "import",
        metric: `import of a ${MB} MB history, transcript lines/s`,
        value: rate,
        unit: "lines/s",
        reference,
      },
      {
        benchmark: "import",
        metric: "import again (every range DUPLICATE), lines/s",
        value: again.lines / (again.elapsedMs / 1000),
        unit: "lines/s",
        reference,
      },
    ];
  } finally {
    server?.kill("SIGTERM");
    await server?.status;
    await sql.end();
    await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
    await Deno.remove(home, { recursive: true });
  }
}

if (import.meta.main) {
  console.log(table(await run()));
}
