// Feeding ingest in process, without HTTP: a request's meta, and an envelope as the group
// commit takes it.
import type { RequestMeta } from "../../src/server/deps.ts";
import type { GroupItem } from "../../src/server/group.ts";
import { prepare } from "../../src/server/prepare.ts";

/** The meta of a request from loopback with no headers: ids come from the envelope itself. */
export function testMeta(userAgent = "test"): RequestMeta {
  return {
    startedAt: performance.now(),
    ip: "127.0.0.1",
    userAgent,
    headers: {},
    headerRequestId: null,
    traceId: null,
    spanId: null,
  };
}

/** One raw envelope prepared (no extra redaction patterns) for the group commit. */
export function groupItem(raw: unknown, userAgent?: string): GroupItem {
  return {
    prepared: prepare(raw, testMeta(userAgent), []),
    meta: testMeta(userAgent),
    timings: {},
    submittedAt: performance.now(),
  };
}
