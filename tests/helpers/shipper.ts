// Shared by the shipper tests: the real `arrakis queue ship` (or the test entry point with its
// step callbacks) as a child process whose stderr a test can wait on, and polling helpers.
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { arrakisCommand, childEnv, CONFIG } from "./cli.ts";
import { PERMISSIONS } from "../../src/permissions.ts";
import type { Sql } from "../../src/store/open.ts";
import { tempDirSync } from "./temp.ts";

const ENTRY = fileURLToPath(new URL("./shipper_entry.ts", import.meta.url));

export interface ShipperProcess {
  pid: number;
  /** stderr so far. */
  stderr(): string;
  /** Resolves once stderr contains text. */
  waitFor(text: string, timeoutMs?: number): Promise<void>;
  status: Promise<Deno.CommandStatus>;
  /** Whether it has exited. */
  exited(): boolean;
  kill(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
}

function watched(command: Deno.Command): ShipperProcess {
  const child = command.spawn();
  let text = "";
  let ended = false;
  const reader = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stderr) text += decoder.decode(chunk, { stream: true });
  })();
  child.stdout.cancel().catch(() => {});
  const status = child.status.then(async (s) => {
    await reader.catch(() => {});
    ended = true;
    return s;
  });
  return {
    pid: child.pid,
    stderr: () => text,
    async waitFor(wanted, timeoutMs = 60_000) {
      if (!await until(() => Promise.resolve(text.includes(wanted)), timeoutMs)) {
        throw new Error(`never saw ${JSON.stringify(wanted)} on stderr:\n${text}`);
      }
    },
    status,
    exited: () => ended,
    async kill(signal = "SIGKILL") {
      try {
        child.kill(signal);
      } catch { /* already exited */ }
      return await status;
    },
  };
}

/** `arrakis queue ship` in the foreground (its notices on stderr). */
export function startShipper(env: Record<string, string>): ShipperProcess {
  return watched(arrakisCommand(["queue", "ship"], { env }));
}

/** The shipper through the test entry point: it stops for good at the n-th `step`. */
export function startPausingShipper(
  env: Record<string, string>,
  step: "claimed" | "answered",
  nth: number,
): ShipperProcess {
  return watched(
    new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", "--config", CONFIG, ...PERMISSIONS, ENTRY, step, String(nth)],
      env: childEnv(env),
      clearEnv: true,
      cwd: tempDirSync("arrakis-cwd-"),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }),
  );
}

export async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return await check();
}

/** Spool files (not temps) left in pending/, processing/ and failed/. */
export async function spoolFiles(queueDir: string): Promise<string[]> {
  const names: string[] = [];
  for (const state of ["pending", "processing", "failed"]) {
    try {
      for await (const entry of Deno.readDir(join(queueDir, state))) {
        if (entry.name.endsWith(".json")) names.push(`${state}/${entry.name}`);
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  return names.sort();
}

/** requestId → audit rows per status. */
export async function auditOf(sql: Sql, ids: string[]) {
  const rows = await sql<{ request_id: string; status: string; n: number }[]>`
    SELECT request_id, status::text AS status, count(*)::int AS n FROM webhook_events
    WHERE request_id = ANY(${ids}) GROUP BY request_id, status`;
  const success = new Map<string, number>();
  const other: Record<string, number> = {};
  for (const row of rows) {
    if (row.status === "SUCCESS") success.set(row.request_id, row.n);
    else other[row.status] = (other[row.status] ?? 0) + row.n;
  }
  return { success, other };
}
