// `deno task install` (arrakis install --self) from a copy of the clone with a fresh HOME: the
// installed launcher keeps working after the clone is gone, with an empty DENO_DIR and without
// any network, serves, captures, and `install` writes its absolute path into settings.json.
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { APP_ENTRIES, INSTALL_RECORD } from "../src/install/self.ts";
import { bundledImports, HOOK_BUNDLE } from "../src/install/hook-bundle.ts";
import { loadConfig } from "../src/config.ts";
import { VERSION } from "../src/version.ts";
import { freePort, waitForHttp } from "./helpers/net.ts";
import { fixturePayload } from "./helpers/server.ts";
import { tempDir } from "./helpers/temp.ts";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const KEY = "self-install-key-0123456789abcdef";
const decoder = new TextDecoder();

/** Whether this machine lets us run a process in a network namespace of its own (no network). */
const CAN_UNSHARE = await new Deno.Command("unshare", { args: ["-n", "true"] }).output()
  .then((result) => result.code === 0).catch(() => false);

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(
  command: string,
  args: string[],
  env: Record<string, string>,
  options: { cwd?: string; stdin?: string } = {},
): Promise<Ran> {
  const child = new Deno.Command(command, {
    args,
    env: { NO_COLOR: "1", ...env },
    clearEnv: true,
    cwd: options.cwd,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const { code, stdout, stderr } = await child.output();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

/** What a developer's shell has: PATH, and the Deno cache that already holds the packages. */
/**
 * What reaches the registry on this machine: its CA bundle and proxy, as a developer's shell
 * has them. Without them the install's `deno bundle` cannot fetch esbuild on a machine that has
 * never bundled, and the hook falls back to main.ts.
 */
const NETWORK_ENV = [
  // Deno fetches esbuild through its Node layer, which reads this one.
  "NODE_EXTRA_CA_CERTS",
  "SSL_CERT_FILE",
  "SSL_CERT_DIR",
  "DENO_CERT",
  "DENO_TLS_CA_STORE",
  "HTTPS_PROXY",
  "HTTP_PROXY",
  "NO_PROXY",
  "https_proxy",
  "http_proxy",
  "no_proxy",
];

function developerEnv(home: string): Record<string, string> {
  const network = NETWORK_ENV.flatMap((name) => {
    const value = Deno.env.get(name);
    return value === undefined ? [] : [[name, value] as const];
  });
  return {
    ...Object.fromEntries(network),
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    HOME: home,
    DENO_DIR: Deno.env.get("DENO_DIR") ?? join(Deno.env.get("HOME")!, ".cache", "deno"),
  };
}

/** A drain or shipper the installed hook started may still be writing in there: retry. */
async function removeTree(dir: string): Promise<void> {
  for (let tries = 0;; tries++) {
    try {
      return await Deno.remove(dir, { recursive: true });
    } catch (error) {
      if (tries >= 20) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

async function isEmpty(dir: string): Promise<boolean> {
  for await (const _ of Deno.readDir(dir)) return false;
  return true;
}

Deno.test("installed arrakis runs without the clone, with an empty DENO_DIR and no network", async () => {
  const root = await tempDir("arrakis-self-");
  const home = join(root, "home");
  const clone = join(root, "clone");
  const project = join(root, "project");
  const emptyDenoDir = join(root, "empty-deno-dir");
  await Promise.all([home, clone, project, emptyDenoDir].map((dir) => Deno.mkdir(dir)));
  try {
    for (const entry of APP_ENTRIES) {
      const copied = await new Deno.Command("cp", { args: ["-a", join(REPO, entry), clone] })
        .output();
      assert.equal(copied.code, 0, entry);
    }
    const installed = await run(Deno.execPath(), ["task", "install"], developerEnv(home), {
      cwd: clone,
    });
    assert.equal(installed.code, 0, installed.stderr);
    const launcher = join(home, ".deno", "bin", "arrakis");
    const appDir = join(home, ".arrakis", "app", VERSION);
    assert.match(installed.stdout, new RegExp(`launcher: ${launcher}\n`));
    const record = JSON.parse(await Deno.readTextFile(join(appDir, INSTALL_RECORD)));
    assert.equal(record.launcher, launcher);
    const script = await Deno.readTextFile(launcher);
    assert.match(script, /--cached-only/);
    assert.ok(script.includes(Deno.execPath()), "the launcher names deno by its absolute path");
    // The hook runs from its bundle, one JavaScript file that loads no npm: or node: module.
    const bundle = join(appDir, HOOK_BUNDLE);
    const hookLine = script.split("\n").find((line) => line.includes(`${bundle} "$@"`));
    assert.ok(hookLine?.includes("--no-config"), script);
    assert.deepEqual(bundledImports(await Deno.readTextFile(bundle)), []);

    // The clone is gone; the Deno cache the developer has is not offered to the hook.
    await Deno.remove(clone, { recursive: true });
    const env = {
      PATH: "/usr/bin:/bin",
      HOME: home,
      DENO_DIR: emptyDenoDir,
      CLAUDE_PROJECT_DIR: project,
      ARRAKIS_URL: `http://127.0.0.1:${await freePort()}`,
      ARRAKIS_API_KEY: KEY,
    };
    const event = JSON.stringify({ ...fixturePayload("PreToolUse"), tool_use_id: "toolu_self_1" });
    const hook = CAN_UNSHARE
      ? await run("unshare", ["-n", launcher, "hook"], env, { stdin: event, cwd: project })
      : await run(launcher, ["hook"], env, { stdin: event, cwd: project });
    assert.equal(hook.code, 0, hook.stderr);
    assert.equal(hook.stdout, "");
    assert.doesNotMatch(hook.stderr, /Download|cached-only|not found in cache/);
    const { queueDir } = loadConfig(env);
    const pending = [...Deno.readDirSync(join(queueDir, "pending"))]
      .filter((entry) => entry.name.endsWith(".json"));
    assert.equal(pending.length, 1, `spool ${queueDir}`);
    const spooled = await Deno.readTextFile(join(queueDir, "pending", pending[0].name));
    assert.ok(spooled.includes("toolu_self_1"));
    assert.ok(await isEmpty(emptyDenoDir), "the hook used the DENO_DIR it was given");

    // A copy whose bundle went missing still captures, from its main.ts.
    await Deno.rename(bundle, `${bundle}.aside`);
    const second = JSON.stringify({ ...fixturePayload("PreToolUse"), tool_use_id: "toolu_self_2" });
    const fallback = CAN_UNSHARE
      ? await run("unshare", ["-n", launcher, "hook"], env, { stdin: second, cwd: project })
      : await run(launcher, ["hook"], env, { stdin: second, cwd: project });
    assert.equal(fallback.code, 0, fallback.stderr);
    assert.doesNotMatch(fallback.stderr, /Download|cached-only|not found in cache/);
    const both = [...Deno.readDirSync(join(queueDir, "pending"))]
      .filter((entry) => entry.name.endsWith(".json"));
    assert.equal(both.length, 2, "the main.ts hook spooled too");
    await Deno.rename(`${bundle}.aside`, bundle);

    // `arrakis install` from the installed copy writes the launcher's absolute path.
    const git = await new Deno.Command("git", { args: ["init", "-q", project] }).output();
    assert.equal(git.code, 0);
    const hooks = await run(launcher, ["install", "--project-dir", project], env);
    assert.equal(hooks.code, 0, hooks.stderr);
    const settings = JSON.parse(
      await Deno.readTextFile(join(project, ".claude", "settings.json")),
    );
    assert.equal(settings.hooks.PreToolUse[0].hooks[0].command, `${launcher} hook`);
    assert.equal((await run(launcher, ["--version"], env)).stdout, `${VERSION}\n`);
  } finally {
    await removeTree(root);
  }
});

Deno.test("the installed copy serves and stores what its own hook captured", async () => {
  const root = await tempDir("arrakis-self-serve-");
  const home = join(root, "home");
  const project = join(root, "project");
  const emptyDenoDir = join(root, "empty-deno-dir");
  await Promise.all([home, project, emptyDenoDir].map((dir) => Deno.mkdir(dir)));
  let server: Deno.ChildProcess | undefined;
  try {
    const bin = join(root, "bin");
    const installed = await run(
      Deno.execPath(),
      ["run", "--quiet", ...["-A", join(REPO, "main.ts"), "install", "--self", "--bin-dir", bin]],
      developerEnv(home),
    );
    assert.equal(installed.code, 0, installed.stderr);
    assert.match(installed.stdout, new RegExp(`${bin} is not on PATH`));
    // The install made the store template; the installed copy's first serve must find it under
    // the same key (else it would run initdb and save another, removing this one).
    const cache = join(home, ".arrakis", "cache");
    const template = /embedded store template: (\S+store-[0-9a-f]{32}\.tar\.gz)/
      .exec(installed.stdout)?.[1];
    assert.ok(template?.startsWith(cache), installed.stdout);
    const launcher = join(bin, "arrakis");
    const port = await freePort();
    const env = {
      PATH: "/usr/bin:/bin",
      HOME: home,
      DENO_DIR: emptyDenoDir,
      CLAUDE_PROJECT_DIR: project,
      ARRAKIS_API_KEY: KEY,
      PORT: String(port),
      ARRAKIS_LOG_LEVEL: "warning",
    };
    server = new Deno.Command(launcher, {
      args: ["serve"],
      env,
      clearEnv: true,
      stdout: "null",
      stderr: "null",
    }).spawn();
    await waitForHttp(`http://127.0.0.1:${port}/health`, 60_000);
    const sessionId = crypto.randomUUID();
    const event = JSON.stringify({ ...fixturePayload("UserPromptSubmit"), session_id: sessionId });
    const hook = await run(launcher, ["hook"], env, { stdin: event, cwd: project });
    assert.equal(hook.code, 0, hook.stderr);

    // Delivered now or by the shipper/drain the hook started: wait for it to be stored.
    let stored = false;
    for (let tries = 0; tries < 100 && !stored; tries++) {
      const response = await fetch(`http://127.0.0.1:${port}/api/sessions`, {
        headers: { authorization: `Bearer ${KEY}` },
      });
      stored = (await response.text()).includes(sessionId);
      if (!stored) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok(stored, "the event never reached the installed server");
    const templates = [...Deno.readDirSync(cache)].map((entry) => join(cache, entry.name));
    assert.deepEqual(templates, [template]);
    assert.ok(await isEmpty(emptyDenoDir), "the installed copy used the DENO_DIR it was given");
  } finally {
    if (server) {
      server.kill("SIGTERM");
      await server.status;
    }
    await removeTree(root);
  }
});

Deno.test("deno task compile builds a binary, or says in one line that it cannot", async () => {
  const dir = await tempDir("arrakis-compile-");
  try {
    const output = join(dir, "arrakis");
    const result = await run(
      Deno.execPath(),
      ["task", "--quiet", "compile", "--output", output],
      developerEnv(Deno.env.get("HOME")!),
      { cwd: REPO },
    );
    if (result.code === 0) {
      const version = await run(output, ["--version"], { PATH: "/usr/bin:/bin" });
      assert.equal(version.stdout, `${VERSION}\n`);
    } else {
      assert.equal(result.code, 1);
      assert.equal(
        result.stderr,
        "arrakis compile: deno compile needs its runtime (denort) from the internet, which this machine cannot reach; use 'deno task install' (a self-contained copy run by this deno) instead\n",
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bundledImports sees static and unconditional dynamic imports, not the Windows-only one", () => {
  const text = `
import { a } from "node:path";
export { b } from "npm:zod@4";
import "jsr:@std/x";
const w = Deno.build.os === "windows" ? await import("node:url") : void 0;
const later = () => import("./other.js");
`;
  assert.deepEqual(bundledImports(text), ["node:path", "npm:zod@4", "jsr:@std/x", "./other.js"]);
});
