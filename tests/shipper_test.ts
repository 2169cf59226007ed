// The resident shipper as real processes against the real server and store: one per spool under
// ten concurrent starts, new files shipped as they land, the idle exit, SIGKILL mid-batch and
// between batches (nothing lost, nothing doubled), and a refused key (nothing dead-lettered).
import assert from "node:assert/strict";
import { join } from "node:path";
import { storeTest } from "./helpers/stores.ts";
import { startInProcessServer } from "./helpers/server.ts";
import { openSpool } from "../src/queue/spool.ts";
import { envelope, tempQueueDir, TEST_HOME } from "./helpers/queue.ts";
import { downUrl } from "./helpers/hook_env.ts";
import { runArrakis } from "./helpers/cli.ts";
import { HOOK_INPUT_DIR } from "./helpers/fixtures.ts";
import { loadConfig } from "../src/config.ts";
import { tryShipperLock } from "../src/queue/lock.ts";
import { TEMP_PREFIX } from "../src/durable.ts";
import {
  auditOf,
  spoolFiles,
  startPausingShipper,
  startShipper,
  until,
} from "./helpers/shipper.ts";
import { tempDir } from "./helpers/temp.ts";

function shipperEnv(dir: string, url: string, extra: Record<string, string> = {}) {
  return {
    ARRAKIS_QUEUE_DIR: dir,
    ARRAKIS_URL: url,
    ARRAKIS_CONFIG: join(dir, "..", "client.json"),
    // The home whose spool key signed the records this process wrote.
    ARRAKIS_HOME: TEST_HOME,
    ARRAKIS_LOG_DIR: join(dir, "..", "logs"),
    ...extra,
  };
}

Deno.test("ten shippers started at once on one spool: one stays, nine exit 0 saying so", async () => {
  const dir = await tempQueueDir();
  await openSpool(dir);
  const env = shipperEnv(dir, await downUrl(), { ARRAKIS_API_KEY: "k" });
  const shippers = Array.from({ length: 10 }, () => startShipper(env));
  try {
    const alone = await until(
      () => Promise.resolve(shippers.filter((s) => s.exited()).length === 9),
      120_000,
    );
    assert.ok(alone, shippers.map((s) => s.stderr()).join("\n"));
    for (const shipper of shippers.filter((s) => s.exited())) {
      assert.equal((await shipper.status).code, 0);
      assert.equal(shipper.stderr(), `queue ship: a shipper already runs on ${dir}\n`);
    }
    const survivor = shippers.find((s) => !s.exited())!;
    // SIGTERM is a clean stop, and the lock is free again for the next one.
    assert.equal((await survivor.kill("SIGTERM")).code, 0);
    assert.equal(survivor.stderr(), "queue ship: stopped: delivered 0\n");
    const next = startShipper(env);
    await until(() => Promise.resolve(next.exited()), 3_000);
    assert.equal(next.exited(), false, next.stderr());
    await next.kill("SIGTERM");
  } finally {
    for (const shipper of shippers) await shipper.kill();
  }
});

/** Live `arrakis queue ship` processes whose environment holds `marker`. */
async function shippersWith(marker: string): Promise<number[]> {
  const pids: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const cmdline = await Deno.readTextFile(`/proc/${entry.name}/cmdline`);
      if (!cmdline.includes("queue\0ship")) continue;
      const environ = await Deno.readTextFile(`/proc/${entry.name}/environ`);
      if (environ.split("\0").includes(marker)) pids.push(Number(entry.name));
    } catch { /* exited meanwhile */ }
  }
  return pids;
}

Deno.test("ten hooks at once leave exactly one shipper running", async () => {
  const project = await tempDir("arrakis-ten-hooks-");
  const home = join(project, "home");
  const env = {
    CLAUDE_PROJECT_DIR: project,
    ARRAKIS_HOME: home,
    ARRAKIS_CONFIG: join(home, "client.json"),
    ARRAKIS_URL: await downUrl(),
    ARRAKIS_API_KEY: "k",
    ARRAKIS_SHIPPER_IDLE: "3s",
  };
  const input = JSON.parse(await Deno.readTextFile(join(HOOK_INPUT_DIR, "SessionEnd.json")));
  // SessionEnd: every hook (on any design) makes sure a shipper runs.
  const hooks = await Promise.all(
    Array.from({ length: 10 }, (_, i) =>
      runArrakis(["hook"], {
        env,
        stdin: JSON.stringify({ ...input, session_id: `ten-hooks-${i}` }),
      })),
  );
  for (const hook of hooks) assert.deepEqual([hook.code, hook.stdout], [0, ""]);
  const marker = `ARRAKIS_HOME=${home}`;
  // The extra shippers find the lock taken and leave at once; one stays with the spool.
  assert.ok(
    await until(async () => (await shippersWith(marker)).length === 1, 60_000),
    `shippers alive: ${(await shippersWith(marker)).length}`,
  );
  const { queueDir } = loadConfig(env);
  assert.equal(await tryShipperLock(queueDir), undefined, "the one left holds the lock");
  // The server stays down, so the events wait; no second shipper ever joins.
  assert.equal((await spoolFiles(queueDir)).length, 10);
  assert.equal((await shippersWith(marker)).length, 1);
  for (const pid of await shippersWith(marker)) Deno.kill(pid, "SIGTERM");
  assert.ok(await until(async () => (await shippersWith(marker)).length === 0, 30_000));
});

