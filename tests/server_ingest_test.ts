// Ingest end to end over real HTTP: every fixture event stored as expected, the same end state
// whatever the order and however often events arrive, idempotency under concurrency, 409.
import assert from "node:assert/strict";
import { createTestDatabase, storeTest } from "./helpers/stores.ts";
import { fixturePayload, makeEnvelope, post, startInProcessServer } from "./helpers/server.ts";
import { uuidv7 } from "../src/ids.ts";
import { dump, SESSION, sessionEnvelopes, shuffled } from "./helpers/session.ts";

storeTest("ingest: every event type is stored as expected", async ({ db }) => {
  const server = await startInProcessServer(db);
  try {
    for (const envelope of sessionEnvelopes()) {
      const { status, body } = await post(server, "/api/claude-hooks", envelope);
      assert.equal(status, 200, JSON.stringify(body));
      assert.equal(body.status, "SUCCESS");
      assert.equal(body.requestId, envelope.requestId);
      assert.equal(typeof body.eventId, "number");
    }
    const sql = server.sql;
    const [conversation] = await sql`SELECT * FROM conversations`;
    assert.equal(conversation.session_id, SESSION);
    assert.equal(conversation.model, "claude-sonnet-4-5");
    assert.equal(conversation.start_source, "startup");
    assert.equal(conversation.end_reason, "prompt_input_exit");
    assert.equal(conversation.cwd, "/home/dev/shop");
    assert.equal(conversation.host, "test-host");
    assert.equal(conversation.started_at.toISOString(), "2026-11-20T10:00:00.000Z");
    assert.equal(conversation.ended_at.toISOString(), "2026-11-20T10:00:10.000Z");

    const messages = await sql`SELECT role, source, dedupe_key, content, model, message_id
      FROM messages ORDER BY occurred_at, dedupe_key`;
    assert.deepEqual(messages.map((m) => `${m.role}/${m.source}`).sort(), [
      "assistant/stop",
      "assistant/transcript",
      "assistant/transcript",
      "assistant/transcript",
      "user/prompt",
    ]);
    const prompt = messages.find((m) => m.source === "prompt")!;
    assert.match(prompt.content, /unit test for the cart total/);
    assert.equal(prompt.dedupe_key, "prompt:p-01");
    const final = messages.find((m) => m.dedupe_key === "transcript:a-3")!;
    assert.match(final.content, /all cart tests pass/);
    assert.equal(final.model, "claude-sonnet-4-5");
    assert.equal(final.message_id, "msg_01B");

    // Usage counted once per (message.id, requestId) though msg_01A spans two lines.
    const usage = await sql`SELECT message_id, input_tokens, output_tokens,
      cache_creation_input_tokens, cache_read_input_tokens FROM token_usage ORDER BY message_id`;
    assert.deepEqual(usage.map((u) => ({ ...u })), [
      {
        message_id: "msg_01A",
        input_tokens: "1200",
        output_tokens: "85",
        cache_creation_input_tokens: "0",
        cache_read_input_tokens: "9000",
      },
      {
        message_id: "msg_01B",
        input_tokens: "1450",
        output_tokens: "60",
        cache_creation_input_tokens: "300",
        cache_read_input_tokens: "9000",
      },
    ]);

    const tools = await sql`SELECT * FROM tool_uses ORDER BY tool_use_id`;
    assert.equal(tools.length, 2);
    const bash = tools.find((t) => t.tool_use_id === "toolu_01AbCdEf")!;
    assert.equal(bash.status, "success");
    assert.equal(bash.tool_name, "Bash");
    assert.deepEqual(bash.tool_input, {
      command: "npm test -- cart",
      description: "Run cart tests",
    });
    assert.match(bash.tool_response.stdout, /PASS/);
    assert.equal(bash.duration_ms, 2140);
    assert.ok(bash.pre_at && bash.post_at);
    const read = tools.find((t) => t.tool_use_id === "toolu_01ZzYyXx")!;
    assert.equal(read.status, "failure");
    assert.equal(read.error, "File does not exist.");

    // Every event, the unknown one included, is audited SUCCESS and linked to the conversation.
    const audit = await sql`SELECT event_type, status, stage, http_status, conversation_id,
      payload, response, headers, body_sha256, processing_ms, stage_timings, completed_at
      FROM webhook_events ORDER BY id`;
    assert.equal(audit.length, 12);
    for (const row of audit) {
      assert.equal(row.status, "SUCCESS");
      assert.equal(row.stage, "respond");
      assert.equal(row.http_status, 200);
      assert.equal(row.conversation_id, conversation.id);
      assert.equal(row.response.status, "SUCCESS");
      assert.equal(row.payload.sessionId, SESSION);
      assert.equal(row.headers.authorization, undefined);
      assert.equal(row.headers["content-type"], "application/json");
      assert.match(row.body_sha256, /^[0-9a-f]{64}$/);
      assert.ok(row.processing_ms > 0 && row.completed_at);
      assert.ok(typeof row.stage_timings.process === "number");
    }
    assert.ok(audit.some((row) => row.event_type === "FutureEvent"));
  } finally {
    await server.stop();
  }
});

