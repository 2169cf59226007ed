// Starts the resident shipper (`arrakis queue ship`) in the background so the hook can exit at
// once while spooled events are delivered. It re-executes the running program: the compiled
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

/**
 * Starts `arrakis queue ship --quiet` detached (own process group, stdio ignored); never
 * throws. A shipper already running makes the new one exit at once.
 */
export function spawnDetachedShipper(env?: Record<string, string>): void {
  try {
    const { command, args } = selfCommand(["queue", "ship", "--quiet"]);
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
    // No shipper now: the next hook or a manual `arrakis queue drain` delivers the backlog.
  }
}
