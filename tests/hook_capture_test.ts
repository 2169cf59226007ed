// The real `arrakis hook` process: every event lands signed in the per-user spool, exit 0 and
// silence every time, no network needed, and bad input, no key, an unwritable or refused spool
// each cost one clear stderr line. Delivery is the shipper's (tests/hook_delivery_test.ts):
// these tests hold the shipper lock themselves, as a running shipper would, so no hook starts
// one and the spool stays as the hooks left it.
import assert from "node:assert/strict";
import { join } from "node:path";
import { CONFIG, MAIN, runArrakis } from "./helpers/cli.ts";
import { childEnv } from "./helpers/cli.ts";
import { downUrl, fixtureEvents, type HookProject, hookProject } from "./helpers/hook_env.ts";
import { Envelope, KNOWN_HOOK_EVENTS } from "../src/schema.ts";
import { openSpool, type SpoolItem } from "../src/queue/spool.ts";
import { type SpoolLock, tryShipperLock } from "../src/queue/lock.ts";
import { ensureSpoolDirs } from "../src/queue/spool-file.ts";
import { SESSION_END_WAIT_MS } from "../src/hook/capture.ts";

const events = await fixtureEvents();

function hook(env: Record<string, string>, stdin: string | Uint8Array) {
  return runArrakis(["hook"], { env, stdin });
}

/** Holds the project's shipper lock, as a running shipper does: hooks then start none. */
async function asIfShipperRuns(project: HookProject): Promise<SpoolLock> {
  await ensureSpoolDirs(project.queueDir, project.home, []);
  const lock = await tryShipperLock(project.queueDir);
  assert.ok(lock, "the shipper lock is free in a fresh spool");
  return lock;
}

async function pendingItems(project: HookProject): Promise<SpoolItem[]> {
  const spool = await openSpool(project.queueDir, {
    root: project.home,
    keyFile: join(project.home, "spool.key"),
  });
  return await spool.list("pending");
}

async function readLog(dir: string, name: string): Promise<Record<string, unknown>[]> {
  try {
    const text = await Deno.readTextFile(join(dir, name));
    return text.trim().split("\n").filter(Boolean).map((line) => JSON.parse(line));
  } catch {
    return [];
  }
}

function stderrLines(stderr: string): string[] {
  return stderr.split("\n").filter((line) => line.trim() !== "");
}

Deno.test("every fixture event is spooled once as a signed, valid envelope; nothing on stdout", async () => {
  const project = await hookProject();
  const lock = await asIfShipperRuns(project);
  try {
    assert.deepEqual([...events.keys()].sort(), [...KNOWN_HOOK_EVENTS].sort());
    const env = project.env(await downUrl());
    for (const [name, input] of events) {
      const result = await hook(env, JSON.stringify(input));
      assert.equal(result.code, 0, `${name}: ${result.stderr}`);
      assert.equal(result.stdout, "", name);
      // SessionEnd waits up to a second for a delivery that cannot come: it says so in the
      // debug log only, never on stderr.
      assert.equal(result.stderr, "", name);
    }
    const items = await pendingItems(project);
    assert.equal(items.length, events.size, "every event signed and readable");
    for (const item of items) {
      const parsed = Envelope.safeParse(item.record.envelope);
      assert.ok(parsed.success, JSON.stringify(parsed.error?.issues));
      const envelope = parsed.data!;
      assert.equal(envelope.attempt, 1);
      assert.equal(envelope.source.projectDir, project.dir);
      assert.equal(envelope.source.cwd, "/home/dev/shop");
      assert.deepEqual(envelope.payload, events.get(envelope.event));
      assert.equal(item.record.delivery.attempts, 0);
    }
    assert.equal(new Set(items.map((item) => item.id)).size, events.size);
    const queued = await readLog(project.logDir, "queue.jsonl");
    const spooled = queued.filter((line) => String(line.message).startsWith("spooled"));
    assert.deepEqual(
      spooled.map((line) => (line.properties as Record<string, unknown>).requestId).sort(),
      items.map((item) => item.id).sort(),
    );
  } finally {
    lock.release();
    await project.cleanup();
  }
});

