// Wall time of one `arrakis hook` process per event, as Claude Code pays it (spawn to exit), in
// every mode the hook meets, interleaved run by run with a bare `deno run` of an empty script:
// the floor no Deno program can go under, measured in the same rounds. What runs is what
// `arrakis install` writes into settings.json: the launcher of a self-contained copy installed
// for the run (`arrakis install --self`, src/install/self.ts), which runs the copy's hook bundle;
// one series runs `deno run main.ts hook` from the clone for reference. The hook does local work
// only, so the server's state should not show in its time; start to durable spool comes from
// the hook's own timings (its debug log).
//
// Each hook run starts once the previous run's event is delivered (modes with a server that
// answers): the server is on this machine, and its work storing one mode's event would
// otherwise land on the next mode's hook (measured: a hook right after a server-up run was
// slower than the same hook after a server-down one). A hook's own delivery still overlaps its
// last milliseconds, as it does for a user.
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type BenchRow, percentile, table } from "./report.ts";
import { PERMISSIONS } from "../src/permissions.ts";
import { CONFIG, MAIN } from "../tests/helpers/cli.ts";
import { localPaths } from "../src/config-core.ts";
import {
  encodeRecord,
  ensureSpoolDirs,
  newRecord,
  putRecord,
  spoolKey,
} from "../src/queue/spool-file.ts";
import { buildEnvelope, normalizePayload } from "../src/hook/envelope.ts";
import { type DelayProxy, startDelayProxy } from "./delay_proxy.ts";
import { type SpoolLock, tryShipperLock } from "../src/queue/lock.ts";
import { installSelf } from "../src/install/self.ts";
import { VERSION } from "../src/version.ts";

const RUNS = Number(Deno.env.get("BENCH_HOOK_RUNS") ?? 40);
const KEY = "bench-key-0123456789abcdef0123456789";
const FIXTURES = fileURLToPath(new URL("../tests/fixtures/hook-input/", import.meta.url));

async function fixtureInputs(): Promise<Uint8Array[]> {
  const inputs: Uint8Array[] = [];
  for await (const entry of Deno.readDir(FIXTURES)) {
    // SessionEnd waits (bounded) for its delivery: measured on its own, not as a tool call.
    if (!entry.name.endsWith(".json") || entry.name === "SessionEnd.json") continue;
    inputs.push(await Deno.readFile(join(FIXTURES, entry.name)));
  }
  return inputs;
}

async function timedRun(
  command: string,
  args: string[],
  env: Record<string, string>,
  stdin?: Uint8Array,
) {
  const started = performance.now();
  const child = new Deno.Command(command, {
    args,
    env,
    clearEnv: true,
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

/** Accepts connections and never answers. */
function hangingUrl(): { url: string; close(): void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  (async () => {
    try {
      for await (const conn of listener) conns.push(conn);
    } catch { /* closed */ }
  })();
  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    close() {
      listener.close();
      for (const conn of conns) conn.close();
    },
  };
}

function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/**
 * SIGTERMs the shippers of this run: `queue ship` processes whose ARRAKIS_HOME is one of the
 * run's (found in /proc; elsewhere they are left to stop by themselves).
 */
function stopShippers(homes: Set<string>): void {
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync("/proc")].filter((entry) => /^\d+$/.test(entry.name));
  } catch {
    return;
  }
  for (const entry of entries) {
    try {
      const cmdline = Deno.readTextFileSync(`/proc/${entry.name}/cmdline`).split("\0");
      if (!cmdline.includes("queue") || !cmdline.includes("ship")) continue;
      const home = Deno.readTextFileSync(`/proc/${entry.name}/environ`).split("\0")
        .find((variable) => variable.startsWith("ARRAKIS_HOME="))?.slice("ARRAKIS_HOME=".length);
      if (home !== undefined && homes.has(home)) Deno.kill(Number(entry.name), "SIGTERM");
    } catch { /* gone, or not ours to read */ }
  }
}

/**
 * Waits (at most 2 s) until nothing is left in a spool's pending/ or processing/: the event
 * just spooled is delivered, and the server's work storing it is done.
 */
async function delivered(queueDir: string): Promise<void> {
  const until = performance.now() + 2_000;
  const waiting = () => {
    let n = 0;
    for (const state of ["pending", "processing"]) {
      try {
        for (const entry of Deno.readDirSync(join(queueDir, state))) {
          if (entry.name.endsWith(".json")) n++;
        }
      } catch { /* not created yet */ }
    }
    return n;
  };
  while (waiting() > 0 && performance.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Whether this build has the resident shipper (`arrakis queue ship`). */
async function hasShipper(): Promise<boolean> {
  const { stdout } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "--config", CONFIG, ...PERMISSIONS, MAIN, "queue", "--help"],
    stdout: "piped",
    stderr: "null",
  }).output();
  return /\bship\b/.test(new TextDecoder().decode(stdout));
}

