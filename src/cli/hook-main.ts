// `arrakis hook` as a program of its own: the entry of the installed hook's bundle (see
// src/install/hook-bundle.ts). main.ts runs the same module for `arrakis hook` from a clone.
import { run, usage } from "./hook.ts";

if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
  console.log(usage);
  Deno.exit(0);
}
// Explicit exit, as main.ts: nothing left open keeps a finished hook up.
Deno.exit(await run(Deno.args));
