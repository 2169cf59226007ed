// `arrakis import` against a real server: a generated ~/.claude/projects tree gives the rows
// live capture of the same sessions gave (subagents nested, a 300 KB tool output, bad and torn
// lines counted, not fatal); importing again, or over a live capture, adds nothing; an
// interrupted import resumes from its state file.
import assert from "node:assert/strict";
import { join } from "node:path";
import { createTestDatabase, storeTest } from "./helpers/stores.ts";
import { post, startInProcessServer } from "./helpers/server.ts";
import { S1, writeHistory } from "./helpers/history.ts";
import { runImport } from "../src/import/run.ts";
import { runArrakis } from "./helpers/cli.ts";
import { progressLine } from "../src/cli/import.ts";
import { createRedactor } from "../src/redact.ts";
import type { Sql } from "../src/store/open.ts";
import { tempDir } from "./helpers/temp.ts";

/** The rows both paths must agree on: contents, not ids, arrival times or hook-only timings. */
async function rows(sql: Sql) {
  const [conversations, messages, usage, tools, agents] = await Promise.all([
    sql`SELECT session_id, cwd, model, transcript_path FROM conversations ORDER BY session_id`,
    sql`SELECT session_id, agent_id, role, content, model, message_id, api_request_id,
          transcript_uuid, parent_uuid
        FROM messages WHERE source <> 'stop' ORDER BY session_id, transcript_uuid`,
    sql`SELECT message_id, api_request_id, session_id, agent_id, model, input_tokens,
          output_tokens, cache_creation_input_tokens, cache_creation_5m_input_tokens,
          cache_creation_1h_input_tokens, cache_read_input_tokens
        FROM token_usage ORDER BY message_id`,
    sql`SELECT session_id, tool_use_id, agent_id, tool_name, tool_input, tool_response, error,
          status FROM tool_uses ORDER BY tool_use_id`,
    sql`SELECT session_id, agent_id, agent_type, parent_tool_use_id, transcript_path
        FROM agents ORDER BY agent_id`,
  ]);
  return JSON.parse(JSON.stringify({ conversations, messages, usage, tools, agents }));
}

async function api(server: { url: string; apiKey: string }, path: string) {
  const response = await fetch(`${server.url}/api${path}`, {
    headers: { authorization: `Bearer ${server.apiKey}` },
  });
  return await response.json();
}

