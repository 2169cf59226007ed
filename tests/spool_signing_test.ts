// Spool records carry an HMAC signature made with the user's spool key: a record arrakis did
// not write (unsigned, forged, signed with another key, edited) is quarantined in corrupt/ and
// never sent, in-process and through a real `arrakis queue drain`. The key is private, made
// once even when many hooks start on a fresh machine, and never read through a link.
import assert from "node:assert/strict";
import { join } from "node:path";
import { runArrakis } from "./helpers/cli.ts";
import { answeringServer, fixtureEvents, hookProject } from "./helpers/hook_env.ts";
import { envelope, filesIn, tempQueueDir } from "./helpers/queue.ts";
import { newRecord, openSpool } from "../src/queue/spool.ts";
import { encodeRecord, ensureSpoolDirs, spoolKey } from "../src/queue/spool-file.ts";
import { tryShipperLock } from "../src/queue/lock.ts";
import { UnsafePathError } from "../src/durable.ts";
import { tempDir } from "./helpers/temp.ts";

const events = await fixtureEvents();

async function scratchKeyFile(): Promise<string> {
  return join(await tempDir("arrakis-key-"), "spool.key");
}

Deno.test("unsigned, forged, foreign-key and edited records are quarantined, never claimed", async () => {
  const dir = await tempQueueDir();
  const keyFile = await scratchKeyFile();
  const spool = await openSpool(dir, { root: join(dir, ".."), keyFile });
  const good = await spool.put(envelope());
  const write = (id: string, text: string) =>
    Deno.writeTextFile(join(dir, "pending", `${id}.json`), text);

  const unsigned = envelope();
  await write(unsigned.requestId, JSON.stringify(newRecord(unsigned)));
  const foreign = envelope();
  const otherKey = await spoolKey(await scratchKeyFile());
  await write(foreign.requestId, await encodeRecord(otherKey, newRecord(foreign)));
  const edited = envelope();
  const signed = await encodeRecord(await spoolKey(keyFile), newRecord(edited));
  await write(edited.requestId, signed.replace("permission_prompt", "idle_prompt"));
  const garbage = envelope();
  await write(
    garbage.requestId,
    JSON.stringify({ ...newRecord(garbage), signature: "hmac-sha256:" + "0".repeat(64) }),
  );

  const claimed = await spool.claim(10, { ignoreBackoff: true });
  assert.deepEqual(claimed.map((item) => item.id), [good.id]);
  const corrupt = await filesIn(join(dir, "corrupt"));
  assert.equal(corrupt.length, 4);
  for (const id of [unsigned, foreign, edited, garbage].map((e) => e.requestId)) {
    assert.ok(corrupt.some((name) => name.startsWith(id)), id);
  }
  assert.equal((await spool.stats()).corrupt, 4);
  // A record the spool itself rewrites (a failed try) is signed again and stays readable.
  await spool.recordFailure(claimed[0], { kind: "retryable", httpStatus: 503, error: "busy" });
  assert.deepEqual((await spool.list("pending")).map((item) => item.id), [good.id]);
});

Deno.test("the signature is checked on the file's text: a signed body moved or padded is not ours", async () => {
  const dir = await tempQueueDir();
  const keyFile = await scratchKeyFile();
  const spool = await openSpool(dir, { root: join(dir, ".."), keyFile });
  const key = await spoolKey(keyFile);
  const write = (id: string, text: string) =>
    Deno.writeTextFile(join(dir, "pending", `${id}.json`), text);
  // As encodeRecord writes it, and with its MAC pasted onto a padded copy of the same body.
  const kept = envelope();
  const keptText = await encodeRecord(key, newRecord(kept));
  await write(kept.requestId, keptText);
  const padded = envelope();
  const paddedText = await encodeRecord(key, newRecord(padded));
  const tail = paddedText.slice(paddedText.lastIndexOf(',"signature"'));
  await write(
    padded.requestId,
    paddedText.slice(0, paddedText.lastIndexOf(',"signature"')) + " " + tail,
  );
  // The same signed fields with the signature first: what a re-serialization could accept.
  const moved = envelope();
  const { signature, ...rest } = JSON.parse(await encodeRecord(key, newRecord(moved)));
  await write(moved.requestId, JSON.stringify({ signature, ...rest }));
  // A text with the signature's tail but too short to hold a body.
  const stub = envelope();
  await write(stub.requestId, tail);

  const claimed = await spool.claim(10, { ignoreBackoff: true });
  assert.deepEqual(claimed.map((item) => item.id), [kept.requestId]);
  assert.deepEqual(claimed[0].record, newRecord(kept));
  const corrupt = await filesIn(join(dir, "corrupt"));
  assert.equal(corrupt.length, 3);
  for (const id of [padded, moved, stub].map((e) => e.requestId)) {
    assert.ok(corrupt.some((name) => name.startsWith(id)), id);
  }
});

