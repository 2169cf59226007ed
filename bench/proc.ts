// What processes used, read from /proc (Linux): CPU time, resident memory, time spent waiting
// for a CPU, and a meter over a set of processes plus the PostgreSQL backends serving them.
import type postgres from "postgres";

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** CPU seconds (user + system) a process has used; 0 once it has ended. */
export async function cpuSeconds(pid: number): Promise<number> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    // Fields 14 and 15, counted after the command name in parentheses (which may hold spaces).
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return 0; // a backend that ended
  }
}

/** Resident memory now and at its peak (VmHWM), in MiB. */
export async function memoryMiB(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const field = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1]);
  return { rss: field("VmRSS") / 1024, peak: field("VmHWM") / 1024 };
}

/**
 * Milliseconds a process's main thread has spent runnable but waiting for a CPU (/proc
 * schedstat), 0 where the kernel does not keep it. On a shared machine this is what the tail
 * latencies follow: a server main thread kept off the CPU holds every request in flight.
 */
export async function runQueueMs(pid: number): Promise<number> {
  try {
    const fields = (await Deno.readTextFile(`/proc/${pid}/task/${pid}/schedstat`)).split(" ");
    return Number(fields[1]) / 1e6;
  } catch {
    return 0;
  }
}

/**
 * Starts measuring the CPU of `pids` and of the PostgreSQL backends of `database` whose
 * application_name is `application` (those there now and those that connect meanwhile); the
 * function returned gives the CPU seconds they used since.
 */
export async function cpuMeter(
  admin: postgres.Sql,
  where: { database: string; application: string; pids?: number[] },
): Promise<() => Promise<number>> {
  const backends = async () =>
    (await admin<{ pid: number }[]>`SELECT pid FROM pg_stat_activity
      WHERE datname = ${where.database} AND application_name = ${where.application}`)
      .map((r) => r.pid);
  const own = where.pids ?? [];
  const before = new Map<number, number>();
  for (const pid of [...own, ...await backends()]) before.set(pid, await cpuSeconds(pid));
  return async () => {
    let total = 0;
    for (const pid of new Set([...own, ...await backends(), ...before.keys()])) {
      total += await cpuSeconds(pid) - (before.get(pid) ?? 0);
    }
    return total;
  };
}
