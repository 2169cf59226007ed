// A hostile repository (issue 16 §1), in a real git clone: committed symlinks where the old
// in-repo spool and logs lived, a committed spool record and a breaker file. The hook and a
// drain run in it leave every file those links point at byte-identical, never read or send the
// committed record, and keep the events in the per-user spool.
import assert from "node:assert/strict";
import { join } from "node:path";
import { runArrakis } from "./helpers/cli.ts";
import { answeringServer, fixtureEvents, hookProject, TEST_KEY } from "./helpers/hook_env.ts";
import { envelope } from "./helpers/queue.ts";
import { newRecord } from "../src/queue/spool.ts";
import { localPaths } from "../src/config-core.ts";
import { ensureSpoolDirs } from "../src/queue/spool-file.ts";
import { tryShipperLock } from "../src/queue/lock.ts";
import { tempDir } from "./helpers/temp.ts";

const events = await fixtureEvents();

async function git(dir: string, ...args: string[]): Promise<void> {
  const { code, stderr } = await new Deno.Command("git", {
    args: ["-c", "user.email=a@b.c", "-c", "user.name=attacker", ...args],
    cwd: dir,
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
}

/** Every file under dir with its bytes (links as their targets' names). */
async function snapshot(dir: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const walk = async (at: string) => {
    for await (const entry of Deno.readDir(at)) {
      const path = join(at, entry.name);
      if (entry.isSymlink) files.set(path, `-> ${await Deno.readLink(path)}`);
      else if (entry.isDirectory) await walk(path);
      else files.set(path, await Deno.readTextFile(path));
    }
  };
  await walk(dir);
  return files;
}

Deno.test("a repository's committed links, spool record and breaker change nothing outside the per-user spool", async () => {
  const project = await hookProject();
  const batchServer = answeringServer(200, (body: { requestId: string }[]) => ({
    results: body.map((item) => ({
      status: "SUCCESS",
      requestId: item.requestId,
      httpStatus: 200,
    })),
  }));
  try {
    const repo = project.dir;
    const victims = await tempDir("arrakis-victims-");
    const authorizedKeys = join(victims, "authorized_keys");
    const config = join(victims, "config.jsonl");
    const elsewhere = join(victims, "elsewhere");
    await Deno.writeTextFile(authorizedKeys, "ssh-ed25519 AAAAC3Nza victim@host\n");
    await Deno.writeTextFile(config, '{"keep":"me"}\n');
    await Deno.mkdir(elsewhere);

    // What the attacker commits: the old spool's lock files and logs as links to victims, a
    // record to be sent with the victim's key, and a breaker that would silence sending.
    await git(repo, "init", "-q", ".");
    const queue = join(repo, ".claude", "queue");
    const logs = join(repo, ".claude", "logs");
    await Deno.mkdir(join(queue, "pending"), { recursive: true });
    await Deno.mkdir(logs, { recursive: true });
    for (const lock of ["drain.lock", "shipper.lock"]) {
      await Deno.symlink(authorizedKeys, join(queue, lock));
    }
    for (const log of ["debug.jsonl", "error.jsonl", "queue.jsonl", "success.jsonl"]) {
      await Deno.symlink(config, join(logs, log));
    }
    const planted = envelope();
    await Deno.writeTextFile(
      join(queue, "pending", `${planted.requestId}.json`),
      JSON.stringify(newRecord(planted)),
    );
    await Deno.writeTextFile(
      join(queue, "breaker.json"),
      JSON.stringify({ failures: 99, openUntil: Date.now() + 365 * 86_400_000 }),
    );
    // A second layout: the whole queue and logs directories as links elsewhere.
    const other = join(repo, "nested");
    await Deno.mkdir(join(other, ".claude"), { recursive: true });
    await Deno.symlink(elsewhere, join(other, ".claude", "queue"));
    await Deno.symlink(elsewhere, join(other, ".claude", "logs"));
    await git(repo, "add", "-A");
    await git(repo, "commit", "-q", "-m", "innocent");
    const before = await snapshot(victims);
    const repoBefore = await snapshot(join(repo, ".claude"));

    // As if shipper processes ran for both spools: delivery here is the explicit drain below.
    const repoPaths = localPaths({ ARRAKIS_HOME: project.home, CLAUDE_PROJECT_DIR: repo });
    const nested = localPaths({ ARRAKIS_HOME: project.home, CLAUDE_PROJECT_DIR: other });
    const locks = [];
    for (const paths of [repoPaths, nested]) {
      await ensureSpoolDirs(paths.queueDir, paths.queueRoot, []);
      locks.push((await tryShipperLock(paths.queueDir))!);
    }

    const env = project.env(batchServer.url, { ARRAKIS_LOG_LEVEL: "debug" });
    const nestedEnv = { ...env, CLAUDE_PROJECT_DIR: other };
    for (const [runEnv, cwd] of [[env, repo], [nestedEnv, other]] as const) {
      for (const name of ["SessionStart", "PreToolUse", "Stop"]) {
        const result = await runArrakis(["hook"], {
          env: runEnv,
          cwd,
          stdin: JSON.stringify(events.get(name)),
        });
        assert.equal(result.code, 0, result.stderr);
        assert.equal(result.stdout, "");
      }
    }
    // A drain in the repository delivers what the hooks spooled, nothing the repo planted.
    const drained = await runArrakis(["queue", "drain", "--now", "--json"], { env, cwd: repo });
    assert.equal(drained.code, 0, drained.stderr);

    assert.deepEqual(await snapshot(victims), before, "a file outside the spool changed");
    assert.deepEqual(await snapshot(join(repo, ".claude")), repoBefore, "the repo changed");
    const sent = (batchServer.received as { requestId: string }[][]).flat();
    assert.equal(sent.length, 3, "the hooks' own events, delivered");
    assert.ok(!sent.some((item) => item.requestId === planted.requestId), "planted record sent");
    for (const headers of batchServer.headers) {
      assert.equal(headers.get("authorization"), `Bearer ${TEST_KEY}`);
    }

    // Each project's events wait in its own per-user spool.
    for (const lock of locks) lock.release();
    const nestedPending = [...Deno.readDirSync(join(nested.queueDir, "pending"))];
    assert.equal(nestedPending.length, 3);
    assert.ok(nested.queueDir.startsWith(join(project.home, "spool")));
    await Deno.remove(victims, { recursive: true });
  } finally {
    await batchServer.close();
    await project.cleanup();
  }
});
