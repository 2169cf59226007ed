// The dashboard's form posts, read with a byte limit: a sign-in form is a key and a path, a
// reprocess form a list of row ids; anything larger is refused before it is held in memory.
import type { Context } from "hono";
import { readLimited } from "../read_limited.ts";

/** Enough for a 1,024-character key and a 2,000-character `next`, URL-encoded. */
export const LOGIN_FORM_MAX_BYTES = 16 * 1024;
/** Enough for a page of ticked row ids. */
export const REPROCESS_FORM_MAX_BYTES = 64 * 1024;

/** The form's fields (repeated names kept in order), or undefined past maxBytes. */
export async function readForm(
  c: Context,
  maxBytes: number,
): Promise<URLSearchParams | undefined> {
  if (Number(c.req.header("content-length") ?? 0) > maxBytes) {
    await c.req.raw.body?.cancel().catch(() => {});
    return undefined;
  }
  const body = await readLimited(c.req.raw.body, maxBytes).catch(() => "too_large" as const);
  if (body === "too_large") return undefined;
  return new URLSearchParams(new TextDecoder().decode(body));
}
