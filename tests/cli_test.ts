import assert from "node:assert/strict";
import { runArrakis } from "./helpers/cli.ts";

Deno.test("arrakis --help lists every command", async () => {
  const result = await runArrakis(["--help"]);
  assert.equal(result.code, 0);
  for (const command of ["hook", "serve", "migrate", "queue", "install"]) {
    assert.match(result.stdout, new RegExp(`^  ${command} `, "m"));
  }
});

Deno.test("every command has --help", async () => {
  for (const command of ["hook", "serve", "migrate", "queue", "install"]) {
    const result = await runArrakis([command, "--help"]);
    assert.equal(result.code, 0, command);
    assert.match(result.stdout, /Usage: arrakis/, command);
  }
});

Deno.test("an unknown command is one line naming it, exit 2", async () => {
  const result = await runArrakis(["frobnicate"]);
  assert.equal(result.code, 2);
  assert.equal(
    result.stderr.trim(),
    "arrakis: unknown command 'frobnicate' (see 'arrakis --help')",
  );
});

Deno.test("an unknown flag is one line naming it, exit 2", async () => {
  const result = await runArrakis(["migrate", "--frobnicate"]);
  assert.equal(result.code, 2);
  assert.match(result.stderr.trim(), /^arrakis: migrate: .*'--frobnicate'/);
  assert.equal(result.stderr.trim().split("\n").length, 1);
});
