// One session as a file in the format asked for: Markdown, self-contained HTML, or the API's
// JSON. Used by `arrakis export` (through the API) and the dashboard's export buttons.
import type { Conversation } from "../read/conversation.ts";
import { conversationJson } from "./json.ts";
import { conversationMarkdown, type ExportOptions } from "./markdown.ts";
import { conversationHtml } from "./html.ts";

export const EXPORT_FORMATS = ["md", "html", "json"] as const;
export type ExportFormat = typeof EXPORT_FORMATS[number];

export interface ExportFile {
  body: string;
  contentType: string;
  filename: string;
}

const CONTENT_TYPES: Record<ExportFormat, string> = {
  md: "text/markdown; charset=utf-8",
  html: "text/html; charset=utf-8",
  json: "application/json; charset=utf-8",
};

/** A file name made only of safe characters, whatever the session id holds. */
export function exportFilename(sessionId: string, format: ExportFormat): string {
  return `arrakis-${sessionId.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 80)}.${format}`;
}

export function exportConversation(
  data: Conversation,
  format: ExportFormat,
  options: ExportOptions & { now?: number } = {},
): ExportFile {
  const body = format === "md"
    ? conversationMarkdown(data, options)
    : format === "html"
    ? conversationHtml(data, options.now ?? Date.now())
    : JSON.stringify(conversationJson(data), null, 2) + "\n";
  return {
    body,
    contentType: CONTENT_TYPES[format],
    filename: exportFilename(data.summary.session_id, format),
  };
}
