// Safe markdown for assistant replies: the whole text is HTML-escaped FIRST, then a small
// whitelist of constructs is turned into tags we write ourselves. No input character can
// become markup, so a reply containing <script> or an onerror= attribute stays text.
import { escapeHtml, Html } from "./html.ts";

const SAFE_URL = /^(https?:\/\/|mailto:)[^\s"'<>`]+$/i;

/** Inline constructs on already-escaped text: code, links, bold, italic, strikethrough. */
function inline(escaped: string): string {
  const slots: string[] = [];
  const keep = (markup: string) => `\uE000${slots.push(markup) - 1}\uE000`;
  let text = escaped.replace(/`([^`\n]+)`/g, (_, code: string) => keep(`<code>${code}</code>`));
  text = text.replace(/\[([^\]\n]+)\]\(([^)\s]+)\)/g, (whole, label: string, href: string) => {
    // href is escaped already (&amp; etc.); check the unescaped form against the scheme list.
    const plain = href.replace(/&amp;/g, "&");
    if (!SAFE_URL.test(plain)) return whole;
    return keep(
      `<a href="${href}" rel="noopener noreferrer nofollow" target="_blank">${label}</a>`,
    );
  });
  text = text
    .replace(/\*\*([^*\n]+)\*\*/g, "<strong>$1</strong>")
    .replace(/__([^_\n]+)__/g, "<strong>$1</strong>")
    .replace(/~~([^~\n]+)~~/g, "<del>$1</del>")
    .replace(/(^|[^*\w])\*([^*\n]+)\*(?!\w)/g, "$1<em>$2</em>")
    .replace(/(^|[^_\w])_([^_\n]+)_(?!\w)/g, "$1<em>$2</em>");
  return text.replace(/\uE000(\d+)\uE000/g, (_, i: string) => slots[Number(i)]);
}

interface ListState {
  tag: "ul" | "ol";
  items: string[];
}

/** Renders markdown text to safe HTML. */
export function renderMarkdown(source: string): Html {
  const lines = escapeHtml(source.replace(/\uE000/g, "").replace(/\r\n?/g, "\n")).split("\n");
  const out: string[] = [];
  let paragraph: string[] = [];
  let list: ListState | undefined;
  let quote: string[] = [];
  let table: string[][] = [];

  const flushParagraph = () => {
    if (paragraph.length) out.push(`<p>${paragraph.map(inline).join("<br>")}</p>`);
    paragraph = [];
  };
  const flushList = () => {
    if (list) {
      out.push(
        `<${list.tag}>${list.items.map((i) => `<li>${inline(i)}</li>`).join("")}</${list.tag}>`,
      );
    }
    list = undefined;
  };
  const flushQuote = () => {
    if (quote.length) out.push(`<blockquote>${renderMarkdownEscaped(quote)}</blockquote>`);
    quote = [];
  };
  const flushTable = () => {
    if (table.length) out.push(renderTable(table));
    table = [];
  };
  const flushAll = () => {
    flushParagraph();
    flushList();
    flushQuote();
    flushTable();
  };

  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const fence = /^\s*(`{3,}|~{3,})\s*([\w+.-]*)\s*$/.exec(line);
    if (fence) {
      flushAll();
      const body: string[] = [];
      let j = i + 1;
      while (j < lines.length && !lines[j].trim().startsWith(fence[1])) body.push(lines[j++]);
      const lang = fence[2] ? ` data-lang="${fence[2]}"` : "";
      out.push(`<pre class="code"${lang}><code>${body.join("\n")}</code></pre>`);
      i = j;
      continue;
    }
    if (/^\s*$/.test(line)) {
      flushAll();
      continue;
    }
    const quoted = /^\s*&gt;\s?(.*)$/.exec(line);
    if (quoted) {
      flushParagraph();
      flushList();
      flushTable();
      quote.push(quoted[1]);
      continue;
    }
    flushQuote();
    if (/^\s*\|.*\|\s*$/.test(line)) {
      flushParagraph();
      flushList();
      table.push(line.trim().slice(1, -1).split("|").map((cell) => cell.trim()));
      continue;
    }
    flushTable();
    const heading = /^(#{1,6})\s+(.*)$/.exec(line);
    if (heading) {
      flushAll();
      // Page headings are h1/h2: reply headings start at h3.
      const level = Math.min(heading[1].length + 2, 6);
      out.push(`<h${level}>${inline(heading[2])}</h${level}>`);
      continue;
    }
    if (/^\s*([-*_])(\s*\1){2,}\s*$/.test(line)) {
      flushAll();
      out.push("<hr>");
      continue;
    }
    const bullet = /^\s*[-*+]\s+(.*)$/.exec(line);
    const numbered = /^\s*\d{1,9}[.)]\s+(.*)$/.exec(line);
    if (bullet || numbered) {
      flushParagraph();
      const tag = bullet ? "ul" : "ol";
      if (list && list.tag !== tag) flushList();
      list ??= { tag, items: [] };
      list.items.push((bullet ?? numbered)![1]);
      continue;
    }
    if (list && /^\s{2,}\S/.test(line)) {
      list.items[list.items.length - 1] += " " + line.trim();
      continue;
    }
    flushList();
    paragraph.push(line.trim());
  }
  flushAll();
  return new Html(out.join("\n"));
}

/** Blockquote bodies are markdown too (already escaped: render without escaping again). */
function renderMarkdownEscaped(lines: string[]): string {
  return lines.map((line) => line.trim() === "" ? "" : `<p>${inline(line)}</p>`).join("");
}

function renderTable(rows: string[][]): string {
  const isRule = (row: string[]) => row.every((cell) => /^:?-{2,}:?$/.test(cell));
  const [head, second, ...rest] = rows;
  const hasHead = second !== undefined && isRule(second);
  const body = hasHead ? rest : rows.filter((row) => !isRule(row));
  const cells = (row: string[], tag: string) =>
    row.map((cell) => `<${tag}>${inline(cell)}</${tag}>`).join("");
  return `<table class="md">${hasHead ? `<thead><tr>${cells(head, "th")}</tr></thead>` : ""}` +
    `<tbody>${body.map((row) => `<tr>${cells(row, "td")}</tr>`).join("")}</tbody></table>`;
}
