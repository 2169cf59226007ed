// Writing the app's fetch Response to node:http's ServerResponse. @hono/node-server reads
// every body it did not build itself (ours: Hono makes Deno's own Response objects, since the
// listener does not replace the global Response) through a web ReadableStream and its reader,
// a few promise turns per answer; a body that is already whole in memory needs none of that.
import type { ServerResponse } from "node:http";
import { RESPONSE_ALREADY_SENT } from "@hono/node-server/utils/response";

const NO_BODY = new Set([101, 103, 204, 304]);

/**
 * A response is streamed as it is produced when it says Transfer-Encoding: chunked, as Hono's
 * streaming helpers (stream, streamText, streamSSE: the live feed) all do; every other body the
 * app makes is a string or bytes it already holds.
 */
const CHUNKED = /chunked/i;

/**
 * Writes a whole-bodied response itself and returns the marker that tells @hono/node-server it
 * was sent; a streamed one is returned for @hono/node-server to stream (with its backpressure
 * and abort handling).
 */
export async function answer(response: Response, outgoing: ServerResponse): Promise<Response> {
  // One pass over the headers (each Headers lookup or iteration sorts and copies its list).
  const headers: Record<string, string | string[]> = {};
  const cookies: string[] = [];
  for (const [name, value] of response.headers) {
    if (name === "set-cookie") cookies.push(value);
    else if (name === "transfer-encoding" && CHUNKED.test(value)) return response;
    else headers[name] = value;
  }
  if (cookies.length > 0) headers["set-cookie"] = cookies;
  // arrayBuffer() of a string or bytes body copies it out directly, with no stream made.
  const body = new Uint8Array(await response.arrayBuffer());
  // No length on answers that carry no body (node:http drops a body given to them).
  if (!NO_BODY.has(response.status)) headers["content-length"] ??= String(body.byteLength);
  outgoing.writeHead(response.status, headers);
  outgoing.end(body);
  return RESPONSE_ALREADY_SENT;
}
