// Ingest-side input limits (issue 16 §4): numeric maxima in the schema, and a cap on the JSON
// values of a body, enforced before parsing.
import assert from "node:assert/strict";
import { storeTest } from "./helpers/stores.ts";
import { fixturePayload, makeEnvelope, post, startInProcessServer } from "./helpers/server.ts";
import { countJsonNodes, MAX_BODY_NODES } from "../src/server/sanitize.ts";
import { MAX_COUNT, MAX_TOKENS } from "../src/schema.ts";

Deno.test("limits: JSON values are counted from structure, strings ignored", () => {
  const text = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
  assert.equal(countJsonNodes(text({ a: [1, 2, 3], b: { c: "x,:[{" } }), 100), 9);
  assert.equal(countJsonNodes(text({ s: 'quote \\" and , inside' }), 100), 2);
  assert.equal(countJsonNodes(text(Array(50).fill(0)), 10), 11);
});

storeTest(
  "limits: overflowing numbers are a 400, value floods a 413, each with the reason",
  async ({ db }) => {
    const server = await startInProcessServer(db);
    try {
      const spool = makeEnvelope(fixturePayload("Notification"));
      (spool.source as Record<string, unknown>).spool = { pending: MAX_COUNT + 1, failed: 0 };
      const tokens = makeEnvelope(fixturePayload("Stop"), {
        transcript: [{
          type: "assistant",
          uuid: "u-1",
          requestId: "req_1",
          message: { id: "msg_1", role: "assistant", usage: { input_tokens: MAX_TOKENS + 1 } },
        }],
      });
      const duration = makeEnvelope({ ...fixturePayload("PostToolUse"), duration_ms: 1e300 });
      for (
        const [envelope, path] of [
          [spool, "source.spool.pending"],
          [tokens, "transcript.0.message.usage.input_tokens"],
          [duration, "payload.duration_ms"],
        ] as const
      ) {
        const { status, body } = await post(server, "/api/claude-hooks", envelope);
        assert.equal(status, 400, path);
        assert.equal(body.code, "SCHEMA");
        assert.match(String(body.message), new RegExp(path.replaceAll(".", "\\.")));
      }
      // A body of millions of keys is refused before it is parsed.
      const values = new Array(MAX_BODY_NODES * 2).fill(0);
      const flood = makeEnvelope({ ...fixturePayload("Notification"), flood: values });
      const { status, body } = await post(server, "/api/claude-hooks", flood);
      assert.equal(status, 413);
      assert.equal(body.code, "TOO_MANY_VALUES");
      const rows = await server.sql`SELECT status, error_code FROM webhook_events ORDER BY id`;
      assert.deepEqual(rows.map((r) => r.status), ["INVALID", "INVALID", "INVALID", "INVALID"]);
      assert.equal(rows[3].error_code, "TOO_MANY_VALUES");
      // And the server serves on.
      assert.equal(
        (await post(server, "/api/claude-hooks", makeEnvelope(fixturePayload("Stop")))).status,
        200,
      );
    } finally {
      await server.stop();
    }
  },
);
