// `arrakis export` against a real server, in all three formats, of a session with tool calls,
// a failure, a <script> prompt and a redacted secret: Markdown reads as a conversation, HTML
// holds no active content and asks for nothing, JSON is the API's answer.
import assert from "node:assert/strict";
import { join } from "node:path";
import { storeTest } from "./helpers/stores.ts";
import { post, startInProcessServer } from "./helpers/server.ts";
import { sessionEvents } from "./helpers/conversation.ts";
import { runArrakis } from "./helpers/cli.ts";
import { tempDir } from "./helpers/temp.ts";

const SECRET = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8";
const PROMPT =
  `Fix the cart <script>alert("x")</script> <img src=x onerror=alert(1)> with ${SECRET}`;

storeTest(
  "export: md, html and json of a session with tools, a failure and a <script>",
  async ({ db }) => {
    const server = await startInProcessServer(db);
    const out = await tempDir("arrakis-export-");
    const env = { ARRAKIS_URL: server.url, ARRAKIS_API_KEY: server.apiKey, ARRAKIS_HOME: out };
    try {
      const events = sessionEvents({
        sessionId: "s-export",
        prompt: PROMPT,
        reply: "Fixed: **all** cart tests pass. See `src/cart.ts`.",
        stdout: "PASS src/cart.test.ts",
        error: "File does not exist.",
      });
      assert.equal((await post(server, "/api/claude-hooks/batch", events)).status, 200);
      const [{ content: stored }] = await server.sql<{ content: string }[]>`
      SELECT content FROM messages WHERE session_id = 's-export' AND role = 'user'`;
      assert.ok(!stored.includes(SECRET) && stored.includes("[REDACTED]"), stored);

      const file = (format: string) => join(out, `s-export.${format}`);
      for (const format of ["md", "html", "json"]) {
        const result = await runArrakis(
          ["export", "s-export", "--format", format, "--output", file(format)],
          { env },
        );
        assert.equal(result.code, 0, result.stderr);
        assert.equal((await Deno.stat(file(format))).mode! & 0o777, 0o600);
      }
      const md = await Deno.readTextFile(file("md"));
      const html = await Deno.readTextFile(file("html"));
      const json = JSON.parse(await Deno.readTextFile(file("json")));
      for (const text of [md, html, JSON.stringify(json)]) {
        assert.ok(!text.includes(SECRET), "the secret stays redacted");
      }
      assert.ok(md.includes("with \\[REDACTED\\]"), "as stored (escaped as a prompt is)");
      assert.ok(html.includes("with [REDACTED]"));
      assert.ok(json.timeline[0].text.endsWith("[REDACTED]"));

      // Markdown: the prompt as typed (escaped), the reply as written, tools collapsed.
      assert.match(md, /^# Session s-export\n/);
      assert.match(md, /- 1 prompts · 1 replies · 2 tool calls \(1 failed\)/);
      assert.ok(md.includes('> Fix the cart \\<script\\>alert("x")\\</script\\>'), md);
      assert.ok(md.includes("Fixed: **all** cart tests pass. See `src/cart.ts`."));
      assert.match(md, /<details><summary>Bash · success · [^<]+<\/summary>[\s\S]*PASS src\/cart/);
      assert.match(
        md,
        /<details><summary>Read · failed[\s\S]*\*\*error\*\*[\s\S]*File does not exist/,
      );
      assert.match(md, /_1,000 in · 50 out · 200 cache read · 10 cache write · claude-sonnet-4-5_/);
      const order = ["### Prompt", "Bash · success", "Read · failed", "### Claude"].map((s) =>
        md.indexOf(s)
      );
      assert.deepEqual(order, [...order].sort((a, b) => a - b), "a conversation, in order");

      // HTML: one file, no script, no event handlers, no request to anywhere.
      assert.match(html, /^<!doctype html>/);
      assert.doesNotMatch(html, /<script/i);
      assert.doesNotMatch(html, /<[^>]*\son[a-z]+\s*=/i, "no on* attribute");
      assert.doesNotMatch(html, /<(link|img|iframe|object|embed|base|form)\b/i);
      assert.doesNotMatch(html, /<[^>]*\s(src|srcset|action|formaction|style)\s*=/i);
      assert.doesNotMatch(html, /url\(|@import/i);
      assert.doesNotMatch(
        html,
        /href="(?!#)(?!\/)/,
        "no link leaves the file except relative ones",
      );
      assert.ok(html.includes("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"));
      assert.match(
        html,
        /<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;/,
      );
      assert.match(html, /<style>[^<]*"DejaVu Sans Mono"/, "the stylesheet inline, unescaped");
      assert.match(html, /PASS src\/cart\.test\.ts/);

      // JSON: exactly what the API answers.
      const api = await (await fetch(`${server.url}/api/sessions/s-export`, {
        headers: { authorization: `Bearer ${server.apiKey}` },
      })).json();
      assert.deepEqual(json, api);
      assert.deepEqual(json.timeline.map((t: { kind: string }) => t.kind), [
        "prompt",
        "tool",
        "tool",
        "reply",
      ]);

      // Standard output without --output; mistakes named plainly.
      const stdout = await runArrakis(["export", "s-export"], { env });
      assert.equal(stdout.code, 0);
      assert.equal(stdout.stdout, md);
      const missing = await runArrakis(["export", "s-nope"], { env });
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /no session s-nope/);
      const badFormat = await runArrakis(["export", "s-export", "--format", "pdf"], { env });
      assert.equal(badFormat.code, 2);
      assert.match(badFormat.stderr, /--format must be one of md, html, json/);
      const noId = await runArrakis(["export"], { env });
      assert.equal(noId.code, 2);
      const down = await runArrakis(["export", "s-export"], {
        env: { ...env, ARRAKIS_URL: "http://127.0.0.1:9" },
      });
      assert.equal(down.code, 1);
      assert.match(down.stderr, /cannot reach the arrakis server at http:\/\/127\.0\.0\.1:9/);

      // The dashboard's buttons serve the same files.
      const button = await fetch(`${server.url}/sessions/s-export/export?format=html`, {
        headers: { authorization: `Bearer ${server.apiKey}` },
      });
      assert.equal(button.status, 200);
      assert.match(button.headers.get("content-disposition") ?? "", /arrakis-s-export\.html/);
      assert.doesNotMatch(await button.text(), /<script/i);
    } finally {
      await server.stop();
      await Deno.remove(out, { recursive: true });
    }
  },
  { kinds: ["pglite", "postgres"] },
);
