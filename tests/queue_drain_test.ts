// The drainer end to end against the real server and store: concurrent drainers, a drainer
// SIGKILLed mid-batch and its lease expiring, corrupt files, the drainer lock.
import assert from "node:assert/strict";
import { join } from "node:path";
import { createTestDatabase, storeTest } from "./helpers/stores.ts";
import { startInProcessServer } from "./helpers/server.ts";
import { arrakisArgs, arrakisCommand, childEnv, runArrakis } from "./helpers/cli.ts";
import { openSpool } from "../src/queue/spool.ts";
import { drain } from "../src/queue/drain.ts";
import { tryDrainLock } from "../src/queue/lock.ts";
import type { Sql } from "../src/store/open.ts";
import { envelope, filesIn, tempQueueDir, TEST_HOME } from "./helpers/queue.ts";

async function spoolWith(count: number) {
  const dir = await tempQueueDir();
  const spool = await openSpool(dir);
  const ids: string[] = [];
  for (let i = 0; i < count; i++) ids.push((await spool.put(envelope())).id);
  return { dir, spool, ids };
}

/** requestId → how many audit rows of each status the server wrote for it. */
async function auditCounts(sql: Sql, ids: string[]) {
  const rows = await sql<{ request_id: string; status: string; n: number }[]>`
    SELECT request_id, status, count(*)::int AS n FROM webhook_events
    WHERE request_id = ANY(${ids}) GROUP BY request_id, status`;
  const success = new Map<string, number>();
  let duplicates = 0;
  let other = 0;
  for (const row of rows) {
    if (row.status === "SUCCESS") success.set(row.request_id, row.n);
    else if (row.status === "DUPLICATE") duplicates += row.n;
    else other += row.n;
  }
  return { success, duplicates, other };
}

/** A drain past every lease: a clock eleven minutes on (injected, not a sleep). */
async function drainPastLeases(dir: string, server: { url: string; apiKey: string }) {
  const later = await openSpool(dir, { now: () => new Date(Date.now() + 11 * 60_000) });
  return await drain({
    spool: later,
    target: { url: server.url, apiKey: server.apiKey },
    batchSize: 100,
    timeoutMs: 10_000,
  });
}

/** Nothing left to send, and `stored` requestIds each stored exactly once; the audit counts. */
async function assertEachStoredOnce(dir: string, sql: Sql, ids: string[], stored: number) {
  for (const state of ["pending", "processing", "failed"]) {
    assert.deepEqual(await filesIn(join(dir, state)), [], state);
  }
  const audit = await auditCounts(sql, ids);
  assert.equal(audit.success.size, stored);
  assert.ok([...audit.success.values()].every((n) => n === 1));
  return audit;
}

async function conversationsFor(sql: Sql, sessions: string[]): Promise<number> {
  const [row] = await sql<{ n: number }[]>`
    SELECT count(*)::int AS n FROM conversations WHERE session_id = ANY(${sessions})`;
  return row.n;
}

function clientEnv(dir: string, server: { url: string; apiKey: string }, extra = {}) {
  return {
    ARRAKIS_QUEUE_DIR: dir,
    ARRAKIS_URL: server.url,
    ARRAKIS_API_KEY: server.apiKey,
    ARRAKIS_CONFIG: join(dir, "no-client.json"),
    // The home whose spool key signed the records this process wrote.
    ARRAKIS_HOME: TEST_HOME,
    ...extra,
  };
}

storeTest("two concurrent drainers over 1,000 items: each stored exactly once", async ({ db }) => {
  const server = await startInProcessServer(db);
  try {
    const { dir, spool, ids } = await spoolWith(1_000);
    const sessions = (await spool.list("pending")).map((item) => item.record.envelope.sessionId);
    // --no-lock: the claims alone must keep them apart.
    const runs = await Promise.all(
      [1, 2].map(() =>
        runArrakis(["queue", "drain", "--no-lock", "--batch-size", "25", "--json"], {
          env: clientEnv(dir, server),
        })
      ),
    );
    const results = runs.map((run) => {
      assert.equal(run.code, 0, run.stderr);
      return JSON.parse(run.stdout);
    });
    assert.equal(results[0].claimed + results[1].claimed, 1_000);
    assert.equal(results[0].delivered + results[1].delivered, 1_000);
    for (const state of ["pending", "processing", "failed"]) {
      assert.deepEqual(await filesIn(join(dir, state)), [], state);
    }
    const audit = await auditCounts(server.sql, ids);
    assert.equal(audit.success.size, 1_000);
    assert.ok([...audit.success.values()].every((n) => n === 1));
    // No file was ever sent twice: not even a DUPLICATE answer.
    assert.equal(audit.duplicates, 0);
    assert.equal(audit.other, 0);
    assert.equal(await conversationsFor(server.sql, sessions), 1_000);
  } finally {
    await server.stop();
  }
});

