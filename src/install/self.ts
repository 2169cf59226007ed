// `arrakis install --self`: a copy of arrakis that stands on its own in a per-user place (code,
// migrations, hooks block and every npm package in its own Deno cache) plus a launcher that runs
// it with an absolute deno, that cache and --cached-only. Moving or deleting the clone, or an
// empty or foreign DENO_DIR, changes nothing; a hook never downloads anything. The hook itself
// runs from a bundle of the copy (hook-bundle.ts) when one could be built.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensurePrivateDir, writeFileDurable } from "../durable.ts";
import { launcherPermissions } from "../permissions.ts";
import {
  buildHookBundle,
  checkHookBundle,
  denoOutput,
  HOOK_BUNDLE,
  type HookBundle,
} from "./hook-bundle.ts";

/** What a self-contained copy holds (tests, benchmarks and docs stay in the clone). */
export const APP_ENTRIES = [
  "main.ts",
  "deno.json",
  "deno.lock",
  "src",
  "migrations",
  "hooks",
  "data",
];

/** Written beside the installed main.ts: how `arrakis install` finds its own launcher. */
export const INSTALL_RECORD = "install.json";

export interface SelfInstallOptions {
  /** The directory holding main.ts of the copy being installed (the clone). */
  source: string;
  /** Where versions live, e.g. ~/.arrakis/app. */
  appRoot: string;
  version: string;
  /** Directory of the launcher, e.g. ~/.deno/bin. */
  binDir: string;
  /** Absolute path of the deno binary the launcher runs. */
  deno: string;
}

export interface SelfInstall {
  appDir: string;
  launcher: string;
  /** Why the hook runs from main.ts rather than its bundle, when it does. */
  bundleProblem?: string;
}

export class SelfInstallError extends Error {
  override name = "SelfInstallError";
}

export async function installSelf(options: SelfInstallOptions): Promise<SelfInstall> {
  const appDir = join(options.appRoot, options.version);
  const launcher = join(options.binDir, "arrakis");
  await ensurePrivateDir(options.appRoot);
  const staging = join(options.appRoot, `.staging-${crypto.randomUUID()}`);
  let bundle: HookBundle;
  try {
    await ensurePrivateDir(staging);
    for (const entry of APP_ENTRIES) {
      await copyTree(join(options.source, entry), join(staging, entry));
    }
    // The packages the lock file names, from the cache that runs this install (no network
    // when they are there), then `deno cache` fetches whatever is missing and checks the rest.
    await seedNpmCache(options.deno, join(staging, "deno.lock"), join(staging, "deno", "npm"));
    await denoCache(options.deno, staging);
    // In the copy before it goes live, so a launcher of an earlier install of this version that
    // runs hook.js never finds it missing.
    bundle = await buildHookBundle(options.deno, staging, hookRunFlags(options.deno));
    const record = {
      version: options.version,
      source: options.source,
      launcher,
      installedAt: new Date().toISOString(),
    };
    await writeFileDurable(join(staging, INSTALL_RECORD), JSON.stringify(record, null, 2) + "\n");
    await swapInto(staging, appDir);
  } catch (error) {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
    throw error;
  }
  // Warm the transpile cache at the final path (the one staging filled is keyed by its path).
  await denoCache(options.deno, appDir).catch(() => {});
  if (bundle.ok) bundle = await checkHookBundle(options.deno, appDir, hookRunFlags(options.deno));
  await Deno.mkdir(options.binDir, { recursive: true });
  await writeFileDurable(
    launcher,
    launcherScript(options.deno, appDir, options.version, bundle.ok),
  );
  await Deno.chmod(launcher, 0o755);
  return { appDir, launcher, bundleProblem: bundle.ok ? undefined : bundle.reason };
}

/** The launcher of the copy this process runs from, when it is an installed one. */
export function installedLauncher(mainModule = Deno.mainModule): string | undefined {
  if (!mainModule.startsWith("file:")) return undefined;
  try {
    const record = JSON.parse(
      Deno.readTextFileSync(join(dirname(fileURLToPath(mainModule)), INSTALL_RECORD)),
    );
    return typeof record.launcher === "string" ? record.launcher : undefined;
  } catch {
    return undefined;
  }
}

/** A shell word: single-quoted unless it is plainly safe. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * How the launcher runs the hook's bundle: no deno.json (nothing in it applies to one plain
 * JavaScript file, and reading it, its lock file and its npm import map is most of what a
 * config costs a start), nothing fetched, and no network permission: the hook only spools.
 * `--no-lazy` has V8 compile every function of the bundle up front, so Deno's code cache holds
 * them all: by default a function is compiled from source the first time it is called, which
 * for a process that calls each of them once is most of its own work (the hook's own time fell
 * by about a third, measured interleaved). The install's check run fills that cache.
 */
