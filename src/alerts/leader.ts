// One leader at a time among the instances on one PostgreSQL: a session advisory lock held on
// a dedicated connection. A killed leader's connection drops and PostgreSQL frees the lock; a
// graceful one unlocks on stop, so a peer takes over on its next try.
import type { Sql } from "../store/open.ts";

/** Arbitrary constant every arrakis instance agrees on ("arrakis-leader"). */
const LEADER_LOCK_KEY = 0x6c_65_61_64_65_72;

export interface Leadership {
  /** Whether this instance leads now; tries to take the lock when it does not. */
  check(): Promise<boolean>;
  /** Gives the lock up (graceful shutdown) and stops trying. */
  release(): Promise<void>;
}

/** Always the leader: the embedded store has one process by construction. */
export const SOLE_LEADER: Leadership = {
  check: () => Promise.resolve(true),
  release: () => Promise.resolve(),
};

/** `sql` must reach PostgreSQL directly: a transaction pooler does not keep session locks. */
export function advisoryLeadership(sql: Sql): Leadership {
  let held: Awaited<ReturnType<Sql["reserve"]>> | undefined;
  let released = false;
  let turn: Promise<unknown> = Promise.resolve();

  function drop(): void {
    const connection = held;
    held = undefined;
    connection?.release();
  }

  async function check(): Promise<boolean> {
    if (released) return false;
    if (held) {
      try {
        await held`SELECT 1`;
        return true;
      } catch {
        // The connection died and took the lock with it: try afresh below.
        drop();
      }
    }
    const connection = await sql.reserve();
    try {
      const [{ locked }] = await connection<{ locked: boolean }[]>`
        SELECT pg_try_advisory_lock(${LEADER_LOCK_KEY}) AS locked`;
      if (locked && !released) {
        held = connection;
        return true;
      }
      if (locked) await connection`SELECT pg_advisory_unlock(${LEADER_LOCK_KEY})`;
    } catch { /* the database is unreachable: not leading */ }
    connection.release();
    return false;
  }

  return {
    // Serialised so two overlapping calls never reserve two connections.
    check: () => (turn = turn.then(check, check)) as Promise<boolean>,
    async release() {
      released = true;
      await turn.catch(() => {});
      const connection = held;
      if (!connection) return;
      await connection`SELECT pg_advisory_unlock(${LEADER_LOCK_KEY})`.catch(() => {});
      drop();
    },
  };
}