storeTest(
  "ingest: any order, repeated delivery and batches give the same end state",
  async ({ db }) => {
    const envelopes = sessionEnvelopes();
    const runs: {
      name: string;
      deliver: (server: { url: string; apiKey: string }) => Promise<void>;
    }[] = [
      {
        name: "in order, once",
        async deliver(server) {
          for (const e of envelopes) {
            assert.equal(
              (await post(server, "/api/claude-hooks", e)).status,
              200,
            );
          }
        },
      },
      {
        name: "reversed, every event twice (retry with attempt 2)",
        async deliver(server) {
          for (const e of [...envelopes].reverse()) {
            assert.equal((await post(server, "/api/claude-hooks", e)).status, 200);
            const again = await post(server, "/api/claude-hooks", { ...e, attempt: 2 });
            assert.equal(again.status, 200);
            assert.equal(again.body.status, "DUPLICATE");
          }
        },
      },
      {
        name: "shuffled batches with duplicates inside, concurrently",
        async deliver(server) {
          const mixed = shuffled([...envelopes, ...envelopes.slice(0, 5)], 7);
          const batches = [mixed.slice(0, 6), mixed.slice(6, 12), mixed.slice(12)];
          const answers = await Promise.all(
            batches.map((b) => post(server, "/api/claude-hooks/batch", b)),
          );
          for (const answer of answers) {
            assert.equal(answer.status, 200, JSON.stringify(answer.body));
            for (const item of answer.body.results as { status: string; httpStatus: number }[]) {
              assert.ok(["SUCCESS", "DUPLICATE"].includes(item.status), JSON.stringify(item));
              assert.equal(item.httpStatus, 200);
            }
          }
        },
      },
    ];
    const dumps: unknown[] = [];
    for (const run of runs) {
      const own = run === runs[0] ? db : await createTestDatabase(db.kind);
      const server = await startInProcessServer(own);
      try {
        await run.deliver(server);
        dumps.push(await dump(server.sql));
        const [{ count }] = await server.sql`
        SELECT count(*)::int AS count FROM webhook_events WHERE status = 'SUCCESS'`;
        assert.equal(count, envelopes.length, run.name);
      } finally {
        await server.stop();
        if (own !== db) await own.destroy();
      }
    }
    assert.deepEqual(dumps[1], dumps[0], runs[1].name);
    assert.deepEqual(dumps[2], dumps[0], runs[2].name);
  },
);

storeTest(
  "ingest: 50 concurrent deliveries of one requestId store it once, never a 500",
  async ({ db }) => {
    const server = await startInProcessServer(db);
    try {
      const envelope = makeEnvelope(fixturePayload("UserPromptSubmit"));
      const answers = await Promise.all(
        Array.from(
          { length: 50 },
          (_, i) => post(server, "/api/claude-hooks", { ...envelope, attempt: i + 1 }),
        ),
      );
      const statuses = answers.map((a) => `${a.status} ${a.body.status}`);
      assert.equal(statuses.filter((s) => s === "200 SUCCESS").length, 1, statuses.join(","));
      assert.equal(statuses.filter((s) => s === "200 DUPLICATE").length, 49);
      const rows = await server.sql`SELECT status, count(*)::int AS n FROM webhook_events
      GROUP BY status ORDER BY status`;
      assert.deepEqual(rows.map((r) => [r.status, r.n]), [["SUCCESS", 1], ["DUPLICATE", 49]]);
      const [{ n }] = await server.sql`SELECT count(*)::int AS n FROM messages`;
      assert.equal(n, 1);

      // Different bodies racing on one requestId: one wins, the rest are 409, none is a 500.
      const requestId = uuidv7();
      const racing = await Promise.all(Array.from({ length: 20 }, (_, i) =>
        post(
          server,
          "/api/claude-hooks",
          makeEnvelope(
            {
              ...fixturePayload("UserPromptSubmit"),
              prompt: `prompt ${i}`,
              prompt_id: `race-${i}`,
            },
            { requestId },
          ),
        )));
      const codes = racing.map((a) => a.status).sort();
      assert.equal(codes.filter((c) => c === 200).length, 1, codes.join(","));
      assert.equal(codes.filter((c) => c === 409).length, 19);
    } finally {
      await server.stop();
    }
  },
);

