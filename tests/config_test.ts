import assert from "node:assert/strict";
import { join } from "node:path";
import { ConfigError, loadConfig, parseDuration, resolveClientCredentials } from "../src/config.ts";
import { runArrakis } from "./helpers/cli.ts";
import { tempDir } from "./helpers/temp.ts";

Deno.test("defaults work on a fresh machine", () => {
  const config = loadConfig({ HOME: "/home/ada", CLAUDE_PROJECT_DIR: "/src/app" });
  assert.equal(config.databaseUrl, undefined);
  assert.equal(config.home, "/home/ada/.arrakis");
  assert.equal(config.pgliteDir, "/home/ada/.arrakis/db");
  assert.equal(config.apiKeyFile, "/home/ada/.arrakis/api-key");
  // Per user, outside the repository: a readable slug and 16 hex of sha256("/src/app") (sha256sum).
  assert.equal(config.queueDir, "/home/ada/.arrakis/spool/app-c0167fc91cc666ff");
  assert.equal(config.logDir, "/home/ada/.arrakis/spool/app-c0167fc91cc666ff/logs");
  assert.equal(config.spoolKeyFile, "/home/ada/.arrakis/spool.key");
  assert.equal(config.serverUrl, `http://127.0.0.1:${config.port}`);
  assert.deepEqual(config.retryScheduleMs, [60_000, 300_000, 900_000, 3_600_000, 7_200_000]);
  assert.equal(config.maxAttempts, 5);
  assert.equal(config.leaseMs, 120_000);
});

Deno.test("overrides are parsed and typed", () => {
  const config = loadConfig({
    HOME: "/h",
    DATABASE_URL: "postgres://u:p@db:5432/x",
    ARRAKIS_URL: "https://arrakis.example.com/",
    ARRAKIS_API_KEY: "k1, k2,,",
    ARRAKIS_QUEUE_DIR: "/q",
    PORT: "10000",
    ARRAKIS_LEASE: "250ms",
    ARRAKIS_RETRY_SCHEDULE: "1s,2m,3h",
    ARRAKIS_TRUSTED_PROXIES: "10.0.0.1,10.0.0.2",
    ARRAKIS_MIGRATE_ON_START: "false",
  });
  assert.equal(config.serverUrl, "https://arrakis.example.com");
  assert.equal(config.serverUrlExplicit, true);
  assert.deepEqual(config.apiKeys, ["k1", "k2"]);
  assert.equal(config.queueDir, "/q");
  assert.equal(config.port, 10000);
  assert.equal(config.leaseMs, 250);
  assert.deepEqual(config.retryScheduleMs, [1000, 120_000, 10_800_000]);
  assert.deepEqual(config.trustedProxies, ["10.0.0.1", "10.0.0.2"]);
  assert.equal(config.migrateOnStart, false);
});

Deno.test("a bad value is an error naming the variable", () => {
  const cases: Record<string, string> = {
    PORT: "eighty",
    DATABASE_URL: "mysql://x",
    ARRAKIS_URL: "ftp://x",
    ARRAKIS_LEASE: "soon",
    ARRAKIS_RETRY_SCHEDULE: "1m,later",
    ARRAKIS_MAX_ATTEMPTS: "-1",
    ARRAKIS_LOG_LEVEL: "loud",
    ARRAKIS_REDACT_PATTERNS: "([",
  };
  for (const [name, value] of Object.entries(cases)) {
    assert.throws(
      () => loadConfig({ HOME: "/h", [name]: value }),
      (error: unknown) => error instanceof ConfigError && error.message.startsWith(name),
      name,
    );
  }
});

Deno.test("durations", () => {
  assert.equal(parseDuration("500"), 500);
  assert.equal(parseDuration("1.5s"), 1500);
  assert.equal(parseDuration("30d"), 30 * 86_400_000);
  assert.equal(parseDuration("5 m"), 300_000);
  assert.equal(parseDuration("-1s"), undefined);
  assert.equal(parseDuration("1w"), undefined);
});

