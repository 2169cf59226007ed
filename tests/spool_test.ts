// The spool on a real filesystem: durable files and modes, claims and leases, backoff with an
// injectable clock, the attempt limit and dead letter, corrupt files, read-only directories.
import assert from "node:assert/strict";
import { join } from "node:path";
import { openSpool } from "../src/queue/spool.ts";
import { backoffDelayMs } from "../src/queue/backoff.ts";
import type { DeliveryOutcome } from "../src/client.ts";
import type { Envelope } from "../src/schema.ts";
import { envelope, filesIn, manualClock, tempQueueDir } from "./helpers/queue.ts";

const retryable = (retryAfterMs?: number): DeliveryOutcome => ({
  kind: "retryable",
  httpStatus: 503,
  error: "HTTP 503: overloaded",
  ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
});

Deno.test("put writes pending/<requestId>.json 0600 in 0700 dirs; list keeps arrival order", async () => {
  const dir = await tempQueueDir();
  const spool = await openSpool(dir);
  const made = [envelope(), envelope(), envelope()];
  for (const e of made) await spool.put(e);
  assert.deepEqual(await filesIn(join(dir, "pending")), made.map((e) => `${e.requestId}.json`));
  for (const sub of ["", "pending", "processing", "failed", "corrupt"]) {
    assert.equal((await Deno.stat(join(dir, sub))).mode! & 0o777, 0o700, sub);
  }
  const file = await Deno.stat(join(dir, "pending", `${made[0].requestId}.json`));
  assert.equal(file.mode! & 0o777, 0o600);
  const listed = await spool.list("pending");
  assert.deepEqual(listed.map((item) => item.id), made.map((e) => e.requestId));
  assert.deepEqual(listed[0].record.envelope, made[0]);
  assert.equal(listed[0].record.delivery.attempts, 0);
});

Deno.test("claim moves due items to processing/ with the lease in the name; complete removes them", async () => {
  const clock = manualClock();
  const dir = await tempQueueDir();
  const spool = await openSpool(dir, { now: clock.now, leaseMs: 60_000 });
  const made = [envelope(), envelope(), envelope()];
  for (const e of made) await spool.put(e);
  const claimed = await spool.claim(2);
  assert.deepEqual(claimed.map((item) => item.id), made.slice(0, 2).map((e) => e.requestId));
  assert.deepEqual(
    await filesIn(join(dir, "processing")),
    made.slice(0, 2).map((e) => `${e.requestId}.${clock.ms() + 60_000}.json`),
  );
  // A second claimer sees only what is left.
  const other = await openSpool(dir, { now: clock.now });
  assert.deepEqual((await other.claim(10)).map((item) => item.id), [made[2].requestId]);
  await spool.completeMany(claimed);
  assert.deepEqual(await filesIn(join(dir, "processing")), [
    `${made[2].requestId}.${clock.ms() + 120_000}.json`,
  ]);
  assert.deepEqual(await filesIn(join(dir, "pending")), []);
});

Deno.test("claim keeps to a byte budget: the file over it goes back, first in the next claim", async () => {
  const dir = await tempQueueDir();
  const spool = await openSpool(dir);
  const made = [envelope(), envelope(), envelope(), envelope(), envelope()];
  for (const e of made) await spool.put(e);
  const size = (await Deno.stat(join(dir, "pending", `${made[0].requestId}.json`))).size;
  const ids = (items: { id: string }[]) => items.map((item) => item.id);
  // Room for two files and a half: two are claimed, the third is back in pending/ untouched.
  const before = await Deno.readTextFile(join(dir, "pending", `${made[2].requestId}.json`));
  const first = await spool.claim(10, { maxBytes: Math.floor(size * 2.5) });
  assert.deepEqual(ids(first), made.slice(0, 2).map((e) => e.requestId));
  assert.equal(
    await Deno.readTextFile(join(dir, "pending", `${made[2].requestId}.json`)),
    before,
  );
  assert.equal((await filesIn(join(dir, "processing"))).length, 2);
  // A budget smaller than one file still claims one, so a large event is never stuck.
  assert.deepEqual(ids(await spool.claim(10, { maxBytes: 1 })), [made[2].requestId]);
  assert.deepEqual(ids(await spool.claim(10)), made.slice(3).map((e) => e.requestId));
  assert.deepEqual(await filesIn(join(dir, "pending")), []);
});

