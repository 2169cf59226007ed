// `arrakis hook`: the command Claude Code runs on every event. Silent and always exit 0; the
// work lives in src/hook/capture.ts. main.ts loads this module only for `hook`, so other
// commands never pay for it.
import { capture } from "../hook/capture.ts";
import { errorMessage } from "../error_message.ts";

export const usage = `Usage: arrakis hook

Reads one Claude Code hook event (JSON) on stdin, spools it durably in this user's spool for the
project (~/.arrakis/spool/<project>/pending, signed), makes sure a shipper (arrakis queue ship)
runs to deliver it, and exits 0 without printing anything on stdout, whatever happens. It opens
no network connection. Problems go to stderr and the spool's logs/error.jsonl.

Environment: ARRAKIS_HOME (default ~/.arrakis), ARRAKIS_QUEUE_DIR, ARRAKIS_LOG_DIR,
ARRAKIS_LOG_LEVEL, ARRAKIS_REDACT_PATTERNS (one regular expression a line), CLAUDE_PROJECT_DIR;
the shipper it starts reads ARRAKIS_URL, ARRAKIS_API_KEY, ARRAKIS_CONFIG. See docs/HOOK.md.`;

export async function run(args: string[]): Promise<number> {
  if (args.length > 0) {
    // Never fail Claude Code over a flag: note it and capture anyway.
    console.error(`arrakis hook: ignoring arguments ${JSON.stringify(args)}`);
  }
  if (Deno.stdin.isTerminal()) {
    console.error("arrakis hook: expects a Claude Code hook event on stdin (see --help)");
    return 0;
  }
  try {
    await capture();
  } catch (error) {
    console.error(`arrakis hook: ${errorMessage(error)}`);
  }
  return 0;
}
