// What a database failure means for the client: retry later (503), bad data that slipped past
// validation (400), or a server fault (500).
import postgres from "postgres";

export type FailureKind = "unavailable" | "bad_data" | "internal";

/** Connection-level errors from postgres.js (not SQLSTATEs). */
const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
]);

/** SQLSTATE classes after which the same request may well succeed later. */
const RETRYABLE_CLASSES = ["08", "40", "53", "57", "58"];
const RETRYABLE_STATES = new Set(["55000", "55P03", "25006", "3D000"]);

export function classifyFailure(error: unknown): FailureKind {
  if (error instanceof postgres.PostgresError) {
    const state = error.code ?? "";
    if (RETRYABLE_CLASSES.includes(state.slice(0, 2)) || RETRYABLE_STATES.has(state)) {
      return "unavailable";
    }
    if (state.startsWith("22")) return "bad_data";
    return "internal";
  }
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string" && CONNECTION_CODES.has(code)) return "unavailable";
  if (
    error instanceof Deno.errors.ConnectionRefused || error instanceof Deno.errors.ConnectionReset
  ) {
    return "unavailable";
  }
  if (error instanceof Error && /connect|connection|socket|closed/i.test(error.message)) {
    return "unavailable";
  }
  return "internal";
}

export function sqlState(error: unknown): string | undefined {
  return error instanceof postgres.PostgresError ? error.code : undefined;
}

export const RETRY_AFTER_SECONDS = 5;