Deno.test("complete finds a file a drainer claimed after the hook spooled it", async () => {
  const dir = await tempQueueDir();
  const hookSide = await openSpool(dir);
  const item = await hookSide.put(envelope());
  const drainerSide = await openSpool(dir);
  assert.equal((await drainerSide.claim(1)).length, 1);
  await hookSide.complete(item);
  assert.deepEqual(await filesIn(join(dir, "processing")), []);
  assert.deepEqual(await filesIn(join(dir, "pending")), []);
});

Deno.test("concurrent claimers over one spool never get the same item and lose none", async () => {
  const dir = await tempQueueDir();
  const spools = await Promise.all([1, 2, 3, 4].map(() => openSpool(dir)));
  const made = [];
  for (let i = 0; i < 200; i++) made.push(await spools[0].put(envelope()));
  const seen: string[] = [];
  await Promise.all(spools.map(async (spool) => {
    for (;;) {
      const items = await spool.claim(7);
      if (items.length === 0) return;
      seen.push(...items.map((item) => item.id));
      await spool.completeMany(items);
    }
  }));
  assert.equal(seen.length, 200);
  assert.equal(new Set(seen).size, 200);
});

Deno.test("a lease that passed returns the file to pending/ untouched; a live one stays", async () => {
  const clock = manualClock();
  const dir = await tempQueueDir();
  const spool = await openSpool(dir, { now: clock.now, leaseMs: 30_000 });
  const put = await spool.put(envelope());
  const before = await Deno.readTextFile(put.path);
  await spool.claim(1);
  clock.advance(29_999);
  assert.equal(await spool.recoverExpired(), 0);
  assert.equal((await spool.claim(1)).length, 0);
  clock.advance(2);
  assert.equal(await spool.recoverExpired(), 1);
  assert.equal(await Deno.readTextFile(put.path), before);
  assert.equal((await spool.claim(1))[0].id, put.id);
});

Deno.test("retryable failure: attempts counted, full-jitter backoff from the schedule, not due before", async () => {
  const clock = manualClock();
  const dir = await tempQueueDir();
  let jitter = 0.5;
  const spool = await openSpool(dir, {
    now: clock.now,
    retryScheduleMs: [60_000, 300_000],
    maxAttempts: 5,
    random: () => jitter,
  });
  const put = await spool.put(envelope());
  const [first] = await spool.claim(1);
  assert.equal(spool.envelopeForSend(first).attempt, 1);
  assert.equal(await spool.recordFailure(first, retryable()), "pending");
  const after = (await spool.list("pending"))[0];
  assert.equal(after.record.delivery.attempts, 1);
  assert.equal(after.record.delivery.lastHttpStatus, 503);
  assert.equal(after.record.delivery.lastError, "HTTP 503: overloaded");
  assert.equal(after.record.delivery.nextAttemptAt, new Date(clock.ms() + 30_000).toISOString());
  assert.equal(after.record.envelope.requestId, put.id);
  // Not due until the backoff passes.
  clock.advance(29_999);
  assert.equal((await spool.claim(1)).length, 0);
  clock.advance(1);
  const [second] = await spool.claim(1);
  assert.equal(spool.envelopeForSend(second).attempt, 2);
  assert.equal(spool.envelopeForSend(second).requestId, put.id);
  // The second step of the schedule, jitter at its top.
  jitter = 0.999999;
  await spool.recordFailure(second, retryable());
  const third = (await spool.list("pending"))[0];
  assert.equal(Date.parse(third.record.delivery.nextAttemptAt!) - clock.ms(), 300_000);
  assert.equal(third.record.delivery.firstAttemptAt, new Date(clock.ms() - 30_000).toISOString());
});

