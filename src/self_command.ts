// How arrakis re-executes itself (the hook starts the resident shipper this way): the compiled
// binary alone, or deno with the same main.ts, config and permissions. node:-free (paths.ts),
// because the hook's bundle holds this module and a node: import would start Deno's Node layer
// on every hook run.
import { dirname, fromFileUrl, join } from "./paths.ts";
import { PERMISSIONS } from "./permissions.ts";

/**
 * The argv that re-runs this program with `args`. The main module is main.ts, or the hook's
 * bundle (hook.js, see src/install/hook-bundle.ts), which sits beside the main.ts it was built
 * from: re-running means that main.ts.
 */
export function selfCommand(
  args: string[],
  main: string = Deno.mainModule,
): { command: string; args: string[] } {
  if (isCompiled(main)) return { command: Deno.execPath(), args };
  const entry = fromFileUrl(main);
  const beside = join(dirname(entry), "main.ts");
  const mainPath = entry.endsWith(".js") && existsSync(beside) ? beside : entry;
  const configArgs = configBeside(mainPath);
  return {
    command: Deno.execPath(),
    args: ["run", "--quiet", "--no-prompt", ...configArgs, ...PERMISSIONS, mainPath, ...args],
  };
}

/**
 * Whether `moduleUrl` is a module of a compiled binary: it embeds its modules under a
 * deno-compile- root and runs them by itself, with no deno to hand a module path to.
 */
export function isCompiled(moduleUrl: string): boolean {
  return !moduleUrl.startsWith("file:") || moduleUrl.includes("/deno-compile-");
}

/** `--config <dir>/deno.json` for a program file, when its directory has one. */
export function configBeside(programPath: string): string[] {
  const config = join(dirname(programPath), "deno.json");
  return existsSync(config) ? ["--config", config] : [];
}

function existsSync(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}
