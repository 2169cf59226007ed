// The listener's cost: requests per second through src/server/listener.ts (bounded accept loop
// feeding node:http) against Deno.serve (the reference) in the same run, same Hono app, a
// 2 KB JSON body per request over kept-alive connections, and the server's CPU per request.
// Both servers run in one child process (this file, run with "serve"), loaded in turn by this
// one, so the client's own CPU is not counted in the server's.
import { Hono } from "hono";
import { listen } from "../src/server/listener.ts";
import { type BenchRow, table } from "./report.ts";
import { cpuSeconds } from "./proc.ts";

const REQUESTS = 3_000;
const CONCURRENCY = 16;
const ROUNDS = 3;

function app(): Hono {
  const app = new Hono();
  app.post("/echo", async (c) => c.json({ keys: Object.keys(await c.req.json()).length }));
  return app;
}

/** The child: both servers on ephemeral ports, announced as one JSON line on stdout. */
async function serveBoth(): Promise<void> {
  const hono = app();
  const reference = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, hono.fetch);
  const listener = listen({
    hostname: "127.0.0.1",
    port: 0,
    limits: {
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 60_000,
      idleTimeoutMs: 5_000,
      maxConnections: 1_000,
      shutdownTimeoutMs: 1_000,
    },
    fetch: (request, env) => hono.fetch(request, env),
  });
  console.log(JSON.stringify({ deno: reference.addr.port, listener: listener.port }));
  // Ends when the parent closes stdin.
  for await (const _ of Deno.stdin.readable) { /* nothing is sent */ }
  await reference.shutdown();
  await listener.close();
}

async function requestsPerSecond(url: string): Promise<number> {
  const body = JSON.stringify({ requestId: "x", payload: "p".repeat(2_000) });
  let started = 0;
  const begin = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (started++ < REQUESTS) {
      const response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      });
      await response.text();
    }
  }));
  return REQUESTS / ((performance.now() - begin) / 1000);
}

const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)];

export async function run(): Promise<BenchRow[]> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--config",
      new URL("../deno.json", import.meta.url).pathname,
      "--allow-net",
      "--allow-read",
      "--allow-env",
      new URL(import.meta.url).pathname,
      "serve",
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const stdin = child.stdin.getWriter();
  try {
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let first = "";
    while (!first.includes("\n")) {
      const { done, value } = await lines.read();
      if (done) throw new Error("the listener bench's server ended before it listened");
      first += value;
    }
    lines.releaseLock();
    const ports = JSON.parse(first) as { deno: number; listener: number };
    const measure = async (port: number) => {
      const before = await cpuSeconds(child.pid);
      const rate = await requestsPerSecond(`http://127.0.0.1:${port}/echo`);
      return { rate, cpuUs: ((await cpuSeconds(child.pid) - before) / REQUESTS) * 1e6 };
    };
    // Warm-up: JIT and connection pools of both.
    await measure(ports.deno);
    await measure(ports.listener);
    const denoRuns: { rate: number; cpuUs: number }[] = [];
    const listenerRuns: { rate: number; cpuUs: number }[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      denoRuns.push(await measure(ports.deno));
      listenerRuns.push(await measure(ports.listener));
    }
    return [
      {
        benchmark: "listener",
        metric: `requests/s, ${CONCURRENCY} concurrent, median of ${ROUNDS}`,
        value: median(listenerRuns.map((r) => r.rate)),
        unit: "req/s",
        reference: { metric: "Deno.serve, same app", value: median(denoRuns.map((r) => r.rate)) },
      },
      {
        benchmark: "listener",
        metric: `server CPU per request, median of ${ROUNDS}`,
        value: median(listenerRuns.map((r) => r.cpuUs)),
        unit: "µs",
        reference: { metric: "Deno.serve, same app", value: median(denoRuns.map((r) => r.cpuUs)) },
      },
    ];
  } finally {
    await stdin.close().catch(() => {});
    await child.stdout.cancel().catch(() => {});
    await child.status;
  }
}

if (import.meta.main) {
  if (Deno.args[0] === "serve") await serveBoth();
  else console.log(table(await run()));
}
