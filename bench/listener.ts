// The listener's cost: requests per second through src/server/listener.ts (bounded accept loop
// feeding node:http) against Deno.serve (the reference) in the same run, same Hono app, a
// 2 KB JSON body per request over kept-alive connections.
import { Hono } from "hono";
import { listen } from "../src/server/listener.ts";
import { type BenchRow, table } from "./report.ts";

const REQUESTS = 3_000;
const CONCURRENCY = 16;
const ROUNDS = 3;

function app(): Hono {
  const app = new Hono();
  app.post("/echo", async (c) => c.json({ keys: Object.keys(await c.req.json()).length }));
  return app;
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
  const denoRuns: number[] = [];
  const listenerRuns: number[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      denoRuns.push(await requestsPerSecond(`http://127.0.0.1:${reference.addr.port}/echo`));
      listenerRuns.push(await requestsPerSecond(`http://127.0.0.1:${listener.port}/echo`));
    }
  } finally {
    await reference.shutdown();
    await listener.close();
  }
  return [{
    benchmark: "listener",
    metric: `requests/s, ${CONCURRENCY} concurrent, median of ${ROUNDS}`,
    value: median(listenerRuns),
    unit: "req/s",
    reference: { metric: "Deno.serve, same app", value: median(denoRuns) },
  }];
}

if (import.meta.main) console.log(table(await run()));
