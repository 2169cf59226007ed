// arrakis behind a real PgBouncer in transaction pooling mode: migrations, single and batch
// ingest through it (ARRAKIS_PG_PREPARE=false), live events and the leader on the direct URL.
import assert from "node:assert/strict";
import postgres from "postgres";
import { join } from "node:path";
import { ADMIN_URL, storeTest } from "./helpers/stores.ts";
import { freePort } from "./helpers/net.ts";
import { runArrakis } from "./helpers/cli.ts";
import { fixturePayload, makeEnvelope, post, startTestServer } from "./helpers/server.ts";
import { tempDir } from "./helpers/temp.ts";

const PGBOUNCER = ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"].find((path) => {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
});

interface Bouncer {
  port: number;
  stop(): Promise<void>;
}

/** A pgbouncer on a free loopback port in front of the test PostgreSQL, in transaction mode. */
async function startPgBouncer(): Promise<Bouncer> {
  const upstream = new URL(ADMIN_URL);
  const dir = await tempDir("arrakis-pgbouncer-");
  // pgbouncer refuses to run as root; as root it drops to the postgres user, who must read these.
  const asRoot = Deno.uid() === 0;
  if (asRoot) await Deno.chmod(dir, 0o755);
  const port = await freePort();
  const ini = join(dir, "pgbouncer.ini");
  await Deno.writeTextFile(join(dir, "users.txt"), `"${upstream.username}" ""\n`);
  await Deno.writeTextFile(
    ini,
    `[databases]
* = host=${upstream.hostname} port=${upstream.port || 5432}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port}
unix_socket_dir =
auth_type = trust
auth_file = ${join(dir, "users.txt")}
pool_mode = transaction
max_client_conn = 200
default_pool_size = 6
ignore_startup_parameters = extra_float_digits
`,
  );
  const child = new Deno.Command(PGBOUNCER!, {
    args: [...(asRoot ? ["-u", "postgres"] : []), ini],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const deadline = Date.now() + 10_000;
  while (true) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      break;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return {
    port,
    async stop() {
      child.kill("SIGTERM");
      await child.status;
      await Deno.remove(dir, { recursive: true });
    },
  };
}

const NAME = "pgbouncer: migrations, ingest and batch through a transaction pooler";

if (!PGBOUNCER) {
  Deno.test({ name: `${NAME} [skipped: pgbouncer not installed]`, ignore: true, fn() {} });
}

storeTest(
  NAME,
  async ({ db }) => {
    const bouncer = await startPgBouncer();
    const direct = new URL(db.databaseUrl!);
    const pooled = new URL(db.databaseUrl!);
    pooled.port = String(bouncer.port);
    const env = {
      ...db.env,
      DATABASE_URL: pooled.toString(),
      ARRAKIS_DIRECT_DATABASE_URL: direct.toString(),
      ARRAKIS_PG_PREPARE: "false",
    };
    const sql = postgres(direct.toString(), { max: 1, onnotice: () => {} });
    try {
      // Without the direct URL a pooled deployment is refused in one line naming the setting.
      const refused = await runArrakis(["migrate"], {
        env: { ...env, ARRAKIS_DIRECT_DATABASE_URL: "" },
      });
      assert.equal(refused.code, 2);
      assert.match(refused.stderr, /ARRAKIS_DIRECT_DATABASE_URL: required/);

      const migrated = await runArrakis(["migrate"], { env });
      assert.equal(migrated.code, 0, migrated.stderr);
      assert.match(migrated.stdout, /applied .*0005_team\.sql/);

      const server = await startTestServer(db, {
        ...env,
        ARRAKIS_API_KEY: "ark_pgbouncer_key_0123456789",
      });
      try {
        const single = await post(
          server,
          "/api/claude-hooks",
          makeEnvelope(fixturePayload("SessionStart")),
        );
        assert.equal(single.status, 200, JSON.stringify(single.body));
        assert.equal(single.body.status, "SUCCESS");
        const batch = await post(server, "/api/claude-hooks/batch", [
          makeEnvelope(fixturePayload("UserPromptSubmit")),
          makeEnvelope(fixturePayload("PreToolUse")),
          makeEnvelope(fixturePayload("PostToolUse")),
        ]);
        assert.equal(batch.status, 200, JSON.stringify(batch.body));
        const results = batch.body.results as { status: string }[];
        assert.deepEqual(results.map((r) => r.status), ["SUCCESS", "SUCCESS", "SUCCESS"]);
        // Many statements interleaved on few server connections: nothing prepared leaks across.
        const many = await Promise.all(
          Array.from(
            { length: 20 },
            () => post(server, "/api/claude-hooks", makeEnvelope(fixturePayload("Notification"))),
          ),
        );
        assert.deepEqual([...new Set(many.map((m) => m.status))], [200]);
        const [{ n }] = await sql<{ n: number }[]>`
          SELECT count(*)::int AS n FROM webhook_events WHERE status = 'SUCCESS'`;
        assert.equal(n, 24);
        const [conversation] = await sql`SELECT key_name FROM conversations`;
        assert.equal(conversation.key_name, "env");
        // The instance registered and beats through the pooler; its leader lock is direct.
        const [instance] = await sql`SELECT count(*)::int AS n FROM instances`;
        assert.equal(instance.n, 1);
        assert.doesNotMatch(server.output(), /failed/);
      } finally {
        await server.stop();
      }
    } finally {
      await sql.end();
      await bouncer.stop();
    }
  },
  { kinds: PGBOUNCER ? ["postgres"] : [], migrated: false },
);
