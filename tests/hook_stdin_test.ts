import assert from "node:assert/strict";
import { readStdin, stubForOversizedInput } from "../src/hook/stdin.ts";
import { Envelope } from "../src/schema.ts";
import { buildEnvelope, normalizePayload } from "../src/hook/envelope.ts";

function streamOf(...chunks: string[]): ReadableStream<Uint8Array> {
  return ReadableStream.from(chunks.map((chunk) => new TextEncoder().encode(chunk)));
}

Deno.test("stdin past the cap is read to the end but not kept", async () => {
  const read = await readStdin(streamOf("abc", "defgh", "ij"), 4);
  assert.equal(new TextDecoder().decode(read.bytes), "abcd");
  assert.equal(read.total, 10);
  assert.equal(read.truncated, true);
  const small = await readStdin(streamOf('{"a":1}'), 100);
  assert.equal(small.truncated, false);
});

Deno.test("an oversized event keeps its identity and still makes a valid envelope", () => {
  const huge = JSON.stringify({
    session_id: "s-1",
    hook_event_name: "PostToolUse",
    tool_name: "Bash",
    tool_use_id: "toolu_1",
    tool_response: { stdout: "x".repeat(1000) },
  });
  const stub = stubForOversizedInput(huge.slice(0, 300), 50_000_000);
  assert.equal(stub.session_id, "s-1");
  assert.equal(stub.tool_use_id, "toolu_1");
  assert.deepEqual(stub.arrakis_truncated, {
    reason: "stdin larger than the hook keeps",
    bytes: 50_000_000,
  });
  const envelope = buildEnvelope(normalizePayload(stub), { env: {} });
  assert.ok(Envelope.safeParse(envelope).success);
});

Deno.test("events without a session or name, or with odd ones, still make valid envelopes", () => {
  for (
    const input of [{}, { session_id: 42, hook_event_name: "" }, { session_id: "x".repeat(300) }]
  ) {
    const envelope = buildEnvelope(normalizePayload(input), { env: { CLAUDE_PROJECT_DIR: "/p" } });
    const parsed = Envelope.safeParse(envelope);
    assert.ok(parsed.success, JSON.stringify(parsed.error?.issues));
    assert.equal(envelope.source.projectDir, "/p");
  }
});
