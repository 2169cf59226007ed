// Alert rules end to end: real store, real evaluator, a real webhook receiver on loopback; and
// several evaluators on one PostgreSQL, where only the advisory-lock leader announces.
import assert from "node:assert/strict";
import { openTestStore, storeTest } from "./helpers/stores.ts";
import postgres from "postgres";
import { createAlertEvaluator } from "../src/alerts/evaluator.ts";
import { advisoryLeadership } from "../src/alerts/leader.ts";
import { parseAlertRules, ruleName } from "../src/alerts/rules.ts";
import { ConfigError, loadConfig } from "../src/config.ts";
import type { Sql } from "../src/store/open.ts";

interface Receiver {
  url: string;
  texts: string[];
  /** Answers with this status next (then back to 200). */
  failNext(status: number): void;
  close(): Promise<void>;
}

function startReceiver(): Receiver {
  const texts: string[] = [];
  let failWith: number | undefined;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const body = await req.json();
    if (failWith !== undefined) {
      const status = failWith;
      failWith = undefined;
      return new Response("no", { status });
    }
    assert.equal(req.headers.get("content-type"), "application/json");
    assert.deepEqual(Object.keys(body), ["text"]);
    texts.push(body.text);
    return new Response("ok");
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/hooks/T000/B000/xyz`,
    texts,
    failNext: (status) => (failWith = status),
    close: () => server.shutdown(),
  };
}

const T0 = Date.parse("2030-01-01T12:00:00Z");

async function addEvents(
  sql: Sql,
  at: number,
  rows: { status: string; ms?: number }[],
): Promise<void> {
  for (const row of rows) {
    await sql`
      INSERT INTO webhook_events (request_id, status, stage, received_at, processing_ms)
      VALUES (${crypto.randomUUID()}, ${row.status}::webhook_status, 'respond', ${new Date(at)},
              ${row.ms ?? 5})`;
  }
}

storeTest(
  "alerts: error rate fires once and resolves once on a loopback webhook",
  async ({ db }) => {
    const store = await openTestStore(db);
    const receiver = startReceiver();
    let now = T0;
    try {
      const evaluator = createAlertEvaluator({
        sql: store.sql,
        rules: parseAlertRules(
          '[{"kind":"error_rate","threshold":0.2,"window":"5m","minEvents":4}]',
        ),
        webhookUrl: receiver.url,
        now: () => now,
        label: "arrakis test",
      });
      await addEvents(store.sql, T0 - 60_000, [
        { status: "SUCCESS" },
        { status: "SUCCESS" },
        { status: "ERROR" },
        { status: "INVALID" },
        { status: "UNAUTHORIZED" }, // not counted: a stranger's bad key is not our error rate
      ]);
      assert.equal((await evaluator.tick()).length, 1);
      assert.equal(receiver.texts.length, 1);
      assert.match(receiver.texts[0], /FIRING: error rate > 20% over 5m: 50\.0% failed \(2 of 4\)/);
      // Still failing: no second message.
      now += 30_000;
      assert.deepEqual(await evaluator.tick(), []);
      assert.equal(evaluator.states()[0].firing, true);
      // Healthy traffic pushes the rate under the threshold.
      await addEvents(store.sql, now, Array(10).fill({ status: "SUCCESS" }));
      now += 1_000;
      const resolved = await evaluator.tick();
      assert.deepEqual(resolved.map((n) => n.kind), ["resolved"]);
      now += 30_000;
      assert.deepEqual(await evaluator.tick(), []);
      assert.equal(receiver.texts.length, 2);
      assert.match(
        receiver.texts[1],
        /RESOLVED: error rate > 20% over 5m: 14\.3% failed \(2 of 14\)/,
      );
    } finally {
      await receiver.close();
      await store.close();
    }
  },
);

storeTest("alerts: a failed post is retried next tick, never repeated after", async ({ db }) => {
  const store = await openTestStore(db);
  const receiver = startReceiver();
  let now = T0;
  try {
    const evaluator = createAlertEvaluator({
      sql: store.sql,
      rules: parseAlertRules('[{"kind":"p95","thresholdMs":100,"window":"1m","minEvents":2}]'),
      webhookUrl: receiver.url,
      now: () => now,
    });
    await addEvents(store.sql, T0 - 10_000, [{ status: "SUCCESS", ms: 400 }, {
      status: "SUCCESS",
      ms: 500,
    }]);
    receiver.failNext(503);
    assert.deepEqual(await evaluator.tick(), []);
    assert.match(evaluator.states()[0].lastError ?? "", /503/);
    assert.equal(receiver.texts.length, 0);
    now += 5_000;
    assert.equal((await evaluator.tick()).length, 1);
    assert.match(receiver.texts[0], /FIRING: p95 processing > 100 ms over 1m: p95 \d+ ms/);
    now += 5_000;
    assert.deepEqual(await evaluator.tick(), []);
    // The slow requests age out of the window: too few requests to judge, so it resolves.
    now += 120_000;
    assert.equal((await evaluator.tick())[0].kind, "resolved");
    assert.equal(receiver.texts.length, 2);
  } finally {
    await receiver.close();
    await store.close();
  }
});

storeTest(
  "alerts: silence while a session is open fires, the next event resolves",
  async ({ db }) => {
    const store = await openTestStore(db);
    const receiver = startReceiver();
    let now = T0;
    try {
      const evaluator = createAlertEvaluator({
        sql: store.sql,
        rules: parseAlertRules('[{"kind":"no_events","minutes":10,"name":"hooks silent"}]'),
        webhookUrl: receiver.url,
        now: () => now,
      });
      await addEvents(store.sql, T0 - 20 * 60_000, [{ status: "SUCCESS" }]);
      // Silent, but nobody is working: no alert.
      assert.deepEqual(await evaluator.tick(), []);
      await store.sql`
      INSERT INTO conversations (session_id, first_seen_at, last_event_at)
      VALUES ('s-open', ${new Date(T0 - 30 * 60_000)}, ${new Date(T0 - 20 * 60_000)})`;
      now += 1_000;
      const fired = await evaluator.tick();
      assert.equal(fired.length, 1);
      assert.match(fired[0].text, /FIRING: hooks silent: last event 20 min ago, 1 open session/);
      now += 60_000;
      assert.deepEqual(await evaluator.tick(), []);
      await addEvents(store.sql, now, [{ status: "SUCCESS" }]);
      now += 1_000;
      assert.equal((await evaluator.tick())[0].kind, "resolved");
      assert.deepEqual(await evaluator.tick(), []);
      assert.equal(receiver.texts.length, 2);
    } finally {
      await receiver.close();
      await store.close();
    }
  },
);

storeTest(
  "alerts: UNAUTHORIZED rows neither end a silence nor move the p95",
  async ({ db }) => {
    const store = await openTestStore(db);
    const receiver = startReceiver();
    const now = T0;
    try {
      const evaluator = (rules: string) =>
        createAlertEvaluator({
          sql: store.sql,
          rules: parseAlertRules(rules),
          webhookUrl: receiver.url,
          now: () => now,
        });
      await addEvents(store.sql, T0 - 20 * 60_000, [{ status: "SUCCESS" }]);
      await store.sql`
        INSERT INTO conversations (session_id, first_seen_at, last_event_at)
        VALUES ('s-open', ${new Date(T0 - 30 * 60_000)}, ${new Date(T0 - 20 * 60_000)})`;
      // A stranger's rejected keys just now: no sign of life from our own hooks.
      await addEvents(store.sql, T0 - 60_000, Array(20).fill({ status: "UNAUTHORIZED", ms: 1 }));
      const silent = await evaluator('[{"kind":"no_events","minutes":10}]').tick();
      assert.equal(silent.length, 1);
      assert.match(silent[0].text, /last event 20 min ago/);
      // Nor do their fast 401s dilute the latency of real requests.
      await addEvents(store.sql, T0 - 60_000, Array(4).fill({ status: "SUCCESS", ms: 900 }));
      const slow = await evaluator('[{"kind":"p95","thresholdMs":500,"window":"5m","minEvents":4}]')
        .tick();
      assert.equal(slow.length, 1);
      assert.match(slow[0].text, /p95 900 ms over 4 requests/);
    } finally {
      await receiver.close();
      await store.close();
    }
  },
);

storeTest("alerts: start() evaluates on an interval until stop()", async ({ db }) => {
  const store = await openTestStore(db);
  const receiver = startReceiver();
  try {
    await addEvents(store.sql, Date.now() - 1_000, Array(5).fill({ status: "ERROR" }));
    const evaluator = createAlertEvaluator({
      sql: store.sql,
      rules: parseAlertRules('[{"kind":"error_rate","threshold":0.5}]'),
      webhookUrl: receiver.url,
    });
    evaluator.start(10);
    while (receiver.texts.length === 0) await new Promise((r) => setTimeout(r, 10));
    await evaluator.stop();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(receiver.texts.length, 1);
    assert.match(receiver.texts[0], /FIRING/);
  } finally {
    await receiver.close();
    await store.close();
  }
});

storeTest(
  "alerts: one leader among instances; handover on release and on a dropped connection",
  async ({ db }) => {
    const receiver = startReceiver();
    const connect = () => postgres(db.databaseUrl!, { max: 2, onnotice: () => {} });
    const pools = [connect(), connect(), connect()];
    const leaders = pools.map((pool) => advisoryLeadership(pool));
    let now = T0;
    const evaluators = pools.map((pool, i) =>
      createAlertEvaluator({
        sql: pool,
        rules: parseAlertRules(
          '[{"kind":"error_rate","threshold":0.5,"window":"5m","minEvents":2}]',
        ),
        webhookUrl: receiver.url,
        now: () => now,
        isLeader: () => leaders[i].check(),
      })
    );
    try {
      await addEvents(pools[0], T0 - 1_000, Array(4).fill({ status: "ERROR" }));
      // Every instance ticks; the first to check takes the lock and alone announces.
      const first = await Promise.all(evaluators.map((e) => e.tick()));
      assert.equal(first.flat().length, 1);
      assert.equal(receiver.texts.length, 1);
      const leader = leaders.findIndex((_, i) => first[i].length === 1);
      for (const evaluator of evaluators) {
        await evaluator.tick();
        assert.equal(evaluator.states()[0].firing, true, "every instance shows the incident");
      }
      assert.equal(receiver.texts.length, 1, "followers never announce");

      // A graceful shutdown hands over: another instance leads, and the incident stays one.
      await leaders[leader].release();
      assert.equal(await leaders[leader].check(), false);
      const rest = [0, 1, 2].filter((i) => i !== leader);
      const took = await Promise.all(rest.map((i) => leaders[i].check()));
      assert.equal(took.filter(Boolean).length, 1, "exactly one instance takes over");
      const next = rest[took.indexOf(true)];
      const survivor = rest[took.indexOf(false)];
      now += 60_000;
      await addEvents(pools[0], now - 1_000, Array(10).fill({ status: "SUCCESS" }));
      const resolved = (await Promise.all(rest.map((i) => evaluators[i].tick()))).flat();
      assert.deepEqual(resolved.map((n) => n.kind), ["resolved"]);
      assert.equal(receiver.texts.length, 2);

      // A leader whose connection drops (a killed process) frees the lock for the last one.
      await pools[next].end({ timeout: 0 });
      let leads = false;
      for (let i = 0; i < 50 && !leads; i++) {
        leads = await leaders[survivor].check();
        if (!leads) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.ok(leads, "the survivor leads once the dead leader's session is gone");
      assert.deepEqual(await evaluators[survivor].tick(), []);
      const [{ n }] = await pools[survivor]<{ n: number }[]>`
        SELECT count(*)::int AS n FROM alert_incidents`;
      assert.equal(n, 1);
    } finally {
      for (const leadership of leaders) await leadership.release().catch(() => {});
      await Promise.all(pools.map((pool) => pool.end({ timeout: 1 }).catch(() => {})));
      await receiver.close();
    }
  },
  { kinds: ["postgres"] },
);

Deno.test("alerts: rules parse from the environment with readable errors", () => {
  const config = loadConfig({
    HOME: "/home/ada",
    ARRAKIS_ALERT_WEBHOOK_URL: "https://hooks.slack.com/services/T/B/x",
    ARRAKIS_ALERT_RULES: '[{"kind":"no_events","minutes":15}]',
    ARRAKIS_ALERT_INTERVAL: "10s",
  });
  assert.equal(config.alertWebhookUrl, "https://hooks.slack.com/services/T/B/x");
  assert.equal(config.alertIntervalMs, 10_000);
  const rules = parseAlertRules(config.alertRulesJson);
  assert.deepEqual(rules, [{ kind: "no_events", minutes: 15, openWithin: 3_600_000 }]);
  assert.equal(ruleName(rules[0]), "no events for 15 min while sessions are open");
  assert.equal(parseAlertRules(undefined).length, 3);
  assert.throws(() => parseAlertRules("[{"), ConfigError);
  assert.throws(
    () => parseAlertRules('[{"kind":"error_rate","threshold":5}]'),
    /ARRAKIS_ALERT_RULES: rule 1: threshold must be at most 1$/,
  );
  assert.throws(
    () => parseAlertRules('[{"kind":"p95","thresholdMs":1,"window":"soon"}]'),
    /duration/,
  );
  assert.throws(() => loadConfig({ ARRAKIS_ALERT_WEBHOOK_URL: "ftp://x" }), ConfigError);
});