Deno.test("a real drain sends the hook's records and quarantines a planted one", async () => {
  const project = await hookProject();
  const server = answeringServer(200, (body: { requestId: string }[]) => ({
    results: body.map((item) => ({
      status: "SUCCESS",
      requestId: item.requestId,
      httpStatus: 200,
    })),
  }));
  // As if a shipper ran: delivery here is the drain's alone, so the count below is not a race.
  await ensureSpoolDirs(project.queueDir, project.dir, []);
  const lock = (await tryShipperLock(project.queueDir))!;
  try {
    const env = project.env(server.url);
    const hooked = await runArrakis(["hook"], {
      env,
      stdin: JSON.stringify(events.get("UserPromptSubmit")),
    });
    assert.equal(hooked.code, 0, hooked.stderr);
    const planted = envelope();
    await Deno.writeTextFile(
      join(project.queueDir, "pending", `${planted.requestId}.json`),
      JSON.stringify(newRecord(planted)),
    );
    const drained = await runArrakis(["queue", "drain", "--now", "--json"], { env });
    assert.equal(drained.code, 0, drained.stderr);
    const sent = (server.received as { requestId: string }[][]).flat().map((item) =>
      item.requestId
    );
    assert.equal(sent.length, 1);
    assert.ok(!sent.includes(planted.requestId));
    const corrupt = await filesIn(join(project.queueDir, "corrupt"));
    assert.equal(corrupt.length, 1);
    assert.ok(corrupt[0].startsWith(planted.requestId));
  } finally {
    lock.release();
    await server.close();
    await project.cleanup();
  }
});

Deno.test("the spool key: 0600, one key even when eight hooks start on a fresh machine", async () => {
  const project = await hookProject();
  // As if a shipper ran (it would move files while they are counted); the home stays fresh.
  await ensureSpoolDirs(project.queueDir, project.dir, []);
  const lock = (await tryShipperLock(project.queueDir))!;
  try {
    const env = project.env("http://127.0.0.1:9");
    const runs = Array.from(
      { length: 8 },
      () => runArrakis(["hook"], { env, stdin: JSON.stringify(events.get("PreToolUse")) }),
    );
    for (const result of await Promise.all(runs)) assert.equal(result.code, 0, result.stderr);
    const keyFile = join(project.home, "spool.key");
    assert.equal((await Deno.lstat(keyFile)).mode! & 0o777, 0o600);
    assert.match(await Deno.readTextFile(keyFile), /^[0-9a-f]{64}\n$/);
    const spool = await openSpool(project.queueDir, { root: project.home, keyFile });
    const items = [
      ...await spool.list("pending"),
      ...await spool.list("processing"),
      ...await spool.list("failed"),
    ];
    assert.equal(items.length, 8, "every hook signed with the one key");
    assert.deepEqual(await filesIn(join(project.queueDir, "corrupt")), []);
    // No temp file of the key's publication is left behind.
    assert.deepEqual(
      [...Deno.readDirSync(project.home)].map((entry) => entry.name).sort(),
      ["spool", "spool.key"],
    );
  } finally {
    lock.release();
    await project.cleanup();
  }
});

Deno.test("a spool key that is a symlink is refused, never followed", async () => {
  const dir = await tempDir("arrakis-key-");
  const target = join(dir, "elsewhere.key");
  await Deno.writeTextFile(target, "0".repeat(64) + "\n");
  const keyFile = join(dir, "spool.key");
  await Deno.symlink(target, keyFile);
  await assert.rejects(spoolKey(keyFile), UnsafePathError);
  assert.equal(await Deno.readTextFile(target), "0".repeat(64) + "\n");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("queue adopt lists an old unsigned spool, and with --yes signs its records in", async () => {
  const project = await hookProject();
  try {
    const old = join(project.dir, ".claude", "queue");
    await Deno.mkdir(join(old, "pending"), { recursive: true });
    await Deno.mkdir(join(old, "failed"), { recursive: true });
    const waiting = envelope();
    const dead = envelope();
    await Deno.writeTextFile(
      join(old, "pending", `${waiting.requestId}.json`),
      JSON.stringify(newRecord(waiting)),
    );
    await Deno.writeTextFile(
      join(old, "failed", `${dead.requestId}.json`),
      JSON.stringify(newRecord(dead)),
    );
    await Deno.writeTextFile(join(old, "pending", "junk.json"), "{");
    const env = project.env("http://127.0.0.1:9");

    const listed = await runArrakis(["queue", "adopt", old], { env });
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(`pending  ${waiting.requestId}  Notification`));
    assert.match(listed.stdout, /2 records to adopt into .*; run again with --yes/);
    assert.match(listed.stderr, /skipped .*junk\.json \(not a spool record\)/);

    const adopted = await runArrakis(["queue", "adopt", old, "--yes"], { env });
    assert.equal(adopted.code, 1, "a skipped file is reported by the exit code");
    assert.match(adopted.stdout, /adopted 2 of 2 into .* \(1 skipped\)/);
    const spool = await openSpool(project.queueDir, {
      root: project.home,
      keyFile: join(project.home, "spool.key"),
    });
    assert.deepEqual((await spool.list("pending")).map((item) => item.id), [waiting.requestId]);
    assert.deepEqual((await spool.list("failed")).map((item) => item.id), [dead.requestId]);
    // The old directory is left as it was; adopting again takes nothing twice.
    assert.equal([...Deno.readDirSync(join(old, "pending"))].length, 2);
    const again = await runArrakis(["queue", "adopt", old, "--yes"], { env });
    assert.match(again.stdout, /adopted 0 of 2/);
  } finally {
    await project.cleanup();
  }
});
