import assert from "node:assert/strict";
import { join } from "node:path";
import { parseLines, readTranscriptChunk } from "../src/hook/transcript.ts";
import { lenientTranscriptLine } from "../src/schema.ts";
import { openSessionState, sessionKey, settleIntent } from "../src/hook/session-state.ts";
import { TRANSCRIPT_PATH } from "./helpers/fixtures.ts";
import { tempDir } from "./helpers/temp.ts";

const fixtureText = await Deno.readTextFile(TRANSCRIPT_PATH);

Deno.test("complete lines are read from an offset; a torn last line waits", async () => {
  const dir = await tempDir();
  try {
    const path = join(dir, "t.jsonl");
    const lines = fixtureText.trimEnd().split("\n");
    const torn = lines[3].slice(0, 40);
    await Deno.writeTextFile(path, lines.slice(0, 3).join("\n") + "\n" + torn);
    const first = await readTranscriptChunk(path, 0, undefined);
    assert.ok(first);
    assert.equal(first.lines.length, 3);
    assert.equal(first.from, 0);
    assert.equal(first.to, new TextEncoder().encode(lines.slice(0, 3).join("\n") + "\n").length);

    // The writer finishes the line and adds the rest.
    await Deno.writeTextFile(
      path,
      lines.slice(0, 3).join("\n") + "\n" + lines.slice(3).join("\n") + "\n",
    );
    const second = await readTranscriptChunk(path, first.to, first.ino);
    assert.ok(second);
    assert.equal(second.from, first.to);
    assert.deepEqual(second.lines.map((line) => line.uuid ?? line.type), ["u-2", "a-3", "summary"]);
    const again = await readTranscriptChunk(path, second.to, second.ino);
    assert.deepEqual(again?.lines, []);
    assert.equal(again?.to, second.to);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a missing transcript reads as undefined; a replaced one starts over", async () => {
  const dir = await tempDir();
  try {
    const path = join(dir, "t.jsonl");
    assert.equal(await readTranscriptChunk(path, 0, undefined), undefined);
    await Deno.writeTextFile(path, fixtureText);
    const first = await readTranscriptChunk(path, 0, undefined);
    await Deno.remove(path);
    await Deno.writeTextFile(path, fixtureText.split("\n")[0] + "\n");
    const replaced = await readTranscriptChunk(path, first!.to, first!.ino);
    assert.equal(replaced?.from, 0);
    assert.equal(replaced?.lines.length, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a chunk stops at the byte budget on a line boundary; an oversized line is stepped over", async () => {
  const dir = await tempDir();
  try {
    const path = join(dir, "t.jsonl");
    const small = JSON.stringify({ type: "user", uuid: "s" }) + "\n";
    const big = JSON.stringify({ type: "assistant", uuid: "big", pad: "x".repeat(5000) }) + "\n";
    await Deno.writeTextFile(path, small + small + big + small);
    const first = await readTranscriptChunk(path, 0, undefined, 100);
    assert.equal(first?.lines.length, 2);
    const second = await readTranscriptChunk(path, first!.to, first!.ino, 100);
    assert.equal(second?.lines.length, 1);
    assert.equal(second?.lines[0].type, "arrakis.oversized");
    assert.equal(second?.to, first!.to + new TextEncoder().encode(big).length);
    const third = await readTranscriptChunk(path, second!.to, second!.ino, 100);
    assert.equal(third?.lines[0].uuid, "s");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("lines are parsed leniently: unknown types kept, non-objects as raw text; the schema's misfits as text on reading", () => {
  const lines = parseLines(
    [
      '{"type":"summary","summary":"x","leafUuid":"a"}',
      '{"type":"future-kind","anything":[1,2]}',
      "not json at all",
      "[1,2,3]",
      '{"type":"assistant","uuid":42}',
      "",
      '{"type":"user","uuid":"u"}\r',
    ].join("\n"),
  );
  assert.deepEqual(lines.map((line) => line.type), [
    "summary",
    "future-kind",
    "arrakis.unparsed",
    "arrakis.unparsed",
    "assistant",
    "user",
  ]);
  assert.equal(lines[2].raw, "not json at all");
  // The hook cannot load zod: the schema's verdict comes when the spool reads the record.
  assert.deepEqual(lenientTranscriptLine(lines[4]), {
    type: "arrakis.unparsed",
    raw: '{"type":"assistant","uuid":42}',
  });
  assert.deepEqual(lenientTranscriptLine(lines[5]), lines[5]);
});

Deno.test("session state: private files, per-session lock, intents settle by the spool", async () => {
  const queueDir = await tempDir();
  try {
    const first = await openSessionState(queueDir, "s-1", 1000);
    assert.ok(first);
    // A second hook of the same session waits for the lock (and gives up after its timeout).
    assert.equal(await openSessionState(queueDir, "s-1", 100), undefined);
    // Another session is independent.
    const other = await openSessionState(queueDir, "s-2", 100);
    assert.ok(other);
    other.release();

    first.state.files["/t"] = { offset: 0, ino: 1, intent: { requestId: "r-1", from: 0, to: 50 } };
    await first.save();
    first.release();
    const mode = (await Deno.stat(join(queueDir, "state", "s-1.json"))).mode! & 0o777;
    assert.equal(mode, 0o600);

    // r-1 never reached the spool: the offset stays.
    const second = await openSessionState(queueDir, "s-1", 1000);
    assert.ok(second);
    const file = second.state.files["/t"];
    assert.equal(await settleIntent(file, queueDir), true);
    assert.equal(file.offset, 0);
    assert.equal(file.intent, undefined);
    // r-2 is in the spool: the offset moves to its end.
    file.intent = { requestId: "r-2", from: 0, to: 70 };
    await Deno.mkdir(join(queueDir, "pending"), { recursive: true });
    await Deno.writeTextFile(join(queueDir, "pending", "r-2.json"), "{}");
    await settleIntent(file, queueDir);
    assert.equal(file.offset, 70);
    // r-3 was claimed by a drainer (leased name in processing/).
    file.intent = { requestId: "r-3", from: 70, to: 90 };
    await Deno.mkdir(join(queueDir, "processing"), { recursive: true });
    await Deno.writeTextFile(join(queueDir, "processing", "r-3.1767225600000.json"), "{}");
    await settleIntent(file, queueDir);
    assert.equal(file.offset, 90);
    second.release();
    assert.match(await sessionKey("../../etc/passwd"), /^h-[0-9a-f]{64}$/);
  } finally {
    await Deno.remove(queueDir, { recursive: true });
  }
});
