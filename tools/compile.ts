// `deno task compile`: the single-binary build. deno compile fetches its runtime (denort) from
// the internet the first time; where that cannot be reached, say so in one line instead of
// Deno's error chain and backtrace, and point at the self-contained install.
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { PERMISSIONS } from "../src/permissions.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { output: { type: "string", default: "dist/arrakis" } },
});
const root = fileURLToPath(new URL("..", import.meta.url));
const args = [
  "compile",
  "--quiet",
  ...PERMISSIONS,
  "--include",
  `${root}migrations`,
  // Read as a file at run time (src/store/base.ts), like the migrations.
  "--include",
  `${root}data/store-base`,
  // A Worker's module is loaded by URL at run time: the compiler cannot see it by itself.
  "--include",
  `${root}src/store/initdb_worker.ts`,
  "--output",
  values.output!,
  `${root}main.ts`,
];
const { code, stderr } = await new Deno.Command(Deno.execPath(), {
  args,
  env: { NO_COLOR: "1" },
  stdout: "inherit",
  stderr: "piped",
}).output();
if (code === 0) {
  console.log(`compiled ${values.output}`);
  Deno.exit(0);
}
const text = new TextDecoder().decode(stderr);
if (/denort|Setting up base binary|error sending request|dns error/i.test(text)) {
  console.error(
    "arrakis compile: deno compile needs its runtime (denort) from the internet, which this machine cannot reach; use 'deno task install' (a self-contained copy run by this deno) instead",
  );
} else {
  console.error(`arrakis compile: ${text.split("\n").find((line) => line.trim()) ?? "failed"}`);
}
Deno.exit(1);
