// The dashboard over HTTP, in process, on both stores: auth and redirects, security headers,
// escaping of captured text, the live stream, and reprocessing through the real ingest.
import assert from "node:assert/strict";
import { openTestStore, storeTest } from "./helpers/stores.ts";
import { loadConfig } from "../src/config.ts";
import { createMetrics } from "../src/server/metrics.ts";
import { deriveSessionSecret } from "../src/server/auth.ts";
import type { ServerDeps } from "../src/server/deps.ts";
import { testMeta } from "./helpers/ingest.ts";
import { ingestEnvelope } from "../src/server/ingest.ts";
import { dashboardFor } from "../src/compose.ts";
import { safeNext } from "../src/dashboard/app.ts";
import { createAlertEvaluator } from "../src/alerts/evaluator.ts";
import { parseAlertRules } from "../src/alerts/rules.ts";
import { createEvents } from "../src/events.ts";
import { createKeyRing } from "../src/server/keys.ts";
import { envelope } from "./helpers/dashboard.ts";
import type { Store } from "../src/store/open.ts";

const KEY = "ark_pages_test_key";
const BASE = "http://dash.test";

function depsFor(store: Store, home: string): ServerDeps {
  return {
    sql: store.sql,
    store,
    config: loadConfig({ ARRAKIS_API_KEY: KEY, ARRAKIS_HOME: home }),
    metrics: createMetrics(),
    events: createEvents(),
    sessionSecret: deriveSessionSecret([KEY]),
    keys: createKeyRing({ sql: store.sql, envKeys: [KEY] }),
    instanceId: "pages-test",
  };
}

/** Signs in like the login form does and returns the session cookie. */
async function signIn(app: ReturnType<typeof dashboardFor>): Promise<string> {
  const res = await app.request(`${BASE}/login`, {
    method: "POST",
    body: new URLSearchParams({ key: KEY, next: "/events" }),
    headers: { Origin: BASE },
  });
  assert.equal(res.status, 303);
  assert.equal(res.headers.get("location"), "/events");
  const cookie = res.headers.get("set-cookie") ?? "";
  assert.match(cookie, /^arrakis_session=[^;]+;/);
  assert.match(cookie, /HttpOnly/);
  assert.match(cookie, /SameSite=Strict/);
  return cookie.split(";")[0];
}

