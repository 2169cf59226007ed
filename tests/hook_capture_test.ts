// The real `arrakis hook` process against loopback servers that answer, refuse, hang, fail or
// reject: exit 0 and silence every time, and the event is delivered or waiting in the spool.
import assert from "node:assert/strict";
import { join } from "node:path";
import { runArrakis } from "./helpers/cli.ts";
import {
  answeringServer,
  downUrl,
  fixtureEvents,
  hangingServer,
  hookProject,
  TEST_KEY,
} from "./helpers/hook_env.ts";
import { Envelope, KNOWN_HOOK_EVENTS, SpoolRecord } from "../src/schema.ts";

const events = await fixtureEvents();

function hook(env: Record<string, string>, stdin: string | Uint8Array) {
  return runArrakis(["hook"], { env, stdin });
}

async function readLog(dir: string, name: string): Promise<Record<string, unknown>[]> {
  try {
    const text = await Deno.readTextFile(join(dir, name));
    return text.trim().split("\n").filter(Boolean).map((line) => JSON.parse(line));
  } catch {
    return [];
  }
}

Deno.test("every fixture event is delivered once as a valid envelope; nothing on stdout", async () => {
  const project = await hookProject();
  const server = answeringServer(200, (body: { requestId: string }) => ({
    status: "SUCCESS",
    requestId: body.requestId,
  }));
  try {
    assert.deepEqual([...events.keys()].sort(), [...KNOWN_HOOK_EVENTS].sort());
    // SessionEnd last: it starts a detached drain, which could race a later hook's own send
    // (harmless, the server dedupes by requestId, but it would blur the counts here).
    const ordered = [...events].sort(([a], [b]) =>
      Number(a === "SessionEnd") - Number(b === "SessionEnd")
    );
    for (const [name, input] of ordered) {
      const result = await hook(project.env(server.url), JSON.stringify(input));
      assert.equal(result.code, 0, `${name}: ${result.stderr}`);
      assert.equal(result.stdout, "", name);
    }
    assert.equal(server.received.length, events.size);
    for (const [index, body] of server.received.entries()) {
      const parsed = Envelope.safeParse(body);
      assert.ok(parsed.success, JSON.stringify(parsed.error?.issues));
      const envelope = parsed.data!;
      assert.equal(envelope.attempt, 1);
      assert.equal(envelope.source.projectDir, project.dir);
      assert.equal(envelope.source.cwd, "/home/dev/shop");
      // Every event was delivered at once, so each saw an empty spool.
      assert.deepEqual(envelope.source.spool, { pending: 0, failed: 0 });
      assert.deepEqual(envelope.payload, events.get(envelope.event));
      const headers = server.headers[index];
      assert.equal(headers.get("authorization"), `Bearer ${TEST_KEY}`);
      assert.equal(headers.get("x-request-id"), envelope.requestId);
      assert.equal(headers.get("traceparent"), `00-${envelope.traceId}-${envelope.spanId}-01`);
    }
    const ids = new Set(server.received.map((body) => (body as Envelope).requestId));
    assert.equal(ids.size, events.size);
    assert.deepEqual(await project.files("pending"), []);
    assert.deepEqual(await project.files("failed"), []);

    const success = await readLog(project.logDir, "success.jsonl");
    assert.equal(success.length, events.size);
    for (const line of success) {
      const properties = line.properties as Record<string, unknown>;
      assert.ok(ids.has(properties.requestId as string));
      assert.match(properties.traceId as string, /^[0-9a-f]{32}$/);
    }
    for (const name of ["success.jsonl", "queue.jsonl", "debug.jsonl", "error.jsonl"]) {
      const text = await Deno.readTextFile(join(project.logDir, name)).catch(() => "");
      assert.ok(!text.includes(TEST_KEY), `${name} holds the API key`);
    }
  } finally {
    await server.close();
    await project.cleanup();
  }
});

