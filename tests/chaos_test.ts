// End to end under fire: simulated Claude Code sessions fire the real `arrakis hook` while the
// harness restarts the server, crashes PostgreSQL, makes the server answer 500 or hang, and
// SIGKILLs hooks and resident shippers. After the shipper has healed the spool the store must
// equal the ground truth. Seeded and reproducible: ARRAKIS_CHAOS_SEED=<n> replays a run;
// ARRAKIS_CHAOS_SESSIONS=<n> makes it heavier (6 by default, to keep the suite short).
import assert from "node:assert/strict";
import { join } from "node:path";
import postgres from "postgres";
import { freePort, waitForHttp } from "./helpers/net.ts";
import { arrakisCommand, runArrakis } from "./helpers/cli.ts";
import { type FaultMode, startFaultProxy } from "./helpers/fault_proxy.ts";
import { privatePostgresUnavailable, startPrivatePostgres } from "./helpers/private_postgres.ts";
import { loadConfig } from "../src/config.ts";
import { tempDir } from "./helpers/temp.ts";

const SEED = Number(Deno.env.get("ARRAKIS_CHAOS_SEED") ?? 20261128);
const SESSIONS = Number(Deno.env.get("ARRAKIS_CHAOS_SESSIONS") ?? 6);
const PROMPTS_PER_SESSION = 5;
const API_KEY = "chaos-key-0123456789abcdef";

