// A PostgreSQL server of the test's own (initdb into a temp dir, its own port), so a test can
// stop it, crash it and start it again without touching the machine's shared cluster.
import { join } from "node:path";
import { freePort } from "./net.ts";
import { tempDir } from "./temp.ts";

const BIN_ROOT = "/usr/lib/postgresql";

async function findBinDir(): Promise<string | undefined> {
  try {
    const versions = [];
    for await (const entry of Deno.readDir(BIN_ROOT)) versions.push(entry.name);
    versions.sort((a, b) => Number(b) - Number(a));
    for (const version of versions) {
      const dir = join(BIN_ROOT, version, "bin");
      try {
        await Deno.stat(join(dir, "initdb"));
        return dir;
      } catch { /* try the next version */ }
    }
  } catch { /* no PostgreSQL installed */ }
  return undefined;
}

export interface PrivatePostgres {
  url: string;
  port: number;
  /** Stops the server; "immediate" is a crash (no checkpoint), "fast" a clean shutdown. */
  stop(mode?: "immediate" | "fast"): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

/** Why private PostgreSQL is unavailable here, or undefined when it can be started. */
export async function privatePostgresUnavailable(): Promise<string | undefined> {
  if (Deno.build.os !== "linux") return "private PostgreSQL needs Linux";
  if (!(await findBinDir())) return `no PostgreSQL server binaries under ${BIN_ROOT}`;
  if (Deno.uid() === 0) {
    const { code } = await new Deno.Command("id", { args: ["-u", "postgres"], stdout: "null" })
      .output().catch(() => ({ code: 1 }));
    if (code !== 0) return "running as root without a postgres user";
  }
  return undefined;
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = await findBinDir();
  if (!bin) throw new Error(`no PostgreSQL server binaries under ${BIN_ROOT}`);
  const root = await tempDir("arrakis-pg-");
  const data = join(root, "data");
  // PostgreSQL refuses to run as root: run its tools as the postgres user then.
  const asRoot = Deno.uid() === 0;
  if (asRoot) await new Deno.Command("chown", { args: ["postgres", root] }).output();
  const run = async (tool: string, args: string[]) => {
    const command = asRoot
      ? new Deno.Command("runuser", { args: ["-u", "postgres", "--", join(bin, tool), ...args] })
      : new Deno.Command(join(bin, tool), { args });
    const { code, stderr } = await command.output();
    if (code !== 0) throw new Error(`${tool}: ${new TextDecoder().decode(stderr)}`);
  };
  await run("initdb", ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync"]);
  const port = await freePort();
  const options = `-p ${port} -k ${root} -c listen_addresses=127.0.0.1 -c max_connections=200`;
  const start = () =>
    run("pg_ctl", ["-D", data, "-o", options, "-l", join(root, "log"), "-w", "start"]);
  await start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    stop: (mode = "immediate") => run("pg_ctl", ["-D", data, "-m", mode, "-w", "stop"]),
    start,
    async destroy() {
      await run("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]).catch(() => {});
      await Deno.remove(root, { recursive: true });
    },
  };
}
