// The private places arrakis writes (src/durable.ts) on a real filesystem: directories made
// 0700 and put back to 0700, no write through a symlink or into another user's directory or
// file, lock files never truncated, and a .gitignore for what must never be committed.
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  ensurePrivateDir,
  openPrivateFile,
  UnsafePathError,
  writeFileDurable,
} from "../src/durable.ts";
import { tryDrainLock } from "../src/queue/lock.ts";
import { tempDir } from "./helpers/temp.ts";

async function scratch(): Promise<string> {
  return await tempDir("arrakis-private-");
}

const mode = async (path: string) => (await Deno.lstat(path)).mode! & 0o777;

Deno.test("directories are made 0700 from the root down, and made 0700 again on every open", async () => {
  const root = await scratch();
  const deep = join(root, "spool", "key", "pending");
  assert.equal(await ensurePrivateDir(deep, root), true);
  for (const path of [root, join(root, "spool"), join(root, "spool", "key"), deep]) {
    assert.equal(await mode(path), 0o700, path);
  }
  await Deno.chmod(join(root, "spool"), 0o755);
  assert.equal(await ensurePrivateDir(deep, root), false);
  assert.equal(await mode(join(root, "spool")), 0o700);
  await Deno.remove(root, { recursive: true });
});

Deno.test("the root is the user's: never chmod'ed nor required to be ours (ARRAKIS_QUEUE_DIR=/tmp/q)", async () => {
  const root = await scratch();
  await Deno.chmod(root, 0o1777);
  await ensurePrivateDir(join(root, "queue", "pending"), root);
  assert.equal((await Deno.lstat(root)).mode! & 0o7777, 0o1777);
  assert.equal(await mode(join(root, "queue")), 0o700);
  await Deno.remove(root, { recursive: true });
});

Deno.test("a symlink below the root is refused and nothing is made where it points", async () => {
  const root = await scratch();
  const elsewhere = await scratch();
  await Deno.symlink(elsewhere, join(root, "spool"));
  await assert.rejects(ensurePrivateDir(join(root, "spool", "key"), root), UnsafePathError);
  assert.deepEqual([...Deno.readDirSync(elsewhere)], []);
  // The root itself may be a link the user made (e.g. ARRAKIS_HOME on another disk).
  const linkedRoot = join(root, "home-link");
  await Deno.symlink(elsewhere, linkedRoot);
  await ensurePrivateDir(join(linkedRoot, "spool"), linkedRoot);
  assert.equal(await mode(join(elsewhere, "spool")), 0o700);
  await Deno.remove(root, { recursive: true });
  await Deno.remove(elsewhere, { recursive: true });
});

Deno.test("another user's directory or file is refused (needs root to chown: skipped otherwise)", {
  ignore: Deno.uid() !== 0,
}, async () => {
  // Only root can hand a file to another uid: the test needs it (skipped otherwise, by name).
  const root = await scratch();
  const foreign = join(root, "foreign");
  await Deno.mkdir(foreign, { mode: 0o700 });
  await Deno.chown(foreign, 65534, 65534);
  await assert.rejects(ensurePrivateDir(join(foreign, "pending"), root), /belongs to uid 65534/);
  const file = join(root, "drain.lock");
  await Deno.writeTextFile(file, "");
  await Deno.chown(file, 65534, 65534);
  await assert.rejects(openPrivateFile(file), /belongs to uid 65534/);
  await Deno.remove(root, { recursive: true });
});

Deno.test("a lock file is opened without following a link and never truncated", async () => {
  const dir = await scratch();
  const victim = join(dir, "authorized_keys");
  await Deno.writeTextFile(victim, "ssh-ed25519 AAAA victim\n");
  await Deno.symlink(victim, join(dir, "drain.lock"));
  await assert.rejects(tryDrainLock(dir), UnsafePathError);
  assert.equal(await Deno.readTextFile(victim), "ssh-ed25519 AAAA victim\n");

  // An existing lock file keeps its bytes; a new one gets the holder's pid, 0600.
  const other = await scratch();
  await Deno.writeTextFile(join(other, "drain.lock"), "12345\n");
  (await tryDrainLock(other))!.release();
  assert.equal(await Deno.readTextFile(join(other, "drain.lock")), "12345\n");
  const fresh = await scratch();
  (await tryDrainLock(fresh))!.release();
  assert.equal(await Deno.readTextFile(join(fresh, "drain.lock")), `${Deno.pid}\n`);
  assert.equal(await mode(join(fresh, "drain.lock")), 0o600);
  for (const path of [dir, other, fresh]) await Deno.remove(path, { recursive: true });
});

Deno.test("a durable write replaces a planted link instead of writing through it", async () => {
  const dir = await scratch();
  const victim = join(dir, "victim");
  await Deno.writeTextFile(victim, "keep\n");
  await Deno.symlink(victim, join(dir, "state.json"));
  await writeFileDurable(join(dir, "state.json"), "{}");
  assert.equal(await Deno.readTextFile(victim), "keep\n");
  assert.ok((await Deno.lstat(join(dir, "state.json"))).isFile);
  assert.equal(await mode(join(dir, "state.json")), 0o600);
  await Deno.remove(dir, { recursive: true });
});