/** mulberry32: small, fast, seedable. */
function prng(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (min: number, max: number) => min + Math.floor(next() * (max - min + 1)),
    pick: <T>(items: readonly T[]) => items[Math.floor(next() * items.length)],
    chance: (p: number) => next() < p,
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Expected {
  prompts: Map<string, { session: string; killed: boolean }>;
  tools: Map<string, { session: string; failed: boolean; killed: boolean }>;
  assistantUuids: Set<string>;
  usage: Map<string, { input: number; output: number }>;
  sessions: Set<string>;
}

interface Faults {
  serverRestarts: number;
  postgresCrashes: number;
  proxy: Record<FaultMode, number>;
  hooksKilled: number;
  shippersKilled: number;
  hooksRun: number;
}

Deno.test({
  name: "chaos: every event reaches the store exactly once through restarts, crashes and kills",
  sanitizeOps: false,
  sanitizeResources: false,
  ignore: (await privatePostgresUnavailable()) !== undefined,
  async fn() {
    const random = prng(SEED);
    const root = await tempDir("arrakis-chaos-");
    const pg = await startPrivatePostgres();
    const faults: Faults = {
      serverRestarts: 0,
      postgresCrashes: 0,
      proxy: { pass: 0, error500: 0, hang: 0, refuse: 0 },
      hooksKilled: 0,
      shippersKilled: 0,
      hooksRun: 0,
    };
    const serverPort = await freePort();
    const serverEnv = {
      DATABASE_URL: pg.url,
      ARRAKIS_API_KEY: API_KEY,
      PORT: String(serverPort),
      ARRAKIS_HOME: join(root, "server-home"),
      ARRAKIS_LOG_LEVEL: "warning",
    };
    let server: Deno.ChildProcess | undefined;
    const startServer = async () => {
      server = arrakisCommand(["serve"], { env: serverEnv }).spawn();
      const log = await Deno.open(join(root, "server.log"), { append: true, create: true });
      const out = await Deno.open(join(root, "server.out"), { append: true, create: true });
      server.stdout.pipeTo(out.writable).catch(() => {});
      server.stderr.pipeTo(log.writable).catch(() => {});
      await waitForHttp(`http://127.0.0.1:${serverPort}/health`);
    };
    const killServer = async () => {
      try {
        server?.kill("SIGKILL");
      } catch { /* it had already exited */ }
      await server?.status;
    };
    const proxy = startFaultProxy(() => `http://127.0.0.1:${serverPort}`);
    const projects = [join(root, "project-a"), join(root, "project-b")];
    for (const dir of projects) await Deno.mkdir(dir, { recursive: true });
    const clientEnv = (project: string): Record<string, string> => ({
      CLAUDE_PROJECT_DIR: project,
      ARRAKIS_URL: proxy.url,
      ARRAKIS_API_KEY: API_KEY,
      ARRAKIS_HOME: join(root, "client-home"),
      ARRAKIS_RETRY_SCHEDULE: "50ms,100ms,200ms",
      ARRAKIS_LEASE: "2s",
      ARRAKIS_BREAKER_COOLDOWN: "300ms",
      ARRAKIS_SHIPPER_IDLE: "1s",
    });

    const shippers = new Set<Deno.ChildProcess>();
    try {
      await startServer();
      const expected: Expected = {
        prompts: new Map(),
        tools: new Map(),
        assistantUuids: new Set(),
        usage: new Map(),
        sessions: new Set(),
      };
      let running = true;

      const fireHook = async (
        project: string,
        payload: Record<string, unknown>,
        killable: boolean,
      ): Promise<boolean> => {
        faults.hooksRun++;
        const child = arrakisCommand(["hook"], { env: clientEnv(project), stdin: "" }).spawn();
        const writer = child.stdin.getWriter();
        await writer.write(new TextEncoder().encode(JSON.stringify(payload)));
        await writer.close().catch(() => {});
        let killed = false;
        if (killable && random.chance(0.12)) {
          await sleep(random.int(0, 250));
          try {
            child.kill("SIGKILL");
            killed = true;
            faults.hooksKilled++;
          } catch { /* it had already finished */ }
        }
        const output = await child.output();
        if (!killed) {
          assert.equal(output.code, 0, `hook exited ${output.code}`);
          assert.equal(output.stdout.length, 0, "hook printed on stdout");
        }
        return killed;
      };

      const session = async (index: number) => {
        const project = projects[index % projects.length];
        const sessionId = crypto.randomUUID();
        expected.sessions.add(sessionId);
        const transcriptPath = join(project, `${sessionId}.jsonl`);
        await Deno.writeTextFile(transcriptPath, "");
        const base = {
          session_id: sessionId,
          transcript_path: transcriptPath,
          cwd: project,
          permission_mode: "default",
        };
        await fireHook(project, {
          ...base,
          hook_event_name: "SessionStart",
          source: "startup",
          model: "claude-sonnet-4-5",
        }, false);
        let parent: string | null = null;
        for (let p = 0; p < PROMPTS_PER_SESSION; p++) {
          const promptId = `${sessionId}-p${p}`;
          const prompt = `session ${index} prompt ${p}: ${"make it so ".repeat(random.int(1, 20))}`;
          const userUuid = crypto.randomUUID();
          await append(transcriptPath, {
            type: "user",
            uuid: userUuid,
            parentUuid: parent,
            sessionId,
            message: { role: "user", content: prompt },
          });
          parent = userUuid;
          const promptKilled = await fireHook(project, {
            ...base,
            hook_event_name: "UserPromptSubmit",
            prompt,
            prompt_id: promptId,
          }, true);
          expected.prompts.set(prompt, { session: sessionId, killed: promptKilled });
          const tools = random.int(1, 3);
          let lastText = "";
          for (let t = 0; t < tools; t++) {
            const toolUseId = `toolu_${crypto.randomUUID().replaceAll("-", "")}`;
            const messageId = `msg_${crypto.randomUUID().slice(0, 12)}`;
            const requestId = `req_${crypto.randomUUID().slice(0, 12)}`;
            const usage = {
              input_tokens: random.int(100, 5000),
              output_tokens: random.int(10, 900),
              cache_creation_input_tokens: random.int(0, 300),
              cache_read_input_tokens: random.int(0, 9000),
            };
            expected.usage.set(`${messageId}/${requestId}`, {
              input: usage.input_tokens,
              output: usage.output_tokens,
            });
            lastText = `Working on step ${t} of prompt ${p}.`;
            // One API message, two content blocks: usage repeats on both lines.
            for (
              const content of [[{ type: "text", text: lastText }], [{
                type: "tool_use",
                id: toolUseId,
                name: "Bash",
                input: { command: `echo ${t}` },
              }]]
            ) {
              const uuid = crypto.randomUUID();
              expected.assistantUuids.add(uuid);
              await append(transcriptPath, {
                type: "assistant",
                uuid,
                parentUuid: parent,
                sessionId,
                requestId,
                timestamp: new Date().toISOString(),
                message: {
                  id: messageId,
                  role: "assistant",
                  model: "claude-sonnet-4-5",
                  content,
                  usage,
                },
              });
              parent = uuid;
            }
            const toolInput = { command: `echo ${t}`, description: "step" };
            const preKilled = await fireHook(project, {
              ...base,
              hook_event_name: "PreToolUse",
              tool_name: "Bash",
              tool_input: toolInput,
              tool_use_id: toolUseId,
              prompt_id: promptId,
            }, true);
            const failed = random.chance(0.2);
            // Real-sized tool output: up to ~200 KB.
            const output = "line of build output\n".repeat(random.int(10, 10_000));
            const postKilled = await fireHook(
              project,
              failed
                ? {
                  ...base,
                  hook_event_name: "PostToolUseFailure",
                  tool_name: "Bash",
                  tool_input: toolInput,
                  tool_use_id: toolUseId,
                  error: `exit 1\n${output.slice(0, 2000)}`,
                  duration_ms: random.int(5, 5000),
                }
                : {
                  ...base,
                  hook_event_name: "PostToolUse",
                  tool_name: "Bash",
                  tool_input: toolInput,
                  tool_use_id: toolUseId,
                  tool_response: { stdout: output, stderr: "", interrupted: false },
                  duration_ms: random.int(5, 5000),
                },
              true,
            );
            expected.tools.set(toolUseId, {
              session: sessionId,
              failed,
              killed: postKilled,
            });
            void preKilled;
          }
          const last = p === PROMPTS_PER_SESSION - 1;
          // Stop may fire while Claude Code is half way through flushing a line.
          const torn = random.chance(0.5)
            ? await tornLine(transcriptPath, sessionId, expected)
            : null;
          await fireHook(project, {
            ...base,
            hook_event_name: "Stop",
            stop_hook_active: false,
            last_assistant_message: lastText,
            prompt_id: promptId,
          }, !last);
          await torn?.();
        }
        await fireHook(project, { ...base, hook_event_name: "SessionEnd", reason: "other" }, false);
      };

      // Shippers started at random beside the ones hooks start (each exits at once while one
      // runs), some SIGKILLed mid-work: the next one must reclaim their leases.
      const shipping = (async () => {
        while (running) {
          const project = random.pick(projects);
          const child = arrakisCommand(["queue", "ship", "--quiet"], { env: clientEnv(project) })
            .spawn();
          child.stdout.cancel();
          child.stderr.cancel();
          shippers.add(child);
          child.status.then(() => shippers.delete(child));
          if (random.chance(0.3)) {
            await sleep(random.int(50, 400));
            try {
              child.kill("SIGKILL");
              faults.shippersKilled++;
            } catch { /* it had already exited */ }
          }
          await sleep(random.int(200, 800));
        }
      })();

      const chaos = (async () => {
        while (running) {
          await sleep(random.int(300, 900));
          if (!running) break;
          const fault = random.pick(["restart", "postgres", "error500", "hang", "refuse"] as const);
          if (fault === "restart") {
            await killServer();
            faults.serverRestarts++;
            await sleep(random.int(50, 400));
            await startServer();
          } else if (fault === "postgres") {
            await pg.stop("immediate");
            faults.postgresCrashes++;
            await sleep(random.int(200, 1200));
            await pg.start();
          } else {
            await proxy.setMode(fault);
            faults.proxy[fault]++;
            await sleep(random.int(200, 1200));
            await proxy.setMode("pass");
          }
        }
      })();

      const deadline = setTimeout(() => running = false, 150_000);
      await Promise.all(Array.from({ length: SESSIONS }, (_, i) => session(i)));
      running = false;
      clearTimeout(deadline);
      await Promise.all([shipping, chaos]);

      // Heal: everything up, then the documented recovery: dead letters back in pending, and a
      // shipper that waits out the leases of killed ones and runs until the spool is idle.
      await proxy.setMode("pass");
      await killServer();
      await startServer();
      for (const project of projects) {
        for (let round = 0; round < 10 && !(await spoolEmpty(clientEnv(project))); round++) {
          await runArrakis(["queue", "retry", "--all", "--failed"], { env: clientEnv(project) });
          const shipped = await runArrakis(["queue", "ship"], { env: clientEnv(project) });
          assert.equal(shipped.code, 0, shipped.stderr);
          // A shipper started by a hook may still run: it delivers, this one said so and left.
          if (!(await spoolEmpty(clientEnv(project)))) await sleep(1_000);
        }
        assert.ok(
          await spoolEmpty(clientEnv(project)),
          `spool of ${project} not empty after healing`,
        );
      }
      for (const child of shippers) await child.status;

      await verify(pg.url, expected, faults);
    } finally {
      for (const child of shippers) {
        try {
          child.kill("SIGKILL");
        } catch { /* already exited */ }
      }
      await proxy.close();
      await killServer().catch(() => {});
      await pg.destroy();
      if (Deno.env.get("ARRAKIS_CHAOS_KEEP")) console.log(`kept ${root}`);
      else await Deno.remove(root, { recursive: true }).catch(() => {});
    }
  },
});

async function verify(url: string, expected: Expected, faults: Faults) {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const conversations = await sql`SELECT session_id, ended_at FROM conversations`;
    assert.deepEqual(
      new Set(conversations.map((row) => row.session_id)),
      expected.sessions,
      "conversations",
    );
    assert.ok(conversations.every((row) => row.ended_at !== null), "a conversation is not closed");

    const prompts = await sql`
      SELECT content, count(*)::int AS n FROM messages
      WHERE role = 'user' AND source = 'prompt' GROUP BY content`;
    const promptCounts = new Map(prompts.map((row) => [row.content as string, row.n as number]));
    let killedButStored = 0;
    let lostBeforeSpool = 0;
    for (const [prompt, { killed }] of expected.prompts) {
      const n = promptCounts.get(prompt) ?? 0;
      if (killed) {
        assert.ok(n <= 1, `prompt stored ${n} times`);
        n === 1 ? killedButStored++ : lostBeforeSpool++;
      } else assert.equal(n, 1, `prompt stored ${n} times: ${prompt.slice(0, 40)}`);
    }
    assert.equal(prompts.length, [...promptCounts.keys()].length);

    const tools = await sql`SELECT tool_use_id, status, tool_response, error FROM tool_uses`;
    const toolRows = new Map(tools.map((row) => [row.tool_use_id as string, row]));
    for (const [id, { failed, killed }] of expected.tools) {
      const row = toolRows.get(id);
      if (killed) {
        if (!row) lostBeforeSpool++;
        else killedButStored++;
        continue;
      }
      assert.ok(row, `tool use ${id} missing`);
      assert.equal(row.status, failed ? "failure" : "success", `tool use ${id} status`);
      assert.ok(failed ? row.error !== null : row.tool_response !== null, `tool use ${id} body`);
    }
    assert.ok(tools.every((row) => expected.tools.has(row.tool_use_id)), "unexpected tool use");

    const assistant = await sql`
      SELECT transcript_uuid FROM messages WHERE role = 'assistant' AND source = 'transcript'`;
    assert.equal(assistant.length, expected.assistantUuids.size, "assistant messages");
    assert.deepEqual(
      new Set(assistant.map((row) => row.transcript_uuid)),
      expected.assistantUuids,
    );

    const usage = await sql`
      SELECT message_id || '/' || api_request_id AS key, input_tokens::int AS input,
             output_tokens::int AS output FROM token_usage`;
    assert.equal(usage.length, expected.usage.size, "token usage rows");
    for (const row of usage) {
      assert.deepEqual(
        { input: row.input, output: row.output },
        expected.usage.get(row.key),
        `usage ${row.key}`,
      );
    }

    const statuses = await sql`
      SELECT status::text, count(*)::int AS n FROM webhook_events GROUP BY status ORDER BY status`;
    const byStatus: Record<string, number> = Object.fromEntries(
      statuses.map((row) => [row.status as string, row.n as number]),
    );
    assert.equal(byStatus.RECEIVED ?? 0, 0, "requests left RECEIVED");
    assert.equal(byStatus.PROCESSING ?? 0, 0, "requests left PROCESSING");
    const [{ total }] = await sql`SELECT count(*)::int AS total FROM webhook_events`;
    assert.equal(total, Object.values(byStatus).reduce((a, b) => a + b, 0));
    const twice = await sql`
      SELECT request_id FROM webhook_events WHERE status = 'SUCCESS'
      GROUP BY request_id HAVING count(*) > 1`;
    assert.equal(twice.length, 0, "a requestId succeeded twice");

    console.log(
      `chaos seed ${SEED}: ${faults.hooksRun} hooks run; faults: ${faults.serverRestarts} server ` +
        `restarts, ${faults.postgresCrashes} PostgreSQL crashes, ${faults.proxy.error500} 500 ` +
        `windows, ${faults.proxy.hang} hang windows, ${faults.proxy.refuse} refuse windows, ` +
        `${faults.hooksKilled} hooks and ${faults.shippersKilled} shippers SIGKILLed ` +
        `(${killedButStored} killed events stored anyway, ${lostBeforeSpool} killed before ` +
        `their spool write). Checked ${expected.sessions.size} conversations, ` +
        `${expected.prompts.size} prompts, ${expected.tools.size} tool uses, ` +
        `${expected.assistantUuids.size} assistant messages, ${expected.usage.size} usage ` +
        `records; audit: ${JSON.stringify(byStatus)}`,
    );
  } finally {
    await sql.end();
  }
}

