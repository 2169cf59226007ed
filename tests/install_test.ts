import assert from "node:assert/strict";
import { join } from "node:path";
import { runArrakis } from "./helpers/cli.ts";
import { REGISTERED_HOOK_EVENTS, UNREGISTERED_HOOK_EVENTS } from "../src/schema.ts";
import { installHooks, isOwnCommand, uninstallHooks } from "../src/install/settings.ts";
import { tempDir } from "./helpers/temp.ts";

/** A project directory; a real git work tree unless `git` is false. */
async function project(settings?: string, { git = true } = {}) {
  const dir = await tempDir("arrakis-install-");
  if (git) await gitInit(dir);
  if (settings !== undefined) {
    await Deno.mkdir(join(dir, ".claude"));
    await Deno.writeTextFile(join(dir, ".claude", "settings.json"), settings);
  }
  return dir;
}

async function gitInit(dir: string) {
  const result = await new Deno.Command("git", { args: ["init", "-q", dir], stderr: "piped" })
    .output();
  assert.equal(result.code, 0, new TextDecoder().decode(result.stderr));
}

async function install(dir: string, ...flags: string[]) {
  const result = await runArrakis(["install", "--project-dir", dir, ...flags]);
  assert.equal(result.code, 0, result.stderr);
  return result;
}

const readSettings = async (dir: string) =>
  JSON.parse(await Deno.readTextFile(join(dir, ".claude", "settings.json")));

function ownCount(settings: { hooks?: Record<string, { hooks: { command?: string }[] }[]> }) {
  let count = 0;
  for (const groups of Object.values(settings.hooks ?? {})) {
    for (const group of groups) count += group.hooks.filter((h) => isOwnCommand(h.command)).length;
  }
  return count;
}

