// The dashboard in a real browser against a real `arrakis serve`: sign in, live overview,
// audit log filters, event detail, reprocessing a failed event, search from the header into a
// conversation with tool calls at 1366 px and 400 px, and a <script> in a prompt rendered as
// text. Headless Chromium via playwright-core.
import assert from "node:assert/strict";
import { createTestDatabase, openTestStore, type StoreKind } from "./helpers/stores.ts";
import {
  CHROMIUM,
  envelope,
  HAVE_CHROMIUM,
  KEY,
  launch,
  type Page,
  post,
  startServer,
} from "./helpers/dashboard.ts";
import { POSTGRES_REACHABLE } from "./helpers/stores.ts";

const SESSION = "7a1c2a9e-3b7d-4e25-9a41-0c8d5e7f1b23";
const BROKEN_SESSION = "broken-0000-session";
const PROMPT =
  `Fix the cart <script>window.__xss = 1</script> <img src=x onerror="window.__xss = 2">`;
const REPLY = "I added `src/cart.test.ts`; **all cart tests pass**.\n\n- empty cart\n- discounts";

function conversation(sessionId: string) {
  const ts = (s: number) => new Date(Date.now() - 60_000 + s * 1000).toISOString();
  const line = (uuid: string, s: number, id: string, req: string, content: unknown[]) => ({
    type: "assistant",
    uuid,
    sessionId,
    timestamp: ts(s),
    requestId: req,
    message: {
      id,
      role: "assistant",
      model: "claude-sonnet-4-5",
      content,
      usage: {
        input_tokens: 1200,
        output_tokens: 85,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 9000,
      },
    },
  });
  return [
    envelope("SessionStart", sessionId, { source: "startup", model: "claude-sonnet-4-5" }),
    envelope("UserPromptSubmit", sessionId, { prompt: PROMPT, prompt_id: "p-01" }),
    envelope("PreToolUse", sessionId, {
      tool_name: "Bash",
      tool_use_id: "toolu_bash_1",
      tool_input: { command: "npm test -- cart", description: "Run cart tests" },
    }),
    envelope("PostToolUse", sessionId, {
      tool_name: "Bash",
      tool_use_id: "toolu_bash_1",
      tool_input: { command: "npm test -- cart", description: "Run cart tests" },
      tool_response: { stdout: "PASS src/cart.test.ts\n  ✓ totals (3 ms)\n", stderr: "" },
      duration_ms: 2140,
    }),
    envelope("PostToolUseFailure", sessionId, {
      tool_name: "Read",
      tool_use_id: "toolu_read_1",
      tool_input: { file_path: "/home/dev/shop/src/nope.ts" },
      error: "File does not exist.",
    }),
    envelope("Stop", sessionId, { last_assistant_message: REPLY, stop_hook_active: false }, {
      transcript: [
        line("a-1", 2, "msg_A", "req_A", [{
          type: "tool_use",
          id: "toolu_bash_1",
          name: "Bash",
          input: { command: "npm test -- cart" },
        }]),
        line("a-2", 9, "msg_B", "req_B", [{ type: "text", text: REPLY }]),
      ],
    }),
  ];
}

/**
 * Types into the header's search box, opens the first result, and checks that the conversation
 * page scrolled to the highlighted hit.
 */
