// HMAC-SHA256 (RFC 2104) that runs synchronously, for checking spool records on the reading
// side: WebCrypto is async only, so each check was a hop to another thread and back, and
// node:crypto's createHmac costs 7-11 µs a call in Deno against 4.4 µs for the two plain hashes
// it stands for (measured, 1.5 KB records). The hook never loads this (node:crypto is slow to
// load); it signs with WebCrypto (spool-file.ts), and tests/hmac_test.ts checks the two agree.
import { createHash } from "node:crypto";

const BLOCK_BYTES = 64;

/** A MAC function for one key: the HMAC-SHA256 of a string's UTF-8 bytes, as 64 hex digits. */
export function hmacSha256Hex(key: Uint8Array): (text: string) => string {
  const block = key.length > BLOCK_BYTES ? createHash("sha256").update(key).digest() : key;
  const inner = new Uint8Array(BLOCK_BYTES);
  const outer = new Uint8Array(BLOCK_BYTES);
  for (let index = 0; index < BLOCK_BYTES; index++) {
    const byte = block[index] ?? 0;
    inner[index] = byte ^ 0x36;
    outer[index] = byte ^ 0x5c;
  }
  return (text) => {
    const digest = createHash("sha256").update(inner).update(text, "utf8").digest();
    return createHash("sha256").update(outer).update(digest).digest("hex");
  };
}

/** Two strings of equal length compared without an early exit (a MAC check must not leak). */
export function equalInConstantTime(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let index = 0; index < a.length; index++) {
    difference |= a.charCodeAt(index) ^ b.charCodeAt(index);
  }
  return difference === 0;
}
