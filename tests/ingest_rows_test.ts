// The pure extraction (envelope → row intents) and merge rules of set-based ingest: what each
// event asks for, and merges that give the same row whatever the order and the grouping.
import assert from "node:assert/strict";
import { Envelope } from "../src/schema.ts";
import { extract, mergeIntents, mergeToolUse, type RowIntents } from "../src/server/rows.ts";
import { sessionEnvelopes, shuffled } from "./helpers/session.ts";

const envelopes = sessionEnvelopes().map((raw) => Envelope.parse(raw));
const byEvent = (event: string) => envelopes.filter((e) => e.event === event);

Deno.test("rows: each event asks for its rows", () => {
  // A prompt's own row is matched to transcript lines apart (src/server/record_intents.ts).
  const [prompt] = byEvent("UserPromptSubmit").map((e) => extract(e));
  assert.deepEqual([prompt.conversations.length, prompt.messages.length], [1, 0]);
  const [start] = byEvent("SessionStart").map((e) => extract(e, "startup"));
  assert.ok(start.conversations[0].started_at);
  assert.deepEqual(start.conversations[0].start_sources, ["startup"]);
  assert.equal(start.messages.length + start.toolUses.length, 0);
  const [pre] = byEvent("PreToolUse").map((e) => extract(e));
  assert.equal(pre.toolUses[0].status, "pending");
  assert.ok(pre.toolUses[0].pre_at && !pre.toolUses[0].post_at);
  const [failure] = byEvent("PostToolUseFailure").map((e) => extract(e));
  assert.equal(failure.toolUses[0].status, "failure");
  const [stop] = byEvent("Stop").map((e) => extract(e));
  assert.deepEqual(stop.messages.map((m) => m.source), ["stop"]);
  const [future] = byEvent("FutureEvent").map((e) => extract(e));
  assert.deepEqual([future.messages.length, future.toolUses.length], [0, 0]);
});

Deno.test("rows: Pre and Post merge to the same tool use in either order", () => {
  const [pre] = byEvent("PreToolUse").map((e) => extract(e).toolUses[0]);
  const post = extract(byEvent("PostToolUse")[0]).toolUses[0];
  const a = mergeToolUse(pre, post);
  const b = mergeToolUse(post, pre);
  assert.deepEqual(a, b);
  assert.equal(a.status, "success");
  assert.equal(a.tool_name, pre.tool_name);
  assert.ok(a.pre_at && a.post_at);
});

Deno.test("rows: a session's key is the one that sent its earliest event, in any order", () => {
  const [first, ...rest] = envelopes.filter((e) => e.event !== "SessionStart");
  const intents = [
    extract(first, undefined, "laptop"),
    ...rest.map((e, i) => extract(e, undefined, i % 2 ? "ci" : null)),
  ];
  for (let seed = 1; seed <= 20; seed++) {
    const [conversation] = mergeIntents(shuffled(intents, seed)).conversations;
    assert.equal(conversation.key_name, "laptop", `seed ${seed}`);
  }
});

/** Folds groups the way the tables do: each group merged, then merged with what is stored. */
function storeGroups(groups: RowIntents[][]): RowIntents {
  let stored: RowIntents = { conversations: [], messages: [], toolUses: [] };
  for (const group of groups) stored = mergeIntents([stored, mergeIntents(group)]);
  return stored;
}

Deno.test("rows: any order and any split into groups merge to the same rows (200 seeds)", () => {
  const intents = envelopes.map((e) =>
    extract(e, e.event === "SessionStart" ? "startup" : undefined)
  );
  const expected = storeGroups(intents.map((i) => [i]));
  for (let seed = 1; seed <= 200; seed++) {
    const order = shuffled(intents, seed);
    const groups: RowIntents[][] = [];
    for (let i = 0, size = 1; i < order.length; i += size, size = 1 + ((seed * (i + 3)) % 5)) {
      groups.push(order.slice(i, i + size));
    }
    assert.deepEqual(storeGroups(groups), expected, `seed ${seed}`);
  }
});