Deno.test("server down, hanging or failing: exit 0, silent, event waits in pending/", async () => {
  const stop = JSON.stringify(events.get("PreToolUse"));
  const cases: [string, () => Promise<{ url: string; close(): Promise<void> }>][] = [
    ["down", async () => ({ url: await downUrl(), close: () => Promise.resolve() })],
    ["hanging", () => Promise.resolve(hangingServer())],
    ["500", () => Promise.resolve(answeringServer(500, { status: "ERROR" }))],
    ["429", () => Promise.resolve(answeringServer(429, { status: "ERROR" }))],
  ];
  for (const [name, start] of cases) {
    const project = await hookProject();
    const server = await start();
    try {
      const started = performance.now();
      const result = await hook(project.env(server.url, { ARRAKIS_HOOK_TIMEOUT: "300ms" }), stop);
      const elapsed = performance.now() - started;
      assert.equal(result.code, 0, `${name}: ${result.stderr}`);
      assert.equal(result.stdout, "", name);
      const pending = await project.files("pending");
      assert.equal(pending.length, 1, `${name}: ${result.stderr}`);
      const record = SpoolRecord.parse(
        JSON.parse(await Deno.readTextFile(join(project.queueDir, "pending", pending[0]))),
      );
      assert.equal(record.envelope.event, "PreToolUse");
      assert.ok(record.delivery.lastError, name);
      assert.ok(elapsed < 10_000, `${name}: the hook outlived Claude Code's timeout`);
      assert.deepEqual(await project.files("failed"), []);
      const errors = await readLog(project.logDir, "error.jsonl");
      assert.ok(errors.length >= 1, `${name}: no error log line`);
      assert.equal(
        (errors[0].properties as Record<string, unknown>).requestId,
        record.envelope.requestId,
      );
    } finally {
      await server.close();
      await project.cleanup();
    }
  }
});

Deno.test("each envelope reports the spool it was added to (this event not counted)", async () => {
  const project = await hookProject();
  try {
    const env = project.env(await downUrl());
    for (const name of ["UserPromptSubmit", "PreToolUse"]) {
      assert.equal((await hook(env, JSON.stringify(events.get(name)))).code, 0);
    }
    const records = await Promise.all(
      (await project.files("pending")).sort().map(async (file) =>
        SpoolRecord.parse(
          JSON.parse(await Deno.readTextFile(join(project.queueDir, "pending", file))),
        )
      ),
    );
    assert.deepEqual(records.map((r) => r.envelope.source.spool), [
      { pending: 0, failed: 0 },
      { pending: 1, failed: 0 },
    ]);
  } finally {
    await project.cleanup();
  }
});

Deno.test("a 400 answer dead-letters the event in failed/ with the answer", async () => {
  const project = await hookProject();
  const answer = { status: "INVALID", message: "bad", issues: [{ path: ["x"], message: "no" }] };
  const server = answeringServer(400, answer);
  try {
    const result = await hook(project.env(server.url), JSON.stringify(events.get("Stop")));
    assert.equal(result.code, 0);
    assert.equal(result.stdout, "");
    assert.deepEqual(await project.files("pending"), []);
    const failed = await project.files("failed");
    assert.equal(failed.length, 1);
    const record = SpoolRecord.parse(
      JSON.parse(await Deno.readTextFile(join(project.queueDir, "failed", failed[0]))),
    );
    assert.equal(record.delivery.lastHttpStatus, 400);
    assert.deepEqual(record.delivery.lastAnswer, answer);
  } finally {
    await server.close();
    await project.cleanup();
  }
});

Deno.test("malformed stdin, no key, bad settings, unwritable spool: exit 0, silent, says why", async () => {
  const project = await hookProject();
  const server = answeringServer(200, { status: "SUCCESS" });
  try {
    // Not JSON, and JSON that is not an object.
    for (const stdin of ["{ not json", "[1,2]", ""]) {
      const result = await hook(project.env(server.url), stdin);
      assert.equal(result.code, 0);
      assert.equal(result.stdout, "");
      assert.match(result.stderr, /stdin is/);
    }
    const errors = await readLog(project.logDir, "error.jsonl");
    assert.equal(errors.length, 3);

    // A bad setting falls back to defaults and still captures.
    const bad = await hook(
      project.env(server.url, { ARRAKIS_HOOK_TIMEOUT: "soon" }),
      JSON.stringify(events.get("Notification")),
    );
    assert.equal(bad.code, 0);
    assert.equal(bad.stdout, "");
    assert.match(bad.stderr, /ARRAKIS_HOOK_TIMEOUT/);
    assert.equal(server.received.length, 1);

    // The spool cannot be written: the event is still sent.
    const blocked = join(project.dir, "blocked");
    await Deno.writeTextFile(blocked, "a file, not a directory");
    const unwritable = await hook(
      project.env(server.url, { ARRAKIS_QUEUE_DIR: join(blocked, "queue") }),
      JSON.stringify(events.get("PreToolUse")),
    );
    assert.equal(unwritable.code, 0);
    assert.equal(unwritable.stdout, "");
    assert.match(unwritable.stderr, /could not spool/);
    assert.equal(server.received.length, 2);

    // No key anywhere: kept in the spool, not sent (a 401 would dead-letter it).
    const env = project.env(server.url);
    delete (env as Record<string, string>).ARRAKIS_API_KEY;
    const noKey = await hook(env, JSON.stringify(events.get("Notification")));
    assert.equal(noKey.code, 0);
    assert.equal(noKey.stdout, "");
    assert.match(noKey.stderr, /no API key/);
    assert.equal((await project.files("pending")).length, 1);
    assert.equal(server.received.length, 2);
  } finally {
    await server.close();
    await project.cleanup();
  }
});

