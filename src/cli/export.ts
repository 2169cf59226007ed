// `arrakis export`: one session as Markdown, self-contained HTML or JSON, fetched from the
// running server (the dashboard's export route, with the key as Bearer), so it works the same
// on the embedded store and on PostgreSQL.
import { loadConfig, resolveClientCredentials } from "../config.ts";
import { EXPORT_FORMATS, type ExportFormat } from "../export/export.ts";
import { VERSION } from "../version.ts";
import { parseFlags, UsageError } from "./args.ts";
import { errorMessage } from "../error_message.ts";

export const usage = `Usage: arrakis export <sessionId> [--format md|json|html] [--output FILE]

Writes one captured session: md reads as a conversation (prompts, replies, collapsible tool
calls, tokens per reply), html is one self-contained file (no script, no external request),
json is the API's shape (GET /api/sessions/:id). Secrets stay redacted as stored. The key
must be one that may read (not an ingest-only key).

Options:
  --format F     md (default), html or json
  --output FILE  write to FILE (created 0600) instead of standard output

Environment: ARRAKIS_URL and ARRAKIS_API_KEY, else ARRAKIS_HOME/client.json and the key a
local 'arrakis serve' generated: the same server and key the hook uses.`;

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags("export", args, {
    format: { type: "string", short: "f" },
    output: { type: "string", short: "o" },
  }, true);
  if (positionals.length !== 1) {
    throw new UsageError("export: give exactly one session id (see 'arrakis export --help')");
  }
  const format = (values.format ?? "md") as ExportFormat;
  if (!EXPORT_FORMATS.includes(format)) {
    throw new UsageError(`export: --format must be one of ${EXPORT_FORMATS.join(", ")}`);
  }
  const sessionId = positionals[0];
  const { url, apiKey } = await resolveClientCredentials(loadConfig());
  const target = `${url}/sessions/${encodeURIComponent(sessionId)}/export?format=${format}`;
  let response: Response;
  try {
    response = await fetch(target, {
      headers: {
        "User-Agent": `arrakis/${VERSION}`,
        ...(apiKey ? { Authorization: `Bearer ${apiKey}` } : {}),
      },
      signal: AbortSignal.timeout(60_000),
      // Without a usable key the dashboard sends a browser to /login: that is a refusal here.
      redirect: "manual",
    });
  } catch (error) {
    throw new Error(
      `cannot reach the arrakis server at ${url} (${
        errorMessage(error)
      }): is 'arrakis serve' running?`,
    );
  }
  if (!response.ok) {
    const text = (await response.text()).slice(0, 300);
    let message = text;
    try {
      message = JSON.parse(text).message ?? text;
    } catch { /* not JSON: keep the text */ }
    if (response.status === 404) throw new Error(`no session ${sessionId} on ${url}`);
    if (response.status === 401 || (response.status >= 300 && response.status < 400)) {
      throw new Error(`the server at ${url} refused the key (export needs one that may read)`);
    }
    if (response.status === 403) {
      throw new Error(`the server at ${url} does not let this key read sessions: ${message}`);
    }
    throw new Error(`the server at ${url} answered ${response.status}: ${message}`);
  }
  const body = new Uint8Array(await response.arrayBuffer());
  if (values.output) {
    await Deno.writeFile(values.output, body, { mode: 0o600 });
    await Deno.chmod(values.output, 0o600);
    console.error(`wrote ${values.output} (${body.length} bytes)`);
  } else {
    for (let at = 0; at < body.length;) at += await Deno.stdout.write(body.subarray(at));
  }
  return 0;
}