async function searchFromHeader(
  page: Page,
  base: string,
  words: string,
  mustScroll = false,
): Promise<void> {
  await page.goto(`${base}/sessions`);
  await page.fill("header form.search input[name=q]", words);
  await Promise.all([
    page.waitForURL(/\/search\?q=/),
    page.press("header form.search input", "Enter"),
  ]);
  const first = page.locator("ol.hits a.snippet").first();
  assert.match(await first.innerHTML(), /<mark>/);
  await Promise.all([page.waitForURL(/\/sessions\/[^?]+\?hit=/), first.click()]);
  const anchor = new URL(page.url()).hash.slice(1);
  const target = page.locator(`#${anchor}`);
  assert.match(await target.getAttribute("class") ?? "", /\bhit\b/);
  const view = await target.evaluate((el) => {
    const rect = el.getBoundingClientRect();
    const window = globalThis as unknown as { innerHeight: number; scrollY: number };
    return { top: rect.top, height: window.innerHeight, scrolled: window.scrollY };
  });
  assert.ok(
    view.top >= 0 && view.top < view.height,
    `${anchor} is in view: ${JSON.stringify(view)}`,
  );
  if (mustScroll) assert.ok(view.scrolled > 0, `the page scrolled to ${anchor}`);
}

function browserTest(kind: StoreKind): void {
  const missing = !HAVE_CHROMIUM
    ? `chromium: skipped, ${CHROMIUM} not installed (apt-get install chromium)`
    : kind === "postgres" && !POSTGRES_REACHABLE
    ? "postgres: skipped, none reachable"
    : undefined;
  Deno.test({
    name: `dashboard in a browser: sign in, live overview, log, event, reprocess, conversation [${
      missing ?? kind
    }]`,
    ignore: missing !== undefined,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn(t) {
      const db = await createTestDatabase(kind);
      // A real database failure for one session, once: the first insert of its conversation
      // raises (a sequence is not rolled back), so that event fails and its reprocess succeeds.
      const store = await openTestStore(db, 1);
      await store.sql.unsafe(`
        CREATE SEQUENCE arrakis_test_fail_once;
        CREATE FUNCTION arrakis_test_fail_once() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.session_id = '${BROKEN_SESSION}' THEN
            IF nextval('arrakis_test_fail_once') = 1 THEN
              RAISE EXCEPTION 'injected failure for the browser test';
            END IF;
          END IF;
          RETURN NEW;
        END $$;
        CREATE TRIGGER arrakis_test_fail_once BEFORE INSERT ON conversations
          FOR EACH ROW EXECUTE FUNCTION arrakis_test_fail_once();`);
      await store.close();
      const server = await startServer(db.env);
      const context = await launch();
      context.setDefaultTimeout(15_000);
      const page = await context.newPage();
      const pageErrors: string[] = [];
      page.on("pageerror", (error) => pageErrors.push(error.message));
      page.on("console", (message) => {
        if (message.type() === "error" && /Content Security Policy/.test(message.text())) {
          pageErrors.push(message.text());
        }
      });
      const base = server.base;
      try {
        await t.step("every page sends you to /login; a wrong key is refused", async () => {
          const response = await page.goto(`${base}/sessions?q=x`);
          assert.equal(new URL(page.url()).pathname, "/login");
          assert.equal(new URL(page.url()).searchParams.get("next"), "/sessions?q=x");
          const csp = response?.headers()["content-security-policy"] ?? "";
          assert.match(csp, /default-src 'none'/);
          assert.match(csp, /script-src 'self'/);
          await page.fill("input[name=key]", "not-the-key");
          await page.click("button[type=submit]");
          await page.waitForSelector("[role=alert]");
          assert.match(await page.textContent("[role=alert]") ?? "", /not accepted/);
          for (const path of ["/fragments/overview", "/stream"]) {
            const res = await fetch(`${base}${path}`);
            await res.body?.cancel();
            assert.equal(res.status, 401, path);
          }
        });

        await t.step(
          "sign in once: HttpOnly SameSite=Strict cookie, back to the page asked for",
          async () => {
            await page.goto(`${base}/`);
            await page.fill("input[name=key]", KEY);
            await Promise.all([page.waitForURL(`${base}/`), page.click("button[type=submit]")]);
            const [cookie] = await context.cookies(base);
            assert.equal(cookie.name, "arrakis_session");
            assert.equal(cookie.httpOnly, true);
            assert.equal(cookie.sameSite, "Strict");
            assert.equal(await page.textContent("h1"), "Overview");
          },
        );

        await t.step("the overview updates live when events arrive", async () => {
          await page.waitForSelector("#live-dot.on");
          const requests = page.locator('[data-stat="requests"] .value');
          assert.equal(await requests.textContent(), "0");
          for (const item of conversation(SESSION)) {
            const { status, json } = await post(base, item);
            assert.equal(status, 200, JSON.stringify(json));
          }
          // No reload: the SSE stream triggers a fragment refresh.
          await page.locator('[data-stat="requests"] .value', { hasText: /^6$/ }).waitFor();
          assert.match(await page.textContent("#overview") ?? "", /UserPromptSubmit/);
          assert.equal(
            await page.evaluate(() => performance.getEntriesByType("navigation").length),
            1,
          );
        });

        let failedRequestId = "";
        await t.step("a failing event shows in the log, filtered by status and by id", async () => {
          const broken = envelope("UserPromptSubmit", BROKEN_SESSION, {
            prompt: "this one fails once",
          });
          failedRequestId = broken.requestId;
          const { status } = await post(base, broken);
          assert.equal(status, 500);
          await page.goto(`${base}/events`);
          assert.equal(await page.locator("#events tbody tr").count(), 7);
          await page.selectOption("select[name=status]", "ERROR");
          await page.click("form.filters button[type=submit]");
          await page.waitForURL(/status=ERROR/);
          const rows = page.locator("#events tbody tr");
          assert.equal(await rows.count(), 1);
          assert.match(await rows.first().textContent() ?? "", new RegExp(failedRequestId));
          await page.goto(`${base}/events`);
          await page.selectOption("select[name=event]", "PostToolUse");
          await page.click("form.filters button[type=submit]");
          await page.waitForURL(/event=PostToolUse/);
          assert.equal(await rows.count(), 1);
          await page.fill("form.filters input[name=q]", failedRequestId.slice(0, 13));
          await page.selectOption("select[name=event]", "");
          await page.click("form.filters button[type=submit]");
          await page.waitForURL(/q=/);
          assert.equal(await rows.count(), 1);
        });

        await t.step(
          "open an event: envelope, response, timings, headers; payload text escaped",
          async () => {
            await page.goto(`${base}/events?event=UserPromptSubmit&session=${SESSION}`);
            await Promise.all([
              page.waitForURL(/\/events\/\d+$/),
              page.click("#events tbody tr a[href^='/events/']"),
            ]);
            const payload = await page.textContent("#payload") ?? "";
            assert.ok(payload.includes("<script>window.__xss = 1</script>"), payload);
            assert.match(await page.textContent("#response") ?? "", /"SUCCESS"/);
            assert.match(await page.textContent("main") ?? "", /Stage timings/);
            assert.equal(
              await page.evaluate(() => (globalThis as { __xss?: number }).__xss),
              undefined,
            );
          },
        );

        await t.step("reprocess the failed event: stored, and refused a second time", async () => {
          await page.goto(`${base}/failed`);
          const row = page.locator("#failed-form tbody tr", { hasText: failedRequestId });
          await row.locator("button[name=one]").click();
          await page.waitForSelector("#outcomes");
          const outcome = await page.textContent("#outcomes") ?? "";
          assert.match(outcome, /Reprocessed 1: 1 stored/);
          assert.match(outcome, /SUCCESS/);
          // It no longer counts as failed, and asking again is refused without processing.
          assert.equal(
            await page.locator("#failed-form tbody tr", { hasText: failedRequestId }).count(),
            0,
          );
          const failedId = await (async () => {
            await page.goto(`${base}/failed?resolved=1`);
            return await page.locator("tbody tr", { hasText: failedRequestId }).getAttribute(
              "data-id",
            );
          })();
          assert.ok(failedId);
          assert.equal(
            await page.locator(`input[name=id][value="${failedId}"]`).isDisabled(),
            true,
          );
          const again = await page.request.post(`${base}/failed/reprocess`, {
            form: { one: failedId },
            headers: { Origin: base },
          });
          assert.match(await again.text(), /REFUSED[\s\S]*already succeeded/);
          const crossSite = await page.request.post(`${base}/failed/reprocess`, {
            form: { one: failedId },
            headers: { Origin: "https://evil.example" },
          });
          assert.equal(crossSite.status(), 403);
        });

        await t.step(
          "read the conversation: prompt as text, tools collapsed, failure marked",
          async () => {
            await page.setViewportSize({ width: 1366, height: 768 });
            await searchFromHeader(page, base, '"fix the cart"');
            const prompt = page.locator(".msg.user.hit .text");
            assert.equal(await prompt.textContent(), PROMPT);
            assert.equal(await page.locator(".msg.user script, .msg.user img").count(), 0);
            assert.equal(
              await page.evaluate(() => (globalThis as { __xss?: number }).__xss),
              undefined,
            );
            const reply = page.locator(".msg.assistant .md").first();
            assert.equal(await reply.locator("strong").textContent(), "all cart tests pass");
            assert.equal(await reply.locator("code").textContent(), "src/cart.test.ts");
            const bash = page.locator('details.tool[data-tool="toolu_bash_1"]');
            assert.equal(await bash.getAttribute("open"), null);
            assert.equal(await bash.locator("pre").first().isVisible(), false);
            await bash.locator(":scope > summary").click();
            // Bash output as stdout text, not JSON; the raw JSON one click further.
            assert.match(await bash.locator("pre.code").first().textContent() ?? "", /^PASS src/);
            const raw = bash.locator("details.raw");
            assert.equal(await raw.locator("pre").isVisible(), false);
            await raw.locator("summary").click();
            assert.match(await raw.locator("pre").textContent() ?? "", /"stdout": "PASS/);
            const failed = page.locator('details.tool.failure[data-tool="toolu_read_1"]');
            assert.match(await failed.locator(":scope > summary").textContent() ?? "", /failed/);
            assert.match(
              await page.textContent(".msg.assistant .tokens") ?? "",
              /1,200 in · 85 out/,
            );
            assert.match(await page.textContent(".cards") ?? "", /2,400/);
          },
        );

        await t.step(
          "at 400 px: the header wraps, nothing spills sideways, search lands on the tool output",
          async () => {
            await page.setViewportSize({ width: 400, height: 760 });
            for (const path of ["/", "/events", "/failed", "/sessions", `/sessions/${SESSION}`]) {
              await page.goto(`${base}${path}`);
              const width = await page.evaluate<number>("document.documentElement.scrollWidth");
              assert.ok(width <= 400, `${path} is ${width} px wide at a 400 px viewport`);
              const nav = await page.locator("header.top nav a").last().boundingBox();
              assert.ok(nav && nav.x + nav.width <= 400, `${path}: the nav spills out`);
            }
            // A table wider than the screen scrolls inside its box.
            await page.goto(`${base}/events`);
            const box = page.locator(".table-card").first();
            assert.ok(
              await box.evaluate((el) => el.scrollWidth > el.clientWidth),
              "the audit table scrolls inside its card",
            );
            await searchFromHeader(page, base, "totals", true);
            const hit = page.locator("details.tool.hit");
            assert.equal(await hit.getAttribute("data-tool"), "toolu_bash_1");
            assert.notEqual(await hit.getAttribute("open"), null, "a hit's tool call is open");
          },
        );

        await t.step("sign out ends the session", async () => {
          await Promise.all([page.waitForURL(/\/login/), page.click("header form button")]);
          await page.goto(`${base}/failed`);
          assert.equal(new URL(page.url()).pathname, "/login");
        });
        assert.deepEqual(pageErrors, []);
      } finally {
        await context.close();
        await server.close();
        await db.destroy();
      }
    },
  });
}

browserTest("pglite");
browserTest("postgres");