Deno.test("a symlink where a lock belongs is refused and its target never touched", async () => {
  const dir = await tempQueueDir();
  await openSpool(dir);
  const victim = join(dir, "..", "authorized_keys");
  await Deno.writeTextFile(victim, "ssh-ed25519 AAAA me\n");
  await Deno.symlink(victim, join(dir, "shipper.lock"));
  const shipper = startShipper(shipperEnv(dir, await downUrl(), { ARRAKIS_API_KEY: "k" }));
  assert.equal((await shipper.status).code, 1);
  assert.equal(
    shipper.stderr(),
    `arrakis: ${join(dir, "shipper.lock")} is a symbolic link; arrakis never writes through one\n`,
  );
  // The drainer's lock likewise.
  await Deno.symlink(victim, join(dir, "drain.lock"));
  const drained = await runArrakis(["queue", "drain"], {
    env: shipperEnv(dir, await downUrl(), { ARRAKIS_API_KEY: "k" }),
  });
  assert.equal(drained.code, 1);
  assert.equal(
    drained.stderr,
    `arrakis: ${join(dir, "drain.lock")} is a symbolic link; arrakis never writes through one\n`,
  );
  assert.equal(await Deno.readTextFile(victim), "ssh-ed25519 AAAA me\n");
});

storeTest(
  "files are shipped as they land, and the shipper exits after its idle period",
  async ({ db }) => {
    const server = await startInProcessServer(db);
    try {
      const dir = await tempQueueDir();
      const spool = await openSpool(dir);
      const shipper = startShipper(
        shipperEnv(dir, server.url, {
          ARRAKIS_API_KEY: server.apiKey,
          ARRAKIS_SHIPPER_IDLE: "2s",
        }),
      );
      const ids: string[] = [];
      // Two bursts with a pause between: each is picked up by the watcher, not a timer.
      for (const burst of [5, 5]) {
        for (let i = 0; i < burst; i++) ids.push((await spool.put(envelope())).id);
        const stored = await until(
          async () => (await auditOf(server.sql, ids)).success.size === ids.length,
          30_000,
        );
        assert.ok(stored, shipper.stderr());
      }
      const status = await shipper.status;
      assert.equal(status.code, 0);
      assert.equal(shipper.stderr(), "queue ship: idle: delivered 10\n");
      assert.deepEqual(await spoolFiles(dir), []);
      const audit = await auditOf(server.sql, ids);
      assert.ok([...audit.success.values()].every((n) => n === 1));
      assert.deepEqual(audit.other, {});
      // The shipper logged each delivery with its requestId.
      const success = await Deno.readTextFile(join(dir, "..", "logs", "success.jsonl"));
      for (const id of ids) assert.ok(success.includes(id), id);
    } finally {
      await server.stop();
    }
  },
);

storeTest(
  "shippers SIGKILLed mid-batch and between batches: nothing lost, nothing doubled",
  async ({ db }) => {
    const server = await startInProcessServer(db);
    try {
      const dir = await tempQueueDir();
      const spool = await openSpool(dir);
      const ids: string[] = [];
      for (let i = 0; i < 30; i++) ids.push((await spool.put(envelope())).id);
      const env = shipperEnv(dir, server.url, {
        ARRAKIS_API_KEY: server.apiKey,
        ARRAKIS_BATCH_MAX: "10",
        ARRAKIS_LEASE: "2s",
        ARRAKIS_SHIPPER_IDLE: "1s",
      });

      // Mid-batch: the server committed batch 1, the shipper dies before its spool knows.
      const first = startPausingShipper(env, "answered", 1);
      await first.waitFor("shipper-paused:answered:1");
      assert.equal((await first.kill()).signal, "SIGKILL");
      assert.equal((await auditOf(server.sql, ids)).success.size, 10);
      assert.equal((await spoolFiles(dir)).filter((f) => f.startsWith("processing/")).length, 10);

      // Between batches: one batch delivered and removed, the next claimed and not yet sent.
      const second = startPausingShipper(env, "claimed", 2);
      await second.waitFor("shipper-paused:claimed:2");
      await second.kill();

      // The next shipper reclaims both dead shippers' leases once they end and ships the rest.
      const last = startShipper(env);
      assert.equal((await last.status).code, 0, last.stderr());
      assert.deepEqual(await spoolFiles(dir), []);
      const audit = await auditOf(server.sql, ids);
      assert.equal(audit.success.size, 30);
      assert.ok([...audit.success.values()].every((n) => n === 1), "a requestId stored twice");
      // Only the committed-then-killed batch was sent again, and recognised.
      assert.deepEqual(audit.other, { DUPLICATE: 10 });
    } finally {
      await server.stop();
    }
  },
  { kinds: ["postgres"] },
);

