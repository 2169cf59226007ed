// The real `arrakis hook` against the real server on both stores: through an outage, a hung
// server, 500s, a 400, SIGKILLs at every step and a growing transcript, every event that
// reached the spool ends up stored exactly once, delivered by the resident shipper. The server
// sits behind a fault proxy, so one URL serves every phase, as in real use: the shipper a hook
// starts keeps the URL it was started with.
import assert from "node:assert/strict";
import { join } from "node:path";
import { arrakisCommand, childEnv, CONFIG, runArrakis } from "./helpers/cli.ts";
import { PERMISSIONS } from "../src/permissions.ts";
import type { CaptureStep } from "../src/hook/capture.ts";
import { fileURLToPath } from "node:url";
import { storeTest } from "./helpers/stores.ts";
import { type InProcessServer, startInProcessServer } from "./helpers/server.ts";
import {
  answeringServer,
  fixtureEvents,
  FIXTURES_DIR,
  type HookProject,
  hookProject,
} from "./helpers/hook_env.ts";
import { type FaultMode, startFaultProxy } from "./helpers/fault_proxy.ts";
import { startShipper, until } from "./helpers/shipper.ts";
import type { Sql } from "../src/store/open.ts";

const events = await fixtureEvents();
const HOOK_STEPS = fileURLToPath(new URL("./helpers/hook_steps.ts", import.meta.url));
const ORDER = [
  "SessionStart",
  "UserPromptSubmit",
  "PreToolUse",
  "PostToolUse",
  "PostToolUseFailure",
  "Notification",
  "SubagentStop",
  "PreCompact",
  "Stop",
  "SessionEnd",
];

/** The fixture event of `name`, moved to its own session (and transcript path). */
function eventFor(name: string, session: string, extra: Record<string, unknown> = {}) {
  const input = structuredClone(events.get(name)!);
  input.session_id = session;
  input.transcript_path = `/nonexistent/${session}.jsonl`;
  if (typeof input.tool_use_id === "string") input.tool_use_id = `${input.tool_use_id}-${session}`;
  delete input.agent_transcript_path;
  return { ...input, ...extra };
}

function envFor(project: HookProject, url: string, apiKey: string, extra = {}) {
  return project.env(url, {
    ARRAKIS_API_KEY: apiKey,
    // Each phase must exercise its own failure, not the breaker's shortcut; a shipper retrying
    // through the phases must not run out of attempts; waits are short, sends end in 2 s.
    ARRAKIS_BREAKER_THRESHOLD: "1000",
    ARRAKIS_MAX_ATTEMPTS: "1000",
    ARRAKIS_RETRY_SCHEDULE: "250ms",
    ARRAKIS_LEASE: "4s",
    ARRAKIS_SHIPPER_IDLE: "500ms",
    // Generous: a loaded test machine must not turn "up" into "timed out" (the hanging
    // server is the test of the deadline).
    ...extra,
  });
}

async function hook(env: Record<string, string>, input: unknown) {
  const result = await runArrakis(["hook"], { env, stdin: JSON.stringify(input) });
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, "");
  return result;
}

/** Files waiting in pending/ and processing/. */
async function waiting(project: HookProject): Promise<number> {
  return (await project.files("pending")).length + (await project.files("processing")).length;
}

/**
 * Exactly `n` events wait. A running shipper moves files between pending/ and processing/ while
 * they are counted, so one listing can miss a file in flight: count until it holds.
 */
async function assertWaiting(project: HookProject, n: number) {
  const held = await until(async () => await waiting(project) === n, 10_000);
  assert.ok(held, `${await waiting(project)} events wait, not ${n}`);
}

/**
 * Waits until the shipper has delivered everything: a shipper started here runs until the
 * spool is idle; if a hook already started one, this one exits at once and that one delivers.
 */
async function shipped(project: HookProject, env: Record<string, string>) {
  const shipper = startShipper(env);
  const status = await shipper.status;
  assert.equal(status.code, 0, shipper.stderr());
  // Twice, apart: a file in flight between pending/ and processing/ can hide from one count.
  const empty = async () => {
    if (await waiting(project) > 0) return false;
    await new Promise((resolve) => setTimeout(resolve, 100));
    return await waiting(project) === 0;
  };
  assert.ok(await until(empty, 60_000), shipper.stderr());
}

/** SUCCESS rows per (session, event): each must be exactly 1. */
async function storedCounts(sql: Sql, sessions: string[]) {
  const rows = await sql<{ session_id: string; event_type: string; n: number }[]>`
    SELECT session_id, event_type, count(*)::int AS n FROM webhook_events
    WHERE status = 'SUCCESS' AND session_id = ANY(${sessions})
    GROUP BY session_id, event_type`;
  return new Map(rows.map((row) => [`${row.session_id}/${row.event_type}`, row.n]));
}

async function restart(db: Parameters<typeof startInProcessServer>[0], apiKey: string) {
  return await startInProcessServer(db, { ARRAKIS_API_KEY: apiKey });
}

