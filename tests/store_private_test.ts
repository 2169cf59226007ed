// The embedded store is private (issue 16 §5): no TCP listener at all, a Unix socket inside the
// 0700 home, and the home and data directory made 0700 on every start.
import assert from "node:assert/strict";
import { join } from "node:path";
import { startEmbedded } from "../src/store/embedded.ts";
import { createTestDatabase } from "./helpers/stores.ts";
import { tempDir } from "./helpers/temp.ts";

/** Inodes of the TCP sockets this process listens on, from /proc. */
async function listeningTcpInodes(): Promise<Set<string>> {
  const inodes = new Set<string>();
  for (const file of ["/proc/self/net/tcp", "/proc/self/net/tcp6"]) {
    const text = await Deno.readTextFile(file).catch(() => "");
    for (const line of text.split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[3] === "0A") inodes.add(cols[9]); // state LISTEN
    }
  }
  const mine = new Set<string>();
  for await (const entry of Deno.readDir("/proc/self/fd")) {
    const target = await Deno.readLink(`/proc/self/fd/${entry.name}`).catch(() => "");
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
    if (inode && inodes.has(inode)) mine.add(inode);
  }
  return mine;
}

async function mode(path: string): Promise<string> {
  return ((await Deno.stat(path)).mode! & 0o777).toString(8);
}

/** Whether `runuser` can run a command as an unprivileged user here (root in CI). */
async function canRunAsNobody(): Promise<boolean> {
  try {
    const { code } = await new Deno.Command("runuser", { args: ["-u", "nobody", "--", "true"] })
      .output();
    return code === 0;
  } catch {
    return false;
  }
}

const RUNUSER = await canRunAsNobody();

Deno.test({
  name: "store: the embedded store listens on no TCP port and makes an open home private",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const db = await createTestDatabase("pglite");
    try {
      await Deno.chmod(db.home, 0o755);
      await Deno.chmod(join(db.home, "db"), 0o755);
      const before = await listeningTcpInodes();
      const embedded = await startEmbedded(join(db.home, "db"), { home: db.home });
      try {
        const after = await listeningTcpInodes();
        assert.deepEqual([...after].filter((inode) => !before.has(inode)), []);
        assert.equal(await mode(db.home), "700");
        assert.equal(await mode(join(db.home, "db")), "700");
        assert.equal(await mode(embedded.socketDir), "700");
        assert.equal(await mode(embedded.socketPath), "600");
      } finally {
        await embedded.close();
      }
    } finally {
      await db.destroy();
    }
  },
});

Deno.test({
  name: RUNUSER
    ? "store: another local user cannot connect to the embedded store"
    : "store: another local user cannot connect [skipped: runuser -u nobody unavailable]",
  ignore: !RUNUSER,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const db = await createTestDatabase("pglite");
    try {
      const embedded = await startEmbedded(join(db.home, "db"));
      try {
        // The owner can: the socket works.
        const owner = await new Deno.Command("psql", {
          args: ["-h", embedded.socketDir, "-U", "postgres", "-tAc", "SELECT 41 + 1"],
        }).output();
        assert.equal(new TextDecoder().decode(owner.stdout).trim(), "42");
        // Another user cannot even reach the socket.
        const other = await new Deno.Command("runuser", {
          args: [
            "-u",
            "nobody",
            "--",
            "psql",
            "-h",
            embedded.socketDir,
            "-U",
            "postgres",
            "-tAc",
            "SELECT 1",
          ],
          stdout: "piped",
          stderr: "piped",
        }).output();
        assert.notEqual(other.code, 0);
        assert.match(new TextDecoder().decode(other.stderr), /permission denied/i);
      } finally {
        await embedded.close();
      }
    } finally {
      await db.destroy();
    }
  },
});

Deno.test("store: a store directory too long for a Unix socket is refused in words", async () => {
  const parent = await tempDir();
  try {
    const home = join(parent, "h".repeat(100));
    await assert.rejects(
      () => startEmbedded(join(home, "db")),
      (error: Error) => /too long for its socket/.test(error.message),
    );
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});

Deno.test({
  name: "store: a data directory straight in a shared directory leaves that directory alone",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const shared = await tempDir();
    await Deno.chmod(shared, 0o1777);
    try {
      const embedded = await startEmbedded(join(shared, "store"));
      await embedded.close();
      assert.equal(((await Deno.stat(shared)).mode! & 0o7777).toString(8), "1777");
      assert.equal(await mode(join(shared, "store")), "700");
    } finally {
      await Deno.remove(shared, { recursive: true });
    }
  },
});
