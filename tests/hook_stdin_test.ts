import assert from "node:assert/strict";
import { join } from "node:path";
import { readStdin, stubForOversizedInput } from "../src/hook/stdin.ts";
import { arrakisArgs, arrakisCommand, childEnv } from "./helpers/cli.ts";
import { localPaths } from "../src/config-core.ts";
import { ensureSpoolDirs } from "../src/queue/spool-file.ts";
import { tryShipperLock } from "../src/queue/lock.ts";
import { Envelope } from "../src/schema.ts";
import { buildEnvelope, normalizePayload } from "../src/hook/envelope.ts";
import { tempDir } from "./helpers/temp.ts";

function streamOf(...chunks: string[]): ReadableStream<Uint8Array> {
  return ReadableStream.from(chunks.map((chunk) => new TextEncoder().encode(chunk)));
}

Deno.test("stdin past the cap is read to the end but not kept", async () => {
  const read = await readStdin(streamOf("abc", "defgh", "ij"), 4);
  assert.equal(new TextDecoder().decode(read.bytes), "abcd");
  assert.equal(read.total, 10);
  assert.equal(read.truncated, true);
  const small = await readStdin(streamOf('{"a":1}'), 100);
  assert.equal(small.truncated, false);
});

Deno.test("an oversized event keeps its identity and still makes a valid envelope", () => {
  const huge = JSON.stringify({
    session_id: "s-1",
    hook_event_name: "PostToolUse",
    tool_name: "Bash",
    tool_use_id: "toolu_1",
    tool_response: { stdout: "x".repeat(1000) },
  });
  const stub = stubForOversizedInput(huge.slice(0, 300), 50_000_000);
  assert.equal(stub.session_id, "s-1");
  assert.equal(stub.tool_use_id, "toolu_1");
  assert.deepEqual(stub.arrakis_truncated, {
    reason: "stdin larger than the hook keeps",
    bytes: 50_000_000,
  });
  const envelope = buildEnvelope(normalizePayload(stub), { env: {} });
  assert.ok(Envelope.safeParse(envelope).success);
});

Deno.test("events without a session or name, or with odd ones, still make valid envelopes", () => {
  for (
    const input of [{}, { session_id: 42, hook_event_name: "" }, { session_id: "x".repeat(300) }]
  ) {
    const envelope = buildEnvelope(normalizePayload(input), { env: { CLAUDE_PROJECT_DIR: "/p" } });
    const parsed = Envelope.safeParse(envelope);
    assert.ok(parsed.success, JSON.stringify(parsed.error?.issues));
    assert.equal(envelope.source.projectDir, "/p");
  }
});

/** A hook whose event arrives in two parts, the second after a pause; the spooled payload. */
async function hookWithLateStdin(
  spawn: (env: Record<string, string>, first: string, rest: string) => Promise<number>,
): Promise<Record<string, unknown>> {
  const home = await tempDir("arrakis-stdin-");
  const project = join(home, "project");
  await Deno.mkdir(project);
  const env = {
    ARRAKIS_HOME: home,
    CLAUDE_PROJECT_DIR: project,
    // No shipper: nothing to deliver to, and nothing left running after the test.
    ARRAKIS_URL: "http://127.0.0.1:9",
  };
  const paths = localPaths({ ...env, HOME: home });
  const held = await (async () => {
    await ensureSpoolDirs(paths.queueDir, paths.queueRoot, []);
    return await tryShipperLock(paths.queueDir);
  })();
  try {
    const event = JSON.stringify({
      session_id: "stdin-late",
      hook_event_name: "PreToolUse",
      tool_name: "Bash",
      tool_use_id: "toolu_late",
      tool_input: { command: "x".repeat(100_000) },
    });
    const code = await spawn(env, event.slice(0, 1000), event.slice(1000));
    assert.equal(code, 0);
    const names = [...Deno.readDirSync(join(paths.queueDir, "pending"))].map((entry) => entry.name)
      .filter((name) => name.endsWith(".json"));
    assert.equal(names.length, 1);
    const record = JSON.parse(
      await Deno.readTextFile(join(paths.queueDir, "pending", names[0])),
    );
    return record.envelope.payload;
  } finally {
    held?.release();
    await Deno.remove(home, { recursive: true });
  }
}

Deno.test("the hook's synchronous stdin read waits for an event that arrives in parts", async () => {
  const payload = await hookWithLateStdin(async (env, first, rest) => {
    const child = arrakisCommand(["hook"], { env, stdin: "" }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(first));
    await new Promise((resolve) => setTimeout(resolve, 300));
    await writer.write(new TextEncoder().encode(rest));
    await writer.close();
    const { code, stderr } = await child.output();
    assert.equal(new TextDecoder().decode(stderr), "");
    return code;
  });
  assert.equal(payload.tool_use_id, "toolu_late");
  assert.equal((payload.tool_input as { command: string }).command.length, 100_000);
});

const PYTHON = await new Deno.Command("python3", { args: ["-c", "pass"] }).output()
  .then((result) => result.code === 0).catch(() => false);

Deno.test({
  name: "the hook reads all of a stdin its writer made non-blocking (O_NONBLOCK)",
  ignore: !PYTHON,
  fn: async () => {
    // Node (Claude Code) may hand a child a non-blocking pipe; python3 makes one here.
    const script = `
import os, subprocess, sys, time
r, w = os.pipe()
os.set_blocking(r, False)
child = subprocess.Popen(sys.argv[1:], stdin=r)
os.close(r)
os.write(w, os.environ["FIRST"].encode())
time.sleep(0.3)
os.write(w, os.environ["REST"].encode())
os.close(w)
sys.exit(child.wait())
`;
    const payload = await hookWithLateStdin(async (env, first, rest) => {
      const { code, stderr } = await new Deno.Command("python3", {
        args: ["-c", script, Deno.execPath(), ...arrakisArgs(["hook"])],
        env: childEnv({ ...env, FIRST: first, REST: rest }),
        clearEnv: true,
        stdout: "null",
        stderr: "piped",
      }).output();
      assert.equal(new TextDecoder().decode(stderr), "");
      return code;
    });
    assert.equal(payload.tool_use_id, "toolu_late");
    assert.equal((payload.tool_input as { command: string }).command.length, 100_000);
  },
});
