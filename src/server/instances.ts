// This process among the instances sharing one PostgreSQL: its row, its heartbeat, and the
// periodic sweep of rows left unfinished by peers that stopped beating.
import type { Sql } from "../store/open.ts";
import { sweepStale } from "./audit.ts";

/** A peer silent for this many heartbeats is gone: its unfinished rows are closed. */
export const STALE_HEARTBEATS = 3;

export async function registerInstance(sql: Sql, id: string): Promise<void> {
  await sql`
    INSERT INTO instances (id, host, pid) VALUES (${id}, ${Deno.hostname()}, ${Deno.pid})
    ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(), stopped_at = NULL`;
}

export interface Heartbeat {
  stop(): Promise<void>;
}

/**
 * Beats every `intervalMs`; while `leading()` also sweeps the rows of gone peers (a killed
 * instance's rows wait at most a few heartbeats, not for some restart). `stop` marks the row
 * stopped, so peers sweep nothing of ours and need not wait for the heartbeat to age.
 */
export function startHeartbeat(
  sql: Sql,
  id: string,
  intervalMs: number,
  leading: () => Promise<boolean>,
  onSwept: (count: number) => void,
  onError: (error: unknown) => void,
): Heartbeat {
  let running: Promise<unknown> = Promise.resolve();
  const beat = async () => {
    await sql`UPDATE instances SET heartbeat_at = now() WHERE id = ${id}`;
    if (await leading()) {
      const swept = await sweepStale(sql, {
        instanceId: id,
        staleMs: intervalMs * STALE_HEARTBEATS,
      });
      if (swept > 0) onSwept(swept);
    }
  };
  const timer = setInterval(() => {
    running = running.then(beat).catch(onError);
  }, intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      await running;
      await sql`UPDATE instances SET stopped_at = now() WHERE id = ${id}`.catch(onError);
    },
  };
}