storeTest(
  "a backlog in large batches is sized to the server's limits and a byte budget: no 413",
  async ({ db }) => {
    // The server takes 150 per batch; the drainer would send 1,000 (the client's setting).
    const server = await startInProcessServer(db, { ARRAKIS_BATCH_MAX: "150" });
    try {
      const { spool, ids } = await spoolWith(400);
      const target = { url: server.url, apiKey: server.apiKey };
      const sizes: number[] = [];
      const result = await drain({
        spool,
        target,
        batchSize: 1_000,
        timeoutMs: 10_000,
        onClaimed: (items) => void sizes.push(items.length),
      });
      assert.equal(result.delivered, 400);
      assert.deepEqual(sizes, [150, 150, 100]);
      // Not one batch was refused (each refusal would be an INVALID audit row).
      const audit = await auditCounts(server.sql, ids);
      assert.equal(audit.success.size, 400);
      assert.equal(audit.other, 0);
      const [row] = await server.sql<{ n: number }[]>`
        SELECT count(*)::int AS n FROM webhook_events WHERE status <> 'SUCCESS'`;
      assert.equal(row.n, 0);

      // A byte budget of about 40 files' worth makes batches of at most 40.
      const more = await spoolWith(120);
      const name = (await filesIn(join(more.dir, "pending")))[0];
      const size = (await Deno.stat(join(more.dir, "pending", name))).size;
      const bySize: number[] = [];
      const again = await drain({
        spool: more.spool,
        target,
        batchSize: 1_000,
        maxBatchBytes: size * 40 + 10,
        timeoutMs: 10_000,
        onClaimed: (items) => void bySize.push(items.length),
      });
      assert.equal(again.delivered, 120);
      assert.ok(bySize.every((n) => n <= 40), bySize.join(","));
      assert.equal(bySize.reduce((a, b) => a + b), 120);
    } finally {
      await server.stop();
    }
  },
);

/**
 * A real HTTP proxy that forwards one batch to the server, lets the server commit it, and then
 * never answers: the drainer is killed not knowing its batch was stored.
 */
function answerLosingProxy(upstream: string) {
  const forwarded = Promise.withResolvers<number>();
  const never = Promise.withResolvers<Response>();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      const body = await request.text();
      const response = await fetch(`${upstream}${new URL(request.url).pathname}`, {
        method: "POST",
        headers: request.headers,
        body,
      });
      await response.text();
      forwarded.resolve(response.status);
      return await never.promise;
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    forwarded: forwarded.promise,
    async close() {
      never.resolve(new Response(null, { status: 503 }));
      await server.shutdown();
    },
  };
}

