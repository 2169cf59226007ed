// Makes sure a shipper (`arrakis queue ship`) runs for a spool, for the hook: when nobody holds
// the shipper lock, start one detached and return at once; the shipper takes the lock itself
// and exits if another won the race. Also how SessionEnd waits, bounded, for its delivery.
// Zod-free and npm-free: this runs inside the hook.
import { join } from "../paths.ts";
import { tryShipperLock } from "./lock.ts";

export type ShipperState = "running" | "started";

export interface EnsureShipperOptions {
  /** Starts the shipper process; the default spawns `arrakis queue ship --quiet` detached. */
  spawn?: (env: Record<string, string>) => void | Promise<void>;
}

/**
 * "running" when a shipper holds the lock, "started" when this call started one. Throws when
 * the lock file cannot be opened safely or the process cannot be started.
 */
export async function ensureShipper(
  queueDir: string,
  env: Record<string, string>,
  options: EnsureShipperOptions = {},
): Promise<ShipperState> {
  const probe = await tryShipperLock(queueDir);
  if (probe === undefined) return "running";
  // Released before the spawn, so the new shipper can take it.
  probe.release();
  await (options.spawn ?? spawnShipper)(env);
  return "started";
}

/** `arrakis queue ship --quiet` in its own process group, stdio closed, not waited for. */
export async function spawnShipper(env: Record<string, string>): Promise<void> {
  // Loaded only to spawn (it uses node:path and node:url, which cost every hook ~6 ms to load).
  const { selfCommand } = await import("../self_command.ts");
  const { command, args } = selfCommand(["queue", "ship", "--quiet"]);
  const child = new Deno.Command(command, {
    args,
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "null",
    stderr: "null",
    detached: true,
  }).spawn();
  child.unref();
}

/**
 * Waits until none of `requestIds` is in pending/ or processing/ (delivered, or dead-lettered)
 * or `timeoutMs` has passed. True when all left in time.
 */
export async function waitForDelivery(
  queueDir: string,
  requestIds: readonly string[],
  timeoutMs: number,
  pollMs = 20,
): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (!(await anyWaiting(queueDir, requestIds))) return true;
    const left = deadline - performance.now();
    if (left <= 0) return false;
    await new Promise((resolve) => setTimeout(resolve, Math.min(pollMs, left)));
  }
}

async function anyWaiting(queueDir: string, requestIds: readonly string[]): Promise<boolean> {
  for (const id of requestIds) {
    try {
      await Deno.lstat(join(queueDir, "pending", `${id}.json`));
      return true;
    } catch { /* not pending */ }
  }
  try {
    // A shipper's claim renames the file to processing/<requestId>.<leaseUntil>.json.
    for await (const entry of Deno.readDir(join(queueDir, "processing"))) {
      if (requestIds.some((id) => entry.name.startsWith(`${id}.`))) return true;
    }
  } catch { /* no processing directory */ }
  return false;
}
