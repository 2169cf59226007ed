// The drain's progress line: a bar with rate and ETA on a terminal, plain text otherwise.
import assert from "node:assert/strict";
import { formatDuration, progressLine } from "../src/queue/progress.ts";

Deno.test("progress shows done/total, rate and ETA; a bar only on a terminal", () => {
  const progress = { done: 2_500, total: 10_000, delivered: 2_500, elapsedMs: 5_000 };
  assert.equal(
    progressLine(progress, true),
    `[${"#".repeat(8)}${"-".repeat(22)}] 2500/10000  500/s  ETA 15s`,
  );
  assert.equal(progressLine(progress, false), "drain: 2500/10000  500/s  ETA 15s");
  assert.equal(
    progressLine({ done: 0, total: 10, delivered: 0, elapsedMs: 0 }, false),
    "drain: 0/10  0/s  ETA ?",
  );
});

Deno.test("durations read like 45s, 2m05s, 3h07m", () => {
  assert.equal(formatDuration(45_000), "45s");
  assert.equal(formatDuration(125_000), "2m05s");
  assert.equal(formatDuration(3 * 3_600_000 + 7 * 60_000), "3h07m");
  assert.equal(formatDuration(Infinity), "?");
});
