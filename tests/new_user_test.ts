// What a new user trips over, through the real CLI and the real server: each message in full,
// nothing created by a command that only reads, configuration errors before any resource.
import assert from "node:assert/strict";
import { join } from "node:path";
import { arrakisArgs, runArrakis } from "./helpers/cli.ts";
import { storeTest } from "./helpers/stores.ts";
import { startTestServer } from "./helpers/server.ts";
import { freePort } from "./helpers/net.ts";
import { envelope } from "./helpers/dashboard.ts";
import { RATE_DEFINITION } from "../src/schema.ts";
import { SETTING_NAMES } from "../src/config.ts";
import { tempDir } from "./helpers/temp.ts";

const JARGON = /Invalid input|received NaN|discriminator|expected number|Expected '/;

async function emptyHome(): Promise<string> {
  return await tempDir("arrakis-newuser-");
}

async function entries(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}

Deno.test("serve --port abc blames the flag, in words", async () => {
  const home = await emptyHome();
  const result = await runArrakis(["serve", "--port", "abc"], { env: { ARRAKIS_HOME: home } });
  assert.equal(result.code, 2);
  assert.equal(
    result.stderr,
    'arrakis: serve: --port must be a whole number from 0 to 65535 (0 picks a free port), got "abc"\n',
  );
  assert.deepEqual(await entries(home), []);
});

Deno.test("a bad variable is named and described with no validator jargon", async () => {
  const cases: [string, string, string][] = [
    ["PORT", "abc", "a whole number from 0 to 65535 (0 picks a free port)"],
    ["ARRAKIS_LOG_LEVEL", "loud", "one of debug, info, warning, error"],
    ["ARRAKIS_BATCH_MAX", "0", "a whole number from 1 to 10000"],
    ["ARRAKIS_URL", "ftp://example", "an http:// or https:// URL"],
    ["ARRAKIS_MIGRATE_ON_START", "maybe", "true, false, 1 or 0"],
  ];
  for (const [name, value, expected] of cases) {
    const result = await runArrakis(["serve"], {
      env: { ARRAKIS_HOME: await emptyHome(), [name]: value },
    });
    assert.equal(result.code, 2, name);
    assert.equal(
      result.stderr,
      `arrakis: configuration: ${name} must be ${expected}, got "${value}"\n`,
    );
    assert.doesNotMatch(result.stderr, JARGON);
  }
  const rules = await runArrakis(["serve"], {
    env: { ARRAKIS_HOME: await emptyHome(), ARRAKIS_ALERT_RULES: '[{"kind":"rate"}]' },
  });
  assert.equal(
    rules.stderr,
    'arrakis: configuration: ARRAKIS_ALERT_RULES: rule 1: kind must be one of "error_rate", "p95", "no_events"\n',
  );
});

Deno.test("an address in use is named, with how to change it, before any store exists", async () => {
  const home = await emptyHome();
  const port = await freePort();
  const holder = Deno.listen({ hostname: "127.0.0.1", port });
  try {
    const result = await runArrakis(["serve"], {
      env: { ARRAKIS_HOME: home, PORT: String(port) },
    });
    assert.equal(result.code, 1);
    assert.equal(
      result.stderr,
      `arrakis: 127.0.0.1:${port} is already in use (is another arrakis serve running?); ` +
        `choose another port with PORT=<n> or --port <n>\n`,
    );
    assert.deepEqual(
      await entries(home),
      [],
      "no store, no key made for a server that cannot start",
    );
  } finally {
    holder.close();
  }
});

Deno.test("migrate --status on a fresh home answers and creates nothing", async () => {
  const home = await emptyHome();
  const result = await runArrakis(["migrate", "--status"], { env: { ARRAKIS_HOME: home } });
  assert.equal(result.code, 0, result.stderr);
  const lines = result.stdout.trim().split("\n");
  assert.match(
    lines[0],
    new RegExp(`^no store yet at ${join(home, "db")}; all \\d+ migrations are pending`),
  );
  assert.ok(lines.slice(1).every((line) => /^pending {2}\d{4}_\w+\.sql$/.test(line)), lines.join());
  assert.ok(lines.length > 1);
  assert.deepEqual(await entries(home), []);
});

storeTest(
  "migrate --status and a bad setting while serve holds the embedded store",
  async ({ db }) => {
    const server = await startTestServer(db);
    try {
      const port = new URL(server.url).port;
      const status = await runArrakis(["migrate", "--status"], {
        env: { ...db.env, PORT: port },
      });
      assert.equal(status.code, 0, status.stderr);
      assert.equal(
        status.stdout,
        `the server at ${server.url} holds the store ${join(db.home, "db")}; ` +
          `its status: ready, every migration applied\n`,
      );
      // Configuration is judged first: the message is the setting, not the lock.
      const bad = await runArrakis(["serve"], {
        env: { ...db.env, PORT: "0", ARRAKIS_ALERT_RULES: "{not json" },
      });
      assert.equal(bad.code, 2);
      assert.equal(bad.stderr, "arrakis: configuration: ARRAKIS_ALERT_RULES: not valid JSON\n");
    } finally {
      await server.stop();
    }
  },
  { kinds: ["pglite"] },
);

Deno.test("every variable arrakis reads is named in some command's help", async () => {
  const commands = [
    "hook",
    "serve",
    "queue",
    "migrate",
    "install",
    "import",
    "export",
    "prune",
    "keys",
  ];
  const helps = await Promise.all(commands.map((name) => runArrakis([name, "--help"])));
  const text = helps.map((help) => help.stdout).join("\n");
  const missing = SETTING_NAMES.filter((name) => name !== "HOME" && !text.includes(name));
  assert.deepEqual(missing, []);
});

