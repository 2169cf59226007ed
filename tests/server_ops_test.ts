// Operations: a database that goes away mid-run (503 + Retry-After, then recovery without
// loss), failures after the audit row (ERROR row), the start-up sweep, graceful SIGTERM.
import assert from "node:assert/strict";
import postgres from "postgres";
import { ADMIN_URL, openTestStore, POSTGRES_REACHABLE, storeTest } from "./helpers/stores.ts";
import {
  fixturePayload,
  makeEnvelope,
  post,
  startInProcessServer,
  startTestServer,
} from "./helpers/server.ts";
import { arrakisCommand } from "./helpers/cli.ts";
import { freePort, waitForHttp } from "./helpers/net.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function prompt(i: number) {
  return makeEnvelope({
    ...fixturePayload("UserPromptSubmit"),
    prompt: `prompt ${i}`,
    prompt_id: `p-${i}`,
  });
}

storeTest(
  "outage: database unreachable mid-run gives 503 + Retry-After, then recovery without loss",
  async ({ db }) => {
    const name = new URL(db.databaseUrl!).pathname.slice(1);
    const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
    const server = await startInProcessServer(db);
    try {
      const before = Array.from({ length: 5 }, (_, i) => prompt(i));
      for (const e of before) {
        assert.equal((await post(server, "/api/claude-hooks", e)).status, 200);
      }

      await admin.unsafe(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
      await admin`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
      WHERE datname = ${name} AND pid <> pg_backend_pid()`;
      const during = Array.from({ length: 5 }, (_, i) => prompt(100 + i));
      for (const e of during) {
        const answer = await post(server, "/api/claude-hooks", e);
        assert.equal(answer.status, 503, JSON.stringify(answer.body));
        assert.equal(answer.body.status, "ERROR");
        assert.equal(answer.body.code, "DB_UNAVAILABLE");
        assert.ok(Number(answer.headers.get("retry-after")) > 0);
      }
      const batch = await post(server, "/api/claude-hooks/batch", during);
      assert.equal(batch.status, 503);
      assert.ok(batch.headers.get("retry-after"));
      const ready = await fetch(`${server.url}/ready`);
      assert.equal(ready.status, 503);
      await ready.body?.cancel();
      const health = await fetch(`${server.url}/health`);
      assert.equal(health.status, 200);
      await health.body?.cancel();

      await admin.unsafe(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
      // The client retries what got a 503: every event ends stored exactly once.
      for (const e of during) {
        const answer = await post(server, "/api/claude-hooks", { ...e, attempt: 2 });
        assert.equal(answer.status, 200, JSON.stringify(answer.body));
        assert.equal(answer.body.status, "SUCCESS");
      }
      const [{ messages }] = await server.sql`SELECT count(*)::int AS messages FROM messages`;
      assert.equal(messages, 10);
      const statuses = await server
        .sql`SELECT status, count(*)::int AS n FROM webhook_events GROUP BY status`;
      assert.deepEqual(Object.fromEntries(statuses.map((r) => [r.status, r.n])), { SUCCESS: 10 });
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      assert.match(metrics, /arrakis_db_errors_total [1-9]/);
    } finally {
      await admin.unsafe(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`).catch(() => {});
      await admin.end();
      await server.stop();
    }
  },
  { kinds: ["postgres"] },
);

storeTest(
  "outage: a failure after the audit row is written leaves an ERROR row, then succeeds on retry",
  async ({ db }) => {
    const server = await startInProcessServer(db);
    try {
      await server.sql.unsafe(`
      CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'simulated overload' USING ERRCODE = '53300'; END $$;
      CREATE TRIGGER refuse BEFORE INSERT ON conversations FOR EACH ROW EXECUTE FUNCTION refuse();`);
      const envelope = prompt(1);
      const failed = await post(server, "/api/claude-hooks", envelope);
      assert.equal(failed.status, 503);
      assert.ok(failed.headers.get("retry-after"));
      await server.sql.unsafe(`DROP TRIGGER refuse ON conversations`);
      const retried = await post(server, "/api/claude-hooks", { ...envelope, attempt: 2 });
      assert.equal(retried.body.status, "SUCCESS");
      const rows = await server
        .sql`SELECT status, stage, http_status, error_code, response, completed_at
      FROM webhook_events ORDER BY id`;
      assert.deepEqual(rows.map((r) => r.status), ["ERROR", "SUCCESS"]);
      assert.equal(rows[0].http_status, 503);
      assert.equal(rows[0].stage, "process");
      assert.equal(rows[0].error_code, "DB_UNAVAILABLE");
      assert.equal(rows[0].response.status, "ERROR");
      assert.ok(rows[0].completed_at);
    } finally {
      await server.stop();
    }
  },
);

storeTest(
  "start: rows left RECEIVED or PROCESSING by a dead server are swept to ERROR",
  async ({ db }) => {
    const store = await openTestStore(db, 1);
    await store.sql`INSERT INTO webhook_events (request_id, status) VALUES
    ('01a00000-0000-7000-8000-000000000001', 'RECEIVED'),
    ('01a00000-0000-7000-8000-000000000002', 'PROCESSING')`;
    await store.close();
    const server = await startInProcessServer(db);
    try {
      const rows = await server
        .sql`SELECT status, error_code, completed_at FROM webhook_events ORDER BY id`;
      assert.deepEqual(rows.map((r) => [r.status, r.error_code]), [
        ["ERROR", "INTERRUPTED"],
        ["ERROR", "INTERRUPTED"],
      ]);
      assert.ok(rows.every((r) => r.completed_at));
    } finally {
      await server.stop();
    }
  },
);

storeTest("serve: SIGTERM lets an in-flight request finish, then exits 0", async ({ db }) => {
  const server = await startTestServer(db);
  const blocker = postgres(db.databaseUrl!, { max: 1, onnotice: () => {} });
  const watcher = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
  try {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const locking = blocker.begin(async (tx) => {
      await tx`LOCK TABLE conversations IN ACCESS EXCLUSIVE MODE`;
      await held;
    });
    await sleep(100);
    const inFlight = post(server, "/api/claude-hooks", prompt(1));
    // Wait until the server's transaction is blocked on the lock.
    for (let i = 0; i < 100; i++) {
      const [{ waiting }] = await watcher`
        SELECT count(*)::int AS waiting FROM pg_stat_activity
        WHERE application_name = 'arrakis' AND wait_event_type = 'Lock'`;
      if (waiting > 0) break;
      await sleep(50);
    }
    const stopping = server.stop();
    await sleep(300);
    assert.equal(server.exitCode(), null, "exited with a request in flight");
    release();
    await locking;
    const answer = await inFlight;
    assert.equal(answer.status, 200);
    assert.equal(answer.body.status, "SUCCESS");
    await stopping;
    assert.equal(server.exitCode(), 0);
    assert.match(server.output(), /SIGTERM/);
  } finally {
    await blocker.end();
    await watcher.end();
    await server.kill();
  }
}, { kinds: POSTGRES_REACHABLE ? ["postgres"] : [] });

storeTest(
  "serve: a log reader that goes away (closed stdout) loses log lines, never the server",
  async ({ db }) => {
    const port = await freePort();
    const key = "closed-stdout-key-0123456789";
    const child = arrakisCommand(["serve"], {
      env: { ...db.env, PORT: String(port), ARRAKIS_API_KEY: key, ARRAKIS_LOG_LEVEL: "info" },
    }).spawn();
    // Not a terminal, so every request is logged as a JSON line on stdout; nobody reads it.
    await child.stdout.cancel();
    const stderr = child.stderr.pipeThrough(new TextDecoderStream());
    const collected = (async () => {
      let text = "";
      for await (const chunk of stderr) text += chunk;
      return text;
    })();
    const server = { url: `http://127.0.0.1:${port}`, apiKey: key };
    try {
      await waitForHttp(`${server.url}/health`);
      for (let i = 0; i < 20; i++) {
        const answer = await post(server, "/api/claude-hooks", prompt(i));
        assert.equal(answer.status, 200, JSON.stringify(answer.body));
      }
      const health = await fetch(`${server.url}/health`);
      assert.equal(health.status, 200);
      await health.body?.cancel();
    } finally {
      child.kill("SIGTERM");
    }
    const status = await child.status;
    const text = await collected;
    assert.equal(status.code, 0, text);
    assert.doesNotMatch(text, /BrokenPipe|Uncaught/);
  },
);