Deno.test("the hook needs no network: without --allow-net it still spools, silently", async () => {
  const project = await hookProject();
  const lock = await asIfShipperRuns(project);
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--quiet",
        "--config",
        CONFIG,
        "--allow-read",
        "--allow-write",
        "--allow-env",
        "--allow-sys",
        "--allow-run",
        MAIN,
        "hook",
      ],
      env: childEnv(project.env("http://127.0.0.1:9")),
      clearEnv: true,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(JSON.stringify(events.get("PostToolUse"))));
    await writer.close();
    const { code, stdout, stderr } = await child.output();
    assert.equal(code, 0);
    assert.equal(new TextDecoder().decode(stdout), "");
    assert.equal(new TextDecoder().decode(stderr), "");
    assert.equal((await pendingItems(project)).length, 1);
  } finally {
    lock.release();
    await project.cleanup();
  }
});

Deno.test("each envelope reports the spool it was added to (this event not counted)", async () => {
  const project = await hookProject();
  const lock = await asIfShipperRuns(project);
  try {
    const env = project.env(await downUrl());
    for (const name of ["UserPromptSubmit", "PreToolUse"]) {
      assert.equal((await hook(env, JSON.stringify(events.get(name)))).code, 0);
    }
    const items = await pendingItems(project);
    assert.deepEqual(items.map((item) => item.record.envelope.source.spool), [
      { pending: 0, failed: 0 },
      { pending: 1, failed: 0 },
    ]);
  } finally {
    lock.release();
    await project.cleanup();
  }
});

Deno.test("private places: dirs 0700, files 0600, a .gitignore of * in the spool", async () => {
  const project = await hookProject();
  const lock = await asIfShipperRuns(project);
  try {
    const stop = { ...events.get("Stop"), transcript_path: join(project.dir, "t.jsonl") };
    await Deno.writeTextFile(stop.transcript_path, '{"type":"user","uuid":"u-1"}\n');
    const result = await hook(project.env(await downUrl()), JSON.stringify(stop));
    assert.equal(result.code, 0, result.stderr);
    assert.equal(await Deno.readTextFile(join(project.queueDir, ".gitignore")), "*\n");
    const walk = async (dir: string): Promise<void> => {
      assert.equal((await Deno.lstat(dir)).mode! & 0o777, 0o700, dir);
      for await (const entry of Deno.readDir(dir)) {
        const path = join(dir, entry.name);
        if (entry.isDirectory) await walk(path);
        else assert.equal((await Deno.lstat(path)).mode! & 0o777, 0o600, path);
      }
    };
    await walk(project.home);
    // What the walk covered: the key, the spool, the record, transcript state and the logs.
    for (const path of ["spool.key", "spool"]) await Deno.lstat(join(project.home, path));
    for (const sub of ["pending", "state", "logs"]) await Deno.lstat(join(project.queueDir, sub));
    // Nothing of arrakis's in the repository itself.
    await assert.rejects(Deno.lstat(join(project.dir, ".claude")), Deno.errors.NotFound);
  } finally {
    lock.release();
    await project.cleanup();
  }
});

Deno.test("malformed stdin, bad settings, no key: exit 0, silent, one line on stderr", async () => {
  const project = await hookProject();
  const lock = await asIfShipperRuns(project);
  try {
    // Not JSON, and JSON that is not an object: nothing is captured.
    for (const stdin of ["{ not json", "[1,2]", ""]) {
      const result = await hook(project.env(await downUrl()), stdin);
      assert.equal(result.code, 0);
      assert.equal(result.stdout, "");
      assert.equal(stderrLines(result.stderr).length, 1, result.stderr);
      assert.match(result.stderr, /stdin is/);
    }
    const errors = await readLog(project.logDir, "error.jsonl");
    assert.equal(errors.length, 3);
    assert.equal((await pendingItems(project)).length, 0);

    // A bad setting falls back to its default and still captures.
    const bad = await hook(
      project.env(await downUrl(), { ARRAKIS_LOG_LEVEL: "loud" }),
      JSON.stringify(events.get("Notification")),
    );
    assert.equal(bad.code, 0);
    assert.equal(bad.stdout, "");
    assert.equal(stderrLines(bad.stderr).length, 1, bad.stderr);
    assert.match(bad.stderr, /ARRAKIS_LOG_LEVEL/);
    assert.equal((await pendingItems(project)).length, 1);

    // No key, no URL, no client file: the hook never needed them (the shipper does).
    const env = project.env("unused");
    delete (env as Record<string, string>).ARRAKIS_API_KEY;
    delete (env as Record<string, string>).ARRAKIS_URL;
    const noKey = await hook(env, JSON.stringify(events.get("PreToolUse")));
    assert.equal(noKey.code, 0);
    assert.equal(noKey.stdout, "");
    assert.equal(noKey.stderr, "");
    assert.equal((await pendingItems(project)).length, 2);
  } finally {
    lock.release();
    await project.cleanup();
  }
});

