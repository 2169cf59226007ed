// The secret corpus (tests/fixtures/secrets.json): every real-shaped secret is gone after
// redaction, from the spool and logs a real `arrakis hook` writes, from the database and logs of a
// real `arrakis serve` on both stores, and from LogTape's log files; harmless keys survive.
import assert from "node:assert/strict";
import { join } from "node:path";
import { createRedactor, isSecretKey, REDACTED } from "../src/redact.ts";
import { closeLogging, log, setupLogging } from "../src/log.ts";
import { runArrakis } from "./helpers/cli.ts";
import { downUrl, hookProject } from "./helpers/hook_env.ts";
import { FIXTURES_DIR } from "./helpers/fixtures.ts";
import { openTestStore, storeTest } from "./helpers/stores.ts";
import { fixturePayload, makeEnvelope, post, startTestServer } from "./helpers/server.ts";
import { tempDir, tempFile } from "./helpers/temp.ts";

interface Secret {
  name: string;
  /** A text holding the secret, or */
  text?: string;
  /** a key whose value is the secret. */
  key?: string;
  secret: string;
}
const corpus = JSON.parse(await Deno.readTextFile(join(FIXTURES_DIR, "secrets.json"))) as {
  secrets: Secret[];
  keep: Record<string, unknown>;
};
const SECRETS = corpus.secrets;
const TOOL_USE_ID = "toolu_corpus_0123456789";

/** A PreToolUse event carrying every secret: texts as fields, keys as an env-like object. */
function corpusPayload(): Record<string, unknown> {
  const texts = Object.fromEntries(
    SECRETS.filter((s) => s.text !== undefined).map((s) => [`text ${s.name}`, s.text]),
  );
  const keyed = Object.fromEntries(
    SECRETS.filter((s) => s.key !== undefined).map((s) => [s.key, s.secret]),
  );
  return {
    ...fixturePayload("PreToolUse"),
    tool_use_id: TOOL_USE_ID,
    tool_input: {
      command: SECRETS.filter((s) => s.text).map((s) => s.text).join("\n"),
      texts,
      env: keyed,
      keep: corpus.keep,
    },
  };
}

/** A transcript line with every text in a user message (the messages table's path). */
function corpusTranscriptLine(sessionId: string): Record<string, unknown> {
  return {
    type: "user",
    uuid: "u-corpus-1",
    parentUuid: null,
    sessionId,
    timestamp: "2026-11-20T10:00:00.000Z",
    message: { role: "user", content: SECRETS.filter((s) => s.text).map((s) => s.text).join("\n") },
  };
}

