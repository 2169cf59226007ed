// `arrakis queue list|stats|retry|purge` as users run it: output, filters, JSON, the manual
// push bringing dead letters home (idempotently), and one-line errors with exit 2.
import assert from "node:assert/strict";
import { join } from "node:path";
import { storeTest } from "./helpers/stores.ts";
import { startInProcessServer } from "./helpers/server.ts";
import { runArrakis } from "./helpers/cli.ts";
import { openSpool } from "../src/queue/spool.ts";
import { envelope, filesIn, tempQueueDir, TEST_HOME } from "./helpers/queue.ts";
import { tempDir } from "./helpers/temp.ts";

/** A port nothing listens on: every send is a transport error. */
function deadUrl(): string {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return `http://127.0.0.1:${port}`;
}

function env(dir: string, extra: Record<string, string> = {}) {
  return {
    ARRAKIS_QUEUE_DIR: dir,
    ARRAKIS_URL: deadUrl(),
    ARRAKIS_API_KEY: "k",
    ARRAKIS_CONFIG: join(dir, "no-client.json"),
    // The home whose spool key signed the records this process wrote.
    ARRAKIS_HOME: TEST_HOME,
    ARRAKIS_LOG_DIR: join(dir, "logs"),
    ...extra,
  };
}

/** A spool with two fresh items, one waiting in backoff and one dead letter. */
async function mixedSpool() {
  const dir = await tempQueueDir();
  const spool = await openSpool(dir, { random: () => 0.5 });
  const fresh = await spool.put(envelope());
  const stop = await spool.put(stopEnvelope());
  const waiting = await spool.put(envelope());
  await spool.recordFailure(waiting, {
    kind: "retryable",
    httpStatus: 503,
    error: "HTTP 503: busy",
  });
  const dead = await spool.put(envelope());
  await spool.recordFailure(dead, {
    kind: "permanent",
    httpStatus: 400,
    error: "HTTP 400: INVALID",
    answer: { status: "INVALID" },
  });
  return { dir, spool, fresh, stop, waiting, dead };
}

function stopEnvelope() {
  const base = envelope();
  return envelope({
    event: "Stop",
    sessionId: base.sessionId,
    payload: {
      session_id: base.sessionId,
      hook_event_name: "Stop",
      last_assistant_message: "done",
    },
  });
}

Deno.test("list shows every state with attempts, next try and last error; filters; --json", async () => {
  const { dir, fresh, stop, waiting, dead } = await mixedSpool();
  const all = await runArrakis(["queue", "list"], { env: env(dir) });
  assert.equal(all.code, 0, all.stderr);
  const lines = all.stdout.trim().split("\n");
  assert.match(lines[0], /^STATE\s+REQUEST ID\s+EVENT\s+SESSION\s+TRIES\s+NEXT\s+LAST ERROR$/);
  assert.equal(lines.length, 5);
  assert.match(
    all.stdout,
    new RegExp(`pending\\s+${fresh.id}\\s+Notification\\s+\\S+\\s+0\\s+now`),
  );
  assert.match(
    all.stdout,
    new RegExp(`pending\\s+${waiting.id}.*\\s1\\s+in \\d+s\\s+HTTP 503: busy`),
  );
  assert.match(all.stdout, new RegExp(`failed\\s+${dead.id}.*\\s1\\s+-\\s+HTTP 400: INVALID`));

  const json = await runArrakis(["queue", "list", "--json", "--state", "failed"], {
    env: env(dir),
  });
  const rows = JSON.parse(json.stdout);
  assert.deepEqual(rows.map((row: { requestId: string }) => row.requestId), [dead.id]);
  assert.equal(rows[0].lastHttpStatus, 400);
  assert.deepEqual(rows[0].lastAnswer, { status: "INVALID" });

  const stops = JSON.parse(
    (await runArrakis(["queue", "list", "--json", "--event", "Stop"], { env: env(dir) })).stdout,
  );
  assert.deepEqual(stops.map((row: { requestId: string }) => row.requestId), [stop.id]);
  const bySession = JSON.parse(
    (await runArrakis(["queue", "list", "--json", "--session", waiting.record.envelope.sessionId], {
      env: env(dir),
    })).stdout,
  );
  assert.deepEqual(bySession.map((row: { requestId: string }) => row.requestId), [waiting.id]);
  const due = JSON.parse(
    (await runArrakis(["queue", "list", "--json", "--due"], { env: env(dir) })).stdout,
  );
  assert.deepEqual(due.map((row: { requestId: string }) => row.requestId), [fresh.id, stop.id]);
});