storeTest(
  "shippers SIGKILLed at arbitrary moments over a backlog: every event stored exactly once",
  async ({ db }) => {
    const server = await startInProcessServer(db);
    try {
      const dir = await tempQueueDir();
      const spool = await openSpool(dir);
      const ids: string[] = [];
      for (let i = 0; i < 300; i++) ids.push((await spool.put(envelope())).id);
      const env = shipperEnv(dir, server.url, {
        ARRAKIS_API_KEY: server.apiKey,
        ARRAKIS_BATCH_MAX: "20",
        ARRAKIS_LEASE: "2s",
        ARRAKIS_SHIPPER_IDLE: "1s",
      });
      // Each shipper lives a different while: the kill lands anywhere in a pass.
      for (const lifeMs of [400, 550, 700, 850, 1_000]) {
        const shipper = startShipper(env);
        await new Promise((resolve) => setTimeout(resolve, lifeMs));
        await shipper.kill();
      }
      const last = startShipper(env);
      assert.equal((await last.status).code, 0, last.stderr());
      assert.deepEqual(await spoolFiles(dir), []);
      const audit = await auditOf(server.sql, ids);
      assert.equal(audit.success.size, 300);
      assert.ok([...audit.success.values()].every((n) => n === 1), "a requestId stored twice");
      assert.deepEqual(Object.keys(audit.other).filter((status) => status !== "DUPLICATE"), []);
    } finally {
      await server.stop();
    }
  },
  { kinds: ["postgres"] },
);

storeTest(
  "a refused key: nothing dead-lettered, one line, backoff, delivered once the key is fixed",
  async ({ db }) => {
    const server = await startInProcessServer(db);
    try {
      const dir = await tempQueueDir();
      const spool = await openSpool(dir);
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push((await spool.put(envelope())).id);
      const clientFile = join(dir, "..", "client.json");
      await Deno.writeTextFile(
        clientFile,
        JSON.stringify({ url: server.url, apiKey: "not-the-key" }),
      );
      const shipper = startShipper(
        shipperEnv(dir, server.url, {
          ARRAKIS_RETRY_SCHEDULE: "300ms",
          ARRAKIS_SHIPPER_IDLE: "1s",
        }),
      );
      const refused = "queue ship: server refused the API key (HTTP 401: API key not accepted); " +
        "events stay pending, retrying with backoff\n";
      await shipper.waitFor(refused);
      // Retried (a later event too) without a second line, and nothing left pending/.
      ids.push((await spool.put(envelope())).id);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      // Waiting in pending/, or claimed this instant by a retrying pass (it gives them back).
      let waiting: Awaited<ReturnType<typeof spool.list>> = [];
      const listed = await until(async () => {
        waiting = [...await spool.list("pending"), ...await spool.list("processing")];
        return waiting.length === 4;
      }, 5_000);
      assert.ok(listed, `${waiting.length} waiting`);
      assert.ok(waiting.every((item) => item.record.delivery.attempts === 0));
      assert.deepEqual(await spool.list("failed"), []);

      await Deno.writeTextFile(
        clientFile,
        JSON.stringify({ url: server.url, apiKey: server.apiKey }),
      );
      assert.equal((await shipper.status).code, 0, shipper.stderr());
      assert.equal(
        shipper.stderr(),
        refused + "queue ship: the server accepts the API key again\n" +
          "queue ship: idle: delivered 4\n",
      );
      const audit = await auditOf(server.sql, ids);
      assert.equal(audit.success.size, 4);
      const errors = await Deno.readTextFile(join(dir, "..", "logs", "error.jsonl"));
      assert.match(errors, /server refused the API key/);
    } finally {
      await server.stop();
    }
  },
  { kinds: ["pglite"] },
);

storeTest(
  "a record a killed hook left under its temp name is delivered before the shipper goes idle",
  async ({ db }) => {
    const server = await startInProcessServer(db);
    try {
      const dir = await tempQueueDir();
      const spool = await openSpool(dir);
      const item = await spool.put(envelope());
      // What a hook SIGKILLed between its write and its rename leaves: the complete record,
      // under a temp name, young enough that a live writer might still rename it.
      await Deno.rename(item.path, join(dir, "pending", `${TEMP_PREFIX}${crypto.randomUUID()}`));
      const shipper = startShipper(
        shipperEnv(dir, server.url, { ARRAKIS_API_KEY: server.apiKey, ARRAKIS_SHIPPER_IDLE: "1s" }),
      );
      const status = await shipper.status;
      assert.equal(status.code, 0, shipper.stderr());
      assert.equal(shipper.stderr(), "queue ship: idle: delivered 1\n");
      const audit = await auditOf(server.sql, [item.id]);
      assert.equal(audit.success.get(item.id), 1);
      assert.deepEqual(await spoolFiles(dir), []);
    } finally {
      await server.stop();
    }
  },
);
