// The connection cap the open-file limit allows. Deno itself raises the soft limit to the hard
// one at start (checked: under `ulimit -Sn 256` a Deno process runs with the hard limit), so
// only the hard limit, which the service manager sets (LimitNOFILE=, `ulimit -Hn`), bounds it.

/** Descriptors kept back beyond those open at start: store pool growth, log files, spare. */
const SPARE_FILES = 128;
const MIN_CONNECTIONS = 16;
const MAX_DEFAULT_CONNECTIONS = 10_000;

/**
 * The soft open-file limit and the descriptors open now. Deno refuses /proc/<pid> without
 * --allow-all, so a child reads them: the deno binary itself (the one program the installed
 * launcher may run), whose `eval` has every permission. Undefined without --allow-run or /proc.
 */
async function fileUsage(): Promise<{ limit: number; open: number } | undefined> {
  const read = `
    const pid = ${Deno.pid};
    const soft = /^Max open files\\s+(\\S+)/m.exec(Deno.readTextFileSync("/proc/" + pid + "/limits"))[1];
    console.log(soft, [...Deno.readDirSync("/proc/" + pid + "/fd")].length);`;
  try {
    const { code, stdout } = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--quiet", read],
      stdout: "piped",
      stderr: "null",
      env: { NO_COLOR: "1" },
    }).output();
    const [limit, open] = new TextDecoder().decode(stdout).trim().split(/\s+/);
    if (code !== 0 || open === undefined) return undefined;
    return { limit: limit === "unlimited" ? Number.MAX_SAFE_INTEGER : Number(limit), open: +open };
  } catch {
    return undefined;
  }
}

/**
 * The connection cap when ARRAKIS_MAX_CONNECTIONS is not set: what is left of the file limit
 * once the descriptors open now (store, logs, runtime) and a spare are kept back.
 */
export async function defaultMaxConnections(): Promise<number> {
  const usage = await fileUsage();
  if (usage === undefined || !(usage.limit > 0)) return 1_024;
  const left = usage.limit - usage.open - SPARE_FILES;
  return Math.max(MIN_CONNECTIONS, Math.min(MAX_DEFAULT_CONNECTIONS, left));
}
