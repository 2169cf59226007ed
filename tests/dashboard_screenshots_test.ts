// Regenerates docs/screenshots/{overview,conversation}.png from a realistic history sent
// through the real API: `ARRAKIS_SCREENSHOTS=1 deno test -A tests/dashboard_screenshots_test.ts`.
// Ignored otherwise, so ordinary runs never rewrite committed images.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { createTestDatabase, openTestStore } from "./helpers/stores.ts";
import { envelope, HAVE_CHROMIUM, KEY, launch, post, startServer } from "./helpers/dashboard.ts";

const WANTED = Deno.env.get("ARRAKIS_SCREENSHOTS") === "1";
const OUT = fileURLToPath(new URL("../docs/screenshots/", import.meta.url));

const PROJECTS = ["/home/dev/shop", "/home/dev/billing-api", "/home/dev/infra"];
const SESSION = "0b6f2c1e-8d4a-4f7e-b1c9-5a2e7d3f9c41";

const REPLY_1 = `I added **\`src/cart.test.ts\`** with three cases for \`cartTotal()\`:

- an empty cart totals \`0\`
- quantities multiply the unit price
- a 10% discount is applied after tax, as \`pricing.md\` specifies

All cart tests pass, and nothing under \`src/payment/\` was touched.

\`\`\`ts
expect(cartTotal([{ price: 1999, qty: 2 }], { discount: 0.1 })).toBe(3598);
\`\`\``;

const REPLY_2 = `Done. Discounts above 100% are now clamped, with a test:

| input | total |
|---|---|
| 150% | 0 |
| -5% | unchanged |

The suite is green (14 passed).`;

function session(sessionId: string, project: string, detailed: boolean) {
  // What each project's hooks report about their spools: one has a backlog, one a dead letter.
  const spool = {
    pending: project === PROJECTS[1] ? 3 : 0,
    failed: project === PROJECTS[2] ? 1 : 0,
  };
  const source = { host: "devbox", user: "dev", projectDir: project, cwd: project, spool };
  // Events a few seconds apart, as in a real session (the conversation is ordered by time).
  let clock = Date.now() - 9 * 60_000;
  const tick = () => new Date(clock += 4_000 + Math.floor(Math.random() * 9_000)).toISOString();
  const e = (event: string, payload: Record<string, unknown>, extra = {}) =>
    envelope(event, sessionId, { cwd: project, ...payload }, {
      source,
      occurredAt: tick(),
      ...extra,
    });
  const tool = (id: string, name: string, input: unknown, response: unknown, ms: number) => [
    e("PreToolUse", { tool_name: name, tool_use_id: id, tool_input: input }),
    e("PostToolUse", {
      tool_name: name,
      tool_use_id: id,
      tool_input: input,
      tool_response: response,
      duration_ms: ms,
    }),
  ];
  const usage = (input: number, output: number) => ({
    input_tokens: input,
    output_tokens: output,
    cache_creation_input_tokens: 310,
    cache_read_input_tokens: 18_400,
  });
  const line = (uuid: string, id: string, text: string, u: ReturnType<typeof usage>) => ({
    type: "assistant",
    uuid,
    sessionId,
    timestamp: tick(),
    requestId: `req_${id}`,
    message: {
      id,
      role: "assistant",
      model: "claude-sonnet-4-5",
      content: [{ type: "text", text }],
      usage: u,
    },
  });
  // A subagent (an Explore run started by a Task call), with its own tool call and reply.
  const agentId = "a" + sessionId.slice(0, 7);
  const agentLine = (uuid: string, text: string) => ({
    ...line(uuid, "msg_ag" + sessionId.slice(0, 6), text, usage(1_480, 96)),
    agentId,
    isSidechain: true,
    message: {
      id: "msg_ag" + sessionId.slice(0, 6),
      role: "assistant",
      model: "claude-haiku-4-5",
      content: [{ type: "text", text }],
      usage: usage(1_480, 96),
    },
  });
  // Built where it is used, so its events take their times in order.
  const subagent = () => [
    e("PreToolUse", {
      tool_name: "Task",
      tool_use_id: "toolu_task_" + sessionId.slice(0, 4),
      tool_input: {
        subagent_type: "Explore",
        description: "Find where totals and discounts are computed",
        prompt: "Find where cart totals and discounts are computed.",
      },
    }),
    e("SubagentStart", { agent_id: agentId, agent_type: "Explore" }),
    ...tool(
      "toolu_grep_" + sessionId.slice(0, 4),
      "Grep",
      { pattern: "discount", path: `${project}/src` },
      { mode: "files_with_matches", filenames: ["src/cart.ts", "src/pricing.md"] },
      41,
    ).map((event) => ({
      ...event,
      payload: { ...event.payload, agent_id: agentId, agent_type: "Explore" },
    })),
    e("SubagentStop", {
      agent_id: agentId,
      agent_type: "Explore",
      agent_transcript_path:
        `/home/dev/.claude/projects/shop/${sessionId}/subagents/agent-${agentId}.jsonl`,
      last_assistant_message: "cartTotal() in src/cart.ts; discounts per pricing.md.",
    }, {
      transcript: [
        agentLine(
          "ag1-" + sessionId,
          "`cartTotal()` in `src/cart.ts`; discounts per `pricing.md`.",
        ),
      ],
      transcriptRange: {
        path: `/home/dev/.claude/projects/shop/${sessionId}/subagents/agent-${agentId}.jsonl`,
        from: 0,
        to: 1,
      },
    }),
    e("PostToolUse", {
      tool_name: "Task",
      tool_use_id: "toolu_task_" + sessionId.slice(0, 4),
      tool_input: { subagent_type: "Explore" },
      tool_response: { agentId, status: "completed" },
      duration_ms: 18_400,
    }),
  ];
  const first = detailed
    ? "Add a unit test for the cart total, and don't touch the payment code."
    : `Refactor the ${project.split("/").pop()} config loader`;
  return [
    e("SessionStart", { source: "startup", model: "claude-sonnet-4-5" }),
    e("UserPromptSubmit", { prompt: first }),
    ...tool(
      "toolu_read_" + sessionId.slice(0, 4),
      "Read",
      { file_path: `${project}/src/cart.ts` },
      {
        type: "text",
        file: { filePath: `${project}/src/cart.ts`, numLines: 48 },
      },
      12,
    ),
    ...(detailed ? subagent() : []),
    ...tool(
      "toolu_bash_" + sessionId.slice(0, 4),
      "Bash",
      { command: "npm test -- cart", description: "Run cart tests" },
      {
        stdout:
          "PASS src/cart.test.ts\n  ✓ empty cart (2 ms)\n  ✓ quantities (1 ms)\n  ✓ discount after tax (1 ms)\n",
        stderr: "",
      },
      2140,
    ),
    e("PreToolUse", {
      tool_name: "Read",
      tool_use_id: "toolu_fail_" + sessionId.slice(0, 4),
      tool_input: { file_path: `${project}/src/pricing/discounts.ts` },
    }),
    e("PostToolUseFailure", {
      tool_name: "Read",
      tool_use_id: "toolu_fail_" + sessionId.slice(0, 4),
      tool_input: { file_path: `${project}/src/pricing/discounts.ts` },
      error: "File does not exist.",
    }),
    e("Stop", { last_assistant_message: REPLY_1 }, {
      transcript: [
        line("t1-" + sessionId, "msg_1" + sessionId.slice(0, 6), REPLY_1, usage(2_310, 412)),
      ],
    }),
    e("Notification", {
      message: "Claude is waiting for your input",
      notification_type: "idle_prompt",
    }),
    e("UserPromptSubmit", { prompt: "Also clamp discounts above 100% and cover it." }),
    ...tool(
      "toolu_edit_" + sessionId.slice(0, 4),
      "Edit",
      {
        file_path: `${project}/src/cart.ts`,
        old_string: "return total * (1 - discount);",
        new_string: "return total * (1 - Math.min(Math.max(discount, 0), 1));",
      },
      { filePath: `${project}/src/cart.ts`, structuredPatch: [] },
      35,
    ),
    ...tool("toolu_bash2_" + sessionId.slice(0, 4), "Bash", { command: "npm test" }, {
      stdout: "Tests: 14 passed, 14 total\n",
      stderr: "",
    }, 3890),
    e("Stop", { last_assistant_message: REPLY_2 }, {
      transcript: [
        line("t2-" + sessionId, "msg_2" + sessionId.slice(0, 6), REPLY_2, usage(3_020, 198)),
      ],
    }),
    ...(detailed ? [] : [e("SessionEnd", { reason: "prompt_input_exit" })]),
  ];
}

