// Managing keys over HTTP (admin role): list, create (the key is in the answer, once), revoke.
// The same operations as `arrakis keys`, for a store only the server can open.
import { Hono } from "hono";
import { z } from "zod";
import { KeyName, KeyRole } from "../schema.ts";
import type { ServerDeps } from "./deps.ts";
import { createApiKey, KeyNameTaken, listApiKeys, revokeApiKey } from "./keys.ts";
import { requireRole } from "./authorize.ts";
import { readJsonBody } from "./body.ts";

/** `{name, role}` fits in far less. */
const MAX_BODY_BYTES = 4096;

const CreateKey = z.object({ name: KeyName, role: KeyRole.default("ingest") });

export function keysApi(deps: ServerDeps): Hono {
  const app = new Hono();
  app.use("*", requireRole(deps, "admin"));
  app.get("/", async (c) => {
    const rows = await listApiKeys(deps.sql, { revoked: c.req.query("revoked") === "1" });
    return c.json({
      keys: rows.map(({ key_sha256: _hash, ...row }) => row),
    });
  });
  app.post("/", async (c) => {
    const body = await readJsonBody(c, MAX_BODY_BYTES);
    if (!body.ok) {
      return c.json({ status: "INVALID", message: body.message }, body.httpStatus as 400);
    }
    const parsed = CreateKey.safeParse(body.value);
    if (!parsed.success) {
      return c.json({ status: "INVALID", message: parsed.error.issues[0].message }, 400);
    }
    try {
      const { key, row } = await createApiKey(deps.sql, parsed.data.name, parsed.data.role);
      await deps.keys.refresh();
      const { key_sha256: _hash, ...shown } = row;
      return c.json({ ...shown, key }, 201);
    } catch (error) {
      if (error instanceof KeyNameTaken) {
        return c.json({ status: "CONFLICT", message: error.message }, 409);
      }
      throw error;
    }
  });
  app.delete("/:name", async (c) => {
    const name = c.req.param("name");
    if (!(await revokeApiKey(deps.sql, name))) {
      return c.json({ status: "NOT_FOUND", message: `no live key named '${name}'` }, 404);
    }
    await deps.keys.refresh();
    return c.json({ status: "REVOKED", name });
  });
  return app;
}
