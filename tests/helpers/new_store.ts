// Temporary directories for new embedded stores, and a child process that opens an embedded
// store which does not exist yet, SIGKILLed while the new store is half-made (a `db.new-*`
// directory beside `db`): what the next start must survive.
import { join } from "node:path";

/** Runs `fn` in a new temporary directory, removed afterwards whatever happens. */
export async function withTempDir(
  prefix: string,
  fn: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const EMBEDDED = new URL("../../src/store/embedded.ts", import.meta.url).href;

/**
 * Runs `startEmbedded(<dir>/db, { templateDir })` in a child and kills it once a `db.new-*`
 * appears in `dir`. A child that finishes first is still a valid run (the store must open).
 */
export async function killWhileMakingStore(dir: string, templateDir?: string): Promise<void> {
  const script = `
    import { startEmbedded } from "${EMBEDDED}";
    const [dataDir, templateDir] = Deno.args;
    await startEmbedded(dataDir, templateDir ? { templateDir } : {});
    await new Promise(() => {});`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--quiet", script, join(dir, "db"), ...(templateDir ? [templateDir] : [])],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    for (let i = 0; i < 4000; i++) {
      const names = [...Deno.readDirSync(dir)].map((entry) => entry.name);
      if (names.includes("db") || names.some((name) => name.startsWith("db.new-"))) return;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  } finally {
    child.kill("SIGKILL");
    await child.status;
  }
}