Deno.test("install on an empty settings file writes every event once and the .gitignore", async () => {
  const dir = await project("");
  try {
    await install(dir);
    const settings = await readSettings(dir);
    assert.deepEqual(Object.keys(settings.hooks).sort(), [...REGISTERED_HOOK_EVENTS].sort());
    assert.equal(ownCount(settings), REGISTERED_HOOK_EVENTS.length);
    const pre = settings.hooks.PreToolUse[0];
    assert.equal(pre.matcher, "*");
    assert.deepEqual(pre.hooks[0], {
      type: "command",
      command: "arrakis hook",
      timeout: 10,
      async: false,
    });
    assert.equal(settings.hooks.Stop[0].matcher, undefined);
    const gitignore = await Deno.readTextFile(join(dir, ".gitignore"));
    assert.match(gitignore, /^\.claude\/logs\/$/m);
    assert.match(gitignore, /^\.claude\/queue\/$/m);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("install merges with other settings and hooks, twice changes nothing, uninstall restores", async () => {
  const original = {
    model: "opus",
    permissions: { allow: ["Bash(npm test:*)"] },
    hooks: {
      PreToolUse: [{ matcher: "Bash", hooks: [{ type: "command", command: "./guard.sh" }] }],
      Stop: [{ hooks: [{ type: "command", command: "say done", timeout: 5 }] }],
      FutureEvent: [{ hooks: [{ type: "command", command: "echo future" }] }],
    },
  };
  const dir = await project(JSON.stringify(original, null, 4));
  await Deno.writeTextFile(join(dir, ".gitignore"), "node_modules\n/.claude/logs\n");
  try {
    const dry = await install(dir, "--dry-run");
    assert.match(dry.stdout, /^\+ .*"command": "arrakis hook"/m);
    assert.equal(
      JSON.parse(await Deno.readTextFile(join(dir, ".claude", "settings.json"))).hooks.Notification,
      undefined,
      "--dry-run wrote the file",
    );

    await install(dir);
    const once = await Deno.readTextFile(join(dir, ".claude", "settings.json"));
    const settings = JSON.parse(once);
    assert.equal(settings.model, "opus");
    assert.deepEqual(settings.permissions, original.permissions);
    assert.deepEqual(settings.hooks.PreToolUse[0], original.hooks.PreToolUse[0]);
    assert.deepEqual(settings.hooks.Stop[0], original.hooks.Stop[0]);
    assert.deepEqual(settings.hooks.FutureEvent, original.hooks.FutureEvent);
    assert.equal(ownCount(settings), REGISTERED_HOOK_EVENTS.length);
    assert.equal(
      await Deno.readTextFile(join(dir, ".gitignore")),
      "node_modules\n/.claude/logs\n# arrakis: Claude Code hook spool and logs (hold event payloads)\n.claude/queue/\n",
    );

    const second = await install(dir);
    assert.match(second.stdout, /nothing to install/);
    assert.equal(await Deno.readTextFile(join(dir, ".claude", "settings.json")), once);

    // A different command replaces ours instead of adding a second one.
    await install(dir, "--command", "/opt/bin/arrakis hook");
    const moved = await readSettings(dir);
    assert.equal(ownCount(moved), REGISTERED_HOOK_EVENTS.length);
    assert.equal(moved.hooks.SessionEnd[0].hooks[0].command, "/opt/bin/arrakis hook");

    await install(dir, "--uninstall");
    assert.deepEqual(await readSettings(dir), original);
    const again = await install(dir, "--uninstall");
    assert.match(again.stdout, /nothing to uninstall/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("install refuses to touch a settings file it cannot parse", async () => {
  const dir = await project("{ not json");
  try {
    const result = await runArrakis(["install", "--project-dir", dir]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /not valid JSON/);
    assert.equal(await Deno.readTextFile(join(dir, ".claude", "settings.json")), "{ not json");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("install --user writes ~/.claude/settings.json and leaves .gitignore alone", async () => {
  const home = await tempDir();
  const dir = await project();
  try {
    const result = await runArrakis(["install", "--user", "--project-dir", dir], {
      // A different HOME must not move Deno's module cache (no network here).
      env: {
        HOME: home,
        DENO_DIR: Deno.env.get("DENO_DIR") ?? join(Deno.env.get("HOME")!, ".cache", "deno"),
      },
    });
    assert.equal(result.code, 0, result.stderr);
    const settings = JSON.parse(await Deno.readTextFile(join(home, ".claude", "settings.json")));
    assert.equal(ownCount(settings), REGISTERED_HOOK_EVENTS.length);
    await assert.rejects(Deno.stat(join(dir, ".gitignore")));
  } finally {
    await Deno.remove(home, { recursive: true });
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("merge keeps other hooks that share a group with ours", () => {
  const shared = {
    hooks: {
      Stop: [{
        hooks: [
          { type: "command", command: "say done" },
          { type: "command", command: "/usr/local/bin/arrakis hook" },
        ],
      }],
    },
  };
  const installed = installHooks(shared);
  assert.equal(ownCount(installed), REGISTERED_HOOK_EVENTS.length);
  assert.deepEqual(installed.hooks!.Stop[0].hooks, [{ type: "command", command: "say done" }]);
  assert.deepEqual(uninstallHooks(installed), {
    hooks: { Stop: [{ hooks: [{ type: "command", command: "say done" }] }] },
  });
  assert.ok(isOwnCommand("arrakis hook"));
  assert.ok(isOwnCommand("deno run -A /src/arrakis/main.ts hook"));
  assert.ok(!isOwnCommand("arrakis-hookshot run"));
  assert.ok(!isOwnCommand("echo arrakis"));
});

Deno.test("install over the old version's block adds the new events, keeps the rest, leaves decision events alone", async () => {
  const oldEvents = [
    "SessionStart",
    "UserPromptSubmit",
    "PreToolUse",
    "PostToolUse",
    "PostToolUseFailure",
    "Stop",
    "SubagentStop",
    "Notification",
    "PreCompact",
    "SessionEnd",
  ];
  const ours = { type: "command", command: "arrakis hook", timeout: 10, async: false };
  const worktree = [{ hooks: [{ type: "command", command: "./make-worktree.sh" }] }];
  const old = {
    model: "opus",
    hooks: {
      ...Object.fromEntries(oldEvents.map((e) => [e, [{ matcher: "*", hooks: [ours] }]])),
      WorktreeCreate: worktree,
    },
  };
  const dir = await project(JSON.stringify(old, null, 2));
  try {
    await install(dir);
    const settings = await readSettings(dir);
    assert.equal(settings.model, "opus");
    assert.equal(ownCount(settings), REGISTERED_HOOK_EVENTS.length);
    for (const event of REGISTERED_HOOK_EVENTS) {
      const own = settings.hooks[event].flatMap((g: { hooks: { command?: string }[] }) =>
        g.hooks.filter((h) => isOwnCommand(h.command))
      );
      assert.equal(own.length, 1, event);
    }
    assert.deepEqual(settings.hooks.WorktreeCreate, worktree);
    for (const event of UNREGISTERED_HOOK_EVENTS) {
      const groups = settings.hooks[event] ?? [];
      assert.equal(
        groups.some((g: { hooks: { command?: string }[] }) =>
          g.hooks.some((h) => isOwnCommand(h.command))
        ),
        false,
        event,
      );
    }
    // Matchers where the event takes one, none where it does not.
    assert.equal(settings.hooks.StopFailure[0].matcher, "*");
    assert.equal(settings.hooks.PermissionRequest[0].matcher, "*");
    assert.equal(settings.hooks.TaskCreated[0].matcher, undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** A file outside the project that a hostile repository links to. */
async function victim(text: string) {
  const dir = await tempDir("arrakis-victim-");
  const path = join(dir, "id_ed25519");
  await Deno.writeTextFile(path, text, { mode: 0o600 });
  return { dir, path };
}

const PRIVATE_KEY =
  "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n";

Deno.test("install refuses a .gitignore linked outside the project: victim and project untouched", async () => {
  const dir = await project();
  const outside = await victim(PRIVATE_KEY);
  try {
    await Deno.symlink(outside.path, join(dir, ".gitignore"));
    const result = await runArrakis(["install", "--project-dir", dir]);
    assert.equal(result.code, 2, result.stderr);
    assert.equal(
      result.stderr,
      `arrakis install: refusing to write through a link: ${dir}/.gitignore is a link to ${outside.path}, outside the project ${dir}; nothing written\n`,
    );
    assert.equal(await Deno.readTextFile(outside.path), PRIVATE_KEY);
    assert.ok((await Deno.lstat(join(dir, ".gitignore"))).isSymlink, "the link was replaced");
    await assert.rejects(Deno.lstat(join(dir, ".claude", "settings.json")), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(outside.dir, { recursive: true });
  }
});

Deno.test("install refuses a settings.json or .claude linked outside the project", async () => {
  const original = JSON.stringify({ hooks: {}, model: "elsewhere" }, null, 4);
  for (const linked of [".claude/settings.json", ".claude"]) {
    const dir = await project();
    const outside = await victim(original);
    try {
      if (linked === ".claude") {
        await Deno.rename(outside.path, join(outside.dir, "settings.json"));
        await Deno.symlink(outside.dir, join(dir, ".claude"));
      } else {
        await Deno.mkdir(join(dir, ".claude"));
        await Deno.symlink(outside.path, join(dir, linked));
      }
      const before = await Deno.readTextFile(join(dir, ".claude", "settings.json"));
      const result = await runArrakis(["install", "--project-dir", dir]);
      assert.equal(result.code, 2, `${linked}: ${result.stderr}`);
      assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
      assert.match(result.stderr, /refusing to write through a link: .*outside the project/);
      assert.equal(await Deno.readTextFile(join(dir, ".claude", "settings.json")), before);
      assert.deepEqual(
        [...Deno.readDirSync(outside.dir)].map((entry) => entry.name).sort(),
        [linked === ".claude" ? "settings.json" : "id_ed25519"],
        `${linked}: a file appeared beside the victim`,
      );
      await assert.rejects(Deno.lstat(join(dir, ".gitignore")), Deno.errors.NotFound);
    } finally {
      await Deno.remove(dir, { recursive: true });
      await Deno.remove(outside.dir, { recursive: true });
    }
  }
});

Deno.test("install follows links that stay inside the project and keeps them links", async () => {
  const dir = await project();
  try {
    await Deno.mkdir(join(dir, "config", "claude"), { recursive: true });
    await Deno.writeTextFile(join(dir, "config", "gitignore"), "node_modules\n");
    await Deno.writeTextFile(join(dir, "config", "claude", "settings.json"), "{}");
    await Deno.symlink("config/gitignore", join(dir, ".gitignore"));
    await Deno.symlink("config/claude", join(dir, ".claude"));
    await install(dir);
    assert.ok((await Deno.lstat(join(dir, ".gitignore"))).isSymlink);
    assert.ok((await Deno.lstat(join(dir, ".claude"))).isSymlink);
    assert.match(await Deno.readTextFile(join(dir, "config", "gitignore")), /^\.claude\/queue\/$/m);
    const settings = JSON.parse(
      await Deno.readTextFile(join(dir, "config", "claude", "settings.json")),
    );
    assert.equal(ownCount(settings), REGISTERED_HOOK_EVENTS.length);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("install refuses a dangling link", async () => {
  const dir = await project();
  try {
    await Deno.symlink(join(dir, "nowhere"), join(dir, ".gitignore"));
    const result = await runArrakis(["install", "--project-dir", dir]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /\.gitignore is a link to a missing file; nothing written/);
    await assert.rejects(Deno.lstat(join(dir, "nowhere")), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("install outside a git work tree writes no .gitignore; inside a subfolder of one it does", async () => {
  const plain = await project("", { git: false });
  const repo = await project();
  try {
    const result = await install(plain);
    assert.match(result.stdout, /not in a git work tree, no \.gitignore written/);
    await assert.rejects(Deno.lstat(join(plain, ".gitignore")), Deno.errors.NotFound);
    assert.equal(ownCount(await readSettings(plain)), REGISTERED_HOOK_EVENTS.length);

    const sub = join(repo, "packages", "web");
    await Deno.mkdir(sub, { recursive: true });
    await install(sub);
    assert.match(await Deno.readTextFile(join(sub, ".gitignore")), /^\.claude\/logs\/$/m);
  } finally {
    await Deno.remove(plain, { recursive: true });
    await Deno.remove(repo, { recursive: true });
  }
});
