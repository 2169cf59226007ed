// The live events every part of arrakis shares: their names, payload types, emit and subscribe.
// The ingest path emits, the dashboard, /api/stream and the cross-instance fan-out listen;
// none of them imports another to do so.

/** One final audit status written by this process. */
export interface AuditDetail {
  id: number;
  requestId: string | null;
  traceId: string | null;
  event: string | null;
  sessionId: string | null;
  status: string;
  httpStatus: number;
  processingMs: number;
}

/** Final statuses another instance wrote, coalesced: how many and the latest. */
export interface PeerAudits {
  instanceId: string;
  count: number;
  last: AuditDetail;
}

export interface EventMap {
  /** A final audit status written here (one per request or batch item). */
  audit: AuditDetail;
  /** Final audit statuses written by other instances on the same database. */
  "peer-audits": PeerAudits;
  /** The server is stopping: open streams end so the graceful shutdown can finish. */
  shutdown: Record<string, never>;
}

export type EventName = keyof EventMap;

export interface Events {
  emit<K extends EventName>(name: K, detail: EventMap[K]): void;
  /** Calls `listener` for every later `name` event; returns the unsubscribe function. */
  subscribe<K extends EventName>(name: K, listener: (detail: EventMap[K]) => void): () => void;
}

/** Synchronous in-process delivery; a throwing listener never reaches the emitter. */
export function createEvents(onListenerError: (error: unknown) => void = () => {}): Events {
  const listeners = new Map<EventName, Set<(detail: never) => void>>();
  return {
    emit(name, detail) {
      for (const listener of listeners.get(name) ?? []) {
        try {
          (listener as (value: unknown) => void)(detail);
        } catch (error) {
          onListenerError(error);
        }
      }
    },
    subscribe(name, listener) {
      let set = listeners.get(name);
      if (!set) listeners.set(name, set = new Set());
      set.add(listener);
      return () => set.delete(listener);
    },
  };
}