Deno.test("stats counts per state, due now, oldest age and bytes", async () => {
  const { dir } = await mixedSpool();
  const json = await runArrakis(["queue", "stats", "--json"], { env: env(dir) });
  const stats = JSON.parse(json.stdout);
  assert.equal(stats.pending, 3);
  assert.equal(stats.due, 2);
  assert.equal(stats.failed, 1);
  assert.equal(stats.processing, 0);
  assert.ok(stats.bytes > 0);
  assert.equal(typeof stats.oldestAgeMs, "number");
  const text = await runArrakis(["queue", "stats"], { env: env(dir) });
  assert.match(text.stdout, /pending\s+3 \(2 due now\)/);
  assert.match(text.stdout, /failed\s+1/);
});

Deno.test("bad calls are one clear line and exit 2", async () => {
  const { dir } = await mixedSpool();
  const unknown = envelope().requestId;
  const cases: [string[], RegExp][] = [
    [["queue", "retry", unknown], new RegExp(`no spooled item with requestId ${unknown}`)],
    [["queue", "retry", "not-an-id"], /"not-an-id" is not a requestId/],
    [["queue", "retry"], /give requestIds, --all or --failed/],
    [["queue", "purge", "--failed", "--older-than", "30 days"], /"30 days" is not a duration/],
    [["queue", "purge", "--failed", "--older-than=-1d"], /"-1d" is not a duration/],
    [["queue", "purge"], /pass --failed/],
    [["queue", "purge", "--failed"], /would delete 1 dead letter; pass --yes/],
    [["queue", "list", "--state", "lost"], /--state must be/],
    [["queue", "list", "--limit", "0"], /--limit must be a positive whole number/],
    [["queue", "drain", "--batch-size", "x"], /--batch-size must be/],
    [["queue", "frobnicate"], /unknown subcommand 'frobnicate'/],
    [["queue", "list", "--colour"], /Unknown option '--colour'/],
  ];
  for (const [args, pattern] of cases) {
    const run = await runArrakis(args, { env: env(dir) });
    assert.equal(run.code, 2, `${args.join(" ")}: ${run.stderr}`);
    assert.match(run.stderr, pattern, args.join(" "));
    assert.equal(run.stderr.trim().split("\n").length, 1, run.stderr);
  }
  // Nothing was touched by any of them.
  assert.equal((await filesIn(join(dir, "failed"))).length, 1);
  assert.equal((await filesIn(join(dir, "pending"))).length, 3);
});

Deno.test("purge --failed --older-than keeps younger dead letters; --yes deletes", async () => {
  const { dir, dead, spool } = await mixedSpool();
  const young = await runArrakis(["queue", "purge", "--failed", "--older-than", "30d", "--yes"], {
    env: env(dir),
  });
  assert.equal(young.code, 0);
  assert.match(young.stdout, /no dead letters to purge/);
  assert.deepEqual(await filesIn(join(dir, "failed")), [`${dead.id}.json`]);
  const all = await runArrakis(["queue", "purge", "--failed", "--yes"], { env: env(dir) });
  assert.equal(all.code, 0);
  assert.match(all.stdout, /deleted 1 dead letter/);
  assert.deepEqual(await filesIn(join(dir, "failed")), []);
  assert.equal((await spool.list("pending")).length, 3);
});