Deno.test("secrets and unstorable characters never leave the machine", async () => {
  const project = await hookProject();
  const server = answeringServer(200, { status: "SUCCESS" });
  try {
    const input = {
      ...events.get("PostToolUse"),
      tool_input: { command: "curl -H 'Authorization: Bearer abcdefghijklmnopqrstuvwxyz' x" },
      tool_response: {
        stdout: "ANTHROPIC_API_KEY=sk-ant-api03-abcdefghijklmnopqrstuvwxyz\u0000 tail \ud800",
      },
    };
    const result = await hook(project.env(server.url), JSON.stringify(input));
    assert.equal(result.code, 0);
    const body = JSON.stringify(server.received[0]);
    assert.ok(!body.includes("abcdefghijklmnopqrstuvwxyz"), body);
    assert.ok(!body.includes("\\u0000"));
    assert.ok(!/\\ud800/i.test(body));
    assert.ok(Envelope.safeParse(server.received[0]).success);
  } finally {
    await server.close();
    await project.cleanup();
  }
});

Deno.test("concurrent Stop hooks of one session never take the same transcript line", async () => {
  const project = await hookProject();
  const server = answeringServer(200, { status: "SUCCESS" });
  try {
    const transcript = join(project.dir, "t.jsonl");
    const stop = { ...events.get("Stop"), transcript_path: transcript };
    const lineOf = (n: number) => JSON.stringify({ type: "user", uuid: `u-${n}` }) + "\n";
    let next = 0;
    const runs: Promise<unknown>[] = [];
    // Lines keep arriving while hooks overlap.
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 5; i++) {
        await Deno.writeTextFile(transcript, lineOf(next++), { append: true });
      }
      for (let i = 0; i < 3; i++) runs.push(hook(project.env(server.url), JSON.stringify(stop)));
    }
    const results = await Promise.all(runs) as { code: number; stdout: string }[];
    for (const result of results) {
      assert.equal(result.code, 0);
      assert.equal(result.stdout, "");
    }
    const sent = server.received.flatMap((body) => (body as Envelope).transcript ?? [])
      .map((line) => line.uuid);
    assert.deepEqual(
      sent.sort(),
      Array.from({ length: next }, (_, n) => `u-${n}`).sort(),
    );
    // Ranges of the envelopes tile the file without overlap.
    const ranges = server.received.map((body) => (body as Envelope).transcriptRange)
      .filter((range) => range !== undefined).sort((a, b) => a!.from - b!.from);
    for (let i = 1; i < ranges.length; i++) assert.equal(ranges[i]!.from, ranges[i - 1]!.to);
  } finally {
    await server.close();
    await project.cleanup();
  }
});

Deno.test("SubagentStop reads the subagent's own transcript; Stop reads the session's", async () => {
  const project = await hookProject();
  const server = answeringServer(200, { status: "SUCCESS" });
  try {
    const main = join(project.dir, "main.jsonl");
    const agent = join(project.dir, "agent.jsonl");
    await Deno.writeTextFile(main, JSON.stringify({ type: "user", uuid: "main-1" }) + "\n");
    await Deno.writeTextFile(
      agent,
      JSON.stringify({ type: "assistant", uuid: "agent-1", isSidechain: true }) + "\n",
    );
    const subagent = {
      ...events.get("SubagentStop"),
      transcript_path: main,
      agent_transcript_path: agent,
    };
    await hook(project.env(server.url), JSON.stringify(subagent));
    await hook(project.env(server.url), JSON.stringify(subagent));
    await hook(
      project.env(server.url),
      JSON.stringify({ ...events.get("Stop"), transcript_path: main }),
    );
    const [first, second, stop] = server.received as Envelope[];
    assert.deepEqual(first.transcript?.map((line) => line.uuid), ["agent-1"]);
    assert.equal(first.transcriptRange?.path, agent);
    assert.equal(second.transcript, undefined, "the agent's line was taken twice");
    assert.deepEqual(stop.transcript?.map((line) => line.uuid), ["main-1"]);
  } finally {
    await server.close();
    await project.cleanup();
  }
});
