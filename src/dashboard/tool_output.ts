// A tool call's output as what it is: a Read's file content as code, Bash's stdout and stderr,
// an Edit or Write as a diff, a search's file list; anything else as JSON. The raw JSON of the
// input, output and error is always one click away.
import { h, type Html, json } from "./html.ts";
import { fmtInt } from "./format.ts";
import type { ToolUseRow } from "../schema.ts";

/** Tool output can be megabytes: the page shows the start and says how much is left out. */
const MAX_SHOWN = 20_000;

function clipped(text: string): Html {
  if (text.length <= MAX_SHOWN) return h`${text}`;
  return h`${text.slice(0, MAX_SHOWN)}<span class="muted">
… ${fmtInt(text.length - MAX_SHOWN)} more characters not shown</span>`;
}

export function block(value: unknown, className = ""): Html {
  if (typeof value === "string") return h`<pre class="${className}">${clipped(value)}</pre>`;
  const text = JSON.stringify(value, null, 2) ?? "null";
  return text.length <= MAX_SHOWN
    ? h`<pre class="${className}">${json(value)}</pre>`
    : h`<pre class="${className}">${clipped(text)}</pre>`;
}

type Obj = Record<string, unknown>;
const isObj = (value: unknown): value is Obj =>
  value !== null && typeof value === "object" && !Array.isArray(value);
const str = (value: unknown) => typeof value === "string" ? value : undefined;

const label = (text: string, extra: Html | string = "") =>
  h`<div class="label">${text}${extra ? h` <span class="mono">${extra}</span>` : ""}</div>`;

function diffLines(lines: string[]): Html {
  const shown = lines.slice(0, 2000);
  return h`<pre class="diff">${
    shown.map((line) => {
      const cls = line.startsWith("+") ? "add" : line.startsWith("-") ? "del" : "ctx";
      return h`<span class="${cls}">${line}\n</span>`;
    })
  }${
    lines.length > shown.length
      ? h`<span class="muted">… ${fmtInt(lines.length - shown.length)} more lines</span>`
      : ""
  }</pre>`;
}

/** structuredPatch hunks (Edit, Write) as unified diff lines. */
function patchLines(patch: unknown): string[] | undefined {
  if (!Array.isArray(patch) || patch.length === 0) return undefined;
  const lines: string[] = [];
  for (const hunk of patch) {
    if (!isObj(hunk) || !Array.isArray(hunk.lines)) return undefined;
    lines.push(
      `@@ -${hunk.oldStart ?? "?"},${hunk.oldLines ?? "?"} +${hunk.newStart ?? "?"},${
        hunk.newLines ?? "?"
      } @@`,
      ...hunk.lines.map(String),
    );
  }
  return lines;
}

const asLines = (prefix: string, text: string) => text.split("\n").map((l) => prefix + l);

/** The rendered output of a known tool, or undefined to fall back to JSON. */
function known(tool: ToolUseRow): Html | undefined {
  const input = isObj(tool.tool_input) ? tool.tool_input : {};
  const r = tool.tool_response;
  switch (tool.tool_name) {
    case "Bash": {
      if (!isObj(r) || (str(r.stdout) === undefined && str(r.stderr) === undefined)) break;
      const stdout = str(r.stdout) ?? "";
      const stderr = str(r.stderr) ?? "";
      return h`${stdout ? h`${label("stdout")}${block(stdout, "code")}` : ""}${
        stderr ? h`${label("stderr")}${block(stderr, "code stderr")}` : ""
      }${!stdout && !stderr ? h`${label("output")}<pre class="muted">(empty)</pre>` : ""}`;
    }
    case "Read": {
      const file = isObj(r) && isObj(r.file) ? r.file : undefined;
      const content = str(file?.content);
      if (content === undefined) break;
      const from = typeof file?.startLine === "number" ? file.startLine : 1;
      const count = typeof file?.numLines === "number" ? file.numLines : undefined;
      return h`${
        label(
          "file",
          `${str(file?.filePath) ?? str(input.file_path) ?? ""}${
            count !== undefined ? ` · lines ${from}–${from + count - 1}` : ""
          }`,
        )
      }${block(content, "code")}`;
    }
    case "Edit":
    case "MultiEdit":
    case "Write": {
      const path = (isObj(r) ? str(r.filePath) : undefined) ?? str(input.file_path) ?? "";
      const lines = isObj(r) ? patchLines(r.structuredPatch) : undefined;
      if (lines) return h`${label("diff", path)}${diffLines(lines)}`;
      if (tool.tool_name === "Edit" && str(input.old_string) !== undefined) {
        return h`${label("diff", path)}${
          diffLines([
            ...asLines("-", str(input.old_string)!),
            ...asLines("+", str(input.new_string) ?? ""),
          ])
        }`;
      }
      const content = str(input.content) ?? (isObj(r) ? str(r.content) : undefined);
      if (tool.tool_name === "Write" && content !== undefined) {
        return h`${label("new file", path)}${block(content, "code")}`;
      }
      break;
    }
    case "Glob":
    case "Grep": {
      if (!isObj(r)) break;
      if (str(r.content) !== undefined) return h`${label("matches")}${block(r.content, "code")}`;
      if (Array.isArray(r.filenames)) {
        return h`${label("files", `${r.filenames.length}`)}${
          block(r.filenames.map(String).join("\n"), "code")
        }`;
      }
      break;
    }
  }
  return undefined;
}

export function toolBody(tool: ToolUseRow): Html {
  const response = tool.tool_response;
  const hasResponse = response !== null && response !== undefined;
  const hasError = tool.error !== null && tool.error !== undefined;
  const rendered = hasResponse ? known(tool) : undefined;
  return h`${label("input")}${block(tool.tool_input ?? null)}
${rendered ?? (hasResponse ? h`${label("output")}${block(response)}` : "")}
${hasError ? h`${label("error")}${block(tool.error, "stderr")}` : ""}
<details class="raw"><summary>raw JSON</summary>${
    block({
      tool_input: tool.tool_input ?? null,
      tool_response: response ?? null,
      error: tool.error ?? null,
    })
  }</details>`;
}
