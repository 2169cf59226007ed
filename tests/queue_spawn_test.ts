// The detached shipper the hook starts: `arrakis hook` on SessionEnd leaves a shipper behind
// that delivers the spooled backlog after the hook itself has exited, then exits when idle.
import assert from "node:assert/strict";
import { join } from "node:path";
import { pathToFileURL as toFileUrl } from "node:url";
import { storeTest } from "./helpers/stores.ts";
import { startInProcessServer } from "./helpers/server.ts";
import { runArrakis } from "./helpers/cli.ts";
import { openSpool } from "../src/queue/spool.ts";
import { selfCommand } from "../src/self_command.ts";
import { tryShipperLock } from "../src/queue/lock.ts";
import { loadConfig } from "../src/config.ts";
import { envelope, filesIn } from "./helpers/queue.ts";
import { HOOK_INPUT_DIR } from "./helpers/fixtures.ts";
import { tempDir } from "./helpers/temp.ts";

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return await check();
}

storeTest(
  "a hook on SessionEnd starts a detached shipper that delivers the backlog and exits idle",
  async ({ db }) => {
    const server = await startInProcessServer(db);
    try {
      const project = await tempDir("arrakis-spawn-");
      const env = {
        CLAUDE_PROJECT_DIR: project,
        ARRAKIS_URL: server.url,
        ARRAKIS_API_KEY: server.apiKey,
        ARRAKIS_HOME: join(project, "home"),
        ARRAKIS_CONFIG: join(project, "home", "client.json"),
        ARRAKIS_SHIPPER_IDLE: "500ms",
      };
      const { queueDir, queueRoot, spoolKeyFile } = loadConfig(env);
      // Signed with the key of the home the hook and shipper use, or they quarantine it.
      const spool = await openSpool(queueDir, { root: queueRoot, keyFile: spoolKeyFile });
      const ids: string[] = [];
      for (let i = 0; i < 40; i++) ids.push((await spool.put(envelope())).id);
      const event = JSON.parse(
        await Deno.readTextFile(join(HOOK_INPUT_DIR, "SessionEnd.json")),
      );
      const hook = await runArrakis(["hook"], {
        stdin: JSON.stringify(event),
        env,
      });
      assert.equal(hook.code, 0);
      assert.equal(hook.stdout, "");
      // The hook has exited; the shipper it left behind delivers the backlog. (The hook's own
      // SessionEnd may legitimately wait in backoff if its short send timed out on a busy box.)
      const backlogLeft = async () => {
        const names = [
          ...await filesIn(join(queueDir, "pending")),
          ...await filesIn(join(queueDir, "processing")),
        ];
        return names.filter((name) => ids.includes(name.slice(0, 36))).length;
      };
      const emptied = await until(async () => await backlogLeft() === 0, 60_000);
      assert.ok(emptied, `${await backlogLeft()} backlog items still spooled`);
      const [row] = await server.sql<{ n: number }[]>`
      SELECT count(DISTINCT request_id)::int AS n FROM webhook_events
      WHERE request_id = ANY(${ids}) AND status = 'SUCCESS'`;
      assert.equal(row.n, 40);
      // Idle, it exits: its lock comes free.
      const free = await until(async () => {
        const lock = await tryShipperLock(queueDir);
        lock?.release();
        return lock !== undefined;
      }, 30_000);
      assert.ok(free, "the shipper never exited");
    } finally {
      await server.stop();
    }
  },
  { kinds: ["pglite"] },
);

Deno.test("selfCommand re-runs deno with this main module, its config and permissions", () => {
  const { command, args } = selfCommand(["queue", "ship", "--quiet"]);
  assert.equal(command, Deno.execPath());
  assert.equal(args[0], "run");
  assert.ok(args.includes("--allow-net") && args.includes("--allow-write"));
  assert.deepEqual(args.slice(-3), ["queue", "ship", "--quiet"]);
});

Deno.test("selfCommand from the installed hook's bundle re-runs the main.ts beside it", async () => {
  const appDir = await tempDir("arrakis-bundle-");
  try {
    for (const name of ["main.ts", "deno.json", "hook.js"]) {
      await Deno.writeTextFile(join(appDir, name), "");
    }
    const { command, args } = selfCommand(
      ["queue", "ship", "--quiet"],
      toFileUrl(join(appDir, "hook.js")).href,
    );
    assert.equal(command, Deno.execPath());
    assert.deepEqual(args.slice(-4), [join(appDir, "main.ts"), "queue", "ship", "--quiet"]);
    assert.equal(args[args.indexOf("--config") + 1], join(appDir, "deno.json"));
  } finally {
    await Deno.remove(appDir, { recursive: true });
  }
});
