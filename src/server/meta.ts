// Request metadata gathered before the body is read: client IP (X-Forwarded-For believed
// only when the connection comes from a trusted proxy), user agent, trace context, headers.
import type { Context } from "hono";
import { parseTraceparent } from "../ids.ts";
import type { RequestMeta } from "./deps.ts";

/** Headers kept on the audit row. Authorization and cookies are never among them. */
const KEPT_HEADERS = [
  "user-agent",
  "content-type",
  "content-length",
  "content-encoding",
  "x-request-id",
  "traceparent",
  "tracestate",
  "x-forwarded-for",
  "x-forwarded-proto",
  "x-real-ip",
  "host",
];
const MAX_HEADER_CHARS = 512;

function parseIPv4(ip: string): number | undefined {
  const parts = ip.split(".");
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) return undefined;
    value = value * 256 + Number(part);
  }
  return value;
}

function normalize(ip: string): string {
  const trimmed = ip.trim().replace(/^\[|\]$/g, "").toLowerCase();
  return trimmed.startsWith("::ffff:") && trimmed.includes(".") ? trimmed.slice(7) : trimmed;
}

/** Whether ip matches one trusted entry: an exact address or an IPv4 CIDR. */
export function isTrusted(ip: string, trusted: readonly string[]): boolean {
  const address = normalize(ip);
  for (const entry of trusted) {
    const [base, bits] = entry.split("/");
    if (bits === undefined) {
      if (normalize(base) === address) return true;
      continue;
    }
    const a = parseIPv4(address);
    const b = parseIPv4(normalize(base));
    const n = Number(bits);
    if (a === undefined || b === undefined || !(n >= 0 && n <= 32)) continue;
    const size = 2 ** (32 - n);
    if (Math.floor(a / size) === Math.floor(b / size)) return true;
  }
  return false;
}

/**
 * The client address: the peer, unless the peer is a trusted proxy; then X-Forwarded-For is
 * walked from the right, skipping trusted hops, and the first untrusted one is the client.
 */
export function clientIp(
  peer: string | null,
  forwardedFor: string | undefined,
  trusted: readonly string[],
): string | null {
  if (peer === null || !forwardedFor || !isTrusted(peer, trusted)) return peer;
  const hops = forwardedFor.split(",").map((hop) => hop.trim()).filter(Boolean);
  for (let i = hops.length - 1; i >= 0; i--) {
    if (!isTrusted(hops[i], trusted)) return normalize(hops[i]).slice(0, 64);
  }
  return hops.length > 0 ? normalize(hops[0]).slice(0, 64) : peer;
}

/** The connection's peer, from the node:http socket the listener hands over. */
function peerAddress(c: Context): string | null {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  const address = env?.incoming?.socket?.remoteAddress;
  return address ? normalize(address) : null;
}

/** The client address of a request (see clientIp). */
export function requestIp(c: Context, trustedProxies: readonly string[]): string | null {
  return clientIp(peerAddress(c), c.req.header("x-forwarded-for"), trustedProxies);
}

export function requestMeta(c: Context, trustedProxies: readonly string[]): RequestMeta {
  const headers: Record<string, string> = {};
  for (const name of KEPT_HEADERS) {
    const value = c.req.header(name);
    if (value !== undefined) headers[name] = value.slice(0, MAX_HEADER_CHARS);
  }
  const trace = parseTraceparent(c.req.header("traceparent"));
  const headerRequestId = c.req.header("x-request-id")?.slice(0, 128) ?? null;
  return {
    startedAt: performance.now(),
    ip: requestIp(c, trustedProxies),
    userAgent: c.req.header("user-agent")?.slice(0, MAX_HEADER_CHARS) ?? null,
    headers,
    headerRequestId,
    traceId: trace?.traceId ?? null,
    spanId: trace?.spanId ?? null,
  };
}