async function append(path: string, line: unknown) {
  await Deno.writeTextFile(path, JSON.stringify(line) + "\n", { append: true });
}

/** Writes half of a new assistant line now; the returned function writes the rest. */
async function tornLine(path: string, sessionId: string, expected: Expected) {
  const uuid = crypto.randomUUID();
  const messageId = `msg_${crypto.randomUUID().slice(0, 12)}`;
  const requestId = `req_${crypto.randomUUID().slice(0, 12)}`;
  expected.assistantUuids.add(uuid);
  expected.usage.set(`${messageId}/${requestId}`, { input: 7, output: 3 });
  const text = JSON.stringify({
    type: "assistant",
    uuid,
    sessionId,
    requestId,
    message: {
      id: messageId,
      role: "assistant",
      model: "claude-sonnet-4-5",
      content: [{ type: "text", text: "a line flushed in two parts" }],
      usage: { input_tokens: 7, output_tokens: 3 },
    },
  }) + "\n";
  const cut = Math.floor(text.length / 2);
  await Deno.writeTextFile(path, text.slice(0, cut), { append: true });
  return () => Deno.writeTextFile(path, text.slice(cut), { append: true });
}

/** Twice, apart: a file a shipper moves between directories can hide from one listing. */
async function spoolEmpty(env: Record<string, string>): Promise<boolean> {
  if (!await spoolLooksEmpty(env)) return false;
  await sleep(100);
  return await spoolLooksEmpty(env);
}

async function spoolLooksEmpty(env: Record<string, string>): Promise<boolean> {
  const { queueDir } = loadConfig(env);
  for (const state of ["pending", "processing", "failed"]) {
    try {
      for await (const entry of Deno.readDir(join(queueDir, state))) {
        if (entry.isFile && entry.name.endsWith(".json")) return false;
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  return true;
}
