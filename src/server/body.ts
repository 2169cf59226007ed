// Reading a request body safely: the size limit is enforced while streaming (an oversized body
// is never held in memory), the number of JSON values is capped before parsing, then the bytes
// must be UTF-8 JSON.
import type { Context } from "hono";
import { readLimited } from "../read_limited.ts";
import { incomingOf, readIncoming } from "./incoming.ts";
import { countJsonNodes, MAX_BODY_NODES } from "./sanitize.ts";
import { errorMessage } from "../error_message.ts";

export type BodyResult =
  | { ok: true; value: unknown; bytes: number }
  | {
    ok: false;
    httpStatus: 400 | 413 | 415;
    code: string;
    message: string;
    /** The client went away mid-body: not a bad request, nothing to judge. */
    aborted?: true;
  };

function isJsonType(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const type = contentType.split(";")[0].trim().toLowerCase();
  return type === "application/json" || /^application\/[a-z0-9.+-]+\+json$/.test(type);
}

export async function readJsonBody(c: Context, maxBytes: number): Promise<BodyResult> {
  if (!isJsonType(c.req.header("content-type"))) {
    return {
      ok: false,
      httpStatus: 415,
      code: "UNSUPPORTED_MEDIA_TYPE",
      message: "Content-Type must be application/json",
    };
  }
  const encoding = c.req.header("content-encoding")?.trim().toLowerCase();
  if (encoding && encoding !== "identity") {
    return {
      ok: false,
      httpStatus: 415,
      code: "UNSUPPORTED_ENCODING",
      message: `Content-Encoding ${encoding} is not accepted; send the JSON uncompressed`,
    };
  }
  const tooLarge = {
    ok: false as const,
    httpStatus: 413 as const,
    code: "BODY_TOO_LARGE",
    message: `body larger than ${maxBytes} bytes`,
  };
  const declared = Number(c.req.header("content-length") ?? NaN);
  const incoming = incomingOf(c.env);
  if (declared > maxBytes) {
    if (incoming) incoming.destroy();
    else await c.req.raw.body?.cancel().catch(() => {});
    return tooLarge;
  }
  const body = incoming ? undefined : c.req.raw.body;
  if (!incoming && !body) {
    return { ok: false, httpStatus: 400, code: "EMPTY_BODY", message: "empty body" };
  }
  let bytes: Uint8Array;
  try {
    // Straight from node:http when the listener served the request (src/server/incoming.ts).
    const read = incoming
      ? await readIncoming(incoming, maxBytes)
      : await readLimited(body!, maxBytes);
    if (read === "too_large") return tooLarge;
    bytes = read;
  } catch (error) {
    return {
      ok: false,
      httpStatus: 400,
      code: "CLIENT_ABORTED",
      message: `the client went away before the body arrived: ${errorMessage(error)}`,
      aborted: true,
    };
  }
  const total = bytes.byteLength;
  if (total === 0) return { ok: false, httpStatus: 400, code: "EMPTY_BODY", message: "empty body" };
  if (countJsonNodes(bytes, MAX_BODY_NODES) > MAX_BODY_NODES) {
    return {
      ok: false,
      httpStatus: 413,
      code: "TOO_MANY_VALUES",
      message: `body holds more than ${MAX_BODY_NODES} JSON keys and elements`,
    };
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return { ok: false, httpStatus: 400, code: "INVALID_UTF8", message: "body is not UTF-8" };
  }
  try {
    return { ok: true, value: JSON.parse(text), bytes: total };
  } catch (error) {
    return {
      ok: false,
      httpStatus: 400,
      code: "MALFORMED_JSON",
      message: `body is not valid JSON: ${errorMessage(error)}`,
    };
  }
}