storeTest("dashboard: every page needs a session; login, headers, escaping", async ({ db }) => {
  const store = await openTestStore(db);
  try {
    const deps = depsFor(store, db.home);
    const app = dashboardFor(deps, undefined);
    const pages = ["/", "/events", "/failed", "/sessions", "/alerts", "/events/1", "/sessions/x"];
    for (const path of pages) {
      const res = await app.request(`${BASE}${path}?a=1`);
      assert.equal(res.status, 302, path);
      assert.equal(res.headers.get("location"), `/login?next=${encodeURIComponent(`${path}?a=1`)}`);
      assert.match(res.headers.get("content-security-policy") ?? "", /default-src 'none'/);
    }
    for (const path of ["/fragments/overview", "/fragments/events", "/stream"]) {
      assert.equal((await app.request(`${BASE}${path}`)).status, 401, path);
    }
    const refused = await app.request(`${BASE}/failed/reprocess`, { method: "POST" });
    assert.equal(refused.status, 302);
    const wrong = await app.request(`${BASE}/login`, {
      method: "POST",
      body: new URLSearchParams({ key: "nope" }),
    });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.headers.get("set-cookie"), null);
    const crossSite = await app.request(`${BASE}/login`, {
      method: "POST",
      body: new URLSearchParams({ key: KEY }),
      headers: { Origin: "https://evil.example" },
    });
    assert.equal(crossSite.status, 403);

    const cookie = await signIn(app);
    const prompt = `<script>alert("x")</script><img src=x onerror=alert(1)> & "quotes"`;
    const session = "s-escape-1";
    for (
      const item of [
        envelope("SessionStart", session, { source: "startup" }),
        envelope("UserPromptSubmit", session, { prompt }),
        envelope("PreToolUse", session, {
          tool_name: "Bash",
          tool_use_id: "toolu_x",
          tool_input: { command: "echo '</pre><script>alert(2)</script>'" },
        }),
        envelope("Stop", session, { last_assistant_message: "Done **now** <b>bold?</b>" }),
      ]
    ) {
      const result = await ingestEnvelope(deps, item, testMeta());
      assert.equal(result.answer.status, "SUCCESS", JSON.stringify(result.answer));
    }
    const [{ id }] = await store.sql<{ id: string }[]>`
      SELECT id FROM webhook_events WHERE event_type = 'UserPromptSubmit'`;
    for (
      const path of ["/", `/sessions/${session}`, "/search?q=alert", `/events/${id}`, "/events"]
    ) {
      const res = await app.request(`${BASE}${path}`, { headers: { Cookie: cookie } });
      assert.equal(res.status, 200, path);
      const csp = res.headers.get("content-security-policy") ?? "";
      assert.match(csp, /script-src 'self'/);
      assert.doesNotMatch(csp, /unsafe-inline/);
      assert.equal(res.headers.get("x-frame-options"), "DENY");
      const body = await res.text();
      // The only script tag is our own external file; captured text never becomes markup.
      assert.deepEqual(body.match(/<script[^>]*>/g), ['<script src="/assets/app.js" defer>'], path);
      assert.doesNotMatch(body, /<img/, path);
      assert.doesNotMatch(body, /style="/, path);
    }
    const conversation = await (await app.request(`${BASE}/sessions/${session}`, {
      headers: { Cookie: cookie },
    })).text();
    assert.ok(conversation.includes("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"));
    assert.ok(conversation.includes("Done <strong>now</strong> &lt;b&gt;bold?&lt;/b&gt;"));
    assert.ok(conversation.includes("&lt;/pre&gt;&lt;script&gt;alert(2)"));
    // Search snippets mark the matched word and escape everything captured around it.
    const search = await (await app.request(`${BASE}/search?q=${encodeURIComponent("quotes")}`, {
      headers: { Cookie: cookie },
    })).text();
    assert.match(search, /s-escape/);
    assert.ok(search.includes("onerror=alert(1)&gt; &amp; &quot;<mark>quotes</mark>"), search);
    const none = await (await app.request(`${BASE}/search?q=absent%25`, {
      headers: { Cookie: cookie },
    })).text();
    assert.match(none, /Nothing matches that/);

    // A Bearer key works too (scripts, curl); a signed-out cookie does not.
    const bearer = await app.request(`${BASE}/alerts`, {
      headers: { Authorization: `Bearer ${KEY}` },
    });
    assert.equal(bearer.status, 200);
    const out = await app.request(`${BASE}/logout`, {
      method: "POST",
      headers: { Cookie: cookie },
    });
    assert.equal(out.status, 303);
    assert.match(out.headers.get("set-cookie") ?? "", /Max-Age=0/);
    assert.equal(safeNext("//evil.example/x"), "/");
    assert.equal(safeNext("https://evil.example"), "/");
    assert.equal(safeNext("/\\evil.example"), "/");
    assert.equal(safeNext("/events?q=1"), "/events?q=1");
  } finally {
    await store.close();
  }
});

