// The installed hook as one JavaScript file: `deno bundle` of src/cli/hook-main.ts, written at
// install time beside the copy's main.ts and run by the launcher with --no-config. A hook run is
// then Deno's floor plus the hook's own work: no deno.json, lock file or import map to read (an
// import map with npm entries makes Deno set up its npm resolver even for a graph without npm),
// and one module to load instead of ~20 TypeScript files to resolve and look up in the emit
// cache. The bundle is built from the installed copy itself, so it never differs from it.
import { join } from "../paths.ts";

/** The bundle's name inside an installed copy (beside main.ts: see src/self_command.ts). */
export const HOOK_BUNDLE = "hook.js";
/** The bundle's entry: `arrakis hook` as a program of its own. */
export const HOOK_ENTRY = join("src", "cli", "hook-main.ts");

export type HookBundle = { ok: true; path: string } | { ok: false; reason: string };

/**
 * Builds `<appDir>/hook.js` and checks it: it must import nothing (no npm: or node: module
 * above all) and must run (checkHookBundle). Never
 * throws: a hook that cannot be bundled (esbuild neither in the Deno cache nor reachable) still
 * runs, from main.ts.
 */
export async function buildHookBundle(
  deno: string,
  appDir: string,
  runFlags: string[],
): Promise<HookBundle> {
  const path = join(appDir, HOOK_BUNDLE);
  const built = await denoOutput(deno, [
    "bundle",
    "--quiet",
    "--config",
    join(appDir, "deno.json"),
    "--output",
    path,
    join(appDir, HOOK_ENTRY),
  ]);
  if (built.code !== 0) return { ok: false, reason: firstError(built.stderr) };
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    return { ok: false, reason: (error as Error).message };
  }
  // Everything must be inside: an npm: or node: module would bring back what the bundle
  // saves (or a download), and any other import would be a file the bundle does not carry.
  const imports = bundledImports(text);
  if (imports.length > 0) {
    await Deno.remove(path).catch(() => {});
    return { ok: false, reason: `the bundle still imports ${imports.join(", ")}` };
  }
  const check = await checkHookBundle(deno, appDir, runFlags);
  if (!check.ok) await Deno.remove(path).catch(() => {});
  return check;
}

/**
 * Runs `<appDir>/hook.js --help` as the launcher runs the hook (its flags, the copy's own
 * cache): it loads without a download. Run again once the copy is at its final path, it also
 * warms Deno's code cache for the bundle there (the cache is keyed by the file's path).
 */
export async function checkHookBundle(
  deno: string,
  appDir: string,
  runFlags: string[],
): Promise<HookBundle> {
  const path = join(appDir, HOOK_BUNDLE);
  const smoke = await denoOutput(deno, ["run", ...runFlags, path, "--help"], {
    DENO_DIR: join(appDir, "deno"),
  });
  if (smoke.code !== 0 || !smoke.stdout.startsWith("Usage: arrakis hook")) {
    return { ok: false, reason: `the bundle does not run: ${firstError(smoke.stderr)}` };
  }
  return { ok: true, path };
}

/**
 * Specifiers the bundle still imports at run time: static imports at the top level, and dynamic
 * imports that run unconditionally. The one dynamic import of node:path/node:url that runs only
 * on Windows (src/paths.ts) is written `Deno.build.os === "windows" ? await import(...)`, and is
 * not counted.
 */
export function bundledImports(text: string): string[] {
  const found: string[] = [];
  for (const match of text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s*["']([^"']+)["']/gm)) {
    found.push(match[1]);
  }
  for (const match of text.matchAll(/^\s*import\s*["']([^"']+)["']/gm)) found.push(match[1]);
  for (const match of text.matchAll(/(.{0,40})\bimport\(\s*["']([^"']+)["']\s*\)/g)) {
    if (!/windows"\s*\?\s*await\s*$/.test(match[1])) found.push(match[2]);
  }
  return found;
}

function firstError(stderr: string): string {
  const lines = stderr.split("\n").map((line) => line.trim()).filter(Boolean);
  return (lines.find((line) => /error/i.test(line)) ?? lines[0] ?? "no output").slice(0, 300);
}

/** A deno subcommand's exit code and decoded output (no colours, no stdin). */
export async function denoOutput(
  deno: string,
  args: string[],
  env: Record<string, string> = {},
) {
  const { code, stdout, stderr } = await new Deno.Command(deno, {
    args,
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code,
    stdout: new TextDecoder().decode(stdout),
    stderr: new TextDecoder().decode(stderr),
  };
}