storeTest(
  "retry --failed brings dead letters home idempotently; each stored once",
  async ({ db }) => {
    const server = await startInProcessServer(db);
    try {
      const dir = await tempQueueDir();
      const spool = await openSpool(dir);
      const ids: string[] = [];
      for (let i = 0; i < 6; i++) ids.push((await spool.put(envelope())).id);
      // The server is unreachable and one attempt is all we allow: all six become dead letters.
      const lost = await runArrakis(["queue", "drain", "--json"], {
        env: env(dir, { ARRAKIS_MAX_ATTEMPTS: "1" }),
      });
      assert.equal(lost.code, 1);
      assert.equal(JSON.parse(lost.stdout).failed, 6);
      assert.equal((await filesIn(join(dir, "failed"))).length, 6);

      const live = env(dir, { ARRAKIS_URL: server.url, ARRAKIS_API_KEY: server.apiKey });
      const first = await runArrakis(["queue", "retry", "--failed"], { env: live });
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stdout, /^6 dead letters back in pending/);
      const second = await runArrakis(["queue", "retry", "--failed"], { env: live });
      assert.match(second.stdout, /^0 dead letters back in pending/);
      const home = await spool.list("pending");
      assert.equal(home.length, 6);
      assert.ok(home.every((item) => item.record.delivery.attempts === 0));
      assert.ok(home.every((item) => item.record.delivery.lastError !== null));

      const drained = await runArrakis(["queue", "drain", "--json"], { env: live });
      assert.equal(JSON.parse(drained.stdout).delivered, 6);
      // Each step of each event is in the logs under its requestId.
      const logs = join(dir, "logs");
      const errors = await Deno.readTextFile(join(logs, "error.jsonl"));
      // One line per delivered batch, naming each of its events.
      const delivered = (await Deno.readTextFile(join(logs, "success.jsonl"))).trim().split("\n")
        .map((line) => JSON.parse(line));
      assert.deepEqual(delivered.map((line) => line.properties.count), [6]);
      const named = delivered.flatMap((line) => line.properties.events);
      for (const id of ids) {
        assert.match(errors, new RegExp(`${id}.*dead-lettered`));
        const event = named.find((e: { requestId: string }) => e.requestId === id);
        assert.equal(event?.status, "SUCCESS", id);
        assert.match(event?.traceId, /^[0-9a-f]{32}$/);
      }
      const third = await runArrakis(["queue", "retry", "--failed", "--now"], { env: live });
      assert.equal(third.code, 0);
      assert.match(third.stdout, /^0 dead letters back in pending; delivered 0/);

      const rows = await server.sql<{ request_id: string; n: number }[]>`
      SELECT request_id, count(*)::int AS n FROM webhook_events
      WHERE request_id = ANY(${ids}) AND status = 'SUCCESS' GROUP BY request_id`;
      assert.equal(rows.length, 6);
      assert.ok(rows.every((row) => row.n === 1));
    } finally {
      await server.stop();
    }
  },
  { kinds: ["pglite"] },
);

storeTest("retry <id> --now sends a named item at once, ignoring its backoff", async ({ db }) => {
  const server = await startInProcessServer(db);
  try {
    const { dir, fresh, waiting, dead } = await mixedSpool();
    const live = env(dir, { ARRAKIS_URL: server.url, ARRAKIS_API_KEY: server.apiKey });
    const run = await runArrakis(["queue", "retry", waiting.id, dead.id, "--now", "--json"], {
      env: live,
    });
    assert.equal(run.code, 0, run.stderr);
    const summary = JSON.parse(run.stdout);
    assert.equal(summary.revived, 1);
    assert.equal(summary.cleared, 1);
    // The dead letter was a 400 from a fake answer; the real server takes it.
    assert.equal(summary.drain.delivered, 2);
    const left = (await filesIn(join(dir, "pending"))).map((name) => name.slice(0, 36));
    assert.ok(left.includes(fresh.id), "only the named items were sent");
    assert.equal(left.length, 2);
  } finally {
    await server.stop();
  }
}, { kinds: ["pglite"] });

/** A read-only bind mount as root (chmod does not bind root), chmod 0500 otherwise. */
async function readOnly(dir: string): Promise<(() => Promise<void>) | undefined> {
  if (Deno.uid() !== 0) {
    for (const sub of ["", "pending", "processing", "failed"]) {
      await Deno.chmod(join(dir, sub), 0o500);
    }
    return async () => {
      for (const sub of ["", "pending", "processing", "failed"]) {
        await Deno.chmod(join(dir, sub), 0o700);
      }
    };
  }
  const mount = (args: string[]) => new Deno.Command("mount", { args, stderr: "null" }).output();
  if (!(await mount(["--bind", dir, dir])).success) return undefined;
  if (!(await mount(["-o", "remount,bind,ro", dir, dir])).success) return undefined;
  return async () => {
    await new Deno.Command("umount", { args: [dir] }).output();
  };
}