storeTest(
  "every event, through up/down/hanging/500/400, is stored exactly once",
  async ({ db }) => {
    let server: InProcessServer = await startInProcessServer(db);
    const apiKey = server.apiKey;
    const proxy = startFaultProxy(() => server.url);
    const project = await hookProject();
    const rejectingProject = await hookProject();
    const rejecting = answeringServer(400, { status: "INVALID", message: "proxy says no" });
    try {
      const live = envFor(project, proxy.url, apiKey);
      // Up: every event delivered (SessionEnd last, as in a real session).
      for (const name of ORDER) await hook(live, eventFor(name, "s-up"));
      await shipped(project, live);

      // Down, hanging, 500: every event waits in the spool. 400: dead letter.
      const phases: [string, FaultMode][] = [
        ["s-down", "refuse"],
        ["s-hang", "hang"],
        ["s-500", "error500"],
      ];
      for (const [session, mode] of phases) {
        await proxy.setMode(mode);
        // SessionEnd would start a shipper against a dead server: leave it out.
        for (const name of ORDER.slice(0, -1)) {
          await hook(
            envFor(project, proxy.url, apiKey),
            eventFor(name, session),
          );
        }
      }
      await assertWaiting(project, 3 * (ORDER.length - 1));
      await hook(
        envFor(rejectingProject, rejecting.url, apiKey),
        eventFor("Notification", "s-400"),
      );
      assert.ok(
        await until(async () => (await rejectingProject.files("failed")).length === 1, 30_000),
      );

      // The server restarts and the network heals: the shipper delivers the backlog; the dead
      // letter needs the manual push.
      await server.stop();
      server = await restart(db, apiKey);
      await proxy.setMode("pass");
      await shipped(project, live);
      const retried = await runArrakis(["queue", "retry", "--failed", "--now"], {
        env: envFor(rejectingProject, proxy.url, apiKey),
      });
      assert.equal(retried.code, 0, retried.stderr);
      assert.deepEqual(await rejectingProject.files("failed"), []);
      // Another shipper finds nothing left to deliver twice.
      await shipped(project, live);

      const counts = await storedCounts(server.sql, ["s-up", "s-down", "s-hang", "s-500", "s-400"]);
      for (const name of ORDER) assert.equal(counts.get(`s-up/${name}`), 1, `s-up/${name}`);
      for (const [session] of phases) {
        for (const name of ORDER.slice(0, -1)) {
          assert.equal(counts.get(`${session}/${name}`), 1, `${session}/${name}`);
        }
      }
      assert.equal(counts.get("s-400/Notification"), 1);
      assert.equal(counts.size, ORDER.length + 3 * (ORDER.length - 1) + 1);
      const tools = await server.sql<{ tool_use_id: string; status: string }[]>`
      SELECT tool_use_id, status FROM tool_uses WHERE session_id = ANY(${["s-up", "s-down"]})
      ORDER BY tool_use_id`;
      assert.equal(tools.length, 4, JSON.stringify(tools));
    } finally {
      await rejecting.close();
      await proxy.close();
      await server.stop();
      await project.cleanup();
      await rejectingProject.cleanup();
    }
  },
);

/**
 * Runs a hook and SIGKILLs it: at a capture step (through the step-aware test entry,
 * tests/helpers/hook_steps.ts, which starts no shipper), or as `arrakis hook` once `ready` says so.
 */
async function killAt(
  env: Record<string, string>,
  input: unknown,
  point: CaptureStep | null,
  ready?: () => boolean,
) {
  const child = point
    ? new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", "--config", CONFIG, ...PERMISSIONS, HOOK_STEPS, point],
      env: childEnv(env),
      clearEnv: true,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn()
    : arrakisCommand(["hook"], { env, stdin: "" }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(JSON.stringify(input)));
  await writer.close();
  let stderr = "";
  const reader = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stderr) stderr += decoder.decode(chunk, { stream: true });
  })();
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (point && stderr.includes(`arrakis-step:${point}`)) break;
    if (!point && ready?.()) break;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  try {
    child.kill("SIGKILL");
  } catch { /* a timed kill may come after the hook already finished */ }
  await child.status;
  await reader;
  await child.stdout.cancel();
  assert.ok(point === null || stderr.includes(`arrakis-step:${point}`), stderr);
}