function hookRunFlags(deno: string): string[] {
  return [
    "--quiet",
    "--no-prompt",
    "--no-config",
    "--cached-only",
    "--v8-flags=--no-lazy",
    ...launcherPermissions(deno, { net: false }),
  ];
}

function launcherScript(deno: string, appDir: string, version: string, bundled: boolean): string {
  const q = shellQuote;
  const argsWith = (net: boolean) =>
    [
      "run",
      "--quiet",
      "--no-prompt",
      "--cached-only",
      "--frozen",
      "--config",
      join(appDir, "deno.json"),
      ...launcherPermissions(deno, { net }),
      join(appDir, "main.ts"),
    ].map(q).join(" ");
  const bundle = join(appDir, HOOK_BUNDLE);
  const runBundle = ["run", ...hookRunFlags(deno), bundle].map(q).join(" ");
  // The bundle when it is there (a copy whose hook.js went missing still captures, from main.ts).
  const hook = bundled
    ? `if [ "$1" = hook ] && [ -f ${q(bundle)} ]; then
  shift
  exec ${q(deno)} ${runBundle} "$@"
fi
`
    : "";
  return `#!/bin/sh
# arrakis ${version}, written by 'arrakis install --self'. Runs the copy in ${appDir}
# with its own module cache and --cached-only: it needs neither the clone nor the network for
# code. The hook runs without network permission: it only spools.${
    bundled
      ? `\n# It runs from ${HOOK_BUNDLE}, the copy's hook in one file (main.ts if that is missing).`
      : ""
  }
# Install a newer clone with 'deno task install' to upgrade.
DENO_DIR=${q(join(appDir, "deno"))}
export DENO_DIR
${hook}if [ "$1" = hook ]; then
  exec ${q(deno)} ${argsWith(false)} "$@"
fi
exec ${q(deno)} ${argsWith(true)} "$@"
`;
}

/**
 * Copies directories and regular files; symlinks are skipped (a clone holds none we need).
 * With `link`, files are hard-linked where the file system allows: package files are never
 * changed in place, and a link survives the other cache being pruned.
 */
async function copyTree(from: string, to: string, options: { link?: boolean } = {}) {
  const info = await Deno.lstat(from);
  if (info.isDirectory) {
    await Deno.mkdir(to, { recursive: true, mode: 0o700 });
    for await (const entry of Deno.readDir(from)) {
      await copyTree(join(from, entry.name), join(to, entry.name), options);
    }
  } else if (info.isFile) {
    if (options.link) {
      try {
        return await Deno.link(from, to);
      } catch { /* another file system: copy */ }
    }
    await Deno.copyFile(from, to);
  }
}

/** Swaps a complete staging directory in place of `target` (two renames, old one removed). */
async function swapInto(staging: string, target: string): Promise<void> {
  const old = `${target}.old-${crypto.randomUUID()}`;
  let moved = false;
  try {
    await Deno.rename(target, old);
    moved = true;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  await Deno.rename(staging, target);
  if (moved) await Deno.remove(old, { recursive: true });
}

/** Copies every npm package of the lock file found in this deno's cache into `npmDir`. */
async function seedNpmCache(deno: string, lockPath: string, npmDir: string): Promise<void> {
  const info = await denoOutput(deno, ["info", "--json"]);
  const cache = info.code === 0 ? JSON.parse(info.stdout).npmCache : undefined;
  if (typeof cache !== "string") return;
  const lock = JSON.parse(await Deno.readTextFile(lockPath));
  const packages = Object.keys(lock.npm ?? {}).map((key) => {
    // "@scope/name@1.2.3_peer@4.5.6" → ["@scope/name", "1.2.3"]
    const at = key.indexOf("@", 1);
    return [key.slice(0, at), key.slice(at + 1).split("_")[0]];
  });
  let registries: string[] = [];
  try {
    registries = [...Deno.readDirSync(cache)].filter((e) => e.isDirectory).map((e) => e.name);
  } catch {
    return;
  }
  for (const registry of registries) {
    for (const [name, version] of packages) {
      const from = join(cache, registry, name);
      try {
        await Deno.lstat(join(from, version));
      } catch {
        continue;
      }
      const to = join(npmDir, registry, name);
      await copyTree(join(from, version), join(to, version), { link: true });
      await Deno.copyFile(join(from, "registry.json"), join(to, "registry.json")).catch(() => {});
    }
  }
}

async function denoCache(deno: string, appDir: string): Promise<void> {
  const result = await denoOutput(
    deno,
    [
      "cache",
      "--quiet",
      "--frozen",
      "--config",
      join(appDir, "deno.json"),
      join(appDir, "main.ts"),
    ],
    { DENO_DIR: join(appDir, "deno") },
  );
  if (result.code !== 0) {
    const reason = result.stderr.split("\n").find((line) => /error/i.test(line)) ??
      result.stderr.trim().split("\n")[0];
    throw new SelfInstallError(`could not cache arrakis's packages: ${reason.trim()}`);
  }
}