Deno.test("full jitter spreads over [0, step]; the last step repeats; Retry-After is a floor", () => {
  const schedule = [1_000, 10_000];
  assert.equal(backoffDelayMs(1, schedule, undefined, () => 0), 0);
  assert.equal(backoffDelayMs(1, schedule, undefined, () => 0.999999), 1_000);
  assert.equal(backoffDelayMs(7, schedule, undefined, () => 0.5), 5_000);
  assert.equal(backoffDelayMs(1, schedule, 45_000, () => 0.5), 45_000);
  assert.equal(backoffDelayMs(2, schedule, 2_000, () => 0.5), 5_000);
});

Deno.test("Retry-After from the server is honoured as the minimum wait", async () => {
  const clock = manualClock();
  const spool = await openSpool(await tempQueueDir(), { now: clock.now, random: () => 0 });
  await spool.put(envelope());
  const [item] = await spool.claim(1);
  await spool.recordFailure(item, retryable(120_000));
  clock.advance(119_999);
  assert.equal((await spool.claim(1)).length, 0);
  clock.advance(1);
  assert.equal((await spool.claim(1)).length, 1);
});

Deno.test("after maxAttempts retryable failures the file is a dead letter with the reason", async () => {
  const clock = manualClock();
  const dir = await tempQueueDir();
  const spool = await openSpool(dir, { now: clock.now, maxAttempts: 3, retryScheduleMs: [1_000] });
  const put = await spool.put(envelope());
  const where: string[] = [];
  for (let i = 0; i < 3; i++) {
    clock.advance(1_000);
    const [item] = await spool.claim(1);
    assert.ok(item, `attempt ${i + 1} was due`);
    where.push(await spool.recordFailure(item, retryable()));
  }
  assert.deepEqual(where, ["pending", "pending", "failed"]);
  assert.deepEqual(await filesIn(join(dir, "failed")), [`${put.id}.json`]);
  const [dead] = await spool.list("failed");
  assert.equal(dead.record.delivery.attempts, 3);
  assert.equal(dead.record.delivery.nextAttemptAt, null);
  assert.match(dead.record.delivery.lastError!, /gave up after 3 attempts: HTTP 503/);
  assert.equal((await Deno.stat(dead.path)).mode! & 0o777, 0o600);
});

Deno.test("a permanent answer goes to failed/ at once with the server's answer kept", async () => {
  const dir = await tempQueueDir();
  const spool = await openSpool(dir);
  const item = await spool.put(envelope());
  const answer = { status: "INVALID", issues: [{ path: ["payload"], message: "bad" }] };
  assert.equal(
    await spool.recordFailure(item, {
      kind: "permanent",
      httpStatus: 400,
      error: "HTTP 400: INVALID",
      answer,
    }),
    "failed",
  );
  const [dead] = await spool.list("failed");
  assert.equal(dead.record.delivery.attempts, 1);
  assert.equal(dead.record.delivery.lastHttpStatus, 400);
  assert.deepEqual(dead.record.delivery.lastAnswer, answer);
  assert.deepEqual(await filesIn(join(dir, "pending")), []);
});

Deno.test("torn, empty and garbage files are moved to corrupt/ and counted, never thrown", async () => {
  const dir = await tempQueueDir();
  const spool = await openSpool(dir);
  const good = await spool.put(envelope());
  const text = await Deno.readTextFile(good.path);
  const pending = join(dir, "pending");
  const torn = envelope().requestId;
  await Deno.writeTextFile(join(pending, `${torn}.json`), text.slice(0, text.length / 2));
  const empty = envelope().requestId;
  await Deno.writeTextFile(join(pending, `${empty}.json`), "");
  const wrongShape = envelope().requestId;
  await Deno.writeTextFile(join(pending, `${wrongShape}.json`), '{"version":1,"hello":"world"}');
  await Deno.writeFile(join(pending, "garbage.bin"), crypto.getRandomValues(new Uint8Array(64)));
  // A file whose name does not match its envelope is not trusted either.
  const misnamed = envelope().requestId;
  await Deno.writeTextFile(join(pending, `${misnamed}.json`), text);

  const claimed = await spool.claim(10);
  assert.deepEqual(claimed.map((item) => item.id), [good.id]);
  assert.equal(spool.corruptMoved(), 5);
  assert.equal((await filesIn(join(dir, "corrupt"))).length, 5);
  assert.deepEqual(await filesIn(pending), []);
  assert.equal((await spool.stats()).corrupt, 5);
});