Deno.test("an unwritable or refused spool: exit 0, silent on stdout, one line on stderr", async () => {
  const project = await hookProject();
  try {
    const input = JSON.stringify(events.get("PreToolUse"));
    // A file where the spool directory should be.
    const blocked = join(project.dir, "blocked");
    await Deno.writeTextFile(blocked, "a file, not a directory");
    const unwritable = await hook(
      project.env(await downUrl(), { ARRAKIS_QUEUE_DIR: join(blocked, "queue") }),
      input,
    );
    assert.equal(unwritable.code, 0);
    assert.equal(unwritable.stdout, "");
    assert.equal(stderrLines(unwritable.stderr).length, 1, unwritable.stderr);
    assert.match(unwritable.stderr, /spool PreToolUse .*: LOST: .*blocked is not a directory/);

    // A spool directory that is a symlink: refused, and nothing is written where it points.
    const elsewhere = join(project.dir, "elsewhere");
    await Deno.mkdir(elsewhere);
    const linked = join(project.dir, "linked-queue");
    await Deno.symlink(elsewhere, linked);
    const refused = await hook(
      project.env(await downUrl(), { ARRAKIS_QUEUE_DIR: linked }),
      input,
    );
    assert.equal(refused.code, 0);
    assert.equal(refused.stdout, "");
    assert.equal(stderrLines(refused.stderr).length, 1, refused.stderr);
    assert.match(refused.stderr, /refused to spool PreToolUse .*linked-queue is a symbolic link/);
    assert.deepEqual([...Deno.readDirSync(elsewhere)], []);

    // A log directory that is a symlink: the event is spooled, the logs are refused.
    const lock = await asIfShipperRuns(project);
    const linkedLogs = join(project.dir, "linked-logs");
    await Deno.symlink(elsewhere, linkedLogs);
    const noLogs = await hook(
      project.env(await downUrl(), { ARRAKIS_LOG_DIR: linkedLogs }),
      input,
    );
    assert.equal(noLogs.code, 0);
    assert.equal(noLogs.stdout, "");
    assert.equal(stderrLines(noLogs.stderr).length, 1, noLogs.stderr);
    assert.match(noLogs.stderr, /cannot write logs to .*linked-logs is a symbolic link/);
    assert.deepEqual([...Deno.readDirSync(elsewhere)], []);
    assert.equal((await pendingItems(project)).length, 1);
    lock.release();
  } finally {
    await project.cleanup();
  }
});

Deno.test("a full disk: exit 0, silent on stdout, one line on stderr", async () => {
  // /dev/full answers every write with ENOSPC: a log directory on it cannot be written, and a
  // spool whose directory is /dev/full cannot be created.
  try {
    await Deno.lstat("/dev/full");
  } catch {
    return; // not Linux: nothing to fill
  }
  const project = await hookProject();
  try {
    const result = await hook(
      project.env(await downUrl(), { ARRAKIS_QUEUE_DIR: "/dev/full/queue" }),
      JSON.stringify(events.get("Stop")),
    );
    assert.equal(result.code, 0);
    assert.equal(result.stdout, "");
    assert.equal(stderrLines(result.stderr).length, 1, result.stderr);
    assert.match(result.stderr, /spool Stop .*: LOST/);
  } finally {
    await project.cleanup();
  }
});

Deno.test("secrets and unstorable characters never reach the spool", async () => {
  const project = await hookProject();
  const lock = await asIfShipperRuns(project);
  try {
    const input = {
      ...events.get("PostToolUse"),
      tool_input: { command: "curl -H 'Authorization: Bearer abcdefghijklmnopqrstuvwxyz' x" },
      tool_response: {
        stdout: "ANTHROPIC_API_KEY=sk-ant-api03-abcdefghijklmnopqrstuvwxyz\u0000 tail \ud800",
      },
    };
    const result = await hook(project.env(await downUrl()), JSON.stringify(input));
    assert.equal(result.code, 0);
    const [item] = await pendingItems(project);
    const text = await Deno.readTextFile(item.path);
    assert.ok(!text.includes("abcdefghijklmnopqrstuvwxyz"), text);
    assert.ok(!text.includes("\\u0000"));
    assert.ok(!/\\ud800/i.test(text));
    assert.ok(Envelope.safeParse(item.record.envelope).success);
  } finally {
    lock.release();
    await project.cleanup();
  }
});

