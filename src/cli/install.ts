// `arrakis install`: puts the hooks block of hooks/settings.json into Claude Code's settings,
// merged with whatever is there, and keeps the hook's spool and logs out of git; with --self,
// installs arrakis itself as a self-contained copy with a launcher.
import { delimiter, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseFlags, UsageError } from "./args.ts";
import { loadConfig } from "../config.ts";
import { VERSION } from "../version.ts";
import { installedLauncher, installSelf, SelfInstallError, shellQuote } from "../install/self.ts";
import { writeFileDurable } from "../durable.ts";
import {
  DEFAULT_COMMAND,
  installHooks,
  type Settings,
  SettingsError,
  uninstallHooks,
} from "../install/settings.ts";
import { lineDiff } from "../install/diff.ts";
import { inGitWorkTree, projectTarget, type Target } from "../install/targets.ts";
import { readKeyFromStdin, writeClientConfig } from "../install/client_config.ts";
import { errorMessage } from "../error_message.ts";

export const usage = `Usage: arrakis install [--user] [--dry-run] [--uninstall] [--command <cmd>]
                       [--project-dir <dir>] [--api-key-stdin] [--url <server>]
       arrakis install --self [--bin-dir <dir>]

Writes the arrakis hooks block (hooks/settings.json: every Claude Code event runs
'arrakis hook') into .claude/settings.json of the project, merged with the settings and hooks
already there. Running it again changes nothing; other hooks are never touched.

  --user              ~/.claude/settings.json instead of the project's
  --dry-run           print the change as a diff, write nothing
  --uninstall         remove arrakis's own entries only
  --command <cmd>     the hook command to write (default: the launcher's absolute path and
                      'hook' when this arrakis is an installed copy, else "${DEFAULT_COMMAND}")
  --project-dir <dir> the project (default: $CLAUDE_PROJECT_DIR, else the current directory)
  --api-key-stdin     store this machine's key (first line of stdin, e.g. piped from
                      'arrakis keys create --name <machine>') in the client config (0600)
  --url <server>      store the server URL in the client config too

In project mode it also adds .claude/logs/ and .claude/queue/ to the project's .gitignore when
the project is in a git work tree. A settings file or .gitignore that is a link leading outside
the project is refused (exit 2, nothing written).

--self (what 'deno task install' runs) copies this arrakis (main.ts, deno.json, deno.lock, src/,
migrations/, hooks/) into <ARRAKIS_HOME>/app/<version>/ with every npm package it needs in
its own Deno cache there, and writes a launcher, <bin-dir>/arrakis (default
$DENO_INSTALL_ROOT/bin, else ~/.deno/bin), that runs that copy with the absolute path of this
deno, that cache and --cached-only. The clone can then move or go; hooks never download.

Environment: CLAUDE_PROJECT_DIR, HOME, ARRAKIS_HOME (--self), DENO_INSTALL_ROOT (--self).`;

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
    self: { type: "boolean" },
    "bin-dir": { type: "string" },
  });
  if (values.self) {
    const others = [
      "user",
      "dry-run",
      "uninstall",
      "command",
      "project-dir",
      "api-key-stdin",
      "url",
    ]
      .filter((flag) => values[flag as keyof typeof values] !== undefined);
    if (others.length > 0) {
      throw new UsageError(`install: --self takes only --bin-dir, not --${others.join(", --")}`);
    }
    return await runSelf(values["bin-dir"]);
  }
  if (values["bin-dir"] !== undefined) throw new UsageError("install: --bin-dir goes with --self");
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
  const launcher = installedLauncher();
  const command = values.command?.trim() ||
    (launcher ? `${shellQuote(launcher)} hook` : DEFAULT_COMMAND);
  const gitignorePath = join(projectDir, ".gitignore");
  const projectMode = !values.user;
  if (projectMode && !(await isDirectory(projectDir))) {
    console.error(`arrakis install: ${projectDir}: no such directory`);
    return 1;
  }
  const wantsGitignore = projectMode && !values.uninstall && await inGitWorkTree(projectDir);

  // Every target is checked before anything is written: a refusal leaves the project untouched.
  const settingsTarget: Target = projectMode
    ? await projectTarget(projectDir, settingsPath)
    : { write: settingsPath };
  const gitignoreTarget = wantsGitignore
    ? await projectTarget(projectDir, gitignorePath)
    : undefined;
  for (const target of [settingsTarget, gitignoreTarget]) {
    if (target && "refused" in target) {
      console.error(`arrakis install: refusing to write through a link: ${target.refused}`);
      return 2;
    }
  }

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
    await writeSettings((settingsTarget as { write: string }).write, afterText);
    console.log(
      values.uninstall
        ? `${settingsPath}: removed the arrakis hooks`
        : `${settingsPath}: arrakis hook installed for ${
          Object.keys(after.hooks ?? {}).length
        } events (command: ${command})`,
    );
  }

  if (gitignoreTarget && "write" in gitignoreTarget) {
    const added = await ensureGitignore(gitignoreTarget.write, dryRun);
    if (added.length > 0) {
      console.log(`${gitignorePath}: ${dryRun ? "would add" : "added"} ${added.join(" ")}`);
    }
  } else if (projectMode && !values.uninstall) {
    console.log(`${projectDir}: not in a git work tree, no .gitignore written`);
  }
  return 0;
}

