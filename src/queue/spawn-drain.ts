// Starts `arrakis queue drain` in the background so the hook can exit at once while a spooled
// backlog is delivered. It re-executes the running program: the compiled binary alone, or
// deno with the same main module, config and permissions.
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

/** Starts `arrakis queue drain` detached (own process group, stdio ignored); never throws. */
export function spawnDetachedDrain(env?: Record<string, string>): void {
  try {
    const { command, args } = selfCommand(["queue", "drain", "--quiet", "--if-idle"]);
    const child = new Deno.Command(command, {
      args,
      env,
      stdin: "null",
      stdout: "null",
      stderr: "null",
      detached: true,
    }).spawn();
    child.unref();
  } catch {
    // No drain now: the next hook or a manual `arrakis queue drain` will deliver the backlog.
  }
}
