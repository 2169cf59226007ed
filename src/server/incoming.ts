// Reading a request body straight from node:http's IncomingMessage (what the listener hands
// Hono), up to a byte limit. Going through Hono's Request instead builds a whole fetch Request
// (headers converted again) and a web stream over the node stream, per request: measured, that
// was most of what reading a body cost the server.
import type { IncomingMessage } from "node:http";
import { joinChunks } from "../read_limited.ts";

/** The node:http request under a Hono context, when the listener served it. */
export function incomingOf(env: unknown): IncomingMessage | undefined {
  const incoming = (env as { incoming?: IncomingMessage } | undefined)?.incoming;
  return typeof incoming?.on === "function" ? incoming : undefined;
}

/**
 * The whole body, or "too_large" as soon as it passes maxBytes (the request is then destroyed:
 * the listener answers first, then closes). Rejects when the client goes away mid-body.
 */
export function readIncoming(
  incoming: IncomingMessage,
  maxBytes: number,
): Promise<Uint8Array | "too_large"> {
  if (incoming.destroyed) {
    // The connection closed before the handler read the body: what arrived is still buffered,
    // and it is the whole body only when the request was complete.
    if (!incoming.complete) {
      return Promise.reject(new Error("the connection closed before the body ended"));
    }
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (let chunk; (chunk = incoming.read()) !== null;) {
      chunks.push(chunk);
      total += chunk.byteLength;
    }
    return Promise.resolve(total > maxBytes ? "too_large" : joinChunks(chunks, total));
  }
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    let total = 0;
    const settle = (then: () => void) => {
      incoming.off("data", onData);
      incoming.off("end", onEnd);
      incoming.off("error", onError);
      incoming.off("close", onClose);
      then();
    };
    const onData = (chunk: Uint8Array) => {
      total += chunk.byteLength;
      if (total <= maxBytes) chunks.push(chunk);
      else {
        settle(() => resolve("too_large"));
        incoming.destroy();
      }
    };
    const onEnd = () => settle(() => resolve(joinChunks(chunks, total)));
    const onError = (error: Error) => settle(() => reject(error));
    const onClose = () =>
      settle(() => reject(new Error("the connection closed before the body ended")));
    incoming.on("data", onData);
    incoming.on("end", onEnd);
    incoming.on("error", onError);
    incoming.on("close", onClose);
  });
}
