// `arrakis install`: puts the hooks block of hooks/settings.json into Claude Code's settings,
// merged with whatever is there, and keeps the hook's spool and logs out of git.
import { dirname, join, resolve } from "node:path";
import { parseFlags } from "./args.ts";
import { writeFileDurable } from "../durable.ts";
import {
  DEFAULT_COMMAND,
  installHooks,
  type Settings,
  SettingsError,
  uninstallHooks,
} from "../install/settings.ts";
import { lineDiff } from "../install/diff.ts";
import { readKeyFromStdin, writeClientConfig } from "../install/client_config.ts";
import { loadConfig } from "../config.ts";

export const usage = `Usage: arrakis install [--user] [--dry-run] [--uninstall] [--command <cmd>]
                       [--project-dir <dir>] [--api-key-stdin] [--url <server>]

Writes the arrakis hooks block (hooks/settings.json: every Claude Code event runs
'arrakis hook') into .claude/settings.json of the project, merged with the settings and hooks
already there. Running it again changes nothing; other hooks are never touched.

  --user              ~/.claude/settings.json instead of the project's
  --dry-run           print the change as a diff, write nothing
  --uninstall         remove arrakis's own entries only
  --command <cmd>     the hook command to write (default: "${DEFAULT_COMMAND}")
  --project-dir <dir> the project (default: $CLAUDE_PROJECT_DIR, else the current directory)
  --api-key-stdin     store this machine's key (first line of stdin, e.g. piped from
                      'arrakis keys create --name <machine>') in the client config (0600)
  --url <server>      store the server URL in the client config too

In project mode it also adds .claude/logs/ and .claude/queue/ to the project's .gitignore.`;

/** Lines the project's .gitignore must hold: the hook's spool and logs carry payloads. */
export const GITIGNORE_LINES = [".claude/logs/", ".claude/queue/"];

export async function run(args: string[]): Promise<number> {
  const { values } = parseFlags("install", args, {
    user: { type: "boolean" },
    "dry-run": { type: "boolean" },
    uninstall: { type: "boolean" },
    command: { type: "string" },
    "project-dir": { type: "string" },
    "api-key-stdin": { type: "boolean" },
    url: { type: "string" },
  });
  if (values["api-key-stdin"] || values.url !== undefined) {
    const apiKey = values["api-key-stdin"] ? await readKeyFromStdin() : undefined;
    if (apiKey === "") {
      console.error("arrakis install: --api-key-stdin: stdin held no key");
      return 1;
    }
    if (values.url !== undefined && !/^https?:\/\/[^\s]+$/.test(values.url)) {
      console.error(`arrakis install: --url must be an http(s) URL (got '${values.url}')`);
      return 1;
    }
    const file = loadConfig().clientConfigFile;
    if (!values["dry-run"]) await writeClientConfig(file, { url: values.url, apiKey });
    console.log(
      `${file}: ${values["dry-run"] ? "would store" : "stored"} ${
        [apiKey && "this machine's key", values.url && `server ${values.url}`].filter(Boolean)
          .join(" and ")
      } (0600)`,
    );
  }
  const dryRun = values["dry-run"] ?? false;
  const projectDir = resolve(
    values["project-dir"] ?? Deno.env.get("CLAUDE_PROJECT_DIR") ?? Deno.cwd(),
  );
  const home = Deno.env.get("HOME");
  if (values.user && !home) {
    console.error("arrakis install: --user needs HOME to be set");
    return 1;
  }
  const settingsPath = values.user
    ? join(home!, ".claude", "settings.json")
    : join(projectDir, ".claude", "settings.json");
  const command = values.command?.trim() || DEFAULT_COMMAND;

  const before = await readSettings(settingsPath);
  if (before instanceof Error) {
    console.error(`arrakis install: ${settingsPath}: ${before.message}`);
    return 1;
  }
  let after: Settings;
  try {
    after = values.uninstall ? uninstallHooks(before.value) : installHooks(before.value, command);
  } catch (error) {
    if (!(error instanceof SettingsError)) throw error;
    console.error(`arrakis install: ${settingsPath}: ${error.message}`);
    return 1;
  }

  const beforeText = before.exists ? JSON.stringify(before.value, null, 2) + "\n" : "";
  const afterText = JSON.stringify(after, null, 2) + "\n";
  const changed = beforeText !== afterText;
  const verb = values.uninstall ? "uninstall" : "install";
  if (!changed || (values.uninstall && !before.exists)) {
    console.log(`${settingsPath}: nothing to ${verb}`);
  } else if (dryRun) {
    console.log(`--- ${settingsPath}\n+++ ${settingsPath} (after ${verb})`);
    console.log(lineDiff(beforeText, afterText).join("\n"));
  } else {
    await writeSettings(settingsPath, afterText);
    console.log(
      values.uninstall
        ? `${settingsPath}: removed the arrakis hooks`
        : `${settingsPath}: arrakis hook installed for ${
          Object.keys(after.hooks ?? {}).length
        } events (command: ${command})`,
    );
  }

  if (!values.user && !values.uninstall) {
    const added = await ensureGitignore(join(projectDir, ".gitignore"), dryRun);
    if (added.length > 0) {
      console.log(
        `${join(projectDir, ".gitignore")}: ${dryRun ? "would add" : "added"} ${added.join(" ")}`,
      );
    }
  }
  return 0;
}

type ReadResult = { exists: boolean; value: unknown } | Error;

async function readSettings(path: string): Promise<ReadResult> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return { exists: false, value: {} };
    return error instanceof Error ? error : new Error(String(error));
  }
  if (text.trim() === "") return { exists: true, value: {} };
  try {
    return { exists: true, value: JSON.parse(text) };
  } catch (error) {
    return new Error(
      `not valid JSON (${error instanceof Error ? error.message : error}); not touching it`,
    );
  }
}

/** Atomic and durable; follows a symlinked settings file and keeps the file's mode. */
async function writeSettings(path: string, text: string): Promise<void> {
  let target = path;
  let mode = 0o644;
  try {
    target = await Deno.realPath(path);
    mode = (await Deno.stat(target)).mode! & 0o777;
  } catch {
    await Deno.mkdir(dirname(path), { recursive: true });
  }
  await writeFileDurable(target, text);
  await Deno.chmod(target, mode);
}

/** Appends the missing GITIGNORE_LINES; returns the lines it added (or would add). */
async function ensureGitignore(path: string, dryRun: boolean): Promise<string[]> {
  let text = "";
  let mode = 0o644;
  try {
    text = await Deno.readTextFile(path);
    mode = (await Deno.stat(path)).mode! & 0o777;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const present = new Set(
    text.split("\n").map((line) => line.trim().replace(/^\//, "").replace(/\/?\*?$/, "")),
  );
  const missing = GITIGNORE_LINES.filter((line) => !present.has(line.replace(/\/$/, "")));
  if (missing.length === 0 || dryRun) return missing;
  const prefix = text === "" || text.endsWith("\n") ? "" : "\n";
  const block = `${prefix}# arrakis: Claude Code hook spool and logs (hold event payloads)\n${
    missing.join("\n")
  }\n`;
  await writeFileDurable(path, text + block);
  await Deno.chmod(path, mode);
  return missing;
}
