import assert from "node:assert/strict";
import { createTestDatabase, openTestStore } from "./helpers/stores.ts";
import { runArrakis } from "./helpers/cli.ts";

Deno.test({
  name: "a second process opening the same PGlite directory gets a clear error; data survives",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const db = await createTestDatabase("pglite");
    try {
      const store = await openTestStore(db);
      await store.sql`INSERT INTO conversations (session_id) VALUES ('kept')`;
      const second = await runArrakis(["migrate"], { env: db.env });
      assert.equal(second.code, 1);
      assert.equal(second.stdout, "");
      assert.match(second.stderr, /in use by another arrakis process/);
      const [{ count }] = await store.sql`SELECT count(*)::int AS count FROM conversations`;
      assert.equal(count, 1);
      await store.close();

      // Once the holder is gone, the next process opens it and finds the data.
      const reopened = await openTestStore(db);
      const rows = await reopened.sql`SELECT session_id FROM conversations`;
      assert.deepEqual(rows.map((row) => row.session_id), ["kept"]);
      await reopened.close();
    } finally {
      await db.destroy();
    }
  },
});

Deno.test({
  name: "a holder killed with SIGKILL releases the lock and leaves the data readable",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const db = await createTestDatabase("pglite");
    try {
      const store = await openTestStore(db);
      await store.sql`INSERT INTO conversations (session_id) VALUES ('before-kill')`;
      await store.close();
      // A child holds the store open, then is killed without any chance to clean up.
      const script = `
        import { openStore } from "${new URL("../src/store/open.ts", import.meta.url).href}";
        const store = await openStore({ databaseUrl: undefined, pgliteDir: Deno.args[0] });
        await store.sql\`INSERT INTO conversations (session_id) VALUES ('from-child')\`;
        console.log("ready");
        await new Promise(() => {});`;
      const child = new Deno.Command(Deno.execPath(), {
        args: ["eval", "--quiet", script, `${db.home}/db`],
        stdout: "piped",
        stderr: "null",
      }).spawn();
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      assert.match((await reader.read()).value ?? "", /ready/);
      child.kill("SIGKILL");
      await child.status;
      reader.releaseLock();
      await child.stdout.cancel().catch(() => {});

      const reopened = await openTestStore(db);
      const rows = await reopened.sql`SELECT session_id FROM conversations ORDER BY id`;
      assert.deepEqual(rows.map((row) => row.session_id), ["before-kill", "from-child"]);
      await reopened.close();
    } finally {
      await db.destroy();
    }
  },
});
