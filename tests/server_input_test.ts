// Bad input, limits and authentication: every rejection is a 4xx with a reason and exactly one
// final audit row; no key or Authorization header is ever stored.
import assert from "node:assert/strict";
import { Hono } from "hono";
import { createTestDatabase, POSTGRES_REACHABLE, storeTest } from "./helpers/stores.ts";
import {
  fixturePayload,
  makeEnvelope,
  post,
  startInProcessServer,
  startTestServer,
} from "./helpers/server.ts";
import { runArrakis } from "./helpers/cli.ts";
import { streamOf } from "./helpers/net.ts";
import { issueSessionCookie } from "../src/server/auth.ts";
import { createKeyRing } from "../src/server/keys.ts";
import { clientIp } from "../src/server/meta.ts";
import { MAX_STRING_CHARS } from "../src/server/sanitize.ts";
import { tempDir } from "./helpers/temp.ts";

const MAX_BODY = 20 * 1024 * 1024;

storeTest(
  "input: every bad input is a 4xx with a reason and an INVALID audit row",
  async ({ db }) => {
    const server = await startInProcessServer(db, { ARRAKIS_MAX_BODY_BYTES: String(MAX_BODY) });
    try {
      const good = () => makeEnvelope(fixturePayload("Notification"));
      const json = (value: unknown) => JSON.stringify(value);
      const cases: {
        name: string;
        body: unknown;
        headers?: Record<string, string>;
        status: number;
        code: string;
      }[] = [
        { name: "malformed JSON", body: '{"requestId": ', status: 400, code: "MALFORMED_JSON" },
        { name: "empty body", body: "", status: 400, code: "EMPTY_BODY" },
        { name: "not an object", body: "[1,2]", status: 400, code: "NOT_AN_OBJECT" },
        {
          name: "wrong content type",
          body: json(good()),
          headers: { "content-type": "text/plain" },
          status: 415,
          code: "UNSUPPORTED_MEDIA_TYPE",
        },
        {
          name: "compressed body",
          body: json(good()),
          headers: { "content-encoding": "gzip" },
          status: 415,
          code: "UNSUPPORTED_ENCODING",
        },
        {
          name: "missing requestId",
          body: json({ ...good(), requestId: undefined }),
          status: 400,
          code: "SCHEMA",
        },
        {
          name: "missing payload",
          body: json({ ...good(), payload: undefined }),
          status: 400,
          code: "SCHEMA",
        },
        {
          name: "missing tool_use_id",
          body: json(makeEnvelope({ ...fixturePayload("PreToolUse"), tool_use_id: undefined })),
          status: 400,
          code: "SCHEMA",
        },
        {
          name: "session mismatch",
          body: json({ ...good(), sessionId: "other" }),
          status: 400,
          code: "SCHEMA",
        },
        {
          name: "absurd nesting",
          body: json(good()).replace(
            '"message":',
            `"deep":${"[".repeat(5000)}${"]".repeat(5000)},"message":`,
          ),
          status: 400,
          code: "TOO_DEEP",
        },
        {
          name: "NUL in a string",
          body: json(makeEnvelope({ ...fixturePayload("Notification"), message: "a\u0000b" })),
          status: 400,
          code: "NUL_CHARACTER",
        },
        {
          name: "NUL in a key",
          body: json(makeEnvelope({ ...fixturePayload("Notification"), ["k\u0000"]: 1 })),
          status: 400,
          code: "NUL_CHARACTER",
        },
        {
          name: "lone surrogate",
          body: json(good()).replace('"message":"', '"message":"\\ud800'),
          status: 400,
          code: "LONE_SURROGATE",
        },
        {
          name: "huge string",
          body: json(
            makeEnvelope({
              ...fixturePayload("Notification"),
              message: "h".repeat(MAX_STRING_CHARS + 1),
            }),
          ),
          status: 400,
          code: "STRING_TOO_LONG",
        },
        {
          name: "over the size limit (declared)",
          body: "x".repeat(MAX_BODY + 1),
          status: 413,
          code: "BODY_TOO_LARGE",
        },
        {
          name: "over the size limit (streamed)",
          body: streamOf(MAX_BODY * 3),
          status: 413,
          code: "BODY_TOO_LARGE",
        },
      ];
      for (const testCase of cases) {
        const { status, body } = await post(
          server,
          "/api/claude-hooks",
          testCase.body,
          testCase.headers,
        );
        assert.equal(
          status,
          testCase.status,
          `${testCase.name}: ${JSON.stringify(body).slice(0, 300)}`,
        );
        assert.equal(body.status, "INVALID", testCase.name);
        assert.equal(body.code, testCase.code, testCase.name);
        assert.ok(typeof body.message === "string" && body.message.length > 0, testCase.name);
        assert.equal(typeof body.eventId === "number" || body.eventId === undefined, true);
      }
      const rows = await server
        .sql`SELECT status, error_code, http_status, payload IS NULL AS no_payload,
      completed_at IS NOT NULL AS done FROM webhook_events ORDER BY id`;
      assert.equal(rows.length, cases.length);
      rows.forEach((row, i) => {
        assert.equal(row.status, "INVALID", cases[i].name);
        assert.equal(row.error_code, cases[i].code, cases[i].name);
        assert.equal(row.http_status, cases[i].status, cases[i].name);
        assert.ok(row.done);
      });
      // Unstorable bodies are not stored; schema failures keep the (storable) body for a look.
      assert.equal(rows[cases.findIndex((c) => c.name === "NUL in a string")].no_payload, true);
      assert.equal(
        rows[cases.findIndex((c) => c.name === "missing tool_use_id")].no_payload,
        false,
      );

      // Big but legal: a 4 MB tool response is stored whole.
      const big = makeEnvelope({
        ...fixturePayload("PostToolUse"),
        tool_response: { stdout: "y".repeat(4 << 20) },
      });
      assert.equal((await post(server, "/api/claude-hooks", big)).status, 200);
      const [{ length }] = await server
        .sql`SELECT length(tool_response->>'stdout') AS length FROM tool_uses`;
      assert.equal(length, 4 << 20);
      const health = await fetch(`${server.url}/health`);
      assert.equal(health.status, 200);
      await health.body?.cancel();
    } finally {
      await server.stop();
    }
  },
);