Deno.test("stats counts states, due items, bytes and the oldest age", async () => {
  const clock = manualClock(Date.now());
  const spool = await openSpool(await tempQueueDir(), { now: clock.now, random: () => 0.5 });
  const old = envelope({ occurredAt: new Date(clock.ms() - 3_600_000).toISOString() });
  await spool.put(old);
  await spool.put(envelope());
  const waiting = await spool.put(envelope());
  await spool.recordFailure(waiting, retryable());
  const dead = await spool.put(envelope());
  await spool.recordFailure(dead, { kind: "permanent", httpStatus: 409, error: "HTTP 409" });
  const stats = await spool.stats();
  assert.equal(stats.pending, 3);
  assert.equal(stats.due, 2);
  assert.equal(stats.failed, 1);
  assert.equal(stats.processing, 0);
  assert.ok(stats.bytes > 0);
  assert.ok(stats.oldestAgeMs! >= 3_600_000);
});

Deno.test("revive brings a dead letter home once; clearBackoff makes a waiting item due", async () => {
  const clock = manualClock();
  const dir = await tempQueueDir();
  const spool = await openSpool(dir, { now: clock.now, random: () => 0.5 });
  const dead = await spool.put(envelope());
  await spool.recordFailure(dead, { kind: "permanent", httpStatus: 400, error: "HTTP 400" });
  const [letter] = await spool.list("failed");
  assert.equal(await spool.revive(letter), true);
  assert.equal(
    await spool.revive({ ...letter, path: join(dir, "failed", `${letter.id}.json`) }),
    false,
  );
  const [home] = await spool.list("pending");
  assert.equal(home.record.delivery.attempts, 0);
  assert.equal(home.record.delivery.lastHttpStatus, 400);

  const waiting = await spool.put(envelope());
  await spool.recordFailure(waiting, retryable());
  assert.equal((await spool.claim(10)).map((i) => i.id).join(), home.id);
  const [item] = (await spool.list("pending")).filter((i) => i.id === waiting.id);
  await spool.clearBackoff(item);
  assert.equal((await spool.claim(10))[0].id, waiting.id);
});

/** Makes a directory read-only for real: a read-only bind mount as root, chmod otherwise. */
async function readOnly(dir: string): Promise<(() => Promise<void>) | undefined> {
  if (Deno.uid() !== 0) {
    await Deno.chmod(dir, 0o500);
    return () => Deno.chmod(dir, 0o700);
  }
  const run = (args: string[]) => new Deno.Command("mount", { args, stderr: "null" }).output();
  if (!(await run(["--bind", dir, dir])).success) return undefined;
  if (!(await run(["-o", "remount,bind,ro", dir, dir])).success) {
    await run(["-l", dir]).catch(() => {});
    return undefined;
  }
  return async () => {
    await new Deno.Command("umount", { args: [dir] }).output();
  };
}

Deno.test("a read-only spool: put fails loudly, listing and stats still work, nothing is lost", async (t) => {
  const dir = await tempQueueDir();
  const spool = await openSpool(dir);
  const kept = await spool.put(envelope());
  const undo = await readOnly(dir);
  if (!undo) {
    await t.step({ name: "cannot make a read-only directory here", ignore: true, fn: () => {} });
    return;
  }
  try {
    const again = await openSpool(dir);
    await assert.rejects(() => again.put(envelope()));
    assert.deepEqual((await again.list("pending")).map((item) => item.id), [kept.id]);
    assert.equal((await again.stats()).pending, 1);
    await assert.rejects(() => again.claim(1));
  } finally {
    await undo();
  }
  assert.deepEqual(await filesIn(join(dir, "pending")), [`${kept.id}.json`]);
});

Deno.test("an event whose payload the server's schema would refuse still travels (never corrupt/)", async () => {
  const dir = await tempQueueDir();
  const spool = await openSpool(dir);
  // A PostToolUse that a future Claude Code might send without tool_use_id: the spool keeps
  // and sends it; the server's 400 then dead-letters it with the reason, where retry finds it.
  const base = envelope();
  const reshaped = {
    ...base,
    event: "PostToolUse",
    payload: { session_id: base.sessionId, hook_event_name: "PostToolUse", tool_name: "Bash" },
  };
  await spool.put(reshaped);
  const [claimed] = await spool.claim(1);
  assert.equal(claimed?.id, base.requestId);
  assert.equal(spool.corruptMoved(), 0);
  assert.deepEqual(await filesIn(join(dir, "corrupt")), []);
});

