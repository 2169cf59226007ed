// What every server module receives: the store, the configuration and the shared observers.
import type { Sql, Store } from "../store/open.ts";
import type { Config } from "../config.ts";
import type { Metrics } from "./metrics.ts";
import type { Events } from "../events.ts";
import type { KeyRing } from "./keys.ts";

export interface ServerDeps {
  sql: Sql;
  store: Store;
  config: Config;
  metrics: Metrics;
  /** Emits "audit" after every final audit status; carries "peer-audits" and "shutdown". */
  events: Events;
  /** HMAC key for dashboard session cookies. */
  sessionSecret: Uint8Array;
  /** The API keys this server accepts, with their names and roles. */
  keys: KeyRing;
  /** This process's id in the instances table (audit rows carry it). */
  instanceId: string;
}

/** Who sent a request and which instance took it: what its audit row records of both. */
export interface Sender {
  keyName: string | null;
  instanceId: string | null;
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
  /** Set once the key is checked. */
  sender?: Sender;
}