/** Which secrets appear in files under `dir` (grep -F over every file, binary included). */
async function secretsInFiles(dir: string, exclude: string[] = []): Promise<string[]> {
  const list = await tempFile("arrakis-secrets-");
  try {
    await Deno.writeTextFile(list, SECRETS.map((s) => s.secret).join("\n") + "\n");
    const { code, stdout, stderr } = await new Deno.Command("grep", {
      args: [
        "-r",
        "-o",
        "-h",
        "-a",
        "-F",
        "-f",
        list,
        ...exclude.map((d) => `--exclude-dir=${d}`),
        dir,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (code > 1) throw new Error(`grep failed: ${new TextDecoder().decode(stderr)}`);
    return [...new Set(new TextDecoder().decode(stdout).split("\n").filter((l) => l !== ""))];
  } finally {
    await Deno.remove(list);
  }
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) out.push(...await filesUnder(path));
    else if (entry.isFile) out.push(path);
  }
  return out;
}

const nameOf = (secret: string) => SECRETS.find((s) => s.secret === secret)?.name ?? secret;

Deno.test("the corpus holds at least 60 distinct real-shaped secrets", () => {
  assert.ok(SECRETS.length >= 60, `only ${SECRETS.length}`);
  assert.equal(new Set(SECRETS.map((s) => s.secret)).size, SECRETS.length);
  for (const entry of SECRETS) {
    assert.ok((entry.text === undefined) !== (entry.key === undefined), entry.name);
    if (entry.text) assert.ok(entry.text.includes(entry.secret), entry.name);
  }
});

Deno.test("createRedactor removes every corpus secret, idempotently, and keeps harmless keys", () => {
  const redactor = createRedactor();
  for (const entry of SECRETS) {
    if (entry.text !== undefined) {
      const out = redactor.string(entry.text);
      assert.ok(!out.includes(entry.secret), `${entry.name}: ${out}`);
      assert.ok(out.includes(REDACTED), `${entry.name}: ${out}`);
      assert.equal(redactor.string(out), out, `${entry.name}: not idempotent`);
    } else {
      assert.ok(isSecretKey(entry.key!), `${entry.name}: ${entry.key} is not a secret key`);
      assert.deepEqual(redactor.value({ [entry.key!]: entry.secret }), { [entry.key!]: REDACTED });
      // The same key in text: KEY=value and "key": "value".
      const pair = redactor.string(`${entry.key}=${entry.secret}`);
      assert.ok(!pair.includes(entry.secret), `${entry.name} as text: ${pair}`);
      const json = redactor.string(JSON.stringify({ [entry.key!]: entry.secret }));
      assert.ok(!json.includes(entry.secret), `${entry.name} as JSON text: ${json}`);
    }
  }
  assert.deepEqual(redactor.value(corpus.keep), corpus.keep);
  for (const name of Object.keys(corpus.keep)) assert.ok(!isSecretKey(name), name);
  const keepText = JSON.stringify(corpus.keep);
  assert.equal(redactor.string(keepText), keepText);
});

Deno.test("no corpus secret reaches the spool or the logs of a real arrakis hook", async () => {
  const project = await hookProject();
  try {
    const env = project.env(await downUrl(), { ARRAKIS_LOG_LEVEL: "debug" });
    const payload = corpusPayload();
    const result = await runArrakis(["hook"], {
      env,
      stdin: JSON.stringify(payload),
      cwd: project.dir,
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "");
    // Not JSON: the hook logs a redacted head of what it got.
    const garbage = await runArrakis(["hook"], {
      env,
      stdin: `not json ${SECRETS.slice(0, 6).map((s) => s.text ?? s.secret).join(" ")}`,
      cwd: project.dir,
    });
    assert.equal(garbage.code, 0, garbage.stderr);

    // Wherever the spool lives (the project, or under ARRAKIS_HOME), it is in this tree.
    const files = await filesUnder(project.dir);
    const spooled = [];
    for (const file of files.filter((f) => f.endsWith(".json"))) {
      const text = await Deno.readTextFile(file);
      const record = JSON.parse(text);
      const envelope = record.envelope ?? record;
      if (envelope.payload?.tool_use_id === TOOL_USE_ID) spooled.push(envelope);
    }
    assert.equal(spooled.length, 1, `no spooled envelope among ${files.join(", ")}`);
    assert.deepEqual(spooled[0].payload.tool_input.keep, corpus.keep);
    const leaked = await secretsInFiles(project.dir);
    assert.deepEqual(leaked.map(nameOf), [], "secrets in the spool or logs");
    const stderr = result.stderr + garbage.stderr;
    assert.deepEqual(SECRETS.filter((s) => stderr.includes(s.secret)).map((s) => s.name), []);
  } finally {
    await project.cleanup();
  }
});

storeTest(
  "no corpus secret reaches the database or the logs of a real arrakis serve",
  async ({ db }) => {
    const server = await startTestServer(db, { ARRAKIS_LOG_LEVEL: "debug" });
    const payload = corpusPayload();
    const envelope = makeEnvelope(payload, {
      transcript: [corpusTranscriptLine(payload.session_id as string)],
    });
    // The raw secrets, as a client that does not redact would send them.
    assert.ok(JSON.stringify(envelope).includes(SECRETS[0].secret));
    const answer = await post(server, "/api/claude-hooks", envelope);
    const batch = await post(server, "/api/claude-hooks/batch", [
      makeEnvelope({ ...payload, tool_use_id: `${TOOL_USE_ID}_batch` }),
    ]);
    await server.stop();
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(batch.status, 200, JSON.stringify(batch.body));

    const store = await openTestStore(db, 1);
    try {
      const tables = await store.sql<{ name: string }[]>`
      SELECT table_name AS name FROM information_schema.tables
      WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`;
      const dump: string[] = [];
      for (const { name } of tables) {
        const rows = await store.sql.unsafe(`SELECT to_jsonb(t)::text AS row FROM "${name}" t`);
        for (const row of rows) dump.push(`${name}: ${row.row}`);
      }
      const text = dump.join("\n");
      assert.ok(text.includes(TOOL_USE_ID), "the event was not stored");
      assert.ok(text.includes(`${TOOL_USE_ID}_batch`), "the batch event was not stored");
      assert.match(text, /"cache_read_input_tokens": 9000/, "harmless keys were lost");
      const leaked = SECRETS.filter((s) => text.includes(s.secret)).map((s) => s.name);
      assert.deepEqual(leaked, [], "secrets in the database");
    } finally {
      await store.close();
    }
    // Server logs (and anything else it wrote in its home), the store's own files aside.
    const leakedInLogs = await secretsInFiles(db.home, ["db"]);
    assert.deepEqual(leakedInLogs.map(nameOf), [], "secrets in the server's files");
  },
);

Deno.test("no corpus secret reaches a LogTape log file, in properties or in the message", async () => {
  const dir = await tempDir("arrakis-log-corpus-");
  try {
    await setupLogging({ level: "debug", dir, files: [{ name: "all.jsonl" }] });
    const logger = log("corpus");
    for (const entry of SECRETS) {
      if (entry.key) logger.info("header {name}", { name: entry.key, [entry.key]: entry.secret });
      else {logger.warn("command failed: {error}", {
          error: entry.text,
          nested: { detail: entry.text },
        });}
    }
    logger.info("usage {usage}", { usage: corpus.keep });
    await closeLogging();
    const leaked = await secretsInFiles(dir);
    assert.deepEqual(leaked.map(nameOf), [], "secrets in the log file");
    const lines = (await Deno.readTextFile(join(dir, "all.jsonl"))).trim().split("\n");
    assert.equal(lines.length, SECRETS.length + 1);
    assert.deepEqual(JSON.parse(lines.at(-1)!).properties.usage, corpus.keep);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
