// HMAC-SHA256 that runs synchronously, for checking spool records on the reading side: WebCrypto
// is async only, so each check was a hop to another thread and back. The hook never loads this
// (node:crypto is slow to load); it signs with WebCrypto (spool-file.ts), and tests/hmac_test.ts
// checks the two agree and holds RFC 4231's vectors.
//
// RFC 2104's construction over node:crypto's SHA-256, with the two padded key blocks hashed once
// per key and each check starting from copies of those states: a createHmac per record set the key
// up again every time, 9.7 against 6.0 µs per 1.3 KB record in a loop (2026-12-03, AMD EPYC VM),
// and 23 against 8 µs inside a drain's claim loop, the heaviest step of the claim.
import { type Hash, timingSafeEqual } from "node:crypto";
import { sha256Of } from "../digest.ts";

const BLOCK_BYTES = 64;

/**
 * A MAC function for one key: the HMAC-SHA256 of the bytes of `parts` one after the other (a
 * record's signed text is the file's bytes before its signature plus one closing brace).
 */
export function hmacSha256(key: Uint8Array): (...parts: Uint8Array[]) => Uint8Array {
  const block = new Uint8Array(BLOCK_BYTES);
  block.set(key.length > BLOCK_BYTES ? sha256Of(key).digest() : key);
  const padded = (pad: number): Hash => sha256Of(block.map((byte) => byte ^ pad));
  const inner = padded(0x36);
  const outer = padded(0x5c);
  return (...parts) => {
    const hash = inner.copy();
    for (const part of parts) hash.update(part);
    return outer.copy().update(hash.digest()).digest();
  };
}

/** Two byte strings compared without an early exit (a MAC check must not leak where they differ). */
export function equalInConstantTime(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
