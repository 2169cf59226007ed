// `deno task bench`: every benchmark in one run, one table, and BENCHMARKS.md rewritten with
// it, the machine it ran on and the command to reproduce it.
import { type BenchRow, table } from "./report.ts";
import * as store from "./store.ts";
import * as hook from "./hook.ts";
import * as ingest from "./ingest.ts";
import * as drain from "./drain.ts";
import * as delivery from "./delivery.ts";
import * as memory from "./memory.ts";
import * as search from "./search.ts";
import * as importBench from "./import.ts";
import * as redact from "./redact.ts";
import * as team from "./team.ts";
import * as listener from "./listener.ts";

const BENCHES: [string, { run(): Promise<BenchRow[]> }][] = [
  ["store", store],
  ["hook", hook],
  ["ingest", ingest],
  ["drain", drain],
  ["delivery", delivery],
  ["memory", memory],
  ["import", importBench],
  ["redact", redact],
  ["team", team],
  ["listener", listener],
  ["search", search],
];

async function text(command: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await new Deno.Command(command, { args, stderr: "null" }).output();
    return new TextDecoder().decode(stdout).trim();
  } catch {
    return "unknown";
  }
}

async function machine(): Promise<string> {
  const cpu = (await Deno.readTextFile("/proc/cpuinfo").catch(() => ""))
    .match(/model name\s*:\s*(.+)/)?.[1] ?? "unknown CPU";
  const memory = Deno.systemMemoryInfo();
  const postgresVersion = await text("psql", ["--version"]);
  return [
    `- ${navigator.hardwareConcurrency} cores (${cpu}), ${
      (memory.total / 2 ** 30).toFixed(0)
    } GiB memory, ${Deno.build.os} ${Deno.build.arch}`,
    `- Deno ${Deno.version.deno}, ${postgresVersion}, load average at start ${
      Deno.loadavg().map((n) => n.toFixed(2)).join(" ")
    }`,
  ].join("\n");
}

const only = Deno.args.length > 0 ? new Set(Deno.args) : undefined;
const rows: BenchRow[] = [];
for (const [name, bench] of BENCHES) {
  if (only && !only.has(name)) continue;
  const started = performance.now();
  console.error(`bench: ${name} ...`);
  rows.push(...await bench.run());
  console.error(`bench: ${name} done in ${((performance.now() - started) / 1000).toFixed(0)} s`);
}
const report = table(rows);
console.log(report);

if (!only) {
  await Deno.writeTextFile(
    new URL("../BENCHMARKS.md", import.meta.url),
    `# arrakis benchmarks

Every figure below was measured in one run of \`deno task bench\` on ${
      new Date().toISOString().slice(0, 10)
    }, each next to its reference measured in the same run; the ratio is value / reference.
Reproduce with \`deno task bench\` (PostgreSQL on 127.0.0.1:5432; about 11 minutes on 2 cores,
most of it generating the search store). One benchmark alone: \`deno run -A bench/<name>.ts\`.

Machine:
${await machine()}

${report}

What each compares:
- **store**: opening the embedded PGlite store (fresh without the shipped base: initdb and the
  migrations; fresh from the shipped base; fresh from the cached template; again: an existing
  directory), interleaved, against connecting to PostgreSQL.
- **hook**: wall time of one \`arrakis hook\` process per event as Claude Code waits for it (spawn
  to exit), run through the launcher of a copy installed for the run (what settings.json names:
  the hook's bundle), server up, down, hanging and remote over TLS, interleaved with a bare
  \`deno run\` of an empty script (the floor for any Deno program); each run starts once the
  previous run's event is delivered, so the local server's work for one mode does not land on the
  next; one series runs \`deno run main.ts hook\` from the clone for reference; process start to
  durable spool from the hook's own timings; the spool key load and one record's signature next
  to its durable write.
- **ingest**: events/s and latency through \`POST /api/claude-hooks\` (real HTTP, audit row,
  dedupe, validation, processing, commit) against the raw ceiling: the same rows inserted by
  plain postgres.js with no HTTP. Also a duplicate's cost and the batch endpoint.
- **drain**: a backlog of spooled events delivered by \`arrakis queue drain\` in batches against
  one by one, into PostgreSQL through a real server.
- **search**: \`GET /api/search\`'s query (ranked, with snippets, some second pages) over a
  generated store of 1M messages and 100k tool calls against the bare GIN match of the same
  words; the cost per message row of the search column and its GIN index (the same rows
  inserted with and without them, 100 per statement as the write path does); and storage per
  event of real sessions ingested through a server, before and after payload retention
  (\`VACUUM FULL\` before each measurement, all five tables with indexes and TOAST).
- **delivery**: how soon the resident shipper delivers with the server up: from a hook's exit,
  and from a bare spool write, to the audit row's commit time, through a loopback TLS proxy
  with a fixed delay each way (\`bench/delay_proxy.ts\`) at 0, 40 and 120 ms RTT, against one
  event POSTed straight to the server over a kept-alive TLS connection through the same proxy;
  the TLS handshakes the events cost; and the shipper's RSS and CPU while idle for a minute,
  next to an idle bare \`deno run\`.
- **memory**: resident memory of \`arrakis serve\` idle and under a load of 64 KB events against a
  bare \`Deno.serve\` server under the same load.
- **import**: transcript lines/s of \`arrakis import\` over a generated history (BENCH_IMPORT_MB,
  100 MB by default) through a real server on PostgreSQL, against the batch ingest ceiling: the
  same kind of lines already in memory as envelopes, posted to the same batch endpoint.
`,
  );
  console.error("bench: BENCHMARKS.md written");
}
