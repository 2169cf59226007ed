// HMAC-SHA256 that runs synchronously, for checking spool records on the reading side: WebCrypto
// is async only, so each check was a hop to another thread and back. The hook never loads this
// (node:crypto is slow to load); it signs with WebCrypto (spool-file.ts), and tests/hmac_test.ts
// checks the two agree.
//
// node:crypto's own HMAC and constant-time compare, not hand-made ones: an HMAC built from two
// SHA-256 hashes with the key's pads worked out once measured 8.3-9.5 µs per 1.3 KB record
// against createHmac's 10.8-11.1, which is not worth owning crypto code for.
import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * A MAC function for one key: the HMAC-SHA256 of the bytes of `parts` one after the other (a
 * record's signed text is the file's bytes before its signature plus one closing brace).
 */
export function hmacSha256(key: Uint8Array): (...parts: Uint8Array[]) => Uint8Array {
  return (...parts) => {
    const mac = createHmac("sha256", key);
    for (const part of parts) mac.update(part);
    return mac.digest();
  };
}

/** Two byte strings compared without an early exit (a MAC check must not leak where they differ). */
export function equalInConstantTime(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
