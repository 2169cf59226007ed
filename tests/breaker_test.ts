// The circuit breaker of the shipper: in-process state on an injectable clock, opened by
// failed batches in a row, held at least as long as the server's Retry-After.
import assert from "node:assert/strict";
import { createBreaker } from "../src/queue/breaker.ts";

function setup() {
  let now = 1_000_000;
  const breaker = createBreaker({ threshold: 3, cooldownMs: 30_000, now: () => now });
  return { breaker, now: () => now, advance: (ms: number) => (now += ms) };
}

Deno.test("opens after threshold failed batches in a row, for the cool-down", () => {
  const { breaker, now, advance } = setup();
  breaker.recordUnavailable();
  breaker.recordUnavailable();
  assert.ok(breaker.openUntil() <= now(), "still closed below the threshold");
  breaker.recordUnavailable();
  assert.equal(breaker.openUntil(), now() + 30_000);
  advance(30_000);
  // Half open: the next batch is the probe; its failure reopens at once.
  assert.ok(breaker.openUntil() <= now());
  breaker.recordUnavailable();
  assert.equal(breaker.openUntil(), now() + 30_000);
});

Deno.test("a success closes it and resets the count", () => {
  const { breaker, now } = setup();
  for (let i = 0; i < 3; i++) breaker.recordUnavailable();
  breaker.recordSuccess();
  assert.equal(breaker.openUntil(), 0);
  breaker.recordUnavailable();
  assert.ok(breaker.openUntil() <= now());
});

Deno.test("Retry-After holds sending back even below the threshold, never shortened", () => {
  const { breaker, now } = setup();
  breaker.recordUnavailable(120_000);
  assert.equal(breaker.openUntil(), now() + 120_000);
  breaker.recordUnavailable(5_000);
  breaker.recordUnavailable();
  // The threshold's 30 s cool-down does not cut the server's two minutes short.
  assert.equal(breaker.openUntil(), now() + 120_000);
});
