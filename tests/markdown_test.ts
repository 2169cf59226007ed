// Safe markdown: whatever the input, the only tags in the output are the ones we write.
import assert from "node:assert/strict";
import { renderMarkdown } from "../src/dashboard/markdown.ts";
import { escapeHtml, h } from "../src/dashboard/html.ts";

const md = (text: string) => renderMarkdown(text).value;

/** Every tag name in the output must be one of the whitelist. */
const ALLOWED = new Set([
  "p",
  "br",
  "strong",
  "em",
  "del",
  "code",
  "pre",
  "a",
  "ul",
  "ol",
  "li",
  "h3",
  "h4",
  "h5",
  "h6",
  "blockquote",
  "hr",
  "table",
  "thead",
  "tbody",
  "tr",
  "th",
  "td",
]);
function tagsOf(markup: string): string[] {
  return [...markup.matchAll(/<\/?([a-zA-Z0-9]+)/g)].map((m) => m[1].toLowerCase());
}
/** Attribute names inside real tags (escaped text has no `<`, so it never matches). */
function attributesOf(markup: string): string[] {
  return [...markup.matchAll(/<[a-z0-9]+((?:\s+[a-z-]+="[^"<>]*")*)\s*>/g)].flatMap((m) =>
    [...m[1].matchAll(/([a-z-]+)=/g)].map((a) => a[1])
  );
}

Deno.test("markdown: script, event handlers and raw HTML stay text", () => {
  const hostile = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "<svg/onload=alert(1)>",
    '"><iframe src=javascript:alert(1)>',
    "**<b onmouseover=alert(1)>bold</b>**",
    "`<script>`",
    "```\n</code></pre><script>alert(1)</script>\n```",
    "[x](javascript:alert(1))",
    '[x](https://ok.example/" onclick="alert(1))',
    "[<img src=x onerror=alert(1)>](https://ok.example)",
    "> <style>body{display:none}</style>",
    "| <script> | b |\n|---|---|\n| 1 | <img src=x> |",
    "# <a href='javascript:alert(1)'>h</a>",
    "\uE0000\uE000 placeholder forgery",
  ];
  for (const text of hostile) {
    const out = md(text);
    for (const tag of tagsOf(out)) assert.ok(ALLOWED.has(tag), `${tag} in ${out}`);
    assert.doesNotMatch(out, /<script|<img|<svg|<iframe|<style/i, out);
    for (const name of attributesOf(out)) {
      assert.ok(
        ["href", "rel", "target", "class", "data-lang"].includes(name),
        `${name} in ${out}`,
      );
    }
    // Every tag we emit is well formed: no stray `<` from the input survives.
    assert.equal(out.split("<").length - 1, tagsOf(out).length, out);
    assert.doesNotMatch(out, /href="javascript/i, out);
  }
  assert.match(md("<script>alert(1)</script>"), /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
});

Deno.test("markdown: the whitelist renders", () => {
  assert.equal(
    md("**bold** and *em* and `code` and ~~gone~~"),
    "<p><strong>bold</strong> and <em>em</em> and <code>code</code> and <del>gone</del></p>",
  );
  assert.equal(md("# Title"), "<h3>Title</h3>");
  assert.equal(md("- a\n- b"), "<ul><li>a</li><li>b</li></ul>");
  assert.equal(md("1. one\n2. two"), "<ol><li>one</li><li>two</li></ol>");
  assert.equal(
    md("```ts\nconst a = 1 < 2;\n```"),
    '<pre class="code" data-lang="ts"><code>const a = 1 &lt; 2;</code></pre>',
  );
  assert.equal(
    md("[docs](https://example.com/a?b=1&c=2)"),
    '<p><a href="https://example.com/a?b=1&amp;c=2" rel="noopener noreferrer nofollow" target="_blank">docs</a></p>',
  );
  assert.equal(md("> quoted"), "<blockquote><p>quoted</p></blockquote>");
  assert.equal(
    md("| a | b |\n|---|---|\n| 1 | 2 |"),
    '<table class="md"><thead><tr><th>a</th><th>b</th></tr></thead><tbody><tr><td>1</td><td>2</td></tr></tbody></table>',
  );
  assert.equal(md("one\ntwo\n\nthree"), "<p>one<br>two</p>\n<p>three</p>");
  assert.equal(md("snake_case_name stays"), "<p>snake_case_name stays</p>");
  assert.equal(md("`**not bold**`"), "<p><code>**not bold**</code></p>");
});

Deno.test("html: interpolations are escaped unless they are markup built by h", () => {
  assert.equal(
    escapeHtml(`<a href="x">'&'</a>`),
    "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;",
  );
  const user = "<script>alert(1)</script>";
  assert.equal(
    h`<p title="${user}">${user}</p>`.value,
    `<p title="&lt;script&gt;alert(1)&lt;/script&gt;">&lt;script&gt;alert(1)&lt;/script&gt;</p>`,
  );
  assert.equal(h`<ul>${["<a>", h`<li>ok</li>`]}</ul>`.value, "<ul>&lt;a&gt;<li>ok</li></ul>");
  assert.equal(h`${null}${undefined}${false}${0}`.value, "0");
});
