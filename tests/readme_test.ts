// The README's promise to a new user, kept: a fresh clone and a fresh HOME, its two set-up
// commands, and a hook event sent through the installed `arrakis` ends up stored.
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, waitForHttp } from "./helpers/net.ts";
import { HOOK_INPUT_DIR } from "./helpers/fixtures.ts";
import { tempDir } from "./helpers/temp.ts";

const REPO = fileURLToPath(new URL("..", import.meta.url));

/** The Deno cache the tests already use: a fresh HOME need not fetch every package again. */
async function denoDir(): Promise<string> {
  const { stdout } = await new Deno.Command(Deno.execPath(), { args: ["info", "--json"] })
    .output();
  return JSON.parse(new TextDecoder().decode(stdout)).denoDir;
}

async function run(command: string, cwd: string, env: Record<string, string>) {
  const output = await new Deno.Command("sh", {
    args: ["-c", command],
    cwd,
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    text: decoder.decode(output.stdout) + decoder.decode(output.stderr),
  };
}

Deno.test({
  name: "README: clone, serve, install, and a hook event through the installed arrakis is stored",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const readme = await Deno.readTextFile(join(REPO, "README.md"));
    // The two commands the README gives for a fresh machine, exactly.
    assert.ok(readme.includes("```sh\nnpm install -g deno@2 && deno task serve\n```"));
    assert.ok(readme.includes("```sh\ndeno task test\n```"));
    assert.match(readme, /git clone .* arrakis && cd arrakis/);

    const root = await tempDir("arrakis-readme-");
    const home = join(root, "home");
    const project = join(root, "project");
    await Deno.mkdir(home);
    await Deno.mkdir(project);
    const clone = join(root, "arrakis");
    const cloned = await new Deno.Command("git", {
      args: ["clone", "--quiet", REPO, clone],
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.equal(cloned.code, 0, new TextDecoder().decode(cloned.stderr));

    const port = await freePort();
    const env: Record<string, string> = {
      HOME: home,
      PATH: `${join(home, ".deno", "bin")}:${join(home, ".local", "bin")}:${Deno.env.get("PATH")}`,
      DENO_DIR: await denoDir(),
      PORT: String(port),
      NO_COLOR: "1",
    };
    // The first command: `npm install -g deno@2` is what gives this machine its deno already.
    const server = new Deno.Command("deno", {
      args: ["task", "serve"],
      cwd: clone,
      env,
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const serverOutput = server.output();
    try {
      await waitForHttp(`http://127.0.0.1:${port}/health`, 60_000);
      const key = (await Deno.readTextFile(join(home, ".arrakis", "api-key"))).trim();
      assert.ok(key.length > 0);

      const installed = await run("deno task install", clone, env);
      assert.equal(installed.code, 0, installed.text);
      // Installed and on PATH: the clone can go away.
      await Deno.remove(clone, { recursive: true });

      const input = JSON.parse(
        await Deno.readTextFile(join(HOOK_INPUT_DIR, "UserPromptSubmit.json")),
      );
      const sessionId = `readme-${crypto.randomUUID()}`;
      input.session_id = sessionId;
      input.cwd = project;
      const stdinFile = join(root, "event.json");
      await Deno.writeTextFile(stdinFile, JSON.stringify(input));
      const hook = await run(`arrakis hook < '${stdinFile}'`, project, {
        ...env,
        CLAUDE_PROJECT_DIR: project,
        // A shipper the hook starts must not outlive the test by minutes.
        ARRAKIS_SHIPPER_IDLE: "2s",
      });
      assert.equal(hook.code, 0, hook.text);

      let stored = false;
      for (let i = 0; i < 100 && !stored; i++) {
        const res = await fetch(
          `http://127.0.0.1:${port}/api/sessions/${encodeURIComponent(sessionId)}`,
          { headers: { authorization: `Bearer ${key}` } },
        );
        stored = res.ok;
        await res.body?.cancel();
        if (!stored) await new Promise((resolve) => setTimeout(resolve, 200));
      }
      assert.ok(stored, "the hook's event reached the server the README started");
    } finally {
      try {
        server.kill("SIGTERM");
      } catch { /* already gone */ }
      await serverOutput;
      await Deno.remove(root, { recursive: true }).catch(() => {});
    }
  },
});
