// The synchronous SHA-256 behind the spool's directory names agrees with WebCrypto's.
import assert from "node:assert/strict";
import { sha256Hex } from "../src/sha256.ts";

Deno.test("sha256Hex equals WebCrypto's digest on block edges and non-ASCII text", async () => {
  const inputs = ["", "abc", "/home/dev/shop", "é/höme/ü/日本", "x".repeat(1000)];
  for (const length of [55, 56, 63, 64, 65, 119, 120]) inputs.push("a".repeat(length));
  for (const text of inputs) {
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
    const expected = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0"))
      .join("");
    assert.equal(sha256Hex(text), expected, `length ${text.length}`);
  }
});
