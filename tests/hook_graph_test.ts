// What `arrakis hook` loads: its module graph, as Deno resolves it, holds no npm: module (no
// zod, LogTape or postgres.js on the path every tool call pays for).
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { CONFIG, MAIN } from "./helpers/cli.ts";

interface InfoDependency {
  specifier: string;
  code?: { specifier?: string };
  isDynamic?: boolean;
}
interface InfoModule {
  specifier: string;
  dependencies?: InfoDependency[];
}

const HOOK_ENTRY = new URL("../src/cli/hook.ts", import.meta.url).href;

/**
 * Modules that run for `arrakis hook`: main.ts's static imports, then everything the hook's
 * command module loads, statically or dynamically. Type-only imports (erased) are not followed.
 */
function runtimeGraph(modules: Map<string, InfoModule>): Set<string> {
  const seen = new Set<string>();
  const visit = (specifier: string, staticOnly: boolean) => {
    if (seen.has(specifier)) return;
    seen.add(specifier);
    for (const dependency of modules.get(specifier)?.dependencies ?? []) {
      const target = dependency.code?.specifier;
      if (target === undefined || (staticOnly && dependency.isDynamic)) continue;
      visit(target, staticOnly);
    }
  };
  visit(new URL(`file://${MAIN}`).href, true);
  visit(HOOK_ENTRY, false);
  return seen;
}

Deno.test("the hook's module graph has no npm: module, and a run loads no node: module", async () => {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "--config", CONFIG, MAIN],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  const info = JSON.parse(new TextDecoder().decode(stdout)) as { modules: InfoModule[] };
  const modules = new Map(info.modules.map((module) => [module.specifier, module]));
  const graph = runtimeGraph(modules);
  // The walk really covered the hook: its capture module and the spool writer are in it.
  for (const path of ["../src/hook/capture.ts", "../src/queue/spool-file.ts"]) {
    assert.ok(graph.has(new URL(path, import.meta.url).href), path);
  }
  const npm = [...graph].filter((specifier) => specifier.startsWith("npm:"));
  assert.deepEqual(npm, [], `npm modules on the hook path: ${npm.join(", ")}`);
  // And the rest of arrakis does use npm (the walk would see it if the hook reached it).
  assert.ok(info.modules.some((module) => module.specifier.startsWith("npm:")));
  // Nor does a run load a node: module (Deno's Node layer costs ~6 ms to start): the modules
  // every run loads, statically from the entry points the hook always passes, hold none. (The
  // dynamic ones left out: node:path on Windows only, and the shipper spawner.)
  const always = new Set<string>();
  const visitStatic = (specifier: string) => {
    if (always.has(specifier)) return;
    always.add(specifier);
    for (const dependency of modules.get(specifier)?.dependencies ?? []) {
      if (dependency.code?.specifier && !dependency.isDynamic) {
        visitStatic(dependency.code.specifier);
      }
    }
  };
  for (
    const entry of [
      "../main.ts",
      "../src/cli/hook.ts",
      "../src/hook/capture.ts",
      "../src/hook/attach-transcript.ts",
    ]
  ) {
    visitStatic(new URL(entry, import.meta.url).href);
  }
  const node = [...always].filter((specifier) => specifier.startsWith("node:"));
  assert.deepEqual(node, [], `node: modules every hook run loads: ${node.join(", ")}`);
  const files = [...graph].filter((specifier) => specifier.startsWith("file:"))
    .map((specifier) => fileURLToPath(specifier));
  assert.ok(!files.some((file) => file.endsWith("/src/schema.ts")), "schema.ts (zod) is loaded");
});
