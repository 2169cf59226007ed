// Writing the app's fetch Response to node:http's ServerResponse. @hono/node-server reads
// every body it did not build itself (ours: Hono makes Deno's own Response objects, since the
// listener does not replace the global Response) through a web ReadableStream and its reader,
// a few promise turns per answer; a body that is already whole in memory needs none of that.
import type { ServerResponse } from "node:http";
import { RESPONSE_ALREADY_SENT } from "@hono/node-server/utils/response";

const NO_BODY = new Set([101, 103, 204, 304]);

/**
 * Whether a response must be streamed as it is produced. Hono's streaming helpers (stream,
 * streamText, streamSSE: the live feed) all say Transfer-Encoding: chunked; every other body
 * the app makes is a string or bytes it already holds.
 */
function streams(response: Response): boolean {
  return response.headers.get("transfer-encoding")?.toLowerCase().includes("chunked") ?? false;
}

/**
 * Writes a whole-bodied response itself and returns the marker that tells @hono/node-server
 * it was sent; a streamed one is returned for @hono/node-server to stream (with its
 * backpressure and abort handling).
 */
export async function answer(response: Response, outgoing: ServerResponse): Promise<Response> {
  if (streams(response)) return response;
  // arrayBuffer() of a string or bytes body copies it out directly, with no stream made.
  const body = new Uint8Array(await response.arrayBuffer());
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of response.headers) {
    if (name !== "set-cookie") headers[name] = value;
  }
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) headers["set-cookie"] = cookies;
  // No length on answers that carry no body (node:http drops a body given to them).
  if (!NO_BODY.has(response.status)) headers["content-length"] ??= String(body.byteLength);
  outgoing.writeHead(response.status, headers);
  outgoing.end(body);
  return RESPONSE_ALREADY_SENT;
}
