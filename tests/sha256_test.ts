// The synchronous SHA-256s agree with WebCrypto's: the hook's own (the spool's directory names)
// and the server's copies of one node:crypto hash (src/digest.ts).
import assert from "node:assert/strict";
import { sha256Hex } from "../src/sha256.ts";
import { sha256Of } from "../src/digest.ts";

async function webCryptoHex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("sha256Hex equals WebCrypto's digest on block edges and non-ASCII text", async () => {
  const inputs = ["", "abc", "/home/dev/shop", "é/höme/ü/日本", "x".repeat(1000)];
  for (const length of [55, 56, 63, 64, 65, 119, 120]) inputs.push("a".repeat(length));
  for (const text of inputs) {
    assert.equal(sha256Hex(text), await webCryptoHex(text), `length ${text.length}`);
  }
});

Deno.test("sha256Of: each hash starts fresh, however many came before, as text or bytes", async () => {
  const inputs = ["", "abc", "é/höme/ü/日本", "x".repeat(1000), "abc"];
  for (const text of inputs) {
    const expected = await webCryptoHex(text);
    assert.equal(sha256Of(text).digest("hex"), expected, `text of length ${text.length}`);
    assert.equal(
      Buffer.from(sha256Of(new TextEncoder().encode(text)).digest()).toString("hex"),
      expected,
      `bytes of length ${text.length}`,
    );
  }
});
