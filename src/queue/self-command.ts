// How arrakis re-executes itself (the hook starts the resident shipper this way): the compiled
// binary alone, or deno with the same main module, config and permissions.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { PERMISSIONS } from "../permissions.ts";

/** The argv that re-runs this program with `args`. */
export function selfCommand(args: string[]): { command: string; args: string[] } {
  const main = Deno.mainModule;
  // A compiled binary embeds its modules under a deno-compile- root and runs them by itself.
  if (!main.startsWith("file:") || main.includes("/deno-compile-")) {
    return { command: Deno.execPath(), args };
  }
  const mainPath = fileURLToPath(main);
  const config = join(dirname(mainPath), "deno.json");
  const configArgs = existsSync(config) ? ["--config", config] : [];
  return {
    command: Deno.execPath(),
    args: ["run", "--quiet", "--no-prompt", ...configArgs, ...PERMISSIONS, mainPath, ...args],
  };
}

function existsSync(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}