Deno.test("concurrent Stop hooks of one session never take the same transcript line", async () => {
  const project = await hookProject();
  const lock = await asIfShipperRuns(project);
  try {
    const env = project.env(await downUrl());
    const transcript = join(project.dir, "t.jsonl");
    const stop = { ...events.get("Stop"), transcript_path: transcript };
    const lineOf = (n: number) => JSON.stringify({ type: "user", uuid: `u-${n}` }) + "\n";
    let next = 0;
    const runs: Promise<{ code: number; stdout: string }>[] = [];
    // Lines keep arriving while hooks overlap.
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 5; i++) {
        await Deno.writeTextFile(transcript, lineOf(next++), { append: true });
      }
      for (let i = 0; i < 3; i++) runs.push(hook(env, JSON.stringify(stop)));
    }
    for (const result of await Promise.all(runs)) {
      assert.equal(result.code, 0);
      assert.equal(result.stdout, "");
    }
    const envelopes = (await pendingItems(project)).map((item) => item.record.envelope);
    const taken = envelopes.flatMap((envelope) => envelope.transcript ?? [])
      .map((line) => line.uuid);
    assert.deepEqual(taken.sort(), Array.from({ length: next }, (_, n) => `u-${n}`).sort());
    // Ranges of the envelopes tile the file without overlap.
    const ranges = envelopes.map((envelope) => envelope.transcriptRange)
      .filter((range) => range !== undefined).sort((a, b) => a!.from - b!.from);
    for (let i = 1; i < ranges.length; i++) assert.equal(ranges[i]!.from, ranges[i - 1]!.to);
  } finally {
    lock.release();
    await project.cleanup();
  }
});

Deno.test("SubagentStop reads the subagent's own transcript; Stop reads the session's", async () => {
  const project = await hookProject();
  const lock = await asIfShipperRuns(project);
  try {
    const env = project.env(await downUrl());
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
    await hook(env, JSON.stringify(subagent));
    await hook(env, JSON.stringify(subagent));
    await hook(env, JSON.stringify({ ...events.get("Stop"), transcript_path: main }));
    const [first, second, stop] = (await pendingItems(project)).map((item) => item.record.envelope);
    assert.deepEqual(first.transcript?.map((line) => line.uuid), ["agent-1"]);
    assert.equal(first.transcriptRange?.path, agent);
    assert.equal(second.transcript, undefined, "the agent's line was taken twice");
    assert.deepEqual(stop.transcript?.map((line) => line.uuid), ["main-1"]);
  } finally {
    lock.release();
    await project.cleanup();
  }
});

Deno.test("SessionEnd waits for its delivery, and no longer than its bound", async () => {
  const project = await hookProject();
  const lock = await asIfShipperRuns(project);
  try {
    const env = project.env(await downUrl(), { ARRAKIS_LOG_LEVEL: "debug" });
    const sessionEnd = JSON.stringify(events.get("SessionEnd"));
    // This test plays the running shipper: whatever appears in pending/ is "delivered".
    let delivering = true;
    const pending = join(project.queueDir, "pending");
    await Deno.mkdir(pending, { recursive: true, mode: 0o700 });
    const shipper = (async () => {
      while (delivering) {
        for (const entry of [...Deno.readDirSync(pending)]) {
          if (entry.name.endsWith(".json")) Deno.removeSync(join(pending, entry.name));
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();
    const delivered = await hook(env, sessionEnd);
    delivering = false;
    await shipper;
    assert.equal(delivered.code, 0, delivered.stderr);
    assert.equal(delivered.stdout, "");

    // Nobody delivers now: the hook gives up after its bound and the event stays spooled.
    const waited = await hook(env, sessionEnd);
    assert.equal(waited.code, 0, waited.stderr);
    assert.equal(waited.stdout, "");
    assert.equal(waited.stderr, "");
    assert.equal((await pendingItems(project)).length, 1);

    const outcomes = (await readLog(project.logDir, "debug.jsonl"))
      .filter((line) => String(line.message).startsWith("SessionEnd"))
      .map((line) => line.message);
    assert.deepEqual(outcomes, [
      'SessionEnd "delivered before exit"',
      `SessionEnd "still waiting after ${SESSION_END_WAIT_MS} ms"`,
    ]);
  } finally {
    lock.release();
    await project.cleanup();
  }
});
