// The read API: request parsing and JSON answers over the one read layer (src/read/): sessions,
// one session as a timeline, dollars, the audit trail, and full-text search.
import { Hono } from "hono";
import { parseLimit, parseSince, parseStatuses } from "../params.ts";
import type { ServerDeps } from "./deps.ts";
import { ReadInputError } from "../read/errors.ts";
import { DEFAULT_PAGE, listSessions, MAX_PAGE } from "../read/sessions.ts";
import { getConversation } from "../read/conversation.ts";
import { getEvent, listEvents } from "../read/events.ts";
import { search, SEARCH_KINDS, SEARCH_PAGE, type SearchKind } from "../read/search.ts";
import { conversationJson } from "../export/json.ts";
import { costByDayAndModel, costByProject } from "../read/cost.ts";

function listOf<T extends string>(name: string, text: string | undefined, allowed: readonly T[]) {
  const items = text ? text.split(",") : [];
  for (const item of items) {
    if (!(allowed as readonly string[]).includes(item)) {
      throw new ReadInputError(`${name} must be one of ${allowed.join(", ")}`);
    }
  }
  return items as T[];
}

export function queryRoutes(deps: ServerDeps): Hono {
  const app = new Hono();
  const { sql } = deps;

  app.onError((error, c) => {
    if (error instanceof ReadInputError) {
      return c.json({ status: "INVALID", message: error.message }, 400);
    }
    throw error;
  });

  app.get("/sessions", async (c) =>
    c.json(
      await listSessions(sql, {
        limit: parseLimit("limit", c.req.query("limit"), DEFAULT_PAGE, MAX_PAGE),
        cursor: c.req.query("cursor"),
        project: c.req.query("project") || undefined,
        key: c.req.query("key") || undefined,
      }),
    ));

  app.get("/sessions/:sessionId", async (c) => {
    const sessionId = c.req.param("sessionId");
    const conversation = await getConversation(sql, sessionId);
    if (!conversation) {
      return c.json({ status: "NOT_FOUND", message: `no session ${sessionId}` }, 404);
    }
    return c.json(conversationJson(conversation));
  });

  app.get("/cost", async (c) => {
    const since = parseSince("since", c.req.query("since") ?? "30d", Date.now())!;
    const [byDayAndModel, byProject] = await Promise.all([
      costByDayAndModel(sql, since),
      costByProject(sql, since),
    ]);
    return c.json({ since, by_day_and_model: byDayAndModel, by_project: byProject });
  });

  app.get("/events", async (c) => {
    const now = Date.now();
    return c.json(
      await listEvents(sql, {
        statuses: parseStatuses("status", c.req.query("status")),
        event: c.req.query("event") || undefined,
        session: c.req.query("session") || undefined,
        key: c.req.query("key") || undefined,
        from: parseSince("since", c.req.query("since"), now),
        to: parseSince("until", c.req.query("until"), now),
        q: c.req.query("q")?.trim() || undefined,
      }, {
        limit: parseLimit("limit", c.req.query("limit"), DEFAULT_PAGE, MAX_PAGE),
        cursor: c.req.query("cursor"),
      }),
    );
  });

  app.get("/events/:id", async (c) => {
    const id = c.req.param("id");
    if (!/^\d{1,18}$/.test(id)) throw new ReadInputError("event id must be a number");
    const row = await getEvent(sql, id);
    if (!row) return c.json({ status: "NOT_FOUND", message: `no event ${id}` }, 404);
    return c.json(row);
  });

  app.get("/search", async (c) => {
    const now = Date.now();
    return c.json(
      await search(sql, {
        q: c.req.query("q") ?? "",
        project: c.req.query("project") || undefined,
        session: c.req.query("session") || undefined,
        since: parseSince("since", c.req.query("since"), now),
        until: parseSince("until", c.req.query("until"), now),
        kinds: listOf<SearchKind>("kind", c.req.query("kind"), SEARCH_KINDS),
        limit: parseLimit("limit", c.req.query("limit"), SEARCH_PAGE, MAX_PAGE),
        cursor: c.req.query("cursor"),
      }),
    );
  });

  return app;
}
