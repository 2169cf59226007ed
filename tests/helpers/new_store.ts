// Temporary directories for new embedded stores, and a child process that opens an embedded
// store which does not exist yet, SIGKILLed while the new store is half-made (a `db.new-*`
// directory beside `db`): what the next start must survive.
import { join } from "node:path";
import { tempDir } from "./temp.ts";

/** Runs `fn` in a new temporary directory, removed afterwards whatever happens. */
export async function withTempDir(
  prefix: string,
  fn: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await tempDir(prefix);
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const EMBEDDED = new URL("../../src/store/embedded.ts", import.meta.url).href;

/** The processes whose parent is `pid` (from /proc). */
function childrenOf(pid: number): number[] {
  const found: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) found.push(Number(entry.name));
    } catch { /* it ended meanwhile */ }
  }
  return found;
}

/** Whether `pid` still runs (a zombie nobody reaps has ended). */
export function isRunning(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

/**
 * Runs `startEmbedded(<dir>/db, options)` in a child and kills it once a `db.new-*` appears in
 * `dir`. A child that finishes first is still a valid run (the store must open). Returns the
 * processes the child had started by then (the store's maker, outliving it).
 */
export async function killWhileMakingStore(
  dir: string,
  options: { templateDir?: string; baseDir?: string } = {},
): Promise<number[]> {
  const script = `
    import { startEmbedded } from "${EMBEDDED}";
    await startEmbedded(Deno.args[0], JSON.parse(Deno.args[1]));
    await new Promise(() => {});`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--quiet", script, join(dir, "db"), JSON.stringify(options)],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const started = new Set<number>();
  try {
    for (let i = 0; i < 4000; i++) {
      for (const pid of childrenOf(child.pid)) started.add(pid);
      const names = [...Deno.readDirSync(dir)].map((entry) => entry.name);
      if (names.includes("db") || names.some((name) => name.startsWith("db.new-"))) break;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  } finally {
    child.kill("SIGKILL");
    await child.status;
  }
  return [...started];
}