Deno.test("help lists --version, and serve's help every variable the server reads", async () => {
  const main = await runArrakis(["--help"]);
  assert.equal(main.code, 0);
  assert.match(main.stdout, /--version, -V {2}print the version/);
  const serve = await runArrakis(["serve", "--help"]);
  for (
    const name of [
      "DATABASE_URL",
      "ARRAKIS_HOME",
      "ARRAKIS_API_KEY",
      "PORT",
      "ARRAKIS_HOST",
      "ARRAKIS_MAX_BODY_BYTES",
      "ARRAKIS_BATCH_MAX",
      "ARRAKIS_TRUSTED_PROXIES",
      "ARRAKIS_REDACT_PATTERNS",
      "ARRAKIS_PRICES",
      "ARRAKIS_MIGRATE_ON_START",
      "ARRAKIS_ALERT_WEBHOOK_URL",
      "ARRAKIS_ALERT_RULES",
      "ARRAKIS_ALERT_INTERVAL",
      "ARRAKIS_DIRECT_DATABASE_URL",
      "ARRAKIS_PG_PREPARE",
      "ARRAKIS_HEARTBEAT",
      "ARRAKIS_LOG_LEVEL",
      "ARRAKIS_LOG_DIR",
    ]
  ) {
    assert.ok(serve.stdout.includes(name), `serve --help names ${name}`);
  }
});

storeTest(
  "a favicon, a stated success rate without 401s, a reason on every blocked failure",
  async ({ db }) => {
    const server = await startTestServer(db);
    try {
      const icon = await fetch(`${server.url}/favicon.ico`);
      assert.equal(icon.status, 200);
      assert.equal(icon.headers.get("content-type"), "image/svg+xml");
      assert.match(await icon.text(), /^<svg /);

      const send = (body: string, key = server.apiKey) =>
        fetch(`${server.url}/api/claude-hooks`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
          body,
        }).then(async (res) => (await res.body?.cancel(), res.status));
      for (let i = 0; i < 3; i++) {
        assert.equal(
          await send(
            JSON.stringify(envelope("UserPromptSubmit", "sess-newuser", { prompt: `p${i}` })),
          ),
          200,
        );
      }
      assert.equal(await send("{not json"), 400);
      for (let i = 0; i < 2; i++) assert.equal(await send("{}", "wrong-key-of-some-length"), 401);

      const login = await fetch(`${server.url}/login`, {
        method: "POST",
        redirect: "manual",
        headers: { origin: server.url },
        body: new URLSearchParams({ key: server.apiKey, next: "/" }),
      });
      await login.body?.cancel();
      const cookie = (login.headers.get("set-cookie") ?? "").split(";")[0];
      const page = async (path: string) =>
        await (await fetch(`${server.url}${path}`, { headers: { cookie } })).text();

      const overview = await page("/");
      // 3 stored, 1 failed; the 2 requests without a valid key are not failures of the pipeline.
      assert.match(
        overview,
        /data-stat="success"[^>]*>.*?<div class="value">75\.0%<\/div><div class="note">3 stored · 1 failed</s,
      );
      assert.ok(overview.includes(`Success rate: ${RATE_DEFINITION}.`));
      const alerts = await page("/alerts");
      assert.ok(alerts.includes(RATE_DEFINITION) || alerts.includes("not running"));

      const failed = await page("/failed");
      assert.match(failed, /disabled title="the request was rejected before a valid envelope/);
      assert.match(
        failed,
        /Cannot reprocess: the request was rejected before a valid envelope could be kept/,
      );
      assert.doesNotMatch(failed, /<td class="right"><\/td>/);
    } finally {
      await server.stop();
    }
  },
);

Deno.test("on a terminal: one listening line, log values unquoted", async () => {
  const home = await emptyHome();
  const port = await freePort();
  // `script` gives the server a real pseudo-terminal, as when a person runs it.
  const shell = [Deno.execPath(), ...arrakisArgs(["serve"])].map((part) =>
    `'${part.replaceAll("'", "'\\''")}'`
  )
    .join(" ");
  const child = new Deno.Command("script", {
    args: [
      "-qfec",
      `cd /tmp && env ARRAKIS_HOME=${home} PORT=${port} NO_COLOR=1 ${shell}`,
      "/dev/null",
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = child.output();
  try {
    let up = false;
    for (let i = 0; i < 300 && !up; i++) {
      up = await fetch(`http://127.0.0.1:${port}/health`).then(
        async (res) => (await res.body?.cancel(), res.ok),
        () => false,
      );
      if (!up) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok(up, "server came up");
  } finally {
    await new Promise((resolve) => setTimeout(resolve, 300));
    Deno.kill(await serverPid(port), "SIGTERM");
  }
  const text = new TextDecoder().decode((await output).stdout);
  assert.equal(text.match(/listening on/g)?.length, 1, text);
  assert.match(text, /GET \/health 200 [\d.]+ms/);
  assert.doesNotMatch(text, /"GET"|"\/health"/);
});

/** The pid listening on a loopback port (the server under `script`). */
async function serverPid(port: number): Promise<number> {
  const { stdout } = await new Deno.Command("sh", {
    args: ["-c", `ss -ltnpH 'sport = :${port}' | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2`],
  }).output();
  return Number(new TextDecoder().decode(stdout).trim());
}