Deno.test("client credentials: environment, then config file, then the key serve generated", async () => {
  const home = await tempDir();
  try {
    const base = { HOME: "/h", ARRAKIS_HOME: home };
    assert.deepEqual(await resolveClientCredentials(loadConfig(base)), {
      url: "http://127.0.0.1:7777",
      apiKey: undefined,
      missingKey: "no key for http://127.0.0.1:7777",
    });
    await Deno.writeTextFile(join(home, "api-key"), "generated-key\n", { mode: 0o600 });
    assert.equal((await resolveClientCredentials(loadConfig(base))).apiKey, "generated-key");
    await Deno.writeTextFile(
      join(home, "client.json"),
      JSON.stringify({ url: "http://10.1.1.1:9000", apiKey: "file-key" }),
    );
    assert.deepEqual(await resolveClientCredentials(loadConfig(base)), {
      url: "http://10.1.1.1:9000",
      apiKey: "file-key",
    });
    const env = { ...base, ARRAKIS_URL: "http://127.0.0.1:1", ARRAKIS_API_KEY: "env-key" };
    assert.deepEqual(await resolveClientCredentials(loadConfig(env)), {
      url: "http://127.0.0.1:1",
      apiKey: "env-key",
    });
    await Deno.writeTextFile(join(home, "client.json"), "{not json");
    await assert.rejects(() => resolveClientCredentials(loadConfig(base)), ConfigError);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("the CLI names a bad variable in one line and exits 2", async () => {
  const result = await runArrakis(["migrate", "--status"], { env: { PORT: "eighty" } });
  assert.equal(result.code, 2);
  assert.equal(result.stdout, "");
  assert.equal(result.stderr.trim().split("\n").length, 1);
  assert.match(result.stderr, /PORT/);
});

Deno.test("client.json's key goes only to client.json's URL, the generated key only to loopback", async () => {
  const home = await tempDir();
  try {
    const base = { HOME: "/h", ARRAKIS_HOME: home };
    const clientFile = join(home, "client.json");
    await Deno.writeTextFile(
      clientFile,
      JSON.stringify({ url: "https://arrakis.example.com/", apiKey: "file-key" }),
    );
    const same = { ...base, ARRAKIS_URL: "https://arrakis.example.com" };
    assert.deepEqual(await resolveClientCredentials(loadConfig(same)), {
      url: "https://arrakis.example.com",
      apiKey: "file-key",
    });
    const other = { ...base, ARRAKIS_URL: "https://collector.evil.example" };
    assert.deepEqual(await resolveClientCredentials(loadConfig(other)), {
      url: "https://collector.evil.example",
      apiKey: undefined,
      missingKey:
        `no key for https://collector.evil.example (${clientFile} holds the key for https://arrakis.example.com; set ARRAKIS_API_KEY for this one)`,
    });

    // A file without a url holds the key of the local default server.
    await Deno.writeTextFile(clientFile, JSON.stringify({ apiKey: "file-key" }));
    assert.equal((await resolveClientCredentials(loadConfig(base))).apiKey, "file-key");
    assert.equal((await resolveClientCredentials(loadConfig(other))).apiKey, undefined);

    await Deno.remove(clientFile);
    await Deno.writeTextFile(join(home, "api-key"), "generated-key\n", { mode: 0o600 });
    const local = { ...base, ARRAKIS_URL: "http://localhost:9000" };
    assert.equal((await resolveClientCredentials(loadConfig(local))).apiKey, "generated-key");
    assert.deepEqual(await resolveClientCredentials(loadConfig(other)), {
      url: "https://collector.evil.example",
      apiKey: undefined,
      missingKey: `no key for https://collector.evil.example (${
        join(home, "api-key")
      } is for a local server; set ARRAKIS_API_KEY for this one)`,
    });
    const explicit = { ...other, ARRAKIS_API_KEY: "env-key" };
    assert.equal((await resolveClientCredentials(loadConfig(explicit))).apiKey, "env-key");
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});
