// The layers as the code imports them, read from `deno info --json`: the server never imports
// the dashboard, the dashboard never imports the server, and only the composition root
// (src/compose.ts) knows both.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const ROOT = new URL("../", import.meta.url).href;

interface Module {
  specifier: string;
  dependencies?: {
    specifier: string;
    code?: { specifier?: string };
    type?: { specifier?: string };
  }[];
}

async function importGraph(): Promise<Map<string, string[]>> {
  const main = fileURLToPath(new URL("main.ts", ROOT));
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", main],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  const { modules } = JSON.parse(new TextDecoder().decode(stdout)) as { modules: Module[] };
  const local = (specifier: string) =>
    specifier.startsWith(ROOT) ? specifier.slice(ROOT.length) : undefined;
  const graph = new Map<string, string[]>();
  for (const module of modules) {
    const from = local(module.specifier);
    if (!from) continue;
    graph.set(
      from,
      (module.dependencies ?? []).flatMap((dep) =>
        [dep.code?.specifier, dep.type?.specifier].map((s) => s && local(s)).filter(
          (s): s is string => s !== undefined,
        )
      ),
    );
  }
  return graph;
}

Deno.test("layers: no server module imports the dashboard, no dashboard module the server", async () => {
  const graph = await importGraph();
  const under = (dir: string) => [...graph.keys()].filter((path) => path.startsWith(dir));
  // The graph really covers both layers (a dynamic import the reader missed would hide edges).
  assert.ok(under("src/server/").length >= 10, "server modules found in the graph");
  assert.ok(under("src/dashboard/").length >= 10, "dashboard modules found in the graph");
  assert.ok(graph.has("src/compose.ts"), "the composition root is in the graph");
  const crossings: string[] = [];
  for (const [from, to] of graph) {
    for (const target of to) {
      const serverToDashboard = from.startsWith("src/server/") &&
        target.startsWith("src/dashboard/");
      const dashboardToServer = from.startsWith("src/dashboard/") &&
        target.startsWith("src/server/");
      const alertsUpward = from.startsWith("src/alerts/") &&
        (target.startsWith("src/server/") || target.startsWith("src/dashboard/"));
      if (serverToDashboard || dashboardToServer || alertsUpward) {
        crossings.push(`${from} -> ${target}`);
      }
    }
  }
  assert.deepEqual(crossings, []);
  // The neutral modules depend on neither layer.
  for (const neutral of ["src/events.ts", "src/stream.ts", "src/roles.ts"]) {
    assert.deepEqual(
      (graph.get(neutral) ?? []).filter((t) =>
        t.startsWith("src/server/") || t.startsWith("src/dashboard/")
      ),
      [],
      neutral,
    );
  }
});
