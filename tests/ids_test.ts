import assert from "node:assert/strict";
import {
  formatTraceparent,
  newSpanId,
  newTraceId,
  parseTraceparent,
  uuidv7,
  uuidv7Time,
} from "../src/ids.ts";
import { REQUEST_ID_PATTERN, SPAN_ID_PATTERN, TRACE_ID_PATTERN } from "../src/schema.ts";

Deno.test("uuidv7 is a version 7, variant 10 UUID carrying its time", () => {
  const now = Date.UTC(2026, 10, 28, 12, 0, 0, 123);
  const id = uuidv7(now);
  assert.match(id, REQUEST_ID_PATTERN);
  assert.equal(id[14], "7");
  assert.ok("89ab".includes(id[19]));
  assert.equal(uuidv7Time(id), now);
});

Deno.test("uuidv7 sorts by time as text", () => {
  const ids = [3, 1, 2].map((offset) => uuidv7(1_700_000_000_000 + offset * 1000));
  assert.deepEqual([...ids].sort(), [ids[1], ids[2], ids[0]]);
  assert.equal(new Set(Array.from({ length: 1000 }, () => uuidv7())).size, 1000);
});

Deno.test("trace and span ids are W3C shaped", () => {
  assert.match(newTraceId(), TRACE_ID_PATTERN);
  assert.match(newSpanId(), SPAN_ID_PATTERN);
});

Deno.test("traceparent round-trips and rejects malformed headers", () => {
  const context = { traceId: newTraceId(), spanId: newSpanId(), sampled: true };
  const header = formatTraceparent(context);
  assert.match(header, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  assert.deepEqual(parseTraceparent(header), context);
  assert.deepEqual(parseTraceparent(header.toUpperCase()), context);
  for (
    const bad of [
      undefined,
      "",
      "garbage",
      `00-${"0".repeat(32)}-${context.spanId}-01`,
      `00-${context.traceId}-${"0".repeat(16)}-01`,
      `ff-${context.traceId}-${context.spanId}-01`,
      `00-${context.traceId}-${context.spanId}-01-extra`,
      `00-${context.traceId.slice(1)}-${context.spanId}-01`,
    ]
  ) {
    assert.equal(parseTraceparent(bad), undefined, `accepted ${bad}`);
  }
  // A future version may append fields.
  assert.equal(parseTraceparent(`01-${context.traceId}-${context.spanId}-00-x`)?.sampled, false);
});
