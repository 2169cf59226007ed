// Turns one hook input object into the envelope of DESIGN.md: ids minted once (the requestId is
// the idempotency key for every later retry), where it happened, and the payload as received.
import type { Envelope, EnvelopeSource } from "../schema.ts";
import { newSpanId, newTraceId, uuidv7 } from "../ids.ts";
import { VERSION } from "../version.ts";

export interface EnvelopeContext {
  env: Record<string, string | undefined>;
  now?: Date;
}

/** Fields the server requires of every event, filled when Claude Code leaves them out. */
export function normalizePayload(input: Record<string, unknown>): Envelope["payload"] {
  const payload = { ...input };
  // Unknown or partial events still reach the server (it keeps what it cannot process).
  // Clipped to the server's limits: envelope.sessionId/event must equal these exactly.
  payload.session_id = clip(nonEmptyString(payload.session_id) ?? "unknown", 256);
  payload.hook_event_name = clip(nonEmptyString(payload.hook_event_name) ?? "Unknown", 128);
  return payload as Envelope["payload"];
}

function nonEmptyString(value: unknown): string | undefined {
  if (typeof value === "string") return value === "" ? undefined : value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return undefined;
}

export function buildEnvelope(
  payload: Envelope["payload"],
  context: EnvelopeContext,
): Envelope {
  const now = context.now ?? new Date();
  return {
    requestId: uuidv7(now.getTime()),
    traceId: newTraceId(),
    spanId: newSpanId(),
    event: payload.hook_event_name,
    sessionId: payload.session_id,
    occurredAt: now.toISOString(),
    attempt: 1,
    source: describeSource(payload, context.env),
    payload,
  };
}

function describeSource(
  payload: Envelope["payload"],
  env: Record<string, string | undefined>,
): EnvelopeSource {
  const source: EnvelopeSource = { version: VERSION };
  const host = safe(() => Deno.hostname());
  if (host) source.host = clip(host, 256);
  const user = env.USER ?? env.LOGNAME ?? env.USERNAME;
  if (user) source.user = clip(user, 256);
  if (env.CLAUDE_PROJECT_DIR) source.projectDir = clip(env.CLAUDE_PROJECT_DIR, 4096);
  const cwd = typeof payload.cwd === "string" ? payload.cwd : safe(() => Deno.cwd());
  if (cwd) source.cwd = clip(cwd, 4096);
  return source;
}

function safe<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : text.slice(0, max);
}
