// The circuit breaker's state file, shared by separate breaker instances as hook processes
// share it, on an injectable clock.
import assert from "node:assert/strict";
import { join } from "node:path";
import { openBreaker, readBreakerState } from "../src/queue/breaker.ts";

async function setup() {
  const dir = await Deno.makeTempDir({ prefix: "arrakis-breaker-" });
  let now = 1_000_000;
  const path = join(dir, "breaker.json");
  const open = () => openBreaker(path, { threshold: 3, cooldownMs: 30_000, now: () => now });
  return { path, open, advance: (ms: number) => (now += ms) };
}

Deno.test("opens after threshold transport failures across processes, for the cool-down", async () => {
  const { path, open, advance } = await setup();
  // Each "hook" opens its own breaker over the same file.
  for (let i = 0; i < 2; i++) await open().recordTransportFailure();
  assert.equal(await open().allowSend(), true);
  await open().recordTransportFailure();
  assert.equal(await open().allowSend(), false);
  assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
  advance(29_999);
  assert.equal(await open().allowSend(), false);
  advance(1);
  // Half open: the next hook probes.
  assert.equal(await open().allowSend(), true);
});

Deno.test("a failed probe reopens at once; a success closes and resets the count", async () => {
  const { path, open, advance } = await setup();
  for (let i = 0; i < 3; i++) await open().recordTransportFailure();
  advance(30_000);
  assert.equal(await open().allowSend(), true);
  await open().recordTransportFailure();
  assert.equal(await open().allowSend(), false);
  advance(30_000);
  await open().recordSuccess();
  assert.deepEqual(await readBreakerState(path), { failures: 0, openUntil: 0 });
  await open().recordTransportFailure();
  assert.equal(await open().allowSend(), true);
});

Deno.test("a missing, empty or garbage state file is a closed breaker", async () => {
  const { path, open } = await setup();
  assert.equal(await open().allowSend(), true);
  await Deno.writeTextFile(path, "");
  assert.equal(await open().allowSend(), true);
  await Deno.writeTextFile(path, "{not json");
  assert.equal(await open().allowSend(), true);
  await Deno.writeTextFile(path, '{"failures":"many","openUntil":null}');
  assert.equal(await open().allowSend(), true);
  await open().recordTransportFailure();
  assert.equal((await readBreakerState(path)).failures, 1);
});

Deno.test("a breaker in an unwritable place never throws and never blocks sends", async () => {
  const breaker = openBreaker("/proc/arrakis-no-such-dir/breaker.json", {
    threshold: 1,
    cooldownMs: 60_000,
  });
  await breaker.recordTransportFailure();
  await breaker.recordSuccess();
  assert.equal(await breaker.allowSend(), true);
});
