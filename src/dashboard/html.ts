// A tiny HTML builder: every interpolated value is escaped unless it is already Html. Captured
// prompts, tool outputs and payloads are untrusted, so escaping is the default, never a choice.

/** Markup that is safe to emit as is (built by `h` or by the markdown renderer). */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => ESCAPES[ch]);
}

/** Trusted markup from code (never from data). */
export function raw(markup: string): Html {
  return new Html(markup);
}

export type Part = Html | string | number | bigint | boolean | null | undefined | Part[];

function render(part: Part): string {
  if (part === null || part === undefined || part === false || part === true) return "";
  if (part instanceof Html) return part.value;
  if (Array.isArray(part)) return part.map(render).join("");
  return escapeHtml(String(part));
}

/** Tagged template: `h\`<p>${text}</p>\`` escapes text; nested `h` results stay markup. */
export function h(strings: TemplateStringsArray, ...values: Part[]): Html {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1];
  return new Html(out);
}

/** Pretty JSON for a <pre>, escaped. */
export function json(value: unknown): Html {
  let text: string;
  try {
    text = JSON.stringify(value, null, 2) ?? "null";
  } catch {
    text = String(value);
  }
  return h`${text}`;
}
