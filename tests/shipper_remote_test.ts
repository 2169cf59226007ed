// The shipper against a remote server: the real `arrakis queue ship` sending over TLS through
// the benchmarks' delay proxy (40 ms RTT, the handshake delayed too) to the real server.
// Events arrive one by one as a session makes them; each is stored on its first attempt (no
// backoff wait) and all of them travel over one kept-alive connection: one TLS handshake.
import assert from "node:assert/strict";
import { join } from "node:path";
import { storeTest } from "./helpers/stores.ts";
import { startInProcessServer } from "./helpers/server.ts";
import { openSpool } from "../src/queue/spool.ts";
import { envelope, tempQueueDir } from "./helpers/queue.ts";
import { auditOf, spoolFiles, startShipper, until } from "./helpers/shipper.ts";
import { startDelayProxy } from "../bench/delay_proxy.ts";

storeTest(
  "events reach a server behind a 40 ms TLS proxy at once, over one connection",
  async ({ db }) => {
    const server = await startInProcessServer(db);
    const proxy = await startDelayProxy({
      upstreamPort: Number(new URL(server.url).port),
      rttMs: 40,
    });
    const dir = await tempQueueDir();
    const shipper = startShipper({
      ARRAKIS_QUEUE_DIR: dir,
      ARRAKIS_URL: proxy.url,
      ARRAKIS_API_KEY: server.apiKey,
      ARRAKIS_CONFIG: join(dir, "..", "client.json"),
      ARRAKIS_HOME: join(dir, "..", "home"),
      ARRAKIS_LOG_DIR: join(dir, "..", "logs"),
      ARRAKIS_SHIPPER_IDLE: "1s",
      DENO_CERT: proxy.certFile,
    });
    try {
      // Signed with the key of the shipper's home, or it quarantines them.
      const spool = await openSpool(dir, { keyFile: join(dir, "..", "home", "spool.key") });
      const ids: string[] = [];
      for (let i = 0; i < 8; i++) {
        ids.push((await spool.put(envelope())).id);
        const stored = await until(
          async () => (await auditOf(server.sql, ids)).success.size === ids.length,
          30_000,
        );
        assert.ok(stored, shipper.stderr());
      }
      assert.equal((await shipper.status).code, 0, shipper.stderr());
      assert.equal(shipper.stderr(), "queue ship: idle: delivered 8\n");
      assert.deepEqual(await spoolFiles(dir), []);
      const attempts = await server.sql<{ attempt: number }[]>`
        SELECT attempt FROM webhook_events WHERE request_id = ANY(${ids})`;
      assert.deepEqual(attempts.map((row) => row.attempt), ids.map(() => 1));
      assert.equal(proxy.connections(), 1, "one TLS handshake for the whole run");
    } finally {
      await shipper.kill();
      await proxy.close();
      await server.stop();
    }
  },
  { kinds: ["pglite"] },
);
