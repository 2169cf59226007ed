// What the dashboard needs from the server, as plain functions: the pages never reach into
// server internals, and routes.ts adapts the server's ServerDeps to this shape.
import type { Context } from "hono";
import type { Sql } from "../store/open.ts";
import type { IngestAnswer } from "../schema.ts";
import type { AlertEvaluator } from "../alerts/evaluator.ts";

export type { AuditDetail } from "../server/deps.ts";

export interface DashboardDeps {
  sql: Sql;
  /** Dispatches CustomEvent("audit"); the live pages listen to it. */
  events: EventTarget;
  /** Whether the request carries a valid session cookie (or API key). */
  isSignedIn(c: Context): Promise<boolean>;
  /**
   * Checks an API key; when it is one of the server's keys, sets the session cookie.
   * `retryAfter` (seconds) when this source tried too many keys.
   */
  signIn(c: Context, apiKey: string): Promise<{ ok: boolean; retryAfter?: number }>;
  /** Revokes the session and clears its cookie. */
  signOut(c: Context): Promise<void>;
  /** Runs a stored envelope through the server's ingest pipeline again. */
  reprocess(c: Context, envelope: unknown): Promise<{ httpStatus: number; answer: IngestAnswer }>;
  /** The running alert evaluator, when the server started one. */
  alerts(): AlertEvaluator | undefined;
  now?: () => number;
}