storeTest(
  "a drainer SIGKILLed mid-batch: its lease holds, then expires, nothing lost or doubled",
  async ({ db }) => {
    const server = await startInProcessServer(db);
    const proxy = answerLosingProxy(server.url);
    try {
      const { dir, ids } = await spoolWith(30);
      const child = arrakisCommand(["queue", "drain", "--batch-size", "20", "--quiet"], {
        env: clientEnv(dir, { url: proxy.url, apiKey: server.apiKey }, { ARRAKIS_LEASE: "10m" }),
      }).spawn();
      assert.equal(await proxy.forwarded, 200);
      child.kill("SIGKILL");
      assert.equal((await child.status).signal, "SIGKILL");
      assert.equal((await filesIn(join(dir, "processing"))).length, 20);
      assert.equal((await filesIn(join(dir, "pending"))).length, 10);

      // While the dead drainer's lease lasts, another drainer leaves its batch alone.
      const early = await runArrakis(["queue", "drain", "--json"], { env: clientEnv(dir, server) });
      assert.equal(early.code, 0, early.stderr);
      assert.deepEqual(
        [JSON.parse(early.stdout).recovered, JSON.parse(early.stdout).delivered],
        [0, 10],
      );
      assert.equal((await filesIn(join(dir, "processing"))).length, 20);

      // Ten minutes later (an injected clock, not a sleep) the lease has passed.
      const result = await drainPastLeases(dir, server);
      assert.equal(result.recovered, 20);
      assert.equal(result.delivered, 20);
      // The killed batch had been committed: the resend is recognised, not stored again.
      assert.equal(result.duplicates, 20);
      const audit = await assertEachStoredOnce(dir, server.sql, ids, 30);
      assert.equal(audit.duplicates, 20);
    } finally {
      await proxy.close();
      await server.stop();
    }
  },
  { kinds: ["postgres"] },
);

/** strace can kill a process at an exact system call (its fault injection); absent, skip. */
const STRACE = await new Deno.Command("strace", { args: ["-V"], stdout: "null", stderr: "null" })
  .output().then((out) => out.success, () => false);

Deno.test({
  name:
    "a drainer SIGKILLed between a batch's unlinks and its directory fsync: none lost or doubled",
  ignore: !STRACE,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const db = await createTestDatabase("pglite");
    const server = await startInProcessServer(db);
    try {
      const { dir, ids } = await spoolWith(250);
      // The drainer's first fsync of processing/ is its first delivered batch's directory
      // flush: the kernel kills it on entering that call, after the batch's unlinks, before they
      // are flushed. Only that directory's fsyncs count (-P): Deno's own code cache (SQLite)
      // fsyncs too when a module is new to it, as in a fresh clone.
      const child = new Deno.Command("strace", {
        args: [
          "-f",
          "-qq",
          "-o",
          "/dev/null",
          "-P",
          join(dir, "processing"),
          "-e",
          "trace=fsync",
          "-e",
          "inject=fsync:signal=SIGKILL:when=1",
          Deno.execPath(),
          ...arrakisArgs(["queue", "drain", "--batch-size", "100", "--quiet"]),
        ],
        env: childEnv(clientEnv(dir, server, { ARRAKIS_LEASE: "10m" })),
        clearEnv: true,
        stdout: "piped",
        stderr: "piped",
      });
      const killed = await child.output();
      assert.notEqual(killed.code, 0, new TextDecoder().decode(killed.stderr));
      const pendingLeft = (await filesIn(join(dir, "pending"))).length;
      const processingLeft = (await filesIn(join(dir, "processing"))).length;
      // The first batch is gone from the spool (and stored); the second is under its lease.
      assert.equal(pendingLeft + processingLeft, 150);
      assert.ok(processingLeft <= 100, String(processingLeft));
      const before = await auditCounts(server.sql, ids);
      assert.ok(ids.slice(0, 100).every((id) => before.success.get(id) === 1));

      // Past the lease (an injected clock) a drain returns the second batch and sends the rest.
      const result = await drainPastLeases(dir, server);
      assert.equal(result.recovered, processingLeft);
      assert.equal(result.delivered, 150);
      const audit = await assertEachStoredOnce(dir, server.sql, ids, 250);
      // Only a batch the killed drainer had sent can come back as DUPLICATE.
      assert.equal(audit.duplicates, result.duplicates);
      assert.ok(result.duplicates <= processingLeft);
      assert.equal(audit.other, 0);
    } finally {
      await server.stop();
      await db.destroy();
    }
  },
});

