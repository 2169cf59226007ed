// Shared by the queue tests: envelopes and spools in fresh temp directories.
import { Envelope } from "../../src/schema.ts";
import { newSpanId, newTraceId, uuidv7 } from "../../src/ids.ts";
import { tempDir, tempDirSync } from "./temp.ts";

// Spools opened in a test process sign their records with the key under ARRAKIS_HOME (the
// environment's by default): a scratch home, never the developer's ~/.arrakis. Child processes
// that read those spools get the same home (TEST_HOME), so they check with the same key. It
// holds no client.json and no api-key.
if (!Deno.env.get("ARRAKIS_HOME")) {
  Deno.env.set("ARRAKIS_HOME", tempDirSync("arrakis-test-home-"));
}
export const TEST_HOME = Deno.env.get("ARRAKIS_HOME")!;

let sequence = 0;

/** A valid Notification envelope; distinct sessions so every one makes its own rows. */
export function envelope(overrides: Partial<Envelope> = {}): Envelope {
  const sessionId = overrides.sessionId ?? `session-${Date.now()}-${sequence++}`;
  // Strictly increasing ids within one millisecond keep lexical order = creation order.
  const requestId = overrides.requestId ?? uuidv7(Date.now() + sequence);
  return Envelope.parse({
    requestId,
    traceId: newTraceId(),
    spanId: newSpanId(),
    event: "Notification",
    sessionId,
    occurredAt: new Date().toISOString(),
    attempt: 1,
    source: { host: "test-host", user: "dev", projectDir: "/home/dev/shop", version: "test" },
    payload: {
      session_id: sessionId,
      hook_event_name: "Notification",
      cwd: "/home/dev/shop",
      message: "Claude needs your permission to use Bash",
      notification_type: "permission_prompt",
    },
    ...overrides,
  });
}

export async function tempQueueDir(): Promise<string> {
  const root = await tempDir("arrakis-queue-");
  return `${root}/queue`;
}

export async function filesIn(dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.name.startsWith(".")) names.push(entry.name);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return names.sort();
}

/** A clock tests move by hand. */
export function manualClock(start = Date.parse("2026-01-01T00:00:00Z")) {
  let now = start;
  return {
    now: () => new Date(now),
    ms: () => now,
    advance(ms: number) {
      now += ms;
    },
  };
}