async function runSelf(binDirFlag: string | undefined): Promise<number> {
  const home = Deno.env.get("HOME");
  const installRoot = Deno.env.get("DENO_INSTALL_ROOT");
  if (!binDirFlag && !installRoot && !home) {
    console.error("arrakis install --self: set HOME, DENO_INSTALL_ROOT or --bin-dir");
    return 1;
  }
  const binDir = resolve(binDirFlag ?? join(installRoot ?? join(home!, ".deno"), "bin"));
  const source = dirname(fileURLToPath(Deno.mainModule));
  const config = loadConfig();
  const appRoot = join(config.home, "app");
  let installed;
  try {
    installed = await installSelf({
      source,
      appRoot,
      version: VERSION,
      binDir,
      deno: Deno.execPath(),
    });
  } catch (error) {
    if (!(error instanceof SelfInstallError)) throw error;
    console.error(`arrakis install --self: ${error.message}`);
    return 1;
  }
  console.log(
    `arrakis ${VERSION} installed in ${installed.appDir} (code, migrations, hooks block and its npm packages: runs without ${source} and without the network)`,
  );
  console.log(`launcher: ${installed.launcher}`);
  if (installed.bundleProblem) {
    console.log(
      `the hook runs from main.ts, a few ms slower per event (no bundle: ${installed.bundleProblem})`,
    );
  }
  await prepareStoreTemplate(config.home);
  const onPath = (Deno.env.get("PATH") ?? "").split(delimiter).some((dir) =>
    resolve(dir) === binDir
  );
  if (!onPath) {
    console.log(`${binDir} is not on PATH: add it, or run ${installed.launcher} directly`);
  }
  console.log(
    `next: cd <your project> && ${shellQuote(installed.launcher)} install   (writes "${
      shellQuote(installed.launcher)
    } hook" into .claude/settings.json)`,
  );
  return 0;
}

/**
 * The embedded store's template for this version's migrations, made now so that the first
 * `arrakis serve` unpacks its store instead of running initdb. Optional: a failure only says so.
 */
async function prepareStoreTemplate(home: string): Promise<void> {
  try {
    // Loaded here: a project's `arrakis install` needs no PGlite.
    const { prepareTemplate } = await import("../store/embedded.ts");
    const path = await prepareTemplate(join(home, "cache"));
    if (path) console.log(`embedded store template: ${path} (a new store starts from it)`);
  } catch (error) {
    console.error(
      `arrakis install --self: no store template (${
        errorMessage(error)
      }); the first arrakis serve runs initdb instead`,
    );
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
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
      `not valid JSON (${errorMessage(error)}); not touching it`,
    );
  }
}

/**
 * Atomic and durable, keeps the file's mode. Follows a link (for --user: a settings file kept
 * in a dotfiles repository; in a project only links checked by projectTarget arrive here).
 */
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

/**
 * Appends the missing GITIGNORE_LINES to `path` (the real file, never a link: writing through
 * the rename would replace a link with a copy of its target); returns what it added.
 */
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
