// Server-Sent Events for the live pages: the browser hears "something changed" (coalesced to
// at most a few messages a second, however busy ingest is) and re-fetches its fragment.
import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import type { AuditDetail } from "./deps.ts";

/** Dispatch this on the server's `events` target before shutting down: open streams end. */
export const SHUTDOWN_EVENT = "shutdown";

const PING_MS = 15_000;
const MIN_GAP_MS = 250;
/**
 * Browsers reconnect by themselves (and the page re-fetches on reconnect), so a short lifetime
 * costs nothing and bounds how long an open tab can hold up a graceful shutdown that did not
 * dispatch SHUTDOWN_EVENT.
 */
const MAX_LIFETIME_MS = 30_000;

export function auditStream(c: Context, events: EventTarget): Response {
  return streamSSE(c, async (stream) => {
    let pending = 0;
    let last: AuditDetail | undefined;
    let closed = false;
    let wake: (() => void) | undefined;
    const onAudit = (event: Event) => {
      pending++;
      last = (event as CustomEvent<AuditDetail>).detail;
      wake?.();
    };
    const close = () => {
      closed = true;
      wake?.();
    };
    events.addEventListener("audit", onAudit);
    events.addEventListener(SHUTDOWN_EVENT, close);
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
      events.removeEventListener("audit", onAudit);
      events.removeEventListener(SHUTDOWN_EVENT, close);
    }
  });
}
