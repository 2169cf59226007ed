// The server against a hostile network: idle and slow-header connections past the open-file
// limit (a real child under a lowered `ulimit -n`), the connection cap, the soft file limit
// raised at start, the statement timeout, and a shutdown deadline.
import assert from "node:assert/strict";
import postgres from "postgres";
import { childEnv, CONFIG, MAIN } from "./helpers/cli.ts";
import { freePort, waitForHttp } from "./helpers/net.ts";
import { ADMIN_URL, POSTGRES_REACHABLE, storeTest, type TestDatabase } from "./helpers/stores.ts";
import {
  fixturePayload,
  makeEnvelope,
  post,
  startInProcessServer,
  startTestServer,
} from "./helpers/server.ts";
import { PERMISSIONS } from "../src/permissions.ts";

const KEY = "network-key-0123456789abcdef";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Child {
  url: string;
  pid: number;
  output(): string;
  stop(): Promise<number>;
}

/** `arrakis serve` run through `sh -c 'ulimit ...; exec deno ...'`: the limit is the child's. */
async function serveUnderUlimit(
  db: TestDatabase,
  ulimit: string,
  env: Record<string, string> = {},
): Promise<Child> {
  const port = await freePort();
  const child = new Deno.Command("sh", {
    args: [
      "-c",
      `ulimit ${ulimit} && exec "$0" "$@"`,
      Deno.execPath(),
      "run",
      "--quiet",
      "--config",
      CONFIG,
      ...PERMISSIONS,
      MAIN,
      "serve",
    ],
    env: childEnv({
      ...db.env,
      PORT: String(port),
      ARRAKIS_HOST: "127.0.0.1",
      ARRAKIS_API_KEY: KEY,
      ARRAKIS_LOG_LEVEL: "info",
      ...env,
    }),
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  const drain = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) text += chunk;
  };
  const drained = Promise.all([drain(child.stdout), drain(child.stderr)]);
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${url}/health`, 60_000);
  } catch (error) {
    child.kill("SIGKILL");
    await drained;
    throw new Error(`${error}\n${text}`);
  }
  return {
    url,
    pid: child.pid,
    output: () => text,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      const status = await child.status;
      await drained;
      return status.code;
    },
  };
}

/** Resolves when the server closes the connection (a read gives EOF or an error). */
async function closedByServer(conn: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(4096);
  try {
    while ((await conn.read(buffer)) !== null) { /* an error page, then the close */ }
  } catch { /* reset: closed too */ }
}

function prompt(i: number) {
  return makeEnvelope({
    ...fixturePayload("UserPromptSubmit"),
    prompt: `p ${i}`,
    prompt_id: `${i}`,
  });
}

storeTest(
  "network: 1.5x the open-file limit in idle and slow-header connections; the server lives on",
  async ({ db }) => {
    const server = await serveUnderUlimit(db, "-n 256", { ARRAKIS_HEADERS_TIMEOUT: "1s" });
    const conns: Deno.Conn[] = [];
    try {
      for (let i = 0; i < 384; i++) {
        conns.push(
          await Deno.connect({ hostname: "127.0.0.1", port: Number(new URL(server.url).port) }),
        );
        // Every other one starts a request and never finishes its headers.
        if (i % 2 === 0) await conns[i].write(new TextEncoder().encode("GET /health HTTP/1.1\r\n"));
      }
      // Each one is closed by the server: refused at the cap, or cut at the header timeout.
      await Promise.all(conns.map(closedByServer));
      const health = await fetch(`${server.url}/health`);
      assert.equal(health.status, 200);
      await health.body?.cancel();
      const answer = await post({ url: server.url, apiKey: KEY }, "/api/claude-hooks", prompt(1));
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.match(server.output(), /connection limit reached/);
      // EMFILE may still happen (descriptors freed late); it costs a retried accept, no more.
      assert.doesNotMatch(server.output(), /Uncaught/);
    } finally {
      for (const conn of conns) {
        try {
          conn.close();
        } catch { /* closed already */ }
      }
      assert.equal(await server.stop(), 0, server.output());
    }
  },
);

storeTest(
  "network: clients that half-close or vanish mid-request never end the server",
  async ({ db }) => {
    const server = await startTestServer(db);
    try {
      const port = Number(new URL(server.url).port);
      for (let i = 0; i < 5; i++) {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port });
        await conn.write(new TextEncoder().encode("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"));
        await conn.closeWrite();
        await closedByServer(conn);
        conn.close();
        const cut = await Deno.connect({ hostname: "127.0.0.1", port });
        await cut.write(new TextEncoder().encode("POST /api/claude-hooks HTTP/1.1\r\nHost: x\r\n"));
        cut.close();
      }
      const answer = await post(server, "/api/claude-hooks", prompt(4));
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.equal(server.exitCode(), null, server.output());
    } finally {
      await server.stop();
    }
  },
  { kinds: ["pglite"] },
);

storeTest(
  "network: a lowered soft file limit is raised to the hard one, and the cap follows it",
  async ({ db }) => {
    const server = await serveUnderUlimit(db, "-Sn 256");
    let limits: string;
    try {
      limits = await Deno.readTextFile(`/proc/${server.pid}/limits`);
    } finally {
      // Stopped before its output is read: stdout lines are written in 20 ms batches, so the
      // start-up line may still be on its way when /health first answers.
      await server.stop();
    }
    const soft = Number(/^Max open files\s+(\d+)/m.exec(limits)?.[1]);
    assert.ok(soft > 256, limits);
    const cap = Number(/at most (\d+) connections/.exec(server.output())?.[1]);
    assert.ok(cap > 256, server.output());
  },
  { kinds: ["pglite"] },
);

storeTest(
  "network: past ARRAKIS_MAX_CONNECTIONS new connections wait, and the log says so once",
  async ({ db }) => {
    const server = await startTestServer(db, {
      ARRAKIS_MAX_CONNECTIONS: "20",
      ARRAKIS_LOG_LEVEL: "warning",
    });
    const conns: Deno.Conn[] = [];
    try {
      const port = Number(new URL(server.url).port);
      for (let i = 0; i < 30; i++) conns.push(await Deno.connect({ hostname: "127.0.0.1", port }));
      // The cap is full (idle connections, and the pooled one from start-up): a request on a
      // new connection waits, unanswered.
      const fresh = await Deno.connect({ hostname: "127.0.0.1", port });
      await fresh.write(new TextEncoder().encode("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"));
      const held = await Promise.race([
        fresh.read(new Uint8Array(1024)).then((n) => `answered (${n} bytes)`),
        sleep(1_000).then(() => "waiting"),
      ]);
      assert.equal(held, "waiting");
      conns.push(fresh);
      for (const conn of conns) conn.close();
      conns.length = 0;
      await waitForHttp(`${server.url}/health`);
      assert.equal(server.output().match(/connection limit reached/g)?.length, 1, server.output());
    } finally {
      for (const conn of conns) conn.close();
      await server.stop();
    }
  },
  { kinds: ["pglite"] },
);

storeTest(
  "network: a statement past ARRAKIS_STATEMENT_TIMEOUT is cancelled; the store answers after",
  async ({ db }) => {
    const server = await startInProcessServer(db, { ARRAKIS_STATEMENT_TIMEOUT: "300ms" });
    try {
      await assert.rejects(server.sql`SELECT pg_sleep(30)`, (error: Error & { code?: string }) => {
        assert.equal(error.code, "57014", String(error));
        return true;
      });
      const answer = await post(server, "/api/claude-hooks", prompt(2));
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
    } finally {
      await server.stop();
    }
  },
  { kinds: ["postgres"] },
);

storeTest(
  "network: SIGTERM with a request stuck on a lock exits at the shutdown deadline",
  async ({ db }) => {
    const server = await startTestServer(db, { ARRAKIS_SHUTDOWN_TIMEOUT: "500ms" });
    const blocker = postgres(db.databaseUrl!, { max: 1, onnotice: () => {} });
    const watcher = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    try {
      const locking = blocker.begin(async (tx) => {
        await tx`LOCK TABLE conversations IN ACCESS EXCLUSIVE MODE`;
        await held;
      });
      await sleep(100);
      const stuck = post(server, "/api/claude-hooks", prompt(3)).catch((error) => error);
      for (let i = 0; i < 100; i++) {
        const [{ waiting }] = await watcher`
          SELECT count(*)::int AS waiting FROM pg_stat_activity
          WHERE application_name = 'arrakis' AND wait_event_type = 'Lock'`;
        if (waiting > 0) break;
        await sleep(50);
      }
      // The lock is still held when the server is gone: the deadline, not the lock, ended it.
      await server.stop();
      assert.notEqual(server.exitCode(), null);
      assert.match(server.output(), /shutdown deadline passed/);
      const outcome = await stuck;
      assert.ok(outcome instanceof Error || outcome.status >= 500, String(outcome));
      release();
      await locking;
    } finally {
      release();
      await blocker.end();
      await watcher.end();
      await server.kill();
    }
  },
  { kinds: POSTGRES_REACHABLE ? ["postgres"] : [] },
);
