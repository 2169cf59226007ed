// Unauthenticated traffic is cheap and bounded: one sampled audit row per source per minute
// with truncated headers, 429 + Retry-After past the per-source limit, a counter in /metrics,
// and /metrics itself behind a key when the server listens beyond loopback.
import assert from "node:assert/strict";
import { storeTest } from "./helpers/stores.ts";
import { startInProcessServer } from "./helpers/server.ts";
import { arrakisCommand } from "./helpers/cli.ts";
import { freePort, waitForHttp } from "./helpers/net.ts";
import { UNAUTHENTICATED_PER_MINUTE } from "../src/server/unauthorized.ts";

async function reject(url: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${url}/api/claude-hooks`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer wrong", ...headers },
    body: JSON.stringify({ requestId: "x", payload: "y".repeat(2_000) }),
  });
  return {
    status: response.status,
    retryAfter: response.headers.get("retry-after"),
    body: await response.json(),
  };
}

storeTest(
  "unauthorized: a source's 401s become 429s past the limit; one sampled row, headers cut",
  async ({ db }) => {
    const server = await startInProcessServer(db);
    try {
      const statuses: number[] = [];
      const longAgent = "agent/".repeat(100);
      for (let i = 0; i < UNAUTHENTICATED_PER_MINUTE + 30; i++) {
        const answer = await reject(server.url, { "user-agent": longAgent });
        statuses.push(answer.status);
        if (answer.status === 429) {
          assert.ok(Number(answer.retryAfter) >= 1, JSON.stringify(answer));
          assert.equal(answer.body.status, "RATE_LIMITED");
        } else {
          assert.equal(answer.body.status, "UNAUTHORIZED");
          assert.ok(answer.body.message);
        }
      }
      // The limit may straddle a minute boundary: at most twice the allowance is a 401.
      const unauthorized = statuses.filter((s) => s === 401).length;
      assert.ok(unauthorized >= UNAUTHENTICATED_PER_MINUTE, `${unauthorized} 401s`);
      assert.ok(unauthorized <= 2 * UNAUTHENTICATED_PER_MINUTE, `${unauthorized} 401s`);
      assert.ok(statuses.includes(429));
      const rows = await server.sql`
        SELECT status, stage, user_agent, headers, payload FROM webhook_events`;
      assert.ok(rows.length >= 1 && rows.length <= 2, `${rows.length} rows`);
      for (const row of rows) {
        assert.equal(row.status, "UNAUTHORIZED");
        assert.equal(row.stage, "authenticate");
        assert.equal(row.payload, null);
        assert.ok(row.user_agent.length <= 128, row.user_agent);
        for (const value of Object.values(row.headers) as string[]) assert.ok(value.length <= 128);
      }
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      assert.match(metrics, new RegExp(`arrakis_unauthorized_total ${statuses.length}\\b`));
      // The read API counts against the same source, and a good key still works meanwhile.
      const api = await fetch(`${server.url}/api/sessions`);
      assert.equal(api.status, 429);
      await api.body?.cancel();
      const good = await fetch(`${server.url}/api/sessions`, {
        headers: { authorization: `Bearer ${server.apiKey}` },
      });
      assert.equal(good.status, 200);
      await good.body?.cancel();
    } finally {
      await server.stop();
    }
  },
);

storeTest(
  "unauthorized: sources behind a trusted proxy are sampled and throttled one by one",
  async ({ db }) => {
    const server = await startInProcessServer(db, { ARRAKIS_TRUSTED_PROXIES: "127.0.0.1" });
    try {
      for (const source of ["203.0.113.1", "203.0.113.2", "203.0.113.3"]) {
        for (let i = 0; i < 5; i++) {
          const answer = await reject(server.url, { "x-forwarded-for": source });
          assert.equal(answer.status, 401);
        }
      }
      const rows = await server.sql`SELECT ip FROM webhook_events ORDER BY id`;
      assert.deepEqual(rows.map((r) => r.ip), ["203.0.113.1", "203.0.113.2", "203.0.113.3"]);
    } finally {
      await server.stop();
    }
  },
  { kinds: ["pglite"] },
);

storeTest(
  "unauthorized: /metrics needs a key when the server listens beyond loopback",
  async ({ db }) => {
    const port = await freePort();
    const key = "metrics-key-0123456789abcdef";
    const child = arrakisCommand(["serve"], {
      env: {
        ...db.env,
        PORT: String(port),
        ARRAKIS_HOST: "0.0.0.0",
        ARRAKIS_API_KEY: key,
        ARRAKIS_LOG_LEVEL: "warning",
      },
    }).spawn();
    const url = `http://127.0.0.1:${port}`;
    try {
      await waitForHttp(`${url}/health`);
      const open = await fetch(`${url}/metrics`);
      assert.equal(open.status, 401);
      await open.body?.cancel();
      const keyed = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${key}` } });
      assert.equal(keyed.status, 200);
      assert.match(await keyed.text(), /arrakis_unauthorized_total 1\b/);
    } finally {
      child.kill("SIGTERM");
      await child.output();
    }
  },
  { kinds: ["pglite"] },
);