storeTest(
  "auth: missing, malformed and wrong keys are 401 UNAUTHORIZED; rotated keys work",
  async ({ db }) => {
    const server = await startInProcessServer(db, {
      ARRAKIS_API_KEY: "old-key-1234567890abcdef,new-key-6543210987fedcba",
    });
    try {
      const envelope = makeEnvelope(fixturePayload("Notification"));
      const attempts: [string, Record<string, string>][] = [
        ["no header", { authorization: "" }],
        ["wrong key", { authorization: "Bearer nope" }],
        ["not bearer", { authorization: "Basic b2xkLWtleQ==" }],
        ["key as prefix", { authorization: "Bearer old-key-1234567890abcde" }],
      ];
      for (const [name, headers] of attempts) {
        const response = await fetch(`${server.url}/api/claude-hooks`, {
          method: "POST",
          headers: { "content-type": "application/json", ...headers },
          body: JSON.stringify(envelope),
        });
        const body = await response.json();
        assert.equal(response.status, 401, name);
        assert.equal(body.status, "UNAUTHORIZED", name);
        assert.ok(body.message, name);
      }
      // One sampled audit row per source per minute, not one per 401 (see unauthorized_test.ts).
      const rows = await server
        .sql`SELECT status, stage, payload, headers FROM webhook_events ORDER BY id`;
      assert.equal(rows.length, 1);
      for (const row of rows) {
        assert.equal(row.status, "UNAUTHORIZED");
        assert.equal(row.stage, "authenticate");
        assert.equal(row.payload, null);
        assert.equal(row.headers.authorization, undefined);
      }
      assert.equal(
        (await post(
          { ...server, apiKey: "new-key-6543210987fedcba" },
          "/api/claude-hooks",
          envelope,
        )).status,
        200,
      );
      assert.equal(
        (await post({ ...server, apiKey: "old-key-1234567890abcdef" }, "/api/claude-hooks", {
          ...envelope,
          attempt: 2,
        })).body.status,
        "DUPLICATE",
      );
      const dump = JSON.stringify(await server.sql`SELECT * FROM webhook_events`);
      assert.ok(
        !dump.includes("old-key-1234567890abcdef") && !dump.includes("new-key-6543210987fedcba"),
      );

      // The read API: 401 without credentials, fine with a key or a dashboard session cookie.
      const anonymous = await fetch(`${server.url}/api/sessions`);
      assert.equal(anonymous.status, 401);
      assert.equal((await anonymous.json()).status, "UNAUTHORIZED");
      const cookieApp = new Hono().get("/", (c) => {
        issueSessionCookie(c, server.server.deps, server.server.deps.keys.identify(server.apiKey)!);
        return c.text("ok");
      });
      const setCookie = (await cookieApp.request("http://localhost/")).headers.get("set-cookie")!;
      assert.match(setCookie, /HttpOnly/);
      assert.match(setCookie, /SameSite=Strict/);
      const cookie = setCookie.split(";")[0];
      const withCookie = await fetch(`${server.url}/api/sessions`, { headers: { cookie } });
      assert.equal(withCookie.status, 200);
      await withCookie.body?.cancel();
      const forged = await fetch(`${server.url}/api/sessions`, {
        headers: { cookie: cookie.slice(0, -2) + "xx" },
      });
      assert.equal(forged.status, 401);
      await forged.body?.cancel();
    } finally {
      await server.stop();
    }
  },
  { kinds: ["pglite"] },
);

