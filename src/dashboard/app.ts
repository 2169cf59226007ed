// The dashboard's routes. No `use("*")` middleware: this app is mounted at "/" beside the API,
// and a wildcard middleware here would run for /api/* too. Every handler is wrapped instead.
import { Hono } from "hono";
import type { Context } from "hono";
import type { DashboardDeps } from "./deps.ts";
import type { Html } from "./html.ts";
import { APP_CSS, APP_JS, FAVICON_SVG } from "./assets.ts";
import {
  eventTypes,
  failedEvents,
  getEvent,
  hasSucceeded,
  listEvents,
  relatedEvents,
} from "../read/events.ts";
import { overview } from "../read/overview.ts";
import { listSessions } from "../read/sessions.ts";
import { getConversation } from "../read/conversation.ts";
import { search } from "../read/search.ts";
import { ReadInputError } from "../read/errors.ts";
import { EXPORT_FORMATS, exportConversation } from "../export/export.ts";
import { eventFilterOf, parseEventForm, parseSearchForm, parseWindow } from "./params.ts";
import { searchPage } from "./pages/search.ts";
import { overviewFragment, overviewPage } from "./pages/overview.ts";
import { eventsPage, eventsTable } from "./pages/events.ts";
import { eventPage } from "./pages/event.ts";
import { failedPage } from "./pages/failed.ts";
import { sessionsPage } from "./pages/sessions.ts";
import { conversationPage } from "./pages/conversation.ts";
import { alertsPage } from "./pages/alerts.ts";
import { loginPage } from "./pages/login.ts";
import { page } from "./layout.ts";
import { h } from "./html.ts";
import { reprocessMany } from "./reprocess.ts";
import { auditStream } from "../stream.ts";
import { type Permission, refusal } from "../roles.ts";
import { LOGIN_FORM_MAX_BYTES, readForm, REPROCESS_FORM_MAX_BYTES } from "./form.ts";

export const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join("; ");

function secure(c: Context): void {
  c.header("Content-Security-Policy", CSP);
  c.header("X-Content-Type-Options", "nosniff");
  c.header("X-Frame-Options", "DENY");
  // same-origin, not no-referrer: with no-referrer browsers send `Origin: null` on form posts.
  c.header("Referrer-Policy", "same-origin");
  c.header("Cross-Origin-Opener-Policy", "same-origin");
  c.header("Cache-Control", "no-store");
}

function send(
  c: Context,
  body: Html,
  status: 200 | 400 | 401 | 403 | 404 | 429 = 200,
): Response {
  return c.html(body.value, status);
}

/**
 * A same-origin path to return to after sign-in; anything else becomes "/". Browsers drop tabs
 * and newlines from URLs and read "\\" as "/", so "/%09/host" would be "//host": off-site.
 */
export function safeNext(next: string | undefined): string {
  if (!next || next.length > 2000 || !next.startsWith("/")) return "/";
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u0020\u007f\\]/.test(next)) return "/";
  const base = "http://arrakis.invalid";
  const url = new URL(next, base);
  return url.origin === base ? url.pathname + url.search + url.hash : "/";
}

/**
 * Form posts must come from our own pages. SameSite=Strict already keeps the cookie off
 * cross-site requests; this also refuses a cross-origin post made with a key-less session.
 */
function sameOrigin(c: Context): boolean {
  // Browsers send Sec-Fetch-Site on every request; it is the most direct answer.
  const site = c.req.header("sec-fetch-site");
  if (site !== undefined) return site === "same-origin" || site === "none";
  const origin = c.req.header("origin");
  if (origin === undefined) return true; // not a browser: the key or cookie alone decides
  try {
    // Scheme too: an http:// page on the same host must not post to the https:// dashboard.
    // Behind a TLS proxy the request arrives as http; a browser cannot set X-Forwarded-Proto.
    const url = new URL(c.req.url);
    const scheme = c.req.header("x-forwarded-proto")?.split(",")[0].trim() ??
      url.protocol.slice(0, -1);
    return new URL(origin).origin === `${scheme}://${url.host}`;
  } catch {
    return false; // "null" (sandboxed frame, privacy mode) or garbage
  }
}

/** Rows per page of the audit log. */
const PAGE = 50;

type Handler = (c: Context) => Response | Promise<Response>;

/** A read refused the request's input (a malformed parameter, a forged cursor): a 400 page that
 * names it, never a 500. */
async function readOrBadRequest(c: Context, handler: Handler): Promise<Response> {
  try {
    return await handler(c);
  } catch (error) {
    if (error instanceof ReadInputError) return send(c, badRequest(error.message), 400);
    throw error;
  }
}

