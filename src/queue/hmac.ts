// HMAC-SHA256 that runs synchronously, for checking spool records on the reading side: WebCrypto
// is async only, so each check was a hop to another thread and back. The hook never loads this
// (node:crypto is slow to load); it signs with WebCrypto (spool-file.ts), and tests/hmac_test.ts
// checks the two agree.
import { Buffer } from "node:buffer";
import { createHmac, timingSafeEqual } from "node:crypto";

/** A MAC function for one key: the HMAC-SHA256 of a string's UTF-8 bytes, as 64 hex digits. */
export function hmacSha256Hex(key: Uint8Array): (text: string) => string {
  return (text) => createHmac("sha256", key).update(text, "utf8").digest("hex");
}

/** Two strings compared without an early exit (a MAC check must not leak where they differ). */
export function equalInConstantTime(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
