// What every server module receives: the store, the configuration and the shared observers.
import type { Sql, Store } from "../store/open.ts";
import type { Config } from "../config.ts";
import type { Metrics } from "./metrics.ts";

export interface ServerDeps {
  sql: Sql;
  store: Store;
  config: Config;
  metrics: Metrics;
  /**
   * Dispatches CustomEvent("audit", { detail: AuditDetail }) after every final audit status.
   */
  events: EventTarget;
  /** HMAC key for dashboard session cookies. */
  sessionSecret: Uint8Array;
}

/** The detail of the "audit" event: one per final status written. */
export interface AuditDetail {
  id: number;
  requestId: string | null;
  traceId: string | null;
  event: string | null;
  sessionId: string | null;
  status: string;
  httpStatus: number;
  processingMs: number;
}

/** What the HTTP layer learnt about a request before its body was read. */
export interface RequestMeta {
  /** performance.now() when the request arrived, for processing_ms. */
  startedAt: number;
  /** Client IP, X-Forwarded-For honoured only from trusted proxies. */
  ip: string | null;
  userAgent: string | null;
  /** Selected headers (never Authorization or cookies). */
  headers: Record<string, string>;
  /** X-Request-Id header, used when the body has none. */
  headerRequestId: string | null;
  /** traceId/spanId from `traceparent`, used when the body has none. */
  traceId: string | null;
  spanId: string | null;
  /** Set for batch items: the batch's id. */
  batchId?: string | null;
}