export function createDashboard(deps: DashboardDeps): Hono {
  const app = new Hono();
  const now = () => deps.now?.() ?? Date.now();
  /** Pages: signed in with a key whose role allows `need`, or redirected to /login (403). */
  const pageRoute = (handler: Handler, need: Permission = "read"): Handler => async (c) => {
    secure(c);
    const viewer = await deps.viewer(c);
    if (!viewer) {
      const url = new URL(c.req.url);
      return c.redirect(`/login?next=${encodeURIComponent(url.pathname + url.search)}`, 302);
    }
    const reason = refusal(viewer, need);
    if (reason !== undefined) return send(c, forbidden(reason), 403);
    return await readOrBadRequest(c, handler);
  };
  /** Fragments and the stream: signed-in or 401 (the page script goes to /login). */
  const dataRoute = (handler: Handler): Handler => async (c) => {
    secure(c);
    const viewer = await deps.viewer(c);
    if (!viewer) return c.text("sign in required", 401);
    const reason = refusal(viewer, "read");
    if (reason !== undefined) return c.text(reason, 403);
    return await readOrBadRequest(c, handler);
  };
  const postRoute = (handler: Handler, need: Permission = "read"): Handler =>
    pageRoute(
      (c) => sameOrigin(c) ? handler(c) : c.text("cross-origin form post refused", 403),
      need,
    );

  app.get("/assets/app.css", (c) => {
    c.header("Cache-Control", "public, max-age=300");
    c.header("X-Content-Type-Options", "nosniff");
    return c.body(APP_CSS, 200, { "Content-Type": "text/css; charset=utf-8" });
  });
  app.get("/assets/app.js", (c) => {
    c.header("Cache-Control", "public, max-age=300");
    c.header("X-Content-Type-Options", "nosniff");
    return c.body(APP_JS, 200, { "Content-Type": "text/javascript; charset=utf-8" });
  });

  for (const path of ["/favicon.ico", "/favicon.svg"]) {
    app.get(path, (c) => {
      c.header("Cache-Control", "public, max-age=86400");
      c.header("X-Content-Type-Options", "nosniff");
      return c.body(FAVICON_SVG, 200, { "Content-Type": "image/svg+xml" });
    });
  }

  app.get("/login", async (c) => {
    secure(c);
    const next = safeNext(c.req.query("next"));
    if (await deps.viewer(c)) return c.redirect(next, 302);
    return send(c, loginPage({ next }));
  });
  app.post("/login", async (c) => {
    secure(c);
    if (!sameOrigin(c)) return c.text("cross-origin form post refused", 403);
    const form = await readForm(c, LOGIN_FORM_MAX_BYTES);
    if (!form) return c.text("sign-in form too large", 413);
    const key = form.get("key")?.trim() ?? "";
    const next = safeNext(form.get("next") ?? undefined);
    // Throttled before the key is even compared: guessing costs the guesser a minute.
    const wait = deps.signInWait(c);
    if (wait !== undefined) {
      c.header("Retry-After", String(wait));
      const error = `Too many keys tried from this address; try again in ${wait} s.`;
      return send(c, loginPage({ next, error }), 429);
    }
    const viewer = key.length > 0 && key.length <= 1024 ? await deps.signIn(c, key) : undefined;
    const refused = viewer && refusal(viewer, "read");
    if (refused) return send(c, loginPage({ next, error: `${refused}.` }), 403);
    if (viewer) return c.redirect(next, 303);
    return send(c, loginPage({ next, error: "That key is not accepted by this server." }), 401);
  });
  app.post("/logout", async (c) => {
    secure(c);
    if (!sameOrigin(c)) return c.text("cross-origin form post refused", 403);
    await deps.signOut(c);
    return c.redirect("/login", 303);
  });

  app.get(
    "/",
    pageRoute(async (c) =>
      send(c, overviewPage(await overview(deps.sql, parseWindow(c.req.query("window")), now())))
    ),
  );
  app.get(
    "/fragments/overview",
    dataRoute(async (c) =>
      send(c, overviewFragment(await overview(deps.sql, parseWindow(c.req.query("window")), now())))
    ),
  );

  app.get(
    "/events",
    pageRoute(async (c) => {
      const form = parseEventForm(c.req.query());
      const [{ events, nextCursor }, types] = await Promise.all([
        listEvents(deps.sql, eventFilterOf(form), { limit: PAGE, cursor: form.cursor }),
        eventTypes(deps.sql),
      ]);
      return send(c, eventsPage(events, nextCursor, form, types));
    }),
  );
  app.get(
    "/fragments/events",
    dataRoute(async (c) => {
      const form = parseEventForm(c.req.query());
      const { events, nextCursor } = await listEvents(deps.sql, eventFilterOf(form), {
        limit: PAGE,
        cursor: form.cursor,
      });
      return send(c, eventsTable(events, nextCursor, form));
    }),
  );
  app.get(
    "/events/:id",
    pageRoute(async (c) => {
      const row = await getEvent(deps.sql, c.req.param("id") ?? "");
      if (!row) return send(c, notFound("No audit row with that id."), 404);
      const [related, succeeded] = await Promise.all([
        relatedEvents(deps.sql, row),
        row.request_id ? hasSucceeded(deps.sql, row.request_id) : Promise.resolve(false),
      ]);
      return send(c, eventPage(row, related, succeeded));
    }),
  );

  app.get(
    "/failed",
    pageRoute(async (c) => {
      const code = c.req.query("code")?.slice(0, 200) || undefined;
      const includeResolved = c.req.query("resolved") === "1";
      const cursor = c.req.query("cursor") || undefined;
      const data = await failedEvents(deps.sql, { code, includeResolved, cursor });
      return send(c, failedPage(data, { code, includeResolved }));
    }),
  );
  app.post(
    "/failed/reprocess",
    postRoute(async (c) => {
      const form = await readForm(c, REPROCESS_FORM_MAX_BYTES);
      if (!form) return c.text("reprocess form too large", 413);
      const list = (name: string) => form.getAll(name).filter((v) => /^\d{1,18}$/.test(v));
      // A row's own button sends "one"; the bulk button sends the ticked "id" boxes.
      const one = list("one");
      const ids = one.length > 0 ? one : list("id");
      const outcomes = ids.length > 0 ? await reprocessMany(deps, c, ids) : [];
      const data = await failedEvents(deps.sql, {});
      return send(c, failedPage(data, { includeResolved: false, outcomes }));
    }, "admin"),
  );

  app.get(
    "/sessions",
    pageRoute(async (c) => {
      const cursor = c.req.query("cursor") || undefined;
      const key = c.req.query("key")?.trim().slice(0, 64) || undefined;
      return send(
        c,
        sessionsPage(await listSessions(deps.sql, { cursor, key }), { cursor, key }),
      );
    }),
  );
  app.get(
    "/sessions/:sessionId",
    pageRoute(async (c) => {
      const data = await getConversation(deps.sql, c.req.param("sessionId") ?? "");
      if (!data) return send(c, notFound("No session with that id has been captured."), 404);
      const hit = /^[mt]-\d{1,18}$/.test(c.req.query("hit") ?? "") ? c.req.query("hit") : undefined;
      return send(c, conversationPage(data, now(), hit));
    }),
  );
  app.get(
    "/sessions/:sessionId/export",
    pageRoute(async (c) => {
      const format = EXPORT_FORMATS.find((f) => f === c.req.query("format"));
      if (!format) {
        return send(c, badRequest(`format must be one of ${EXPORT_FORMATS.join(", ")}`), 400);
      }
      const data = await getConversation(deps.sql, c.req.param("sessionId") ?? "");
      if (!data) return send(c, notFound("No session with that id has been captured."), 404);
      const file = exportConversation(data, format, { now: now() });
      return c.body(file.body, 200, {
        "Content-Type": file.contentType,
        "Content-Disposition": `attachment; filename="${file.filename}"`,
      });
    }),
  );
  app.get(
    "/search",
    pageRoute(async (c) => {
      const query = parseSearchForm(c.req.query());
      if (query.q === "") {
        return send(c, searchPage(query, { hits: [], nextCursor: null, capped: false }));
      }
      try {
        return send(c, searchPage(query, await search(deps.sql, query)));
      } catch (error) {
        if (!(error instanceof ReadInputError)) throw error;
        return send(c, searchPage(query, { error: error.message }), 400);
      }
    }),
  );

  app.get("/alerts", pageRoute((c) => send(c, alertsPage(deps.alerts, now()))));
  app.get("/stream", dataRoute((c) => auditStream(c, deps.events)));
  return app;
}

function badRequest(message: string): Html {
  return page("Bad request", null, h`<h1>Bad request</h1><p class="sub">${message}</p>`);
}

function forbidden(reason: string): Html {
  return page("Not allowed", null, h`<h1>Not allowed</h1><p class="sub">${reason}</p>`);
}

function notFound(message: string): Html {
  return page("Not found", null, h`<h1>Not found</h1><p class="sub">${message}</p>`);
}
