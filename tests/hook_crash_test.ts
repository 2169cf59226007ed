// A hook SIGKILLed at each step of a capture (real processes, stopped through the injected step
// callback of tests/helpers/hook_steps.ts): whatever reached the spool is kept, a complete temp
// file is put into pending/ by the session's next hook, and the transcript lines end up in the
// spool exactly once.
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { childEnv, CONFIG } from "./helpers/cli.ts";
import { fixtureEvents, type HookProject, hookProject } from "./helpers/hook_env.ts";
import { PERMISSIONS } from "../src/permissions.ts";
import { openSpool } from "../src/queue/spool.ts";
import type { CaptureStep } from "../src/hook/capture.ts";
import { TEMP_PREFIX } from "../src/durable.ts";

const STEPS_ENTRY = fileURLToPath(new URL("./helpers/hook_steps.ts", import.meta.url));
const events = await fixtureEvents();

/** Runs the step-aware hook; with `stopAt`, SIGKILLs it once it reports that step. */
async function runHook(
  project: HookProject,
  input: unknown,
  stopAt?: CaptureStep,
): Promise<Deno.CommandStatus> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--config",
      CONFIG,
      ...PERMISSIONS,
      STEPS_ENTRY,
      ...stopAt ? [stopAt] : [],
    ],
    env: childEnv(project.env("http://127.0.0.1:9")),
    clearEnv: true,
    cwd: project.dir,
    stdin: "piped",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(JSON.stringify(input)));
  await writer.close();
  let stderr = "";
  const decoder = new TextDecoder();
  for await (const chunk of child.stderr) {
    stderr += decoder.decode(chunk, { stream: true });
    if (stopAt && stderr.includes(`arrakis-step:${stopAt}\n`)) {
      child.kill("SIGKILL");
      break;
    }
  }
  const status = await child.status;
  if (stopAt) {
    assert.equal(status.signal, "SIGKILL", `never reached ${stopAt}: ${stderr}`);
  } else {
    assert.equal(status.code, 0, stderr);
  }
  return status;
}

async function tempsIn(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.name.startsWith(TEMP_PREFIX)) names.push(join(dir, entry.name));
  }
  return names;
}

const STEPS: { step: CaptureStep; reachedSpool: boolean }[] = [
  { step: "read", reachedSpool: false },
  { step: "envelope", reachedSpool: false },
  { step: "transcript", reachedSpool: false },
  { step: "spool-written", reachedSpool: true },
  { step: "spooled", reachedSpool: true },
  { step: "committed", reachedSpool: true },
  { step: "shipper", reachedSpool: true },
];

Deno.test("SIGKILL at each step: what reached the spool is kept, transcript lines once", async (t) => {
  for (const { step, reachedSpool } of STEPS) {
    await t.step(step, async () => {
      const project = await hookProject();
      try {
        const transcript = join(project.dir, "t.jsonl");
        const line = (n: number) => JSON.stringify({ type: "user", uuid: `u-${n}` }) + "\n";
        await Deno.writeTextFile(transcript, line(0) + line(1) + line(2));
        const stop = { ...events.get("Stop"), transcript_path: transcript };
        await runHook(project, stop, step);

        const pending = join(project.queueDir, "pending");
        const temps = await tempsIn(pending).catch(() => []);
        assert.equal(temps.length, step === "spool-written" ? 1 : 0, "complete temp files");

        // The next event of the session runs to the end and finds what the killed one left. A
        // complete temp is put into pending/ by it at once, young as it is: the spool's own
        // recovery waits until a temp is clearly orphaned and needs a shipper to run, and the
        // killed event's lines must not wait for either.
        await Deno.writeTextFile(transcript, line(3) + line(4), { append: true });
        await runHook(project, stop);
        assert.deepEqual(await tempsIn(pending), []);

        const spool = await openSpool(project.queueDir, {
          root: project.home,
          keyFile: join(project.home, "spool.key"),
        });
        const items = await spool.list("pending");
        assert.equal(items.length, reachedSpool ? 2 : 1, "events in the spool");
        const uuids = items.flatMap((item) => item.record.envelope.transcript ?? [])
          .map((entry) => entry.uuid);
        assert.deepEqual(uuids.sort(), ["u-0", "u-1", "u-2", "u-3", "u-4"]);
      } finally {
        await project.cleanup();
      }
    });
  }
});
