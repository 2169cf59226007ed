// API keys in the database: the CLI creates, lists and revokes them; two instances on one
// PostgreSQL both honour a revocation within seconds; each role's routes are allowed or refused
// with a reason; key names land in audit rows and conversations; no key is ever stored or
// logged in clear.
import assert from "node:assert/strict";
import postgres from "postgres";
import { join } from "node:path";
import { storeTest } from "./helpers/stores.ts";
import { runArrakis } from "./helpers/cli.ts";
import {
  fixturePayload,
  makeEnvelope,
  post,
  startTestServer,
  type TestServer,
} from "./helpers/server.ts";
import { tempDir } from "./helpers/temp.ts";

const ADMIN = "ark_keys_test_env_admin_key";

async function until(what: string, check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function call(
  server: TestServer,
  key: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; text: string }> {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  // A stream never ends by itself: its status is the answer.
  if (path === "/api/stream") {
    await response.body?.cancel();
    return { status: response.status, text: "" };
  }
  return { status: response.status, text: await response.text() };
}

const hook = () => makeEnvelope(fixturePayload("UserPromptSubmit"));

async function readAll(dir: string): Promise<string> {
  let text = "";
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isFile) text += await Deno.readTextFile(join(dir, entry.name));
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return text;
}

storeTest(
  "keys: create, list, revoke on every instance; roles; names recorded; never in clear",
  async ({ db }) => {
    const logDirs = [join(db.home, "logs-a"), join(db.home, "logs-b")];
    const servers = await Promise.all(
      logDirs.map((dir) =>
        startTestServer(db, {
          ARRAKIS_API_KEY: ADMIN,
          ARRAKIS_LOG_LEVEL: "debug",
          ARRAKIS_LOG_DIR: dir,
        })
      ),
    );
    const [a] = servers;
    const sql = postgres(db.databaseUrl!, { max: 1, onnotice: () => {} });
    const cli = (args: string[]) => runArrakis(["keys", ...args], { env: db.env });
    try {
      const created: Record<string, string> = {};
      for (const [name, role] of [["laptop", "ingest"], ["viewer", "read"], ["ops", "admin"]]) {
        const result = await cli(["create", "--name", name, "--role", role]);
        assert.equal(result.code, 0, result.stderr);
        assert.match(result.stdout, /^ark_[A-Za-z0-9_-]{43}\n$/);
        assert.match(result.stderr, new RegExp(`created key '${name}' \\(role ${role}\\)`));
        created[name] = result.stdout.trim();
      }
      const again = await cli(["create", "--name", "laptop"]);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /a live key named 'laptop' exists/);
      const badRole = await cli(["create", "--name", "x", "--role", "owner"]);
      assert.equal(badRole.code, 2);
      assert.match(badRole.stderr, /--role must be ingest, read or admin/);
      const badName = await cli(["create", "--name", "no spaces"]);
      assert.equal(badName.code, 2);
      assert.match(badName.stderr, /--name: a key name is/);

      // Both instances pick the new keys up on their next refresh.
      for (const server of servers) {
        await until(
          "the instance to know the new key",
          async () =>
            (await post({ url: server.url, apiKey: created.laptop }, "/api/claude-hooks", hook()))
              .status === 200,
        );
      }

      // Each role's allowed and refused routes, with the reason in the answer.
      const expect: [string, string, string, number, RegExp?][] = [
        ["laptop", "POST", "/api/claude-hooks/batch", 200],
        [
          "laptop",
          "GET",
          "/api/sessions",
          403,
          /key 'laptop' has role ingest; the dashboard and the read API needs role read or admin/,
        ],
        ["laptop", "GET", "/api/stream", 403],
        ["laptop", "GET", "/", 403, /has role ingest/],
        ["laptop", "GET", "/api/keys", 403, /managing keys needs role admin/],
        [
          "viewer",
          "POST",
          "/api/claude-hooks",
          403,
          /key 'viewer' has role read; posting events needs role ingest or admin/,
        ],
        ["viewer", "GET", "/api/sessions?key=laptop", 200, /"key_name":"laptop"/],
        ["viewer", "GET", "/api/events?key=laptop", 200, /"key_name":"laptop"/],
        ["viewer", "GET", "/api/stream", 200],
        ["viewer", "GET", "/", 200],
        [
          "viewer",
          "POST",
          "/failed/reprocess",
          403,
          /reprocessing and managing keys needs role admin/,
        ],
        ["viewer", "GET", "/api/keys", 403],
        ["ops", "GET", "/api/keys", 200, /"name":"viewer","role":"read"/],
        ["ops", "POST", "/failed/reprocess", 200],
        ["ops", "POST", "/api/claude-hooks", 200],
      ];
      for (const [name, method, path, status, body] of expect) {
        const bodyOf = path.startsWith("/api/claude-hooks/batch")
          ? [hook(), hook()]
          : path.startsWith("/api/claude-hooks")
          ? hook()
          : method === "POST" && path === "/api/keys"
          ? {}
          : undefined;
        const answer = await call(a, created[name], method, path, bodyOf);
        assert.equal(answer.status, status, `${name} ${method} ${path}: ${answer.text}`);
        if (body) assert.match(answer.text, body, `${name} ${method} ${path}`);
      }
      // The dashboard's sign-in says why an ingest key gets no session, and sets none.
      const login = await fetch(`${a.url}/login`, {
        method: "POST",
        body: new URLSearchParams({ key: created.laptop, next: "/" }),
        redirect: "manual",
      });
      assert.equal(login.status, 403);
      assert.match(
        await login.text(),
        /key &#39;laptop&#39; has role ingest|key 'laptop' has role ingest/,
      );
      assert.equal(login.headers.get("set-cookie"), null);
      const readerLogin = await fetch(`${a.url}/login`, {
        method: "POST",
        body: new URLSearchParams({ key: created.viewer, next: "/events?key=laptop" }),
        redirect: "manual",
      });
      assert.equal(readerLogin.status, 303);
      const session = readerLogin.headers.get("set-cookie")!.split(";")[0];
      const filtered = await fetch(`${a.url}/events?key=laptop`, { headers: { cookie: session } });
      assert.equal(filtered.status, 200);
      assert.match(await filtered.text(), /name="key" value="laptop"/);

      const listed = await call(a, created.ops, "GET", "/api/keys");
      assert.doesNotMatch(listed.text, /key_sha256/);

      // Who sent what: audit rows and conversations carry the key's name; the refused post too.
      const byKey = await sql<{ key_name: string | null; status: string; http: number }[]>`
        SELECT DISTINCT key_name, status::text, http_status AS http FROM webhook_events
        WHERE instance_id IS NOT NULL ORDER BY 1, 2`;
      // Unnamed rows are the polls above that came before an instance knew the new key.
      assert.deepEqual(
        byKey.map((r) => `${r.key_name}:${r.status}:${r.http}`),
        [
          "laptop:SUCCESS:200",
          "ops:SUCCESS:200",
          "viewer:UNAUTHORIZED:403",
          "null:UNAUTHORIZED:401",
        ]
          .filter((row) => !row.startsWith("null") || byKey.some((r) => r.key_name === null)),
      );
      const [refusedRow] = await sql`
        SELECT http_status, error_code FROM webhook_events WHERE key_name = 'viewer'`;
      assert.deepEqual({ ...refusedRow }, { http_status: 403, error_code: "FORBIDDEN" });
      const conversations = await sql`SELECT DISTINCT key_name FROM conversations`;
      assert.deepEqual(conversations.map((r) => r.key_name), ["laptop"]);

      await until("last used to be recorded", async () => {
        const list = await cli(["list"]);
        return /laptop\s+ingest\s+\S+Z\s+\d{4}-\d\d-\d\dT/.test(list.stdout);
      });
      assert.equal((await cli(["create", "--name", "unused"])).code, 0);
      const list = await cli(["list"]);
      assert.match(list.stdout, /^NAME\s+ROLE\s+CREATED\s+LAST USED/);
      assert.match(list.stdout, /unused\s+ingest\s+\S+Z\s+never/);

      // Revocation reaches both instances within seconds.
      const revoked = await cli(["revoke", "laptop"]);
      assert.equal(revoked.code, 0, revoked.stderr);
      for (const server of servers) {
        await until(
          "the instance to refuse the revoked key",
          async () =>
            (await post({ url: server.url, apiKey: created.laptop }, "/api/claude-hooks", hook()))
              .status === 401,
        );
      }
      assert.equal((await cli(["revoke", "laptop"])).code, 1);
      // Revoking a key ends the dashboard sessions signed in with it.
      assert.equal((await cli(["revoke", "viewer"])).code, 0);
      await until("the viewer's session to end", async () => {
        const page = await fetch(`${a.url}/events`, {
          headers: { cookie: session },
          redirect: "manual",
        });
        await page.body?.cancel();
        return page.status === 302;
      });
      assert.doesNotMatch((await cli(["list"])).stdout, /laptop|viewer/);
      assert.match((await cli(["list", "--revoked"])).stdout, /laptop\s+ingest.*Z\s*$/m);

      // No key in clear: not in any table, not in any log line.
      const dump = JSON.stringify(
        await sql`SELECT (SELECT json_agg(k) FROM api_keys k) AS keys,
                         (SELECT json_agg(e) FROM webhook_events e) AS events,
                         (SELECT json_agg(c) FROM conversations c) AS conversations`,
      );
      await Promise.all(servers.map((s) => s.stop()));
      const logs = servers.map((s) => s.output()).join("\n") +
        (await Promise.all(logDirs.map(readAll))).join("\n");
      assert.ok(logs.length > 0);
      for (const key of [ADMIN, ...Object.values(created)]) {
        assert.ok(!dump.includes(key), "a key is stored in clear");
        assert.ok(!logs.includes(key), "a key appears in the logs");
      }
    } finally {
      await Promise.all(servers.map((s) => s.stop()));
      await sql.end();
    }
  },
  { kinds: ["postgres"] },
);