Deno.test("a transcript line the schema rejects travels as text; the record and its other lines are read as written", async () => {
  const dir = await tempQueueDir();
  const spool = await openSpool(dir);
  // What the hook writes (it cannot load zod): the lines as Claude Code wrote them.
  const good = { type: "user", uuid: "u-1", message: { role: "user", content: "hi" } };
  const misfit = { type: "assistant", uuid: 42 };
  const written = { ...envelope(), transcript: [good, misfit, good] };
  await spool.put(written as unknown as Envelope);
  const [claimed] = await spool.claim(1);
  assert.equal(spool.corruptMoved(), 0);
  assert.deepEqual(claimed.record.envelope.transcript, [
    good,
    { type: "arrakis.unparsed", raw: JSON.stringify(misfit) },
    good,
  ]);
  assert.deepEqual({ ...claimed.record.envelope, transcript: undefined }, {
    ...written,
    transcript: undefined,
  });
});

Deno.test("temp files a killed writer left: a complete new record is recovered, an old copy dropped, a torn one moved aside", async () => {
  const dir = await tempQueueDir();
  const spool = await openSpool(dir);
  const age = async (path: string, ms: number) => {
    const at = new Date(Date.now() - ms);
    await Deno.utime(path, at, at);
  };
  // Complete signed records under temp names, as writeFileDurable leaves them before its rename.
  const stash = await openSpool(await tempQueueDir());
  const asTemp = async (e: ReturnType<typeof envelope>, name: string) => {
    const item = await stash.put(e);
    const path = join(dir, "pending", name);
    await Deno.copyFile(item.path, path);
    return path;
  };
  const lost = envelope();
  const kept = await spool.put(envelope());
  const orphan = await asTemp(lost, ".tmp-orphan");
  const duplicate = await asTemp(kept.record.envelope, ".tmp-duplicate");
  const young = await asTemp(envelope(), ".tmp-young");
  const torn = join(dir, "pending", ".tmp-torn");
  await Deno.writeTextFile(torn, '{"version":1,"envel');
  await age(orphan, 60_000);
  await age(duplicate, 60_000);
  await age(torn, 2 * 3_600_000);

  assert.equal(await spool.recoverExpired(), 1);
  const pending = (await spool.list("pending")).map((item) => item.id).sort();
  assert.deepEqual(pending, [kept.id, lost.requestId].sort());
  // A writer may still be about to rename a young temp: left alone.
  await Deno.lstat(young);
  await assert.rejects(Deno.lstat(duplicate), Deno.errors.NotFound);
  await assert.rejects(Deno.lstat(torn), Deno.errors.NotFound);
  const corrupt = [...Deno.readDirSync(join(dir, "corrupt"))].map((entry) => entry.name);
  assert.equal(corrupt.filter((name) => name.startsWith(".tmp-torn.")).length, 1);
});

Deno.test("outlook: counts, the next backoff still ahead and the first lease end", async () => {
  const clock = manualClock();
  const spool = await openSpool(await tempQueueDir(), {
    now: clock.now,
    random: () => 0,
    leaseMs: 30_000,
  });
  const [a, b] = [await spool.put(envelope()), await spool.put(envelope())];
  await spool.put(envelope());
  await spool.recordFailure(a, retryable(60_000));
  await spool.recordFailure(b, retryable(120_000));
  assert.equal((await spool.claim(5)).length, 1);
  assert.deepEqual(await spool.outlook(), {
    pending: 2,
    processing: 1,
    nextDueAt: clock.ms() + 60_000,
    leaseEndsAt: clock.ms() + 30_000,
    tempRecoverableAt: null,
  });
  clock.advance(60_000);
  assert.equal((await spool.outlook()).nextDueAt, clock.ms() + 60_000);
  spool.forgetBackoff();
  assert.equal((await spool.outlook()).nextDueAt, null);
});