interface Mode {
  label: string;
  env: Record<string, string>;
  /** How this mode's hook is run: the installed launcher, or deno on the clone's main.ts. */
  command: string[];
  /** A server answers: the next run waits until this run's event has left the spool. */
  delivers: boolean;
  /** Held for the whole run when there is no real shipper to hold it. */
  lock?: SpoolLock;
  times: number[];
  logFile: string;
}

export async function run(): Promise<BenchRow[]> {
  const work = await Deno.makeTempDir({ prefix: "arrakis-bench-hook-" });
  const empty = join(work, "empty.ts");
  await Deno.writeTextFile(empty, "");
  const inputs = await fixtureInputs();
  const server = await startServer(join(work, "server-home"));
  const hanging = hangingUrl();
  const shipper = await hasShipper();
  const modes: Mode[] = [];
  const proxies: DelayProxy[] = [];
  try {
    const installed = await installSelf({
      source: fileURLToPath(new URL("..", import.meta.url)),
      appRoot: join(work, "app"),
      version: VERSION,
      binDir: join(work, "bin"),
      deno: Deno.execPath(),
    });
    const launcher = [installed.launcher, "hook"];
    const how = installed.bundleProblem === undefined
      ? "installed launcher"
      : "installed launcher, no bundle";
    const fromClone = [
      Deno.execPath(),
      ...["run", "--quiet", "--config", CONFIG, ...PERMISSIONS, MAIN, "hook"],
    ];
    const addMode = async (
      label: string,
      name: string,
      url: string,
      options: { extra?: Record<string, string>; delivers?: boolean; command?: string[] } = {},
    ) => {
      const env = {
        ...baseEnv(),
        CLAUDE_PROJECT_DIR: join(work, name),
        ARRAKIS_URL: url,
        ARRAKIS_API_KEY: KEY,
        ARRAKIS_HOME: join(work, `${name}-home`),
        ARRAKIS_LOG_LEVEL: "debug",
        // The steady state of a session: its shipper stays resident between events (default
        // idle 5 min). With 2 s, a round of the run under load outlasted it: the up modes' shippers
        // (pending empty) went idle and exited between runs, and the next hook paid a shipper's
        // spawn and start-up, which the down and hanging modes (never empty) did not. Once the
        // run's directories are removed the shippers stop at their next pass.
        ARRAKIS_SHIPPER_IDLE: "30s",
        ...options.extra,
      };
      await Deno.mkdir(env.CLAUDE_PROJECT_DIR);
      const paths = localPaths(env);
      let lock: SpoolLock | undefined;
      if (!shipper) {
        // No `queue ship` in this build: hold its lock as a resident shipper would, so each
        // hook finds one running (the steady state of a session).
        await ensureSpoolDirs(paths.queueDir, paths.queueRoot, []);
        lock = await tryShipperLock(paths.queueDir);
      }
      modes.push({
        label: `${label}, ${options.command ? "deno run main.ts hook from the clone" : how}`,
        env,
        command: options.command ?? launcher,
        delivers: options.delivers ?? false,
        lock,
        times: [],
        logFile: join(paths.logDir, "debug.jsonl"),
      });
    };
    await addMode(`server up (${server.kind})`, "up", server.url, { delivers: true });
    await addMode("server down (connection refused)", "down", `http://127.0.0.1:${closedPort()}`);
    await addMode("server hanging (accepts, never answers)", "hanging", hanging.url);
    // The real deployment: a remote server over HTTPS (a loopback TLS proxy with a fixed delay
    // each way, bench/delay_proxy.ts).
    for (const rttMs of [0, 40, 120]) {
      const proxy = await startDelayProxy({
        upstreamPort: Number(new URL(server.url).port),
        rttMs,
      });
      proxies.push(proxy);
      await addMode(`remote over TLS, ${rttMs} ms RTT`, `tls-${rttMs}`, proxy.url, {
        extra: { DENO_CERT: proxy.certFile },
        delivers: true,
      });
    }
    // What this bench ran before the hook had a bundle, and what a developer's clone runs.
    await addMode(`server up (${server.kind})`, "clone-up", server.url, {
      delivers: true,
      command: fromClone,
    });

    const floorArgs = ["run", "--quiet", empty];
    const hookRun = async (mode: Mode, input: Uint8Array) => {
      const [command, ...args] = mode.command;
      const elapsed = await timedRun(command, args, mode.env, input);
      if (mode.delivers) await delivered(localPaths(mode.env).queueDir);
      return elapsed;
    };
    // Warm Deno's module and code caches once, so every series starts alike.
    await timedRun(Deno.execPath(), floorArgs, baseEnv());
    for (const mode of modes) {
      for (let i = 0; i < 3; i++) await hookRun(mode, inputs[i]);
    }
    const floor: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      floor.push(await timedRun(Deno.execPath(), floorArgs, baseEnv()));
      for (const mode of modes) mode.times.push(await hookRun(mode, inputs[i % inputs.length]));
    }
    floor.sort((a, b) => a - b);
    const floorP50 = percentile(floor, 50);
    const floorP99 = percentile(floor, 99);
    const shipperNote = shipper
      ? ", shipper running"
      : ", shipper lock held by the bench (no queue ship here)";
    const rows: BenchRow[] = [
      { benchmark: "hook", metric: "bare deno run, empty script p50", value: floorP50, unit: "ms" },
      { benchmark: "hook", metric: "bare deno run, empty script p99", value: floorP99, unit: "ms" },
    ];
    for (const mode of modes) {
      const times = mode.times.sort((a, b) => a - b);
      rows.push(
        {
          benchmark: "hook",
          metric: `${mode.label}${shipperNote} p50`,
          value: percentile(times, 50),
          unit: "ms",
          reference: { metric: "bare deno run p50", value: floorP50 },
        },
        {
          benchmark: "hook",
          metric: `${mode.label}${shipperNote} p99`,
          value: percentile(times, 99),
          unit: "ms",
          reference: { metric: "bare deno run p99", value: floorP99 },
        },
      );
    }
    const steps = await stepTimings(modes.map((mode) => mode.logFile));
    rows.push(
      {
        benchmark: "hook",
        metric: "process start to durable spool p50 (hook's own timings)",
        value: steps.spooled,
        unit: "ms",
        reference: { metric: "bare deno run p50", value: floorP50 },
      },
      {
        benchmark: "hook",
        metric: "process start to capture start p50 (module load)",
        value: steps.loaded,
        unit: "ms",
      },
      {
        benchmark: "hook",
        metric: "capture start to done p50 (the hook's own work)",
        value: steps.own,
        unit: "ms",
      },
    );
    rows.push(...await signingCost(work, inputs));
    return rows;
  } finally {
    for (const mode of modes) mode.lock?.release();
    // A spool that never empties (server down, hanging) keeps its shipper resident: stop them.
    stopShippers(new Set(modes.map((mode) => mode.env.ARRAKIS_HOME)));
    for (const proxy of proxies) await proxy.close();
    server.stop();
    hanging.close();
    await new Promise((resolve) => setTimeout(resolve, 200));
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}