storeTest(
  "keys: on the embedded store the CLI says the server holds it; the admin API manages keys",
  async ({ db }) => {
    const server = await startTestServer(db, { ARRAKIS_API_KEY: ADMIN });
    try {
      const held = await runArrakis(["keys", "list"], { env: db.env });
      assert.equal(held.code, 1);
      assert.match(held.stderr, /arrakis serve holds the embedded store; use its admin API/);
      const made = await call(server, ADMIN, "POST", "/api/keys", { name: "ci", role: "read" });
      assert.equal(made.status, 201, made.text);
      const { key } = JSON.parse(made.text);
      assert.equal((await call(server, key, "GET", "/api/sessions")).status, 200);
      const bad = await call(server, ADMIN, "POST", "/api/keys", { name: "ci", role: "boss" });
      assert.equal(bad.status, 400);
      assert.equal((await call(server, ADMIN, "POST", "/api/keys", { name: "ci" })).status, 409);
      assert.equal((await call(server, ADMIN, "DELETE", "/api/keys/ci")).status, 200);
      assert.equal((await call(server, key, "GET", "/api/sessions")).status, 401);
      assert.equal((await call(server, ADMIN, "DELETE", "/api/keys/ci")).status, 404);
    } finally {
      await server.stop();
    }
  },
  { kinds: ["pglite"] },
);

Deno.test("keys: install --api-key-stdin stores this machine's key in the client config, 0600", async () => {
  const home = await tempDir("arrakis-install-key-");
  try {
    const project = join(home, "project");
    await Deno.mkdir(project);
    const key = "ark_machine_key_from_stdin_0123456789";
    const result = await runArrakis(
      ["install", "--project-dir", project, "--api-key-stdin", "--url", "https://arrakis.example"],
      { env: { ARRAKIS_HOME: home }, stdin: `${key}\n` },
    );
    assert.equal(result.code, 0, result.stderr);
    assert.ok(!result.stdout.includes(key) && !result.stderr.includes(key), "the key is printed");
    const file = join(home, "client.json");
    assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
    assert.deepEqual(JSON.parse(await Deno.readTextFile(file)), {
      url: "https://arrakis.example",
      apiKey: key,
    });
    const empty = await runArrakis(["install", "--project-dir", project, "--api-key-stdin"], {
      env: { ARRAKIS_HOME: home },
      stdin: "\n",
    });
    assert.equal(empty.code, 1);
    assert.match(empty.stderr, /--api-key-stdin: stdin held no key/);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});
