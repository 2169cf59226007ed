// The pure extraction (envelope → row intents) and merge rules of set-based ingest: what each
// event asks for, and merges that give the same row whatever the order and the grouping.
import assert from "node:assert/strict";
import { Envelope } from "../src/schema.ts";
import {
  extract,
  mergeIntents,
  mergeToolUse,
  mergeUsage,
  type RowIntents,
} from "../src/server/rows.ts";
import { sessionEnvelopes, shuffled } from "./helpers/session.ts";

const envelopes = sessionEnvelopes().map((raw) => Envelope.parse(raw));
const byEvent = (event: string) => envelopes.filter((e) => e.event === event);

Deno.test("rows: each event asks for its rows", () => {
  const [prompt] = byEvent("UserPromptSubmit").map(extract);
  assert.equal(prompt.conversations.length, 1);
  assert.equal(prompt.messages[0].role, "user");
  assert.match(prompt.messages[0].dedupe_key, /^prompt:/);
  const [start] = byEvent("SessionStart").map(extract);
  assert.ok(start.conversations[0].started_at);
  assert.equal(start.messages.length + start.toolUses.length, 0);
  const [pre] = byEvent("PreToolUse").map(extract);
  assert.equal(pre.toolUses[0].status, "pending");
  assert.ok(pre.toolUses[0].pre_at && !pre.toolUses[0].post_at);
  const [failure] = byEvent("PostToolUseFailure").map(extract);
  assert.equal(failure.toolUses[0].status, "failure");
  const [stop] = byEvent("Stop").map(extract);
  assert.ok(stop.messages.some((m) => m.source === "stop"));
  assert.ok(stop.messages.some((m) => m.source === "transcript"));
  assert.ok(stop.usage.length > 0);
  const [future] = byEvent("FutureEvent").map(extract);
  assert.deepEqual(
    [future.messages.length, future.toolUses.length, future.usage.length],
    [0, 0, 0],
  );
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

Deno.test("rows: usage keeps the largest counts and the earliest time, in any order", () => {
  const base = {
    message_id: "m",
    api_request_id: "r",
    session_id: "s",
    model: "x",
    input_tokens: 5,
    output_tokens: 1,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 9,
    occurred_at: "2026-11-20T10:00:02.000Z",
  };
  const grown = {
    ...base,
    output_tokens: 40,
    cache_read_input_tokens: 3,
    occurred_at: "2026-11-20T10:00:01.000Z",
  };
  assert.deepEqual(mergeUsage(base, grown), mergeUsage(grown, base));
  assert.deepEqual(
    [mergeUsage(base, grown).output_tokens, mergeUsage(base, grown).cache_read_input_tokens],
    [40, 9],
  );
  assert.equal(mergeUsage(base, grown).occurred_at, grown.occurred_at);
});

/** Folds groups the way the tables do: each group merged, then merged with what is stored. */
function storeGroups(groups: RowIntents[][]): RowIntents {
  let stored: RowIntents = { conversations: [], messages: [], toolUses: [], usage: [] };
  for (const group of groups) stored = mergeIntents([stored, mergeIntents(group)]);
  return stored;
}

Deno.test("rows: any order and any split into groups merge to the same rows (200 seeds)", () => {
  const intents = envelopes.map(extract);
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
