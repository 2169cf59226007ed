// The reading side's synchronous HMAC-SHA256 (src/queue/hmac.ts) against RFC 4231's vectors and
// against WebCrypto, which the hook signs with: a record the hook signs must check here.
import assert from "node:assert/strict";
import { equalInConstantTime, hmacSha256 } from "../src/queue/hmac.ts";

const hex = (bytes: ArrayBuffer | Uint8Array) =>
  Array.from(new Uint8Array(bytes), (byte) => byte.toString(16).padStart(2, "0")).join("");
const utf8 = (text: string) => new TextEncoder().encode(text);
/** The MAC of `text`'s UTF-8 bytes as hex, the way the tests compare it. */
const hmacHex = (key: Uint8Array) => (text: string) => hex(hmacSha256(key)(utf8(text)));

Deno.test("RFC 4231 test cases 1, 2 and 6 (a key longer than the block)", () => {
  assert.equal(
    hmacHex(new Uint8Array(20).fill(0x0b))("Hi There"),
    "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
  );
  assert.equal(
    hmacHex(new TextEncoder().encode("Jefe"))("what do ya want for nothing?"),
    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
  );
  assert.equal(
    hmacHex(new Uint8Array(131).fill(0xaa))(
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
    assert.equal(hmacHex(raw)(text), expected);
  }
});

Deno.test("a MAC over parts is the MAC of their concatenation", () => {
  const key = crypto.getRandomValues(new Uint8Array(32));
  const mac = hmacSha256(key);
  const text = '{"version":1,"envelope":{"message":"ünïcödé"}}';
  const bytes = utf8(text);
  assert.equal(hex(mac(bytes.subarray(0, 10), bytes.subarray(10))), hex(mac(bytes)));
  assert.equal(hex(mac(bytes.subarray(0, -1), utf8("}"))), hex(mac(bytes)));
  // The same key keeps giving the same MAC.
  assert.equal(hex(mac(bytes)), hex(mac(bytes)));
  assert.notEqual(hex(mac(bytes.subarray(1))), hex(mac(bytes)));
});

Deno.test("equalInConstantTime is equality", () => {
  const a = utf8("0123456789abcdef".repeat(2));
  const changed = (index: number) => a.map((byte, at) => at === index ? byte ^ 1 : byte);
  assert.equal(equalInConstantTime(a, a.slice()), true);
  assert.equal(equalInConstantTime(a, changed(a.length - 1)), false);
  assert.equal(equalInConstantTime(a, changed(0)), false);
  assert.equal(equalInConstantTime(a, a.subarray(1)), false);
  assert.equal(equalInConstantTime(new Uint8Array(0), new Uint8Array(0)), true);
});
