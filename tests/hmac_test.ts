// The reading side's synchronous HMAC-SHA256 (src/queue/hmac.ts) against RFC 4231's vectors and
// against WebCrypto, which the hook signs with: a record the hook signs must check here.
import assert from "node:assert/strict";
import { equalInConstantTime, hmacSha256Hex } from "../src/queue/hmac.ts";

const hex = (bytes: ArrayBuffer) =>
  Array.from(new Uint8Array(bytes), (byte) => byte.toString(16).padStart(2, "0")).join("");

Deno.test("RFC 4231 test cases 1, 2 and 6 (a key longer than the block)", () => {
  assert.equal(
    hmacSha256Hex(new Uint8Array(20).fill(0x0b))("Hi There"),
    "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
  );
  assert.equal(
    hmacSha256Hex(new TextEncoder().encode("Jefe"))("what do ya want for nothing?"),
    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
  );
  assert.equal(
    hmacSha256Hex(new Uint8Array(131).fill(0xaa))(
      "Test Using Larger Than Block-Size Key - Hash Key First",
    ),
    "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
  );
});

Deno.test("agrees with WebCrypto on random keys and texts, non-ASCII included", async () => {
  const texts = ["", "{}", '{"message":"ünïcödé ✓ 😀"}', "x".repeat(100_000)];
  for (let round = 0; round < 20; round++) {
    texts.push(
      JSON.stringify({ round, bytes: Array.from(crypto.getRandomValues(new Uint8Array(97))) }),
    );
  }
  for (const text of texts) {
    const raw = crypto.getRandomValues(new Uint8Array(32));
    const key = await crypto.subtle.importKey(
      "raw",
      raw,
      { name: "HMAC", hash: "SHA-256" },
      false,
      [
        "sign",
      ],
    );
    const expected = hex(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(text)));
    assert.equal(hmacSha256Hex(raw)(text), expected);
  }
});

Deno.test("equalInConstantTime is equality", () => {
  const a = "0123456789abcdef".repeat(4);
  assert.equal(equalInConstantTime(a, a.slice()), true);
  assert.equal(equalInConstantTime(a, a.slice(0, -1) + "0"), false);
  assert.equal(equalInConstantTime(a, "1" + a.slice(1)), false);
  assert.equal(equalInConstantTime(a, a.slice(1)), false);
});