/**
 * What signing adds to the hook's spool write, in-process: loading the key (read + WebCrypto
 * import), and one HMAC over a record, next to the durable write of that record (fsyncs).
 */
async function signingCost(work: string, inputs: Uint8Array[]): Promise<BenchRow[]> {
  const queueDir = join(work, "signing", "queue");
  await ensureSpoolDirs(queueDir, join(work, "signing"), ["pending"]);
  const keyLoads: number[] = [];
  let key: CryptoKey | undefined;
  for (let i = 0; i < 20; i++) {
    const keyFile = join(work, "signing", `key-${i}`);
    await Deno.writeTextFile(keyFile, "ab".repeat(32) + "\n", { mode: 0o600 });
    const started = performance.now();
    key = await spoolKey(keyFile);
    keyLoads.push(performance.now() - started);
  }
  const signs: number[] = [];
  const writes: number[] = [];
  for (let i = 0; i < 200; i++) {
    const payload = JSON.parse(new TextDecoder().decode(inputs[i % inputs.length]));
    const envelope = buildEnvelope(normalizePayload(payload), { env: {} });
    let started = performance.now();
    await encodeRecord(key!, newRecord(envelope));
    signs.push(performance.now() - started);
    started = performance.now();
    await putRecord(queueDir, envelope, { key: key! });
    writes.push(performance.now() - started);
  }
  const median = (values: number[]) => percentile(values.sort((a, b) => a - b), 50);
  const write = median(writes);
  return [
    {
      benchmark: "hook",
      metric: "spool key load p50 (read + WebCrypto import, once per hook)",
      value: median(keyLoads),
      unit: "ms",
      reference: { metric: "durable signed write of one record p50", value: write },
    },
    {
      benchmark: "hook",
      metric: "HMAC-SHA256 signature of one record p50",
      value: median(signs),
      unit: "ms",
      reference: { metric: "durable signed write of one record p50", value: write },
    },
  ];
}

/** Medians of the per-step timings the hook logs at debug level (see docs/HOOK.md). */
async function stepTimings(paths: string[]) {
  const runs: Record<string, number>[] = [];
  for (const path of paths) {
    for (const line of (await Deno.readTextFile(path)).trim().split("\n")) {
      const timings = JSON.parse(line).properties?.timings;
      if (timings?.done !== undefined && timings.spooled !== undefined) runs.push(timings);
    }
  }
  const median = (values: number[]) => percentile(values.sort((a, b) => a - b), 50);
  return {
    loaded: median(runs.map((t) => t.loaded)),
    spooled: median(runs.map((t) => t.spooled)),
    own: median(runs.map((t) => t.done - t.loaded)),
  };
}

if (import.meta.main) {
  console.log(`hook wall time per event, ${RUNS} runs per series (fixture events but SessionEnd)`);
  console.log(table(await run()));
}
