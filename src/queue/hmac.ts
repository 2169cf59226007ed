// HMAC-SHA256 that runs synchronously, for checking spool records on the reading side: WebCrypto
// is async only, so each check was a hop to another thread and back. The hook never loads this
// (node:crypto is slow to load); it signs with WebCrypto (spool-file.ts), and tests/hmac_test.ts
// checks the two agree.
//
// Built from two SHA-256 hashes with the key's pads worked out once (RFC 2104), not createHmac:
// node:crypto's Hmac prepares the key again on every call, which cost a drain about twice the
// hashing itself (measured: docs/QUEUE.md).
import { createHash } from "node:crypto";

const BLOCK_BYTES = 64;

/**
 * A MAC function for one key: the HMAC-SHA256 of the bytes of `parts` one after the other (a
 * record's signed text is the file's bytes before its signature plus one closing brace).
 */
export function hmacSha256(key: Uint8Array): (...parts: Uint8Array[]) => Uint8Array {
  const block = new Uint8Array(BLOCK_BYTES);
  block.set(key.length > BLOCK_BYTES ? createHash("sha256").update(key).digest() : key);
  const innerPad = block.map((byte) => byte ^ 0x36);
  const outerPad = block.map((byte) => byte ^ 0x5c);
  return (...parts) => {
    const inner = createHash("sha256").update(innerPad);
    for (const part of parts) inner.update(part);
    return createHash("sha256").update(outerPad).update(inner.digest()).digest();
  };
}

/**
 * Two byte strings compared without an early exit (a MAC check must not leak where they
 * differ): every byte is looked at, whatever the first difference.
 */
export function equalInConstantTime(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let index = 0; index < a.length; index++) difference |= a[index] ^ b[index];
  return difference === 0;
}