Deno.test("a read-only spool: list and stats work, drain fails with one clear line, nothing lost", async (t) => {
  const { dir } = await mixedSpool();
  const undo = await readOnly(dir);
  if (!undo) {
    await t.step({ name: "no way to make a read-only directory here", ignore: true, fn: () => {} });
    return;
  }
  try {
    const stats = await runArrakis(["queue", "stats", "--json"], { env: env(dir) });
    assert.equal(stats.code, 0, stats.stderr);
    assert.equal(JSON.parse(stats.stdout).pending, 3);
    const drain = await runArrakis(["queue", "drain"], { env: env(dir) });
    assert.equal(drain.code, 1);
    assert.match(drain.stderr, /spool .* is not writable/);
    assert.equal(drain.stderr.trim().split("\n").length, 1, drain.stderr);
  } finally {
    await undo();
  }
  assert.equal((await filesIn(join(dir, "pending"))).length, 3);
  assert.equal((await filesIn(join(dir, "failed"))).length, 1);
});

Deno.test("stats and list where no spool exists answer so and create nothing", async () => {
  const root = await tempDir("arrakis-nospool-");
  const dir = join(root, "nothing", "queue");
  for (const command of ["stats", "list"]) {
    const run = await runArrakis(["queue", command], { env: env(dir) });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, `no spool here (${dir})\n`);
    assert.equal(run.stderr, "");
  }
  const json = await runArrakis(["queue", "stats", "--json"], { env: env(dir) });
  assert.deepEqual(JSON.parse(json.stdout), { dir, exists: false });
  assert.deepEqual(await filesIn(root), []);
});

/** Seconds-precision ISO time of a spooled item's next attempt, as the drain summary prints it. */
function nextTry(item: { record: { delivery: { nextAttemptAt: string | null } } }): string {
  return new Date(item.record.delivery.nextAttemptAt!).toISOString().replace(/\.\d{3}Z$/, "Z");
}

Deno.test("a failed drain names the URL and the cause, and says until when the item waits", async () => {
  const dir = await tempQueueDir();
  const spool = await openSpool(dir);
  const item = await spool.put(envelope());
  const url = deadUrl();
  const run = await runArrakis(["queue", "drain"], { env: env(dir, { ARRAKIS_URL: url }) });
  assert.equal(run.code, 1);
  const [waiting] = await spool.list("pending");
  assert.equal(waiting.id, item.id);
  assert.equal(
    run.stdout.replace(/, in \d+s,/, ", in Ns,"),
    `delivered 0, 1 waiting to retry, in Ns, stopped: server unavailable (connection refused ` +
      `to ${url}); 1 still waiting in backoff until ${nextTry(waiting)}; ` +
      `'arrakis queue drain --now' sends it at once\n`,
  );
  assert.equal(waiting.record.delivery.lastError, `connection refused to ${url}`);
});

storeTest(
  "a drain that leaves items in backoff says how many, until when, and mentions --now",
  async ({ db }) => {
    const server = await startInProcessServer(db);
    try {
      const dir = await tempQueueDir();
      const spool = await openSpool(dir);
      await spool.put(envelope());
      await spool.put(envelope());
      for (let i = 0; i < 2; i++) {
        await spool.recordFailure(await spool.put(envelope()), {
          kind: "retryable",
          httpStatus: 503,
          error: "HTTP 503: busy",
          retryAfterMs: 600_000 + i * 60_000,
        });
      }
      const live = env(dir, { ARRAKIS_URL: server.url, ARRAKIS_API_KEY: server.apiKey });
      const run = await runArrakis(["queue", "drain"], { env: live });
      assert.equal(run.code, 0, run.stderr);
      const [next, last] = (await spool.list("pending")).map(nextTry).sort();
      assert.equal(
        run.stdout.replace(/, in \d+s;/, ", in Ns;"),
        `delivered 2, in Ns; 2 still waiting in backoff, the next due at ${next}, the last at ` +
          `${last}; 'arrakis queue drain --now' sends them at once\n`,
      );
      const json = await runArrakis(["queue", "drain", "--json"], { env: live });
      assert.deepEqual(JSON.parse(json.stdout).waiting, { count: 2, next, last });
    } finally {
      await server.stop();
    }
  },
  { kinds: ["pglite"] },
);

Deno.test("drain with no key for the server says so in one line and sends nothing", async () => {
  const dir = await tempQueueDir();
  const spool = await openSpool(dir);
  await spool.put(envelope());
  const url = deadUrl();
  const run = await runArrakis(["queue", "drain"], {
    env: { ...env(dir, { ARRAKIS_URL: url }), ARRAKIS_API_KEY: "" },
  });
  assert.equal(run.code, 1);
  assert.equal(run.stderr, `arrakis: no key for ${url}\n`);
  const [item] = await spool.list("pending");
  assert.equal(item.record.delivery.attempts, 0);
});
