// ensureShipper and waitForDelivery on a real spool directory, with real flocks held by this
// process and by a child process: a shipper is started only when none holds the lock, and
// SessionEnd's wait ends when its file leaves the spool or when its time is up.
import assert from "node:assert/strict";
import { join } from "node:path";
import { ensureShipper, waitForDelivery } from "../src/queue/ensure-shipper.ts";
import { SHIPPER_LOCK, tryShipperLock } from "../src/queue/lock.ts";
import { ensureSpoolDirs } from "../src/queue/spool-file.ts";
import { tempDir } from "./helpers/temp.ts";

async function freshSpool(): Promise<string> {
  const root = await tempDir("arrakis-ship-");
  const queueDir = join(root, "queue");
  await ensureSpoolDirs(queueDir, root, ["pending", "processing"]);
  return queueDir;
}

Deno.test("a free shipper lock starts one shipper; a held one (by another process) starts none", async () => {
  const queueDir = await freshSpool();
  const started: Record<string, string>[] = [];
  const spawn = (env: Record<string, string>) => void started.push(env);
  assert.equal(await ensureShipper(queueDir, { A: "1" }, { spawn }), "started");
  assert.deepEqual(started, [{ A: "1" }]);
  // The probe let go of the lock: the shipper it started can take it.
  const lock = await tryShipperLock(queueDir);
  assert.ok(lock);
  lock.release();

  // A real other process holding the lock, as a running shipper does.
  const holder = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `const f = await Deno.open(${
        JSON.stringify(join(queueDir, SHIPPER_LOCK))
      }, {read: true, write: true});
       await f.lock(true); console.log("locked"); await new Promise((r) => setTimeout(r, 60000));`,
    ],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = holder.stdout.getReader();
  const { value } = await reader.read();
  assert.match(new TextDecoder().decode(value), /locked/);
  try {
    assert.equal(await ensureShipper(queueDir, {}, { spawn }), "running");
    assert.equal(started.length, 1);
  } finally {
    holder.kill("SIGKILL");
    await holder.status;
    reader.releaseLock();
    await holder.stdout.cancel().catch(() => {});
  }
  // The kernel dropped the killed holder's lock: the next hook starts a shipper again.
  assert.equal(await ensureShipper(queueDir, {}, { spawn }), "started");
  assert.equal(started.length, 2);
  await Deno.remove(join(queueDir, ".."), { recursive: true });
});

Deno.test("the shipper lock is never a link: a planted one is refused and its target untouched", async () => {
  const queueDir = await freshSpool();
  const victim = join(queueDir, "..", "victim");
  await Deno.writeTextFile(victim, "precious\n");
  await Deno.symlink(victim, join(queueDir, SHIPPER_LOCK));
  await assert.rejects(ensureShipper(queueDir, {}, { spawn: () => {} }), /symbolic link/);
  assert.equal(await Deno.readTextFile(victim), "precious\n");
  await Deno.remove(join(queueDir, ".."), { recursive: true });
});

Deno.test("waitForDelivery: true once the files leave pending/ and processing/, false at the deadline", async () => {
  const queueDir = await freshSpool();
  const id = "01a230d2-0000-7000-8000-000000000001";
  const pending = join(queueDir, "pending", `${id}.json`);
  const leased = join(queueDir, "processing", `${id}.${Date.now() + 60_000}.json`);
  await Deno.writeTextFile(pending, "{}");
  assert.equal(await waitForDelivery(queueDir, [id], 60), false);
  // Claimed by a shipper: still waiting.
  await Deno.rename(pending, leased);
  assert.equal(await waitForDelivery(queueDir, [id], 60), false);
  // Delivered while waiting.
  setTimeout(() => Deno.removeSync(leased), 50);
  assert.equal(await waitForDelivery(queueDir, [id], 10_000), true);
  assert.equal(await waitForDelivery(queueDir, [], 10), true);
  await Deno.remove(join(queueDir, ".."), { recursive: true });
});
