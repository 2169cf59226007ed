// Server-Sent Events of the live audit trail, for the dashboard's pages and GET /api/stream:
// the listener hears "something changed" (coalesced to at most a few messages a second,
// however busy ingest is on this instance and its peers) and re-fetches what it shows.
import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import type { AuditDetail, Events } from "./events.ts";

const PING_MS = 15_000;
const MIN_GAP_MS = 250;
/**
 * Browsers reconnect by themselves (and the page re-fetches on reconnect), so a short lifetime
 * costs nothing and bounds how long an open tab can hold up a graceful shutdown that did not
 * emit "shutdown".
 */
const MAX_LIFETIME_MS = 30_000;

export function auditStream(c: Context, events: Events): Response {
  return streamSSE(c, async (stream) => {
    let pending = 0;
    let last: AuditDetail | undefined;
    let closed = false;
    let wake: (() => void) | undefined;
    const heard = (count: number, detail: AuditDetail) => {
      pending += count;
      last = detail;
      wake?.();
    };
    const close = () => {
      closed = true;
      wake?.();
    };
    const unsubscribe = [
      events.subscribe("audit", (detail) => heard(1, detail)),
      events.subscribe("peer-audits", (peer) => heard(peer.count, peer.last)),
      events.subscribe("shutdown", close),
    ];
    stream.onAbort(close);
    const deadline = setTimeout(close, MAX_LIFETIME_MS);
    try {
      await stream.writeSSE({ event: "hello", data: "{}", retry: 2_000 });
      while (!closed) {
        if (pending === 0) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, PING_MS);
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          wake = undefined;
        }
        if (closed) break;
        if (pending > 0) {
          const count = pending;
          pending = 0;
          await stream.writeSSE({
            event: "audit",
            data: JSON.stringify({
              count,
              last: last && {
                id: last.id,
                event: last.event,
                status: last.status,
                sessionId: last.sessionId,
              },
            }),
          });
          await stream.sleep(MIN_GAP_MS);
        } else {
          await stream.writeSSE({ event: "ping", data: "" });
        }
      }
    } finally {
      clearTimeout(deadline);
      for (const off of unsubscribe) off();
    }
  });
}
