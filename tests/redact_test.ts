import assert from "node:assert/strict";
import { createRedactor, MAX_NESTING, REDACTED, storable } from "../src/redact.ts";
import { findUnstorable } from "../src/server/sanitize.ts";

const redactor = createRedactor();

const SECRETS: [string, string][] = [
  ["bearer header", "curl -H 'Authorization: Bearer abcdefghijklmnop123' https://api"],
  ["basic header", "Authorization: Basic dXNlcjpwYXNzd29yZA=="],
  ["bare bearer", "token is Bearer eyabcdefghijklmnopq"],
  ["anthropic", "ANTHROPIC=sk-ant-api03-abcdefghijklmnopqrstuvwxyz_0123"],
  ["openai", "key sk-proj-abcdefghijklmnopqrstuvwxyz0123"],
  ["stripe", "sk_live_abcdefghijklmnop1234"],
  ["github classic", "ghp_abcdefghijklmnopqrstuvwxyz0123456789"],
  ["github oauth", "gho_abcdefghijklmnopqrstuvwxyz0123456789"],
  ["github fine-grained", "github_pat_11ABCDEFG0abcdefghijklmnopqrstuvwxyz"],
  ["slack bot", "xoxb-123456789012-abcdefghijkl"],
  ["slack user", "xoxp-123456789012-abcdefghijkl"],
  ["aws", "aws AKIAIOSFODNN7EXAMPLE here"],
  ["google", "AIzaSyA-abcdefghijklmnopqrstuvwxyz01234"],
  [
    "jwt",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
  ],
  [
    "private key",
    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\nAAAA\n-----END OPENSSH PRIVATE KEY-----",
  ],
  ["password pair", "mysql -u root password=hunter2222"],
  ["secret yaml", "client_secret: 'abc123xyz789'"],
  ["token env", "GITLAB_TOKEN=zzzzzzzzzzzz"],
  ["url credentials", "postgres://app:s3cr3tpw@db.internal/app"],
];

Deno.test("redaction removes every known secret shape and is idempotent", () => {
  for (const [name, text] of SECRETS) {
    const out = redactor.string(text);
    assert.ok(out.includes(REDACTED), `${name}: ${out}`);
    assert.equal(redactor.string(out), out, `${name}: not idempotent`);
  }
  assert.equal(redactor.string("sk-ant-api03-abcdefghijklmnopqrstuvwxyz_0123"), REDACTED);
  const pair = redactor.string("password=hunter2222 and more");
  assert.equal(pair, `password=${REDACTED} and more`);
});

Deno.test("redaction leaves ordinary text, ids and token counts alone", () => {
  const plain = [
    "npm test -- cart",
    "disk-abcdefghijklmnopqrstuvwxyz is a slug",
    "max_tokens: 4096, author: John",
    "toolu_01AbCdEf msg_01A req_011A 6f1c2a9e-3b7d-4e25-9a41-0c8d5e7f1b23",
    "http://localhost:8080/a@b",
  ];
  for (const text of plain) assert.equal(redactor.string(text), text);
  const usage = { input_tokens: 1200, output_tokens: 85, cache_read_input_tokens: 9000 };
  assert.deepEqual(redactor.value({ usage }), { usage });
});

Deno.test("secret-named keys are redacted whatever their value looks like", () => {
  const out = redactor.value({
    tool_input: { headers: { Authorization: "x", "X-Api-Key": "k", Cookie: "c=1" } },
    password: "p",
    token: "t",
    nested: [{ access_token: "a", refresh_token: "r", count: 3 }],
  });
  assert.deepEqual(out, {
    tool_input: { headers: { Authorization: REDACTED, "X-Api-Key": REDACTED, Cookie: REDACTED } },
    password: REDACTED,
    token: REDACTED,
    nested: [{ access_token: REDACTED, refresh_token: REDACTED, count: 3 }],
  });
});

Deno.test("configured patterns are applied too", () => {
  const custom = createRedactor([/ACME-[0-9]{6}/g, new RegExp("internal\\.example\\.com")]);
  assert.equal(
    custom.string("ticket ACME-123456 on internal.example.com"),
    `ticket ${REDACTED} on ${REDACTED}`,
  );
});

Deno.test("strings PostgreSQL cannot store become storable; the server accepts the result", () => {
  assert.equal(storable("a\u0000b"), "a\uFFFDb");
  assert.equal(storable("x\ud800y"), "x\uFFFDy");
  assert.equal(storable("ok 😀"), "ok 😀");
  let deep: unknown = "bottom";
  for (let i = 0; i < 200; i++) deep = { next: deep };
  const value = redactor.value({
    text: "nul\u0000 lone\udc00",
    ["key\u0000"]: ["\ud83d"],
    deep,
  });
  const envelopeLike = { payload: value, transcript: [value] };
  assert.equal(findUnstorable(envelopeLike), undefined);
  assert.ok(MAX_NESTING < 62);
});
