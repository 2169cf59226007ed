import assert from "node:assert/strict";
import { join } from "node:path";
import { atLeast, closeLogging, log, LOG_MAX_BYTES, setupLogging } from "../src/log.ts";
import { streamWriter } from "../src/log_sinks.ts";
import { tempDir } from "./helpers/temp.ts";

Deno.test("log lines are JSON with their ids, secrets removed, files private", async () => {
  const dir = join(await tempDir(), "logs");
  try {
    await setupLogging({
      level: "debug",
      dir,
      files: [{ name: "all.jsonl" }, { name: "error.jsonl", filter: atLeast("error") }],
    });
    const logger = log("test").with({ requestId: "r-1", traceId: "t-1" });
    logger.info("sent {event}", {
      event: "Stop",
      authorization: "Bearer sk-live-123",
      apiKey: "sk-live-123",
      headers: { "x-api-key": "sk-live-123" },
    });
    logger.error("failed {reason}", { reason: "boom" });
    await closeLogging();

    const all = (await Deno.readTextFile(join(dir, "all.jsonl"))).trim().split("\n");
    assert.equal(all.length, 2);
    const first = JSON.parse(all[0]);
    assert.equal(first.properties.requestId, "r-1");
    assert.equal(first.properties.traceId, "t-1");
    assert.equal(first.properties.event, "Stop");
    assert.ok(!JSON.stringify(all).includes("sk-live-123"), "a secret reached the log");
    const errors = (await Deno.readTextFile(join(dir, "error.jsonl"))).trim().split("\n");
    assert.equal(errors.length, 1);
    assert.equal(JSON.parse(errors[0]).level, "ERROR");
    assert.equal((await Deno.stat(dir)).mode! & 0o777, 0o700);
    assert.equal((await Deno.stat(join(dir, "all.jsonl"))).mode! & 0o777, 0o600);
  } finally {
    await Deno.remove(join(dir, ".."), { recursive: true });
  }
});

Deno.test("log files rotate at 10 MB and keep 5", async () => {
  const dir = await tempDir();
  try {
    await setupLogging({ level: "info", dir, files: [{ name: "r.jsonl" }] });
    const logger = log("rotate");
    const filler = "x".repeat(8 * 1024);
    for (let i = 0; i < (LOG_MAX_BYTES * 7) / filler.length; i++) logger.info(filler);
    await closeLogging();
    const names = [];
    for await (const entry of Deno.readDir(dir)) names.push(entry.name);
    names.sort();
    assert.deepEqual(names, ["r.jsonl", "r.jsonl.1", "r.jsonl.2", "r.jsonl.3", "r.jsonl.4"]);
    for (const name of names) {
      assert.ok((await Deno.stat(join(dir, name))).size <= LOG_MAX_BYTES + 16 * 1024, name);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a file's buffered line is written without a close; a warning at once", async () => {
  const dir = await tempDir();
  try {
    await setupLogging({ level: "info", dir, files: [{ name: "live.jsonl" }] });
    const read = async () => {
      const text = await Deno.readTextFile(join(dir, "live.jsonl"));
      return text.split("\n").filter(Boolean).map((line) => JSON.parse(line).message);
    };
    log("live").warn("first warning");
    // Written by the call itself: a process that dies next keeps it.
    assert.deepEqual(await read(), ["first warning"]);
    log("live").info("an info line");
    // Written by the flush timer, with no log call after it and no close.
    for (let i = 0; i < 200 && (await read()).length < 2; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.deepEqual(await read(), ["first warning", "an info line"]);
    await closeLogging();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a stream writer keeps every line in order, batched, and survives a failing target", async () => {
  const dir = await tempDir();
  try {
    const file = await Deno.open(join(dir, "out"), { write: true, create: true });
    const writes: number[] = [];
    const writer = streamWriter({
      write: (bytes) => (writes.push(bytes.length), file.write(bytes)),
    });
    for (let i = 0; i < 1000; i++) writer.write(`${i}\n`);
    await writer.close();
    file.close();
    const lines = (await Deno.readTextFile(join(dir, "out"))).trim().split("\n");
    assert.deepEqual(lines, Array.from({ length: 1000 }, (_, i) => String(i)));
    assert.ok(writes.length < 10, `${writes.length} writes for 1000 lines`);

    let calls = 0;
    const broken = streamWriter({
      write: () => (calls++, Promise.reject(new Deno.errors.BrokenPipe("closed"))),
    });
    broken.write("a\n");
    await broken.close();
    broken.write("b\n");
    await broken.close();
    assert.equal(calls, 1, "a broken stream is not written again");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
