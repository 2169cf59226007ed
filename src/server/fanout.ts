// Live events across instances: this instance's audit events, coalesced, go out as one NOTIFY
// at most every FLUSH_MS; peers' notifications come back in as "peer-audits". A page on any
// instance so hears ingest on every instance, at a cost that does not grow with traffic.
import type { Sql } from "../store/open.ts";
import type { AuditDetail, Events, PeerAudits } from "../events.ts";

export const AUDIT_CHANNEL = "arrakis_audit";
const FLUSH_MS = 200;

export interface Fanout {
  stop(): Promise<void>;
}

/**
 * `listenSql` must reach PostgreSQL itself (LISTEN does not survive a transaction pooler);
 * NOTIFY is transactional and may go through the pooler on `sql`.
 */
export async function startFanout(
  sql: Sql,
  listenSql: Sql,
  events: Events,
  instanceId: string,
  onError: (error: unknown) => void,
): Promise<Fanout> {
  let count = 0;
  let last: AuditDetail | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let sending: Promise<unknown> = Promise.resolve();

  const flush = () => {
    timer = undefined;
    if (count === 0 || !last) return;
    const message: PeerAudits = { instanceId, count, last };
    count = 0;
    sending = sending.then(() => sql.notify(AUDIT_CHANNEL, JSON.stringify(message))).catch(
      onError,
    );
  };
  const unsubscribe = events.subscribe("audit", (detail) => {
    count++;
    last = detail;
    timer ??= setTimeout(flush, FLUSH_MS);
  });
  const listening = await listenSql.listen(AUDIT_CHANNEL, (payload) => {
    try {
      const message = JSON.parse(payload) as PeerAudits;
      if (message.instanceId !== instanceId) events.emit("peer-audits", message);
    } catch (error) {
      onError(error);
    }
  });
  return {
    async stop() {
      unsubscribe();
      if (timer !== undefined) clearTimeout(timer);
      flush();
      await sending;
      await listening.unlisten().catch(onError);
    },
  };
}
