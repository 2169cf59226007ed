import assert from "node:assert/strict";
import { join } from "node:path";
import { closeLogging, log, LOG_MAX_BYTES, LOG_MAX_FILES, setupLogging } from "../src/log.ts";
import {
  appendLines,
  formatLine,
  HOOK_LOG_MAX_BYTES,
  HOOK_LOG_MAX_FILES,
} from "../src/hook/log-writer.ts";
import { createJournal, render } from "../src/hook/journal.ts";
import { tempDir } from "./helpers/temp.ts";

Deno.test("the hook's log lines have LogTape's shape and the same rotation policy", async () => {
  assert.equal(HOOK_LOG_MAX_BYTES, LOG_MAX_BYTES);
  assert.equal(HOOK_LOG_MAX_FILES, LOG_MAX_FILES);
  const dir = await tempDir();
  try {
    await setupLogging({ level: "debug", dir, files: [{ name: "lt.jsonl" }] });
    log("hook", "queue").warn("spooled {event}", { event: "Stop", requestId: "r-1" });
    await closeLogging();
    const logtape = JSON.parse(await Deno.readTextFile(join(dir, "lt.jsonl")));
    const ours = JSON.parse(formatLine({
      timestamp: new Date().toISOString(),
      level: "warning",
      message: render("spooled {event}", { event: "Stop" }),
      logger: "arrakis.hook.queue",
      properties: { event: "Stop", requestId: "r-1" },
    }));
    assert.deepEqual(Object.keys(ours), Object.keys(logtape));
    for (const key of ["level", "message", "logger", "properties"]) {
      assert.deepEqual(ours[key], logtape[key], key);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hook log files rotate and keep five", async () => {
  const dir = await tempDir();
  try {
    const line = "x".repeat(1024 * 1024 - 1) + "\n";
    for (let i = 0; i < 70; i++) await appendLines(dir, "r.jsonl", [line]);
    const names: string[] = [];
    for await (const entry of Deno.readDir(dir)) names.push(entry.name);
    assert.deepEqual(names.sort(), ["r.jsonl", "r.jsonl.1", "r.jsonl.2", "r.jsonl.3", "r.jsonl.4"]);
    for (const name of names) {
      assert.ok((await Deno.stat(join(dir, name))).size <= HOOK_LOG_MAX_BYTES, name);
    }
    assert.equal((await Deno.stat(join(dir, "r.jsonl"))).mode! & 0o777, 0o600);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("journal sorts lines into the four files, with ids, never a secret", async () => {
  const dir = join(await tempDir(), "logs");
  try {
    const journal = createJournal();
    journal.ids.requestId = "r-9";
    journal.ids.traceId = "t-9";
    journal.add("debug", "hook", "received {event}", { event: "Stop" });
    journal.add("info", "queue", "spooled {event}", { event: "Stop" });
    journal.add("info", "success", "delivered {event}", { event: "Stop", authorization: "k" });
    journal.add("warning", "queue", "kept", { error: "Bearer abcdefghijklmnopqrstuv" });
    await journal.flush({ logDir: dir, logLevel: "info" });
    const read = async (name: string) =>
      (await Deno.readTextFile(join(dir, name))).trim().split("\n").map((l) => JSON.parse(l));
    assert.equal((await read("success.jsonl")).length, 1);
    assert.equal((await read("queue.jsonl")).length, 2);
    assert.equal((await read("error.jsonl")).length, 1);
    const debug = await read("debug.jsonl");
    assert.equal(debug.length, 3, "debug lines are below the info level");
    for (const line of debug) {
      assert.equal(line.properties.requestId, "r-9");
      assert.equal(line.properties.traceId, "t-9");
    }
    assert.equal(debug[1].message, 'delivered "Stop"');
    const all = await Deno.readTextFile(join(dir, "debug.jsonl"));
    assert.ok(!all.includes("abcdefghijklmnopqrstuv"));
    assert.ok(!all.includes('"k"'));
    assert.equal((await Deno.stat(dir)).mode! & 0o777, 0o700);
  } finally {
    await Deno.remove(join(dir, ".."), { recursive: true });
  }
});
