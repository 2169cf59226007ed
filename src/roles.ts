// What each key role may do, decided once for the API and the dashboard: ingest posts events,
// read uses the dashboard and the read API, admin does both and may reprocess and manage keys.
import type { KeyRole } from "./schema.ts";

/** What a route needs. */
export type Permission = "ingest" | "read" | "admin";

const GRANTS: Record<KeyRole, readonly Permission[]> = {
  ingest: ["ingest"],
  read: ["read"],
  admin: ["ingest", "read", "admin"],
};

const WHAT: Record<Permission, string> = {
  ingest: "posting events",
  read: "the dashboard and the read API",
  admin: "reprocessing and managing keys",
};

export function allows(role: KeyRole, need: Permission): boolean {
  return GRANTS[role].includes(need);
}

/** Why a key of `role` may not do `need`, in plain words; undefined when it may. */
export function refusal(
  who: { name: string; role: KeyRole },
  need: Permission,
): string | undefined {
  if (allows(who.role, need)) return undefined;
  const roles = (Object.keys(GRANTS) as KeyRole[]).filter((role) => allows(role, need));
  return `key '${who.name}' has role ${who.role}; ${WHAT[need]} needs role ${roles.join(" or ")}`;
}
