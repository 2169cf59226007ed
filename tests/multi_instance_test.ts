// Three `arrakis serve` processes on one PostgreSQL behind a round-robin proxy, one of them
// SIGKILLed mid-traffic and restarted: exactly-once storage, live events across instances, an
// alert that fires once and resolves once, and a sweep that leaves live peers' rows alone.
import assert from "node:assert/strict";
import postgres from "postgres";
import { storeTest } from "./helpers/stores.ts";
import {
  fixturePayload,
  makeEnvelope,
  post,
  startTestServer,
  type TestServer,
} from "./helpers/server.ts";
import { startRoundRobinProxy } from "./helpers/round_robin_proxy.ts";

const KEY = "ark_multi_instance_admin_key";
const RULE = "test error rate";

interface Receiver {
  url: string;
  texts: string[];
  close(): Promise<void>;
}

function startReceiver(): Receiver {
  const texts: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    texts.push((await req.json()).text);
    return new Response("ok");
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/hook`,
    texts,
    close: () => server.shutdown(),
  };
}

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 15_000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function instanceOf(server: { url: string }): Promise<string> {
  const health = await (await fetch(`${server.url}/health`)).json();
  return health.instance;
}

/** Tails GET /api/stream (reconnecting when the server ends it), collecting "audit" events. */
function tailStream(url: string): { heard: { count: number; id: number }[]; stop(): void } {
  const heard: { count: number; id: number }[] = [];
  const abort = new AbortController();
  (async () => {
    while (!abort.signal.aborted) {
      try {
        const response = await fetch(`${url}/api/stream`, {
          headers: { authorization: `Bearer ${KEY}` },
          signal: abort.signal,
        });
        assert.equal(response.status, 200);
        let buffer = "";
        for await (const chunk of response.body!.pipeThrough(new TextDecoderStream())) {
          buffer += chunk;
          let end;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            const message = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            if (!message.includes("event: audit")) continue;
            const data = JSON.parse(
              message.split("\n").find((l) => l.startsWith("data:"))!.slice(5),
            );
            heard.push({ count: data.count, id: data.last.id });
          }
        }
      } catch { /* aborted, or the instance went away: reconnect */ }
    }
  })();
  return { heard, stop: () => abort.abort() };
}

/** Posts envelopes as batches until every item is answered 200 (SUCCESS or DUPLICATE). */
async function deliver(proxyUrl: string, envelopes: Record<string, unknown>[]): Promise<void> {
  let pending = envelopes;
  for (let attempt = 0; pending.length > 0; attempt++) {
    assert.ok(attempt < 40, `batch still undelivered after ${attempt} attempts`);
    const answer = await post({ url: proxyUrl, apiKey: KEY }, "/api/claude-hooks/batch", pending)
      .catch(() => undefined);
    const results = (answer?.body.results ?? []) as { httpStatus: number }[];
    if (results.length === pending.length) {
      pending = pending.filter((_, i) => results[i].httpStatus !== 200);
    }
    if (pending.length > 0) await new Promise((resolve) => setTimeout(resolve, 150));
  }
}

async function traffic(proxyUrl: string, envelopes: Record<string, unknown>[]): Promise<void> {
  const batches: Record<string, unknown>[][] = [];
  for (let i = 0; i < envelopes.length; i += 10) batches.push(envelopes.slice(i, i + 10));
  const workers = Array.from({ length: 3 }, async () => {
    for (let batch = batches.shift(); batch; batch = batches.shift()) {
      await deliver(proxyUrl, batch);
    }
  });
  await Promise.all(workers);
}

function prompts(n: number, phase: string): Record<string, unknown>[] {
  return Array.from({ length: n }, (_, i) =>
    makeEnvelope({
      ...fixturePayload("UserPromptSubmit"),
      session_id: `multi-${phase}-${i % 7}`,
      prompt_id: `${phase}-${i}`,
      prompt: `prompt ${phase} ${i}`,
    }));
}

storeTest(
  "multi-instance: 3 servers, one SIGKILLed and restarted: exactly once, live events, one alert",
  async ({ db }) => {
    const receiver = startReceiver();
    const env = {
      ARRAKIS_API_KEY: KEY,
      ARRAKIS_HEARTBEAT: "400ms",
      ARRAKIS_ALERT_INTERVAL: "250ms",
      ARRAKIS_ALERT_WEBHOOK_URL: receiver.url,
      ARRAKIS_ALERT_RULES: JSON.stringify([
        { kind: "error_rate", threshold: 0.5, window: "2s", minEvents: 4, name: RULE },
      ]),
    };
    const servers: TestServer[] = await Promise.all([0, 1, 2].map(() => startTestServer(db, env)));
    const proxy = startRoundRobinProxy(() => servers.map((s) => s.url));
    const sql = postgres(db.databaseUrl!, { max: 2, onnotice: () => {} });
    const stream = tailStream(servers[2].url);
    try {
      const ids = await Promise.all(servers.map(instanceOf));
      assert.equal(new Set(ids).size, 3, "each instance has its own id");

      // An incident: most requests fail. Every instance evaluates, one leader posts.
      for (let i = 0; i < 6; i++) {
        assert.equal(
          (await post({ url: proxy.url, apiKey: KEY }, "/api/claude-hooks", {})).status,
          400,
        );
      }
      await until("the alert to fire", () => receiver.texts.some((t) => t.includes("FIRING")));

      const truth = [...prompts(60, "a"), ...prompts(60, "b"), ...prompts(60, "c")];
      await traffic(proxy.url, truth.slice(0, 60));

      // SIGKILL mid-traffic; rows it (or a live peer) left unfinished are planted beside.
      const killed = traffic(proxy.url, truth.slice(60, 120));
      await new Promise((resolve) => setTimeout(resolve, 150));
      await servers[0].kill();
      const plant = async (instance: string) => {
        const [row] = await sql<{ id: string }[]>`
          INSERT INTO webhook_events (request_id, status, stage, instance_id, received_at)
          VALUES (${crypto.randomUUID()}, 'PROCESSING', 'process', ${instance},
                  '2000-01-01T00:00:00Z')
          RETURNING id`;
        return row.id;
      };
      const peersRow = await plant(ids[1]);
      const deadRow = await plant(ids[0]);
      await killed;
      servers[0] = await startTestServer(db, env);
      const restartedId = await instanceOf(servers[0]);
      assert.notEqual(restartedId, ids[0]);
      await traffic(proxy.url, truth.slice(120));
      assert.ok((proxy.counts.get(servers[0].url) ?? 0) > 0, "the restarted instance took traffic");

      // Exactly once: every envelope has one SUCCESS row and its one message.
      const requestIds = truth.map((e) => e.requestId as string);
      const [stored] = await sql<{ successes: number; distinct: number }[]>`
        SELECT count(*)::int AS successes, count(DISTINCT request_id)::int AS distinct
        FROM webhook_events WHERE status = 'SUCCESS' AND request_id = ANY(${requestIds})`;
      assert.deepEqual(stored, { successes: truth.length, distinct: truth.length });
      const [{ messages }] = await sql<{ messages: number }[]>`
        SELECT count(*)::int AS messages FROM messages WHERE session_id LIKE 'multi-%'`;
      assert.equal(messages, truth.length);

      // The sweep: the dead instance's row is closed, the live peer's left alone.
      await until("the dead instance's row to be swept", async () => {
        const [row] = await sql`SELECT status FROM webhook_events WHERE id = ${deadRow}`;
        return row.status === "ERROR";
      });
      const [peer] = await sql`SELECT status FROM webhook_events WHERE id = ${peersRow}`;
      assert.equal(peer.status, "PROCESSING", "a live peer's in-flight row is never swept");

      // Live events: the stream on instance 2 heard rows written by the others.
      const written = await sql<{ id: string; instance_id: string }[]>`
        SELECT id, instance_id FROM webhook_events WHERE instance_id IS NOT NULL`;
      const byId = new Map(written.map((row) => [Number(row.id), row.instance_id]));
      const heardFrom = new Set(stream.heard.map((h) => byId.get(h.id)));
      assert.ok(heardFrom.has(ids[1]), "heard instance 1's ingest on instance 2");
      const ownRows = written.filter((row) => row.instance_id === ids[2]).length;
      const heardTotal = stream.heard.reduce((sum, h) => sum + h.count, 0);
      assert.ok(heardTotal > ownRows, `heard ${heardTotal} events, ${ownRows} its own`);

      // The alert resolves once the failures age out, and neither message is ever repeated.
      await until("the alert to resolve", () => receiver.texts.some((t) => t.includes("RESOLVED")));
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      assert.deepEqual(
        receiver.texts.map((t) => /FIRING|RESOLVED/.exec(t)?.[0]),
        ["FIRING", "RESOLVED"],
      );
      const incidents = await sql`
        SELECT resolved_at, notified_at, resolve_notified_at FROM alert_incidents
        WHERE rule = ${RULE}`;
      assert.equal(incidents.length, 1);
      assert.ok(
        incidents[0].resolved_at && incidents[0].notified_at && incidents[0].resolve_notified_at,
      );
    } finally {
      stream.stop();
      await Promise.all(servers.map((s) => s.stop()));
      await proxy.close();
      await receiver.close();
      await sql.end();
    }
  },
  { kinds: ["postgres"] },
);