storeTest(
  "import gives the rows live capture gave; again, or over live data, adds nothing",
  async ({ db }) => {
    const root = await tempDir("arrakis-projects-");
    const history = await writeHistory(root);
    const liveDb = await createTestDatabase(db.kind);
    const imported = await startInProcessServer(db);
    const live = await startInProcessServer(liveDb);
    try {
      const answer = await post(live, "/api/claude-hooks/batch", history.live);
      assert.equal(answer.status, 200);
      for (const item of answer.body.results as { status: string }[]) {
        assert.equal(item.status, "SUCCESS", JSON.stringify(item));
      }
      const liveRows = await rows(live.sql);

      const options = {
        paths: [root],
        statePath: join(await tempDir("arrakis-import-state-"), "state.json"),
        target: { url: imported.url, apiKey: imported.apiKey },
        source: { host: "test-host", user: "dev" },
        redactor: createRedactor(),
      };
      const first = await runImport(options);
      assert.equal(first.failure, undefined);
      assert.equal(first.files, 4);
      assert.equal(first.sessions, 2);
      assert.equal(first.agents, 2);
      assert.equal(first.lines, history.validLines);
      assert.equal(first.badLines, 1);
      assert.equal(first.badLineSamples[0].line, 8);
      assert.deepEqual(first.tornFiles, [history.files[0]]);
      assert.equal(first.stored, first.envelopes);
      assert.deepEqual(await rows(imported.sql), liveRows);

      const big = await imported.sql`
      SELECT length(tool_response->>'stdout') AS n FROM tool_uses WHERE tool_use_id = 'toolu_bash1'`;
      assert.equal(big[0].n, 300 * 1024);

      const tree = await api(imported, `/sessions/${S1}`);
      assert.equal(tree.agents.length, 1);
      const [explore] = tree.agents;
      assert.equal(explore.agent_id, "ag1");
      assert.equal(explore.agent_type, "Explore");
      assert.equal(explore.parent_tool_use_id, "toolu_task1");
      assert.equal(explore.children.length, 1);
      assert.equal(explore.children[0].agent_id, "ag2");
      assert.equal(explore.children[0].parent_agent_id, "ag1");
      assert.deepEqual(
        [explore.own.messages, explore.own.tool_uses, explore.own.output_tokens],
        [4, 2, 35],
      );
      assert.deepEqual([explore.totals.messages, explore.totals.output_tokens], [6, 43]);
      assert.equal(tree.totals.output_tokens, 50 + 20 + 30 + 5 + 35 + 8);
      assert.deepEqual(
        JSON.parse(JSON.stringify((await api(live, `/sessions/${S1}`)).agents)).map(strip),
        JSON.parse(JSON.stringify(tree.agents)).map(strip),
      );

      // A fresh state (or a new machine): every range is answered DUPLICATE, nothing changes.
      const again = await runImport({ ...options, statePath: `${options.statePath}.2` });
      assert.equal(again.alreadyThere, again.envelopes);
      assert.equal(again.stored, 0);
      assert.deepEqual(await rows(imported.sql), liveRows);
      // The same state: nothing new to read at all.
      const resumed = await runImport(options);
      assert.equal(resumed.envelopes, 0);

      // Importing sessions captured live adds no row.
      const over = await runImport({
        ...options,
        statePath: `${options.statePath}.3`,
        target: { url: live.url, apiKey: live.apiKey },
      });
      assert.equal(over.stored, over.envelopes);
      assert.deepEqual(await rows(live.sql), liveRows);
    } finally {
      await imported.stop();
      await live.stop();
      await liveDb.destroy();
      await Deno.remove(root, { recursive: true });
    }
  },
);

/** Agent tree nodes without the times, which live capture takes from its hooks. */
function strip(node: Record<string, unknown>): Record<string, unknown> {
  const { started_at: _s, ended_at: _e, last_message: _l, children, ...rest } = node;
  return { ...rest, children: (children as Record<string, unknown>[]).map(strip) };
}

storeTest(
  "an interrupted import resumes where it stopped and ends with the same rows",
  async ({ db }) => {
    const root = await tempDir("arrakis-projects-");
    await writeHistory(root);
    const server = await startInProcessServer(db);
    const statePath = join(await tempDir("arrakis-import-state-"), "state.json");
    try {
      const refused = await runImport({
        paths: [root],
        statePath,
        target: { url: server.url, apiKey: "not-the-key" },
        source: { host: "test-host", user: "dev" },
        redactor: createRedactor(),
      });
      assert.match(refused.failure ?? "", /401/);
      const nothing = await Deno.readTextFile(statePath).catch(() => '{"files": {}}');
      assert.deepEqual(JSON.parse(nothing).files, {});

      const stop = new AbortController();
      const options = {
        paths: [root],
        statePath,
        target: { url: server.url, apiKey: server.apiKey },
        source: { host: "test-host", user: "dev" },
        redactor: createRedactor(),
        batchMax: 1,
      };
      const cut = await runImport({
        ...options,
        signal: stop.signal,
        onProgress: () => stop.abort(),
      });
      assert.equal(cut.interrupted, true);
      assert.equal(cut.stored, 1);
      const state = JSON.parse(await Deno.readTextFile(statePath));
      assert.equal(Object.keys(state.files).length, 1);
      assert.equal((await Deno.stat(statePath)).mode! & 0o777, 0o600);

      const rest = await runImport(options);
      assert.equal(rest.interrupted, false);
      assert.equal(rest.stored, 3);
      assert.equal(rest.alreadyThere, 0);
      const [{ n }] = await server.sql`SELECT count(*)::int AS n FROM agents`;
      assert.equal(n, 2);
    } finally {
      await server.stop();
      await Deno.remove(root, { recursive: true });
    }
  },
);

