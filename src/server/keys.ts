// API keys per person or machine: issued with a role, stored only as their sha256, and checked
// against an in-memory copy refreshed every few seconds, so a revocation reaches every
// instance within seconds without a database round trip per request.
import { timingSafeEqual } from "node:crypto";
import { sha256Of } from "../digest.ts";
import type { Sql } from "../store/open.ts";
import type { ApiKeyRow, KeyRole } from "../schema.ts";

/** Who a presented key belongs to. */
export interface Identity {
  name: string;
  role: KeyRole;
  /** sha256 of the key, hex: what a session cookie refers to, never the key itself. */
  keyHash: string;
}

/** The name audit rows carry for keys from ARRAKIS_API_KEY or the generated key file. */
export const ENV_KEY_NAME = "env";

const LAST_USED_EVERY_MS = 60_000;

/** A fresh high-entropy key (256 bits): a hash without salt is enough to store it. */
export function newApiKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return "ark_" + btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_")
    .replace(/=+$/, "");
}

export function keyHash(key: string): string {
  return sha256Of(key).digest("hex");
}

export class KeyNameTaken extends Error {
  override name = "KeyNameTaken";
}

/** Stores a new key's hash; returns the key, which is never stored or shown again. */
export async function createApiKey(
  sql: Sql,
  name: string,
  role: KeyRole,
): Promise<{ key: string; row: ApiKeyRow }> {
  const key = newApiKey();
  const [row] = await sql<ApiKeyRow[]>`
    INSERT INTO api_keys (name, role, key_sha256) VALUES (${name}, ${role}, ${keyHash(key)})
    ON CONFLICT (name) WHERE revoked_at IS NULL DO NOTHING
    RETURNING *`;
  if (!row) throw new KeyNameTaken(`a live key named '${name}' exists; revoke it first`);
  return { key, row };
}

export function listApiKeys(sql: Sql, options: { revoked?: boolean } = {}): Promise<ApiKeyRow[]> {
  return sql<ApiKeyRow[]>`
    SELECT * FROM api_keys WHERE ${options.revoked ? sql`true` : sql`revoked_at IS NULL`}
    ORDER BY name, created_at`;
}

/** Revokes the live key of that name; false when there is none. */
export async function revokeApiKey(sql: Sql, name: string): Promise<boolean> {
  const rows = await sql`
    UPDATE api_keys SET revoked_at = now() WHERE name = ${name} AND revoked_at IS NULL
    RETURNING id`;
  return rows.length > 0;
}

export interface KeyRing {
  /** The identity of a presented key, comparing against every known key in constant time. */
  identify(presented: string): Identity | undefined;
  /** The live identity whose key has this hash (a session cookie's reference). */
  byHash(hash: string): Identity | undefined;
  /** Reloads the database's live keys. */
  refresh(): Promise<void>;
  start(intervalMs: number): void;
  stop(): void;
}

interface Entry {
  identity: Identity;
  digest: Buffer;
}

export interface KeyRingOptions {
  /** postgres.js of the store; undefined means environment keys only. */
  sql?: Sql;
  /** Keys from the environment or the key file: role admin. */
  envKeys: readonly string[];
  now?: () => number;
  onError?: (error: unknown) => void;
}

export function createKeyRing(options: KeyRingOptions): KeyRing {
  const now = options.now ?? Date.now;
  const onError = options.onError ?? (() => {});
  const fromEnv: Entry[] = options.envKeys.map((key) => {
    const hash = keyHash(key);
    return {
      identity: { name: ENV_KEY_NAME, role: "admin", keyHash: hash },
      digest: Buffer.from(hash, "hex"),
    };
  });
  let entries: Entry[] = fromEnv;
  const lastTouched = new Map<string, number>();
  let timer: ReturnType<typeof setInterval> | undefined;

  function touch(identity: Identity): void {
    if (!options.sql || fromEnv.some((entry) => entry.identity === identity)) return;
    const at = now();
    if (at - (lastTouched.get(identity.keyHash) ?? -Infinity) < LAST_USED_EVERY_MS) return;
    lastTouched.set(identity.keyHash, at);
    options.sql`UPDATE api_keys SET last_used_at = now() WHERE key_sha256 = ${identity.keyHash}`
      .catch(onError);
  }

  async function refresh(): Promise<void> {
    if (!options.sql) return;
    const rows = await options.sql<Pick<ApiKeyRow, "name" | "role" | "key_sha256">[]>`
      SELECT name, role, key_sha256 FROM api_keys WHERE revoked_at IS NULL`;
    entries = [
      ...fromEnv,
      ...rows.map((row) => ({
        identity: { name: row.name, role: row.role, keyHash: row.key_sha256 },
        digest: Buffer.from(row.key_sha256, "hex"),
      })),
    ];
  }

  return {
    identify(presented) {
      // Hashing first gives equal-length inputs; every entry is compared, equal work either way.
      const digest = sha256Of(presented).digest();
      let found: Identity | undefined;
      for (const entry of entries) {
        if (timingSafeEqual(digest, entry.digest)) found = entry.identity;
      }
      if (found) touch(found);
      return found;
    },
    byHash(hash) {
      return entries.find((entry) => entry.identity.keyHash === hash)?.identity;
    },
    refresh,
    start(intervalMs) {
      // A failed refresh keeps the last copy: a database blip must not lock every client out.
      timer ??= setInterval(() => refresh().catch(onError), intervalMs);
    },
    stop() {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
    },
  };
}
