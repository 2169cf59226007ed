// A session as one self-contained HTML file: the dashboard's conversation markup and stylesheet
// inline, no script, no external request, and a CSP that forbids both should anything slip in.
import type { Conversation } from "../read/conversation.ts";
import { conversationBody } from "../dashboard/pages/conversation.ts";
import { APP_CSS } from "../dashboard/assets.ts";
import { h, raw } from "../dashboard/html.ts";
import { basename } from "../dashboard/format.ts";

const CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'";

export function conversationHtml(data: Conversation, now: number): string {
  return h`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="arrakis export">
<title>Session ${
    basename(data.summary.project_dir ?? data.summary.cwd)
  } · ${data.summary.session_id}</title>
<style>${raw(APP_CSS)}</style>
</head>
<body class="export">
<main>
${conversationBody(data, now)}
</main>
</body>
</html>
`.value;
}
