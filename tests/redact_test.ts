import assert from "node:assert/strict";
import { createRedactor, isSecretKey, MAX_NESTING, REDACTED, storable } from "../src/redact.ts";
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
    // Code that names secrets without holding one.
    "const token = getToken();",
    "if (password == confirm) {",
    "let k = SecretKey::from(bytes);",
    "function f(apiKey: string, count: number)",
    "export GITHUB_TOKEN=$(gh auth token)",
    "const apiKey = process.env.API_KEY;",
    '"max_tokens": 4096, "token_count": 12, "input_tokens": 9',
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

Deno.test("one key list: camelCase and run-together secret names are keys, usage fields are data", () => {
  assert.deepEqual(redactor.value({ db_password: "x", credentials: "y", "x-auth-token": "z" }), {
    db_password: REDACTED,
    credentials: REDACTED,
    "x-auth-token": REDACTED,
  });
  for (
    const name of [
      "accessToken",
      "SecretAccessKey",
      "SessionToken",
      "dbPassword",
      "apiKey",
      "APIKey",
      "clientSecret",
      "PGPASSWORD",
      "MYSQL_PWD",
      "aws.secret_access_key",
      "token_value",
      "password2",
    ]
  ) assert.ok(isSecretKey(name), name);
  for (
    const name of [
      "tokens",
      "input_tokens",
      "output_tokens",
      "cache_read_input_tokens",
      "max_tokens",
      "token_count",
      "tokenCount",
      "PWD",
      "key",
      "monkey",
      "author",
      "secretary",
      "password_file",
      "AccessKeyId",
    ]
  ) assert.ok(!isSecretKey(name), name);
  // Numbers under secret-named keys are kept: only strings can hold a secret's text.
  assert.deepEqual(redactor.value({ token: 5 }), { token: 5 });
});