Deno.test({
  name: WANTED && HAVE_CHROMIUM
    ? "dashboard screenshots: docs/screenshots/{overview,conversation}.png"
    : "dashboard screenshots [skipped: set ARRAKIS_SCREENSHOTS=1 with chromium installed]",
  ignore: !WANTED || !HAVE_CHROMIUM,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const db = await createTestDatabase("pglite");
    let server = await startServer(db.env);
    try {
      const all = [session(SESSION, PROJECTS[0], true)];
      for (let i = 0; i < 14; i++) {
        all.push(session(crypto.randomUUID(), PROJECTS[i % PROJECTS.length], false));
      }
      for (const list of all) {
        for (const item of list) {
          const { status } = await post(server.base, item);
          assert.ok(status === 200, `status ${status}`);
          // Some deliveries are retried by the hook: the server answers DUPLICATE.
          if (Math.random() < 0.04) await post(server.base, item);
        }
        // A few malformed events (a prompt without its text) are rejected as INVALID.
        if (Math.random() < 0.5) {
          await post(server.base, envelope("UserPromptSubmit", list[0].sessionId, {}));
        }
      }
      await server.close();
      // Spread the history over the last quarter hour, as a real morning of work would be.
      const store = await openTestStore(db, 1);
      await store.sql`
        UPDATE webhook_events
        SET received_at = now() - (random() * interval '14 minutes'),
            completed_at = NULL`;
      await store.sql`
        UPDATE webhook_events SET completed_at = received_at + processing_ms * interval '1 ms'`;
      await store.sql`
        UPDATE conversations SET started_at = now() - interval '9 minutes',
          last_event_at = now() - interval '40 seconds'
        WHERE session_id = ${SESSION}`;
      await store.close();
      server = await startServer(db.env);
      const context = await launch();
      const page = await context.newPage();
      await page.goto(`${server.base}/login`);
      await page.fill("input[name=key]", KEY);
      await Promise.all([page.waitForURL(`${server.base}/`), page.click("button[type=submit]")]);
      await page.waitForSelector("#live-dot.on");
      await Deno.mkdir(OUT, { recursive: true });
      await page.screenshot({ path: `${OUT}overview.png`, fullPage: true });
      await page.goto(`${server.base}/sessions/${SESSION}`);
      await page.locator("details.agent summary").first().click();
      await page.locator('details.tool[data-tool^="toolu_bash_"] summary').first().click();
      await page.waitForSelector("#live-dot.on");
      await page.screenshot({ path: `${OUT}conversation.png`, fullPage: true });
      await context.close();
    } finally {
      await server.close();
      await db.destroy();
    }
  },
});