storeTest("dashboard: filters, overview figures, reprocess and its refusal", async ({ db }) => {
  const store = await openTestStore(db);
  try {
    const deps = depsFor(store, db.home);
    const app = dashboardFor(deps, undefined);
    const cookie = await signIn(app);
    const get = async (path: string) => {
      const res = await app.request(`${BASE}${path}`, { headers: { Cookie: cookie } });
      assert.equal(res.status, 200, path);
      return await res.text();
    };
    const ok = envelope("SessionStart", "s-1", { source: "startup" });
    assert.equal((await ingestEnvelope(deps, ok, testMeta())).answer.status, "SUCCESS");
    assert.equal((await ingestEnvelope(deps, ok, testMeta())).answer.status, "DUPLICATE");
    // A schema failure: stored as INVALID with its payload.
    const bad = envelope("UserPromptSubmit", "s-1", {});
    assert.equal((await ingestEnvelope(deps, bad, testMeta())).answer.status, "INVALID");

    const overview = await get("/fragments/overview?window=24h");
    assert.match(overview, /Success rate<\/div><div class="value">66\.7%/);
    assert.match(overview, /Requests<\/div><div class="value">3</);

    // The spool counts hooks send with their events show on the overview, newest report wins.
    const reported = (pending: number, failed: number, occurredAt: string) => ({
      ...envelope("Notification", "s-2", { message: "hi" }),
      occurredAt,
      source: { host: "devbox", projectDir: "/home/dev/shop", spool: { pending, failed } },
    });
    for (
      const report of [
        reported(7, 2, "2026-01-01T00:00:02Z"),
        reported(9, 9, "2026-01-01T00:00:01Z"),
      ]
    ) {
      assert.equal((await ingestEnvelope(deps, report, testMeta())).answer.status, "SUCCESS");
    }
    const withSpools = await get("/fragments/overview?window=24h");
    assert.match(
      withSpools,
      /\/home\/dev\/shop<\/td><td>devbox<\/td><td class="num"><span class="fail">7<\/span><\/td><td class="num"><span class="fail">2</,
    );

    const invalid = await get("/fragments/events?status=INVALID");
    assert.equal(invalid.match(/<tr data-id=/g)?.length, 1);
    assert.ok(invalid.includes(bad.requestId));
    const byId = await get(`/fragments/events?q=${ok.requestId.slice(0, 18)}`);
    assert.equal(byId.match(/<tr data-id=/g)?.length, 2);
    const future = await get("/fragments/events?from=2999-01-01T00:00");
    assert.match(future, /No matching events/);

    const failed = await get("/failed");
    assert.ok(failed.includes(bad.requestId));
    const [row] = await store.sql<{ id: string }[]>`
      SELECT id FROM webhook_events WHERE request_id = ${bad.requestId}`;
    const reprocess = (id: string) =>
      app.request(`${BASE}/failed/reprocess`, {
        method: "POST",
        body: new URLSearchParams({ one: id }),
        headers: { Cookie: cookie, Origin: BASE },
      });
    // Still invalid: reprocessing runs the real pipeline and reports its answer.
    const again = await (await reprocess(row.id)).text();
    assert.match(again, /Reprocessed 1: 0 stored, 1 not/);
    assert.match(again, /INVALID/);
    // Fix the stored payload the way an operator might (SQL), then reprocess: SUCCESS.
    await store.sql`
      UPDATE webhook_events SET payload = jsonb_set(payload, '{payload,prompt}', '"fixed"')
      WHERE id = ${row.id}`;
    const fixed = await (await reprocess(row.id)).text();
    assert.match(fixed, /Reprocessed 1: 1 stored/);
    const refused = await (await reprocess(row.id)).text();
    assert.match(refused, /REFUSED/);
    assert.match(refused, /already succeeded/);
    const [{ n }] = await store.sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM webhook_events
      WHERE request_id = ${bad.requestId} AND status = 'SUCCESS'`;
    assert.equal(n, 1);
    const detail = await get(`/events/${row.id}`);
    assert.match(detail, /succeeded in a later delivery/);
    assert.match(detail, /Same trace or request id \((\d+)\)/);
    assert.equal(
      (await app.request(`${BASE}/failed/reprocess`, {
        method: "POST",
        body: new URLSearchParams({ one: row.id }),
        headers: { Cookie: cookie, Origin: "https://evil.example" },
      })).status,
      403,
    );
  } finally {
    await store.close();
  }
});

storeTest("dashboard: the stream tells a live page about new audit rows", async ({ db }) => {
  const store = await openTestStore(db);
  try {
    const deps = depsFor(store, db.home);
    const app = dashboardFor(deps, undefined);
    const cookie = await signIn(app);
    const res = await app.request(`${BASE}/stream`, { headers: { Cookie: cookie } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /text\/event-stream/);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    // A guard, not a timing assertion: a broken stream fails the test instead of hanging it.
    const guard = setTimeout(() => reader.cancel("no audit event within 20 s"), 20_000);
    const until = async (pattern: RegExp) => {
      while (!pattern.test(text)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended before ${pattern}: ${text}`);
        text += value;
      }
    };
    await until(/event: hello/);
    const item = envelope("Notification", "s-2", { message: "hi" });
    await ingestEnvelope(deps, item, testMeta());
    await until(/event: audit\ndata: .*"status":"SUCCESS"/);
    assert.match(text, /"event":"Notification"/);
    deps.events.emit("shutdown", {});
    while (!(await reader.read()).done) { /* drains until the server side closes */ }
    clearTimeout(guard);
  } finally {
    await store.close();
  }
});

storeTest(
  "dashboard: the alerts page shows rule states, never the webhook path",
  async ({ db }) => {
    const store = await openTestStore(db);
    try {
      const deps = depsFor(store, db.home);
      const app = dashboardFor(deps, undefined);
      const cookie = await signIn(app);
      const before = await (await app.request(`${BASE}/alerts`, { headers: { Cookie: cookie } }))
        .text();
      assert.match(before, /not running/);
      const evaluator = createAlertEvaluator({
        sql: store.sql,
        rules: parseAlertRules('[{"kind":"no_events","minutes":5,"name":"quiet hooks"}]'),
        webhookUrl: "https://hooks.slack.example/services/T0/B0/secret-path",
        post: () => Promise.resolve(),
      });
      await evaluator.tick();
      const page = await (await dashboardFor(deps, evaluator).request(`${BASE}/alerts`, {
        headers: { Cookie: cookie },
      }))
        .text();
      assert.match(page, /quiet hooks/);
      assert.match(page, /hooks\.slack\.example/);
      assert.doesNotMatch(page, /secret-path/);
      assert.match(page, /badge s-ok/);
    } finally {
      await store.close();
    }
  },
);