Deno.test("auth: keys compare equal only when identical", () => {
  const identify = (key: string, keys: string[]) =>
    createKeyRing({ envKeys: keys }).identify(key) !== undefined;
  assert.equal(identify("abc", ["x", "abc"]), true);
  assert.equal(identify("ab", ["abc"]), false);
  assert.equal(identify("", ["abc"]), false);
  assert.equal(identify("abc", []), false);
});

Deno.test("meta: X-Forwarded-For is believed only from trusted proxies", () => {
  assert.equal(clientIp("203.0.113.9", "1.2.3.4", []), "203.0.113.9");
  assert.equal(clientIp("10.0.0.2", "1.2.3.4, 10.0.0.7", ["10.0.0.0/8"]), "1.2.3.4");
  assert.equal(clientIp("10.0.0.2", "6.6.6.6, 1.2.3.4", ["10.0.0.2"]), "1.2.3.4");
  assert.equal(clientIp("::ffff:10.1.1.1", "1.2.3.4", ["10.0.0.0/8"]), "1.2.3.4");
  assert.equal(clientIp("192.168.1.1", "1.2.3.4", ["10.0.0.0/8"]), "192.168.1.1");
});

Deno.test({
  name:
    "serve: generates a 0600 key on the embedded store, never logs it; refuses PostgreSQL without one",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const db = await createTestDatabase("pglite");
    try {
      const server = await startTestServer(db, { ARRAKIS_API_KEY: "", ARRAKIS_LOG_LEVEL: "info" });
      const keyFile = `${db.home}/api-key`;
      const key = (await Deno.readTextFile(keyFile)).trim();
      assert.equal((await Deno.stat(keyFile)).mode! & 0o777, 0o600);
      const answer = await post(
        { url: server.url, apiKey: key },
        "/api/claude-hooks",
        makeEnvelope(fixturePayload("SessionStart")),
      );
      assert.equal(answer.status, 200);
      await server.stop();
      const output = server.output();
      assert.ok(output.includes(keyFile), output);
      assert.ok(!output.includes(key));
      // One JSON log line per request on stdout (not a terminal).
      const lines = output.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
      const requests = lines.filter((l) =>
        l.logger === "arrakis.server.http" && l.properties.path === "/api/claude-hooks"
      );
      assert.equal(requests.length, 1);
      assert.equal(requests[0].properties.status, 200);
      assert.equal(requests[0].properties.ingest, "SUCCESS");
      for await (const entry of Deno.readDir(`${db.home}/logs`)) {
        const text = await Deno.readTextFile(`${db.home}/logs/${entry.name}`);
        assert.ok(!text.includes(key), entry.name);
      }
      // A second start reuses the key.
      const again = await startTestServer(db, { ARRAKIS_API_KEY: "" });
      assert.equal((await Deno.readTextFile(keyFile)).trim(), key);
      await again.stop();
    } finally {
      await db.destroy();
    }
    if (POSTGRES_REACHABLE) {
      const home = await tempDir();
      const refused = await runArrakis(["serve"], {
        env: {
          DATABASE_URL: "postgres://postgres@127.0.0.1:5432/postgres",
          PORT: "0",
          ARRAKIS_HOME: home,
        },
      });
      await Deno.remove(home, { recursive: true });
      assert.equal(refused.code, 2);
      assert.match(refused.stderr, /ARRAKIS_API_KEY/);
    }
  },
});
