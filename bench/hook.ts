// Wall time of one `arrakis hook` process per event, as Claude Code pays it (spawn to exit),
// with the server up and with it down, next to a bare `deno run` of an empty script measured
// in the same run: the floor no Deno program can go under.
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type BenchRow, percentile, table } from "./report.ts";
import { PERMISSIONS } from "../src/permissions.ts";
import { CONFIG, MAIN } from "../tests/helpers/cli.ts";

const RUNS = Number(Deno.env.get("BENCH_HOOK_RUNS") ?? 40);
const KEY = "bench-key-0123456789abcdef0123456789";
const FIXTURES = fileURLToPath(new URL("../tests/fixtures/hook-input/", import.meta.url));

async function fixtureInputs(): Promise<Uint8Array[]> {
  const inputs: Uint8Array[] = [];
  for await (const entry of Deno.readDir(FIXTURES)) {
    // SessionEnd starts a detached drain process, which would run beside the next samples.
    if (!entry.name.endsWith(".json") || entry.name === "SessionEnd.json") continue;
    inputs.push(await Deno.readFile(join(FIXTURES, entry.name)));
  }
  return inputs;
}

async function timedRun(args: string[], env: Record<string, string>, stdin?: Uint8Array) {
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args,
    env,
    stdin: stdin ? "piped" : "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  if (stdin) {
    const writer = child.stdin.getWriter();
    await writer.write(stdin);
    await writer.close();
  }
  const status = await child.status;
  const elapsed = performance.now() - started;
  if (status.code !== 0) throw new Error(`${args.join(" ")} exited ${status.code}`);
  return elapsed;
}

function baseEnv(): Record<string, string> {
  const env: Record<string, string> = { NO_COLOR: "1" };
  for (const name of ["PATH", "HOME", "DENO_DIR", "TMPDIR"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  return env;
}

/** A real `arrakis serve` on an embedded store when it starts, else a loopback stub. */
async function startServer(home: string): Promise<{ url: string; kind: string; stop(): void }> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const url = `http://127.0.0.1:${port}`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "--config", CONFIG, ...PERMISSIONS, MAIN, "serve"],
    env: { ...baseEnv(), ARRAKIS_HOME: home, ARRAKIS_API_KEY: KEY, PORT: String(port) },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const until = Date.now() + 60_000;
  let exited = false;
  child.status.then(() => exited = true);
  while (!exited && Date.now() < until) {
    try {
      const response = await fetch(`${url}/api/claude-hooks`, { method: "POST", body: "{}" });
      await response.body?.cancel();
      return { url, kind: "arrakis serve, embedded store", stop: () => child.kill("SIGTERM") };
    } catch { /* not up yet */ }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  if (!exited) child.kill("SIGKILL");
  const stub = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const body = await req.json().catch(() => ({}));
    return Response.json({ status: "SUCCESS", requestId: body.requestId });
  });
  return {
    url: `http://127.0.0.1:${stub.addr.port}`,
    kind: "loopback stub answering 200 (arrakis serve did not start)",
    stop: () => void stub.shutdown(),
  };
}

async function sample(
  runs: number,
  inputs: Uint8Array[],
  env: Record<string, string>,
): Promise<number[]> {
  const args = ["run", "--quiet", "--config", CONFIG, ...PERMISSIONS, MAIN, "hook"];
  const times: number[] = [];
  for (let i = 0; i < runs; i++) times.push(await timedRun(args, env, inputs[i % inputs.length]));
  return times.sort((a, b) => a - b);
}

export async function run(): Promise<BenchRow[]> {
  const work = await Deno.makeTempDir({ prefix: "arrakis-bench-hook-" });
  const empty = join(work, "empty.ts");
  await Deno.writeTextFile(empty, "");
  const inputs = await fixtureInputs();
  const server = await startServer(join(work, "server-home"));
  try {
    const hookEnv = (name: string, url: string, extra: Record<string, string> = {}) => ({
      ...baseEnv(),
      CLAUDE_PROJECT_DIR: join(work, name),
      ARRAKIS_URL: url,
      ARRAKIS_API_KEY: KEY,
      ARRAKIS_HOME: join(work, `${name}-home`),
      ...extra,
    });
    // Warm Deno's module and code caches once, so every series starts alike.
    await timedRun(["run", "--quiet", empty], baseEnv());
    await sample(3, inputs, hookEnv("warm", server.url));

    const floor: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      floor.push(await timedRun(["run", "--quiet", empty], baseEnv()));
    }
    floor.sort((a, b) => a - b);
    const up = await sample(
      RUNS,
      inputs,
      hookEnv("up", server.url, { ARRAKIS_LOG_LEVEL: "debug" }),
    );
    const steps = await stepTimings(join(work, "up", ".claude", "logs", "debug.jsonl"));
    const downUrl = `http://127.0.0.1:${closedPort()}`;
    const down = await sample(
      RUNS,
      inputs,
      hookEnv("down", downUrl, { ARRAKIS_BREAKER_THRESHOLD: "1000000" }),
    );
    const breakerOpen = await sample(RUNS, inputs, hookEnv("open", downUrl));

    const rows: BenchRow[] = [];
    const floorP50 = percentile(floor, 50);
    const floorP99 = percentile(floor, 99);
    rows.push({
      benchmark: "hook",
      metric: "bare deno run, empty script p50",
      value: floorP50,
      unit: "ms",
    });
    rows.push({
      benchmark: "hook",
      metric: "bare deno run, empty script p99",
      value: floorP99,
      unit: "ms",
    });
    const series: [string, number[]][] = [
      [`server up (${server.kind})`, up],
      ["server down (connection refused, every hook tries)", down],
      ["server down, circuit breaker open", breakerOpen],
    ];
    for (const [label, times] of series) {
      rows.push({
        benchmark: "hook",
        metric: `${label} p50`,
        value: percentile(times, 50),
        unit: "ms",
        reference: { metric: "bare deno run p50", value: floorP50 },
      });
      rows.push({
        benchmark: "hook",
        metric: `${label} p99`,
        value: percentile(times, 99),
        unit: "ms",
        reference: { metric: "bare deno run p99", value: floorP99 },
      });
    }
    const { loaded, own, send } = steps;
    rows.push(
      {
        benchmark: "hook",
        metric: "server up: process start to capture start p50 (module load)",
        value: loaded,
        unit: "ms",
      },
      {
        benchmark: "hook",
        metric: "server up: capture start to done p50 (the hook's own work)",
        value: own,
        unit: "ms",
      },
      {
        benchmark: "hook",
        metric: "server up: of which the one send p50",
        value: send,
        unit: "ms",
      },
    );
    return rows;
  } finally {
    server.stop();
    await new Promise((resolve) => setTimeout(resolve, 200));
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}

/** Medians of the per-step timings the hook logs at debug level (see docs/HOOK.md). */
async function stepTimings(path: string) {
  const runs = (await Deno.readTextFile(path)).trim().split("\n").map((line) => JSON.parse(line))
    .map((line) => line.properties?.timings).filter((timings) => timings?.done !== undefined);
  const median = (values: number[]) => percentile(values.sort((a, b) => a - b), 50);
  return {
    loaded: median(runs.map((t) => t.loaded)),
    own: median(runs.map((t) => t.done - t.loaded)),
    send: median(runs.filter((t) => t.sent !== undefined).map((t) => t.sent - t.credentials)),
  };
}

function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

if (import.meta.main) {
  console.log(`hook wall time per event, ${RUNS} runs per series (fixture events but SessionEnd)`);
  console.log(table(await run()));
}