Deno.test("arrakis import: one summary line off a terminal; a bad flag is named", async () => {
  const bad = await runArrakis(["import", "--batch-mb", "lots"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--batch-mb must be a number/);
  const empty = await tempDir("arrakis-projects-");
  try {
    const result = await runArrakis(["import", empty, "--state", join(empty, "s.json")], {
      env: { ARRAKIS_URL: "http://127.0.0.1:9", ARRAKIS_API_KEY: "k" },
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim().split("\n").length, 1);
    assert.match(result.stdout, /^arrakis import: 0 files .* 0 bad lines, 0 torn last lines$/m);
  } finally {
    await Deno.remove(empty, { recursive: true });
  }
});

Deno.test("arrakis import warns when Claude Code will delete transcripts soon; progress shows rate and ETA", async () => {
  const home = await tempDir("arrakis-home-");
  try {
    await Deno.mkdir(join(home, ".claude", "projects", "-p"), { recursive: true });
    await Deno.writeTextFile(
      join(home, ".claude", "settings.json"),
      JSON.stringify({ cleanupPeriodDays: 10 }),
    );
    const day = 86_400_000;
    for (const [name, age] of [["old", 5], ["new", 1]] as const) {
      const path = join(home, ".claude", "projects", "-p", `${name}.jsonl`);
      await Deno.writeTextFile(path, "");
      const when = new Date(Date.now() - age * day);
      await Deno.utime(path, when, when);
    }
    const result = await runArrakis(["import", "--state", join(home, "s.json")], {
      env: {
        HOME: home,
        ARRAKIS_URL: "http://127.0.0.1:9",
        ARRAKIS_API_KEY: "k",
        DENO_DIR: Deno.env.get("DENO_DIR") ?? join(Deno.env.get("HOME")!, ".cache", "deno"),
      },
    });
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stderr,
      /Claude Code will delete 1 of these transcripts within 7 days \(cleanupPeriodDays = 10\)/,
    );
  } finally {
    await Deno.remove(home, { recursive: true });
  }
  const line = progressLine({
    files: 10,
    filesDone: 4,
    bytesTotal: 1000,
    bytesDone: 250,
    lines: 5000,
    startedAt: 1_000,
  }, 11_000);
  assert.equal(line, "importing: 4/10 files, 5,000 lines, 500 lines/s, 25%, ETA 30s");
});

Deno.test("import redacts secrets before they leave the machine", async () => {
  const root = await tempDir("arrakis-projects-");
  const secret = "sk-ant-api03-" + "A".repeat(40);
  const bodies: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (r) => {
    const text = await r.text();
    bodies.push(text);
    const items = JSON.parse(text) as { requestId: string }[];
    return Response.json({
      results: items.map((i) => ({ status: "SUCCESS", requestId: i.requestId, httpStatus: 200 })),
    });
  });
  try {
    await Deno.mkdir(join(root, "-p"));
    await Deno.writeTextFile(
      join(root, "-p", "s-1.jsonl"),
      JSON.stringify({
        type: "user",
        uuid: "u1",
        sessionId: "s-1",
        message: { role: "user", content: `use the key ${secret} please` },
      }) + "\n",
    );
    const report = await runImport({
      paths: [root],
      statePath: join(root, "state.json"),
      target: { url: `http://127.0.0.1:${server.addr.port}`, apiKey: "k" },
      source: { host: "test-host", user: "dev" },
      redactor: createRedactor(),
    });
    assert.equal(report.stored, 1);
    assert.equal(bodies.length, 1);
    assert.ok(!bodies[0].includes(secret), "the secret left the machine");
    assert.match(bodies[0], /use the key \[REDACTED\]/);
  } finally {
    await server.shutdown();
    await Deno.remove(root, { recursive: true });
  }
});