storeTest(
  "torn and garbage files beside good ones: the good are stored, the bad moved aside",
  async ({ db }) => {
    const server = await startInProcessServer(db);
    try {
      const { dir, ids } = await spoolWith(5);
      const pending = join(dir, "pending");
      const text = await Deno.readTextFile(join(pending, `${ids[0]}.json`));
      await Deno.writeTextFile(join(pending, `${envelope().requestId}.json`), text.slice(0, 100));
      await Deno.writeTextFile(join(pending, `${envelope().requestId}.json`), "");
      await Deno.writeFile(join(pending, "junk.json"), new Uint8Array([0xff, 0xfe, 0, 1, 2]));
      const run = await runArrakis(["queue", "drain", "--json"], { env: clientEnv(dir, server) });
      assert.equal(run.code, 0, run.stderr);
      assert.equal(JSON.parse(run.stdout).delivered, 5);
      assert.equal((await filesIn(join(dir, "corrupt"))).length, 3);
      assert.deepEqual(await filesIn(pending), []);
      assert.equal((await auditCounts(server.sql, ids)).success.size, 5);
      const stats = await runArrakis(["queue", "stats", "--json"], { env: clientEnv(dir, server) });
      assert.equal(JSON.parse(stats.stdout).corrupt, 3);
    } finally {
      await server.stop();
    }
  },
  { kinds: ["pglite"] },
);

Deno.test("the drainer lock: a second drainer exits 0 at once and touches nothing", async () => {
  const { dir } = await spoolWith(3);
  const lock = await tryDrainLock(dir);
  assert.ok(lock);
  try {
    const run = await runArrakis(["queue", "drain"], {
      env: {
        ARRAKIS_QUEUE_DIR: dir,
        ARRAKIS_HOME: TEST_HOME,
        ARRAKIS_URL: "http://127.0.0.1:9",
        ARRAKIS_API_KEY: "k",
      },
    });
    assert.equal(run.code, 0);
    assert.match(run.stderr, /another drainer is running/);
    assert.equal((await filesIn(join(dir, "pending"))).length, 3);
  } finally {
    lock.release();
  }
  assert.ok(await tryDrainLock(dir), "the lock is free again once released");
});

Deno.test("server down: the drain stops after one batch, items back in backoff, exit 1", async () => {
  const { dir, spool } = await spoolWith(250);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const run = await runArrakis(["queue", "drain", "--json", "--batch-size", "100"], {
    env: {
      ARRAKIS_QUEUE_DIR: dir,
      ARRAKIS_HOME: TEST_HOME,
      ARRAKIS_URL: `http://127.0.0.1:${port}`,
      ARRAKIS_API_KEY: "k",
    },
  });
  assert.equal(run.code, 1);
  const result = JSON.parse(run.stdout);
  assert.equal(result.claimed, 100);
  assert.equal(result.retrying, 100);
  assert.match(result.stoppedEarly, /server unavailable/);
  const pending = await spool.list("pending");
  assert.equal(pending.length, 250);
  assert.equal(pending.filter((item) => item.record.delivery.attempts === 1).length, 100);
  // The breaker is the shipper's own state now: no file for a repository to forge.
  // (logs/ is the spool's own log directory.)
  assert.deepEqual(await filesIn(dir), [
    "corrupt",
    "drain.lock",
    "failed",
    "logs",
    "pending",
    "processing",
  ]);
});

Deno.test("a wrong API key leaves every item pending untouched instead of dead-lettering it", async () => {
  const { dir, spool } = await spoolWith(4);
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => Response.json({ status: "UNAUTHORIZED", message: "bad key" }, { status: 401 }),
  );
  try {
    const run = await runArrakis(["queue", "drain", "--json"], {
      env: {
        ARRAKIS_QUEUE_DIR: dir,
        ARRAKIS_HOME: TEST_HOME,
        ARRAKIS_URL: `http://127.0.0.1:${server.addr.port}`,
        ARRAKIS_API_KEY: "wrong",
        ARRAKIS_LOG_DIR: join(dir, "logs"),
      },
    });
    assert.equal(run.code, 1);
    assert.equal(
      JSON.parse(run.stdout).stoppedEarly,
      "server refused the API key (HTTP 401: bad key)",
    );
    // One line in the logs, not one per item.
    const errors = (await Deno.readTextFile(join(dir, "logs", "error.jsonl"))).trim().split("\n");
    assert.deepEqual(errors.map((line) => JSON.parse(line).properties.reason), [
      "server refused the API key (HTTP 401: bad key)",
    ]);
    const pending = await spool.list("pending");
    assert.equal(pending.length, 4);
    assert.ok(pending.every((item) => item.record.delivery.attempts === 0));
    assert.deepEqual(await filesIn(join(dir, "failed")), []);
  } finally {
    await server.shutdown();
  }
});