storeTest(
  "ingest: DUPLICATE returns the stored answer, a changed body is 409 CONFLICT",
  async ({ db }) => {
    const server = await startInProcessServer(db);
    try {
      const envelope = makeEnvelope(fixturePayload("UserPromptSubmit"));
      const first = await post(server, "/api/claude-hooks", envelope);
      assert.equal(first.body.status, "SUCCESS");
      // A retry: new attempt, new span, keys in another order: still the same event.
      const { attempt: _a, spanId: _s, ...rest } = envelope;
      const reordered = Object.fromEntries(Object.entries(rest).reverse());
      const retry = await post(server, "/api/claude-hooks", {
        ...reordered,
        attempt: 3,
        spanId: "0123456789abcdef",
      });
      assert.equal(retry.status, 200);
      assert.equal(retry.body.status, "DUPLICATE");
      assert.equal(retry.body.requestId, envelope.requestId);
      assert.equal(retry.body.originalEventId, first.body.eventId);
      assert.notEqual(retry.body.eventId, first.body.eventId);

      const changed = {
        ...envelope,
        payload: { ...(envelope.payload as object), prompt: "something else" },
      };
      const conflict = await post(server, "/api/claude-hooks", changed);
      assert.equal(conflict.status, 409);
      assert.equal(conflict.body.status, "CONFLICT");
      assert.equal(conflict.body.code, "REQUEST_ID_REUSED");
      // An invalid body reusing a processed requestId is a conflict too.
      const invalidReuse = await post(server, "/api/claude-hooks", {
        ...envelope,
        occurredAt: "yesterday",
      });
      assert.equal(invalidReuse.status, 409);

      const rows = await server
        .sql`SELECT status, http_status, response FROM webhook_events ORDER BY id`;
      assert.deepEqual(rows.map((r) => [r.status, r.http_status]), [
        ["SUCCESS", 200],
        ["DUPLICATE", 200],
        ["CONFLICT", 409],
        ["CONFLICT", 409],
      ]);
      assert.equal(rows[1].response.status, "DUPLICATE");
      const [{ content }] = await server.sql`SELECT content FROM messages`;
      assert.match(content, /cart total/);
    } finally {
      await server.stop();
    }
  },
);

storeTest(
  "batch: one answer and one audit row per item; bad items do not sink good ones",
  async ({ db }) => {
    const server = await startInProcessServer(db, { ARRAKIS_BATCH_MAX: "5" });
    try {
      const good = makeEnvelope(fixturePayload("UserPromptSubmit"));
      const items = [
        good,
        { ...good, attempt: 2 },
        makeEnvelope(fixturePayload("Notification")),
        { nonsense: true },
        {
          ...makeEnvelope(fixturePayload("Stop")),
          payload: { ...fixturePayload("Stop"), last_assistant_message: "a\u0000b" },
        },
      ];
      const { status, body } = await post(server, "/api/claude-hooks/batch", items);
      assert.equal(status, 200);
      const results = body.results as { status: string; httpStatus: number; eventId: number }[];
      assert.deepEqual(results.map((r) => `${r.httpStatus} ${r.status}`), [
        "200 SUCCESS",
        "200 DUPLICATE",
        "200 SUCCESS",
        "400 INVALID",
        "400 INVALID",
      ]);
      const rows = await server.sql`SELECT id, status, batch_id FROM webhook_events ORDER BY id`;
      // Each item's eventId is its own row (items may commit in different groups).
      assert.deepEqual(
        rows.map((r) => Number(r.id)),
        results.map((r) => r.eventId).sort((a, b) => a - b),
      );
      assert.equal(new Set(rows.map((r) => r.batch_id)).size, 1);
      assert.ok(rows[0].batch_id);

      const tooMany = await post(server, "/api/claude-hooks/batch", Array(6).fill(good));
      assert.equal(tooMany.status, 413);
      assert.equal(tooMany.body.code, "TOO_MANY_ITEMS");
      const notArray = await post(server, "/api/claude-hooks/batch", good);
      assert.equal(notArray.status, 400);
      const empty = await post(server, "/api/claude-hooks/batch", []);
      assert.equal(empty.status, 400);
    } finally {
      await server.stop();
    }
  },
);
