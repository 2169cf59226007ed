// The record in a real browser: a session's subagents nested (collapsed) under the Task call
// that started them, with their own totals; dollars on replies, on the session and in the
// sessions list; the overview's cost panel by day and model, an unpriced model flagged.
import assert from "node:assert/strict";
import { createTestDatabase, POSTGRES_REACHABLE, type StoreKind } from "./helpers/stores.ts";
import {
  CHROMIUM,
  envelope,
  HAVE_CHROMIUM,
  KEY,
  launch,
  startServer,
} from "./helpers/dashboard.ts";
import { S1, writeHistory } from "./helpers/history.ts";
import { tempDir } from "./helpers/temp.ts";

const UNPRICED = "unpriced-0000-session";

async function batch(base: string, items: unknown[]) {
  const response = await fetch(`${base}/api/claude-hooks/batch`, {
    method: "POST",
    headers: { Authorization: `Bearer ${KEY}`, "Content-Type": "application/json" },
    body: JSON.stringify(items),
  });
  const body = await response.json();
  assert.equal(response.status, 200);
  for (const item of body.results) assert.equal(item.status, "SUCCESS", JSON.stringify(item));
}

function browserTest(kind: StoreKind): void {
  const missing = !HAVE_CHROMIUM
    ? `chromium: skipped, ${CHROMIUM} not installed (apt-get install chromium)`
    : kind === "postgres" && !POSTGRES_REACHABLE
    ? "postgres: skipped, none reachable"
    : undefined;
  Deno.test({
    name: `dashboard in a browser: agent tree and cost figures [${missing ?? kind}]`,
    ignore: missing !== undefined,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn(t) {
      const db = await createTestDatabase(kind);
      const root = await tempDir("arrakis-projects-");
      const history = await writeHistory(root);
      const server = await startServer(db.env);
      const context = await launch();
      context.setDefaultTimeout(15_000);
      const page = await context.newPage();
      const pageErrors: string[] = [];
      page.on("pageerror", (error) => pageErrors.push(error.message));
      const base = server.base;
      try {
        // Usage today, so the overview's 30-day panel shows it.
        const today = new Date().toISOString();
        const live = history.live.map((e) =>
          e.transcript
            ? {
              ...e,
              transcript: (e.transcript as Record<string, unknown>[]).map((l) => ({
                ...l,
                timestamp: today,
              })),
            }
            : e
        );
        await batch(base, live);
        await batch(base, [
          envelope("Stop", UNPRICED, {}, {
            transcript: [{
              type: "assistant",
              uuid: "z-1",
              requestId: "req_z",
              timestamp: today,
              message: {
                id: "msg_z",
                role: "assistant",
                model: "claude-imaginary-9",
                content: [{ type: "text", text: "A reply from a model with no price." }],
                usage: { input_tokens: 10, output_tokens: 10 },
              },
            }],
          }),
        ]);
        await page.goto(`${base}/login`);
        await page.fill("input[name=key]", KEY);
        await Promise.all([page.waitForURL(`${base}/`), page.click("button[type=submit]")]);

        await t.step("the overview's cost panel: by day and model, unpriced flagged", async () => {
          const panel = page.locator('[data-section="cost"]');
          const day = today.slice(0, 10);
          const sonnet = panel.locator(
            `tr[data-cost-day="${day}"][data-cost-model="claude-sonnet-4-5"]`,
          );
          // Both sessions' main threads: 1,310 in and 205 out at $3 / $15, 1,000 cache read at
          // $0.30, 400 5m and 600 1h cache writes at $3.75 and $6: $0.012405.
          assert.match(await sonnet.textContent() ?? "", /\$0\.0124$/);
          const unknown = panel.locator(`tr[data-cost-model="claude-imaginary-9"]`);
          assert.match(await unknown.textContent() ?? "", /not priced/);
          assert.match(
            await panel.locator("th").first().textContent() ?? "",
            /1 replies not priced/,
          );
        });

        await t.step(
          "sessions list: a dollar figure per session, unknown when unpriced",
          async () => {
            await page.goto(`${base}/sessions`);
            const row = page.locator("tbody tr", {
              has: page.locator(`a[href="/sessions/${S1}"]`),
            });
            assert.match(await row.locator("[data-cost]").textContent() ?? "", /^\$0\.\d{4}$/);
            const unpriced = page.locator("tbody tr", {
              has: page.locator(`a[href="/sessions/${UNPRICED}"]`),
            });
            assert.equal((await unpriced.locator("[data-cost]").textContent())?.trim(), "unknown");
          },
        );

        await t.step(
          "the conversation nests agents under their call, collapsed, with totals",
          async () => {
            await page.goto(`${base}/sessions/${S1}`);
            const explore = page.locator('details.agent[data-agent="ag1"]');
            // Right after the Task call that started it, and closed.
            const previous = await explore.evaluate((el) =>
              el.previousElementSibling?.getAttribute("data-tool") ?? null
            );
            assert.equal(previous, "toolu_task1");
            assert.equal(await explore.getAttribute("open"), null);
            const summary = await explore.locator("summary").first().textContent() ?? "";
            assert.match(summary, /Explore/);
            assert.match(summary, /find totals/);
            assert.match(summary, /6 messages · 2 tools · 43 out · \$0\.\d{4}/);
            assert.equal(await explore.locator(".agent-body").first().isVisible(), false);
            await explore.locator("summary").first().click();
            assert.match(
              await explore.locator(".agent-body").first().textContent() ?? "",
              /In cart\.ts\./,
            );
            const nested = explore.locator('details.agent[data-agent="ag2"]');
            assert.equal(await nested.count(), 1);
            assert.match(await nested.locator("summary").textContent() ?? "", /general-purpose/);
            // The main timeline has none of the agents' own messages.
            const main = await page.locator("#timeline > .msg").allTextContents();
            assert.ok(!main.some((text) => /Tax is 8%/.test(text)));
            assert.match(await page.textContent('[data-stat="cost"]') ?? "", /\$0\.\d{4}/);
            assert.match(await page.textContent(".msg.assistant .tokens") ?? "", /\$0\.\d{4}/);
          },
        );

        await t.step("a reply of a model without a price says so", async () => {
          await page.goto(`${base}/sessions/${UNPRICED}`);
          assert.match(await page.textContent(".msg.assistant .tokens") ?? "", /cost unknown/);
          assert.match(await page.textContent('[data-stat="cost"]') ?? "", /unknown/);
        });
        assert.deepEqual(pageErrors, []);
      } finally {
        await context.close();
        await server.close();
        await db.destroy();
        await Deno.remove(root, { recursive: true });
      }
    },
  });
}

browserTest("pglite");
browserTest("postgres");
