// What the dashboard needs from the server, as plain functions: the pages never reach into
// server internals; the composition root (src/compose.ts) adapts the server to this shape.
import type { Context } from "hono";
import type { Sql } from "../store/open.ts";
import type { IngestAnswer, KeyRole } from "../schema.ts";
import type { AlertEvaluator } from "../alerts/evaluator.ts";
import type { Events } from "../events.ts";

/** The key a request is signed in with: its name and role. */
export interface Viewer {
  name: string;
  role: KeyRole;
}

export interface DashboardDeps {
  sql: Sql;
  /** The live events ("audit", "peer-audits", "shutdown"); the live pages listen to them. */
  events: Events;
  /** Who the request is signed in as (session cookie or API key), if anyone. */
  viewer(c: Context): Promise<Viewer | undefined>;
  /**
   * Checks an API key and says whose it is; sets the session cookie only when its role may use
   * the dashboard.
   */
  signIn(c: Context, apiKey: string): Promise<Viewer | undefined>;
  /** Seconds this client must wait before trying another key (too many wrong ones), if any. */
  signInWait(c: Context): number | undefined;
  /** Revokes the session (on every instance) and clears its cookie. */
  signOut(c: Context): Promise<void>;
  /** Runs a stored envelope through the server's ingest pipeline again. */
  reprocess(c: Context, envelope: unknown): Promise<{ httpStatus: number; answer: IngestAnswer }>;
  /** The running alert evaluator, when the server started one. */
  alerts: AlertEvaluator | undefined;
  now?: () => number;
}
