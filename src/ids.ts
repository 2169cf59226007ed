// Identifiers: requestId (UUIDv7, time-sortable idempotency key) and W3C trace context ids.
import { SPAN_ID_PATTERN, TRACE_ID_PATTERN } from "./schema-plain.ts";

function randomHex(bytes: number): string {
  const buffer = crypto.getRandomValues(new Uint8Array(bytes));
  return Array.from(buffer, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** RFC 9562 UUIDv7: 48-bit Unix milliseconds, version 7, variant 10, random rest. */
export function uuidv7(now: number = Date.now()): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  let ms = now;
  for (let index = 5; index >= 0; index--) {
    bytes[index] = ms % 256;
    ms = Math.floor(ms / 256);
  }
  bytes[6] = (bytes[6] & 0x0f) | 0x70;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${
    hex.slice(20)
  }`;
}

/** The Unix milliseconds a UUIDv7 was minted at. */
export function uuidv7Time(id: string): number {
  return parseInt(id.replaceAll("-", "").slice(0, 12), 16);
}

const ALL_ZERO = /^0+$/;

/** A W3C trace id: 32 lowercase hex, never all zero. */
export function newTraceId(): string {
  let id = randomHex(16);
  while (ALL_ZERO.test(id)) id = randomHex(16);
  return id;
}

/** A W3C span id: 16 lowercase hex, never all zero. */
export function newSpanId(): string {
  let id = randomHex(8);
  while (ALL_ZERO.test(id)) id = randomHex(8);
  return id;
}

export interface TraceContext {
  traceId: string;
  spanId: string;
  sampled: boolean;
}

export function formatTraceparent(context: TraceContext): string {
  return `00-${context.traceId}-${context.spanId}-${context.sampled ? "01" : "00"}`;
}

/** Parses a W3C `traceparent` header; undefined when it is absent or malformed. */
export function parseTraceparent(header: string | null | undefined): TraceContext | undefined {
  if (!header) return undefined;
  const parts = header.trim().toLowerCase().split("-");
  if (parts.length < 4) return undefined;
  const [version, traceId, spanId, flags] = parts;
  if (!/^[0-9a-f]{2}$/.test(version) || version === "ff") return undefined;
  if (version === "00" && parts.length !== 4) return undefined;
  if (!TRACE_ID_PATTERN.test(traceId) || ALL_ZERO.test(traceId)) return undefined;
  if (!SPAN_ID_PATTERN.test(spanId) || ALL_ZERO.test(spanId)) return undefined;
  if (!/^[0-9a-f]{2}$/.test(flags)) return undefined;
  return { traceId, spanId, sampled: (parseInt(flags, 16) & 1) === 1 };
}