storeTest(
  "SIGKILL at every step of the hook: nothing spooled is lost or stored twice",
  async ({ db }) => {
    const server = await startInProcessServer(db);
    const project = await hookProject();
    const proxy = startFaultProxy(() => server.url);
    try {
      const env = envFor(project, proxy.url, server.apiKey);
      // Before the spool write, with the record complete under its temp name, renamed into
      // pending/, and after the shipper was looked for.
      const points: CaptureStep[] = ["envelope", "spool-written", "spooled", "shipper"];
      for (const point of points) {
        await killAt(env, eventFor("UserPromptSubmit", `k-${point}`), point);
      }
      // A complete temp file is recovered once clearly orphaned: age it rather than wait.
      const pendingDir = join(project.queueDir, "pending");
      const old = new Date(Date.now() - 60_000);
      for (const entry of [...Deno.readDirSync(pendingDir)]) {
        if (entry.name.startsWith(".tmp-")) Deno.utimeSync(join(pendingDir, entry.name), old, old);
      }
      // By timing, anywhere from process start to exit (this lands in the spool write too).
      for (let i = 0; i < 8; i++) {
        const delay = 30 + i * 25;
        const started = Date.now();
        await killAt(
          env,
          eventFor("Notification", `k-timed-${i}`),
          null,
          () => Date.now() - started >= delay,
        );
      }

      // Nothing half-written is left where the shipper reads.
      for (const name of await project.files("pending")) {
        JSON.parse(await Deno.readTextFile(join(project.queueDir, "pending", name)));
      }
      await shipped(project, env);
      assert.deepEqual(await project.files("pending"), []);
      assert.deepEqual(await project.files("failed"), []);
      assert.deepEqual(await project.files("processing"), []);

      const sessions = [
        ...points.map((point) => `k-${point}`),
        ...Array.from({ length: 8 }, (_, i) => `k-timed-${i}`),
      ];
      const counts = await storedCounts(server.sql, sessions);
      // Killed before the spool write: never captured. From the write on: stored exactly once.
      assert.equal(counts.get("k-envelope/UserPromptSubmit"), undefined);
      for (const point of ["spool-written", "spooled", "shipper"]) {
        assert.equal(counts.get(`k-${point}/UserPromptSubmit`), 1, point);
      }
      for (const n of counts.values()) assert.equal(n, 1);
      const prompts = await server.sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM messages
      WHERE session_id = 'k-shipper' AND source = 'prompt'`;
      assert.equal(prompts[0].n, 1);
    } finally {
      await proxy.close();
      await server.stop();
      await project.cleanup();
    }
  },
);

storeTest(
  "a transcript growing across Stop events is stored line by line exactly once",
  async ({ db }) => {
    let server = await startInProcessServer(db);
    const apiKey = server.apiKey;
    const proxy = startFaultProxy(() => server.url);
    const project = await hookProject();
    const env = envFor(project, proxy.url, apiKey);
    const transcript = join(project.dir, "session.jsonl");
    const session = "6f1c2a9e-3b7d-4e25-9a41-0c8d5e7f1b23";
    const lines = (await Deno.readTextFile(join(FIXTURES_DIR, "transcript.jsonl"))).trimEnd()
      .split("\n").map((line) => line + "\n");
    const stop = { ...events.get("Stop")!, transcript_path: transcript };
    const append = (text: string) => Deno.writeTextFile(transcript, text, { append: true });
    try {
      // Stop 1: two lines and half of the third (torn: the writer has not finished it).
      await append(lines[0] + lines[1] + lines[2].slice(0, 50));
      await hook(env, stop);
      await shipped(project, env);

      // Outage. Stop 2 gets the rest of line 3 and line 4, and waits in the spool.
      await server.stop();
      await proxy.setMode("refuse");
      await append(lines[2].slice(50) + lines[3]);
      await hook(env, stop);
      await assertWaiting(project, 1);

      // Stop 3 is killed right after its spool write, before the offset is committed.
      await append(lines[4]);
      await killAt(env, stop, "spooled");
      // Stop 4 (still down) must not take line 5 again.
      await append(lines[5]);
      await hook(env, stop);
      await assertWaiting(project, 3);

      // Back up: SessionEnd (nothing new) and the shipper deliver everything.
      server = await restart(db, apiKey);
      await proxy.setMode("pass");
      await hook(env, { ...events.get("SessionEnd")!, transcript_path: transcript });
      await shipped(project, env);

      // Every line went in exactly one event.
      const rows = await server.sql<
        { payload: { transcript?: { uuid?: string; type?: string }[] } }[]
      >`
      SELECT payload FROM webhook_events
      WHERE session_id = ${session} AND status = 'SUCCESS' AND event_type = 'Stop'`;
      const sent = rows.flatMap((row) => row.payload.transcript ?? [])
        .map((line) => line.uuid ?? line.type);
      assert.deepEqual(sent.sort(), ["a-1", "a-2", "a-3", "summary", "u-1", "u-2"]);
      assert.equal(rows.length, 4);

      const messages = await server.sql<{ transcript_uuid: string }[]>`
      SELECT transcript_uuid FROM messages
      WHERE session_id = ${session} AND role = 'assistant' AND source = 'transcript'
      ORDER BY transcript_uuid`;
      assert.deepEqual(messages.map((m) => m.transcript_uuid), ["a-1", "a-2", "a-3"]);
      const usage = await server.sql<
        { message_id: string; input_tokens: string; output_tokens: string }[]
      >`SELECT message_id, input_tokens::text, output_tokens::text FROM token_usage
      WHERE session_id = ${session} ORDER BY message_id`;
      assert.deepEqual(usage.map((u) => [u.message_id, u.input_tokens, u.output_tokens]), [
        ["msg_01A", "1200", "85"],
        ["msg_01B", "1450", "60"],
      ]);
    } finally {
      await proxy.close();
      await server.stop();
      await project.cleanup();
    }
  },
);
