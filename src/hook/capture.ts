// One hook event, start to finish, in phases: read stdin → envelope (redacted) → transcript →
// durable spool write → make sure a shipper runs (on SessionEnd, wait briefly for delivery).
// Local work only: no network, no npm module. Never throws and never writes to stdout: whatever
// happens, Claude Code sees exit 0 and no output (problems go to stderr and the hook's log).
import { join } from "../paths.ts";
import type { Envelope } from "../schema.ts";
import { TRANSCRIPT_EVENTS } from "../schema-plain.ts";
import { type HookSettings, hookSettings } from "../config-core.ts";
import { createRedactor, type Redactor } from "../redact.ts";
import { UnsafePathError } from "../durable.ts";
import { ensureSpoolDirs, putRecord, spoolKey } from "../queue/spool-file.ts";
import { ensureShipper, waitForDelivery } from "../queue/ensure-shipper.ts";
import { readStdin, stubForOversizedInput } from "./stdin.ts";
import { buildEnvelope, normalizePayload } from "./envelope.ts";
import { createJournal, type Journal } from "./journal.ts";
import type { AttachedTranscript } from "./attach-transcript.ts";
import { errorMessage } from "../error_message.ts";

/**
 * How long SessionEnd waits for the shipper to deliver it: Claude Code gives SessionEnd hooks
 * 1.5 s in all, and a headless `claude -p` (or a CI container) may be gone right after.
 */
export const SESSION_END_WAIT_MS = 1_000;

/** The points a capture passes, in order (a test may stop the process at any of them). */
export type CaptureStep =
  | "read"
  | "envelope"
  | "transcript"
  | "spool-written" // the record is complete and synced under its temp name, not yet renamed
  | "spooled"
  | "committed" // the transcript offset moved past the spooled lines
  | "shipper"
  | "delivered"; // SessionEnd only: the wait for delivery is over

export interface CaptureOptions {
  env?: Record<string, string | undefined>;
  stdin?: ReadableStream<Uint8Array>;
  /** Called (and awaited) at each step; tests use it to kill the hook at an exact point. */
  onStep?: (step: CaptureStep) => void | Promise<void>;
  /** Starts a shipper; the default spawns `arrakis queue ship --quiet` detached. */
  spawnShipper?: (env: Record<string, string>) => void | Promise<void>;
}

/** Captures one event from the process's stdin and environment. Never rejects. */
export function capture(): Promise<void> {
  return captureWith({});
}

/** Captures one event. Resolves when done; never rejects. */
export async function captureWith(options: CaptureOptions): Promise<void> {
  const started = performance.now();
  const env = options.env ?? Deno.env.toObject();
  const journal = createJournal();
  // Milliseconds since the process started (performance's time origin) at each step: the
  // hook's time is the product's most visible number, so every run records where it went.
  const timings: Record<string, number> = { loaded: Math.round(started) };
  const step = async (name: CaptureStep) => {
    timings[name] = Math.round(performance.now());
    await options.onStep?.(name);
  };
  let settings: HookSettings | undefined;
  try {
    const loaded = hookSettings(env);
    settings = loaded.settings;
    for (const problem of loaded.problems) {
      journal.add("error", "config", "bad setting ignored, default used: {reason}", {
        reason: problem,
      });
    }
    // The spool's directories and key are made ready while stdin is read.
    const spoolReady = prepareSpool(settings);
    spoolReady.catch(() => {});
    await captureEvent(settings, env, options, journal, step, spoolReady);
  } catch (error) {
    journal.add("error", "hook", "capture failed: nothing spooled", {
      error: errorMessage(error),
    });
  }
  timings.done = Math.round(performance.now());
  journal.add("debug", "hook", "done in {ms} ms", { ms: timings.done, timings });
  await journal.flush(settings);
}

async function captureEvent(
  settings: HookSettings,
  env: Record<string, string | undefined>,
  options: CaptureOptions,
  journal: Journal,
  step: (name: CaptureStep) => Promise<void>,
  spoolReady: Promise<CryptoKey>,
): Promise<void> {
  const input = await readInput(options.stdin, journal);
  await step("read");
  if (input === undefined) return;

  const redactor = createRedactor(settings.redactPatterns);
  const envelope = buildEnvelope(normalizePayload(redactor.value(input.value)), { env });
  envelope.source.spool = await spoolReady.then(() => spoolCounts(settings.queueDir), () => ({
    pending: 0,
    failed: 0,
  }));
  journal.ids.requestId = envelope.requestId;
  journal.ids.traceId = envelope.traceId;
  journal.add("debug", "hook", "received {event} for session {sessionId} ({bytes} bytes)", {
    event: envelope.event,
    sessionId: envelope.sessionId,
    bytes: input.bytes,
  });
  await step("envelope");

  const transcript = await attachIfDue(settings, envelope, redactor, journal, spoolReady);
  await step("transcript");

  try {
    if (!await spool(settings, envelope, spoolReady, journal, step)) return;
    // A failed commit leaves the intent, which the next hook of the session settles.
    await transcript?.commit().catch((error) =>
      journal.add("warning", "transcript", "spooled, but the transcript offset was not saved", {
        error: errorMessage(error),
      })
    );
    await step("committed");
  } finally {
    transcript?.release();
  }

  await startShipper(settings, env, envelope, options, journal, step);
}

/** Phase 1: stdin as a JSON object (an oversized one cut to its identity), else undefined. */
async function readInput(
  stdin: ReadableStream<Uint8Array> | undefined,
  journal: Journal,
): Promise<{ value: Record<string, unknown>; bytes: number } | undefined> {
  const read = await readStdin(stdin);
  const text = new TextDecoder().decode(read.bytes);
  if (read.truncated) {
    journal.add(
      "warning",
      "hook",
      "event of {bytes} bytes is over the limit; keeping its identity",
      {
        bytes: read.total,
      },
    );
    return { value: stubForOversizedInput(text, read.total), bytes: read.total };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    journal.add("error", "hook", "stdin is not JSON ({bytes} bytes); nothing captured", {
      bytes: read.total,
      error: errorMessage(error),
      head: createRedactor().string(text.slice(0, 512)),
    });
    return undefined;
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    journal.add("error", "hook", "stdin is JSON but not an object; nothing captured", {
      bytes: read.total,
    });
    return undefined;
  }
  return { value: value as Record<string, unknown>, bytes: read.total };
}

/** The spool's directories (checked: ours, no symlinks) and its signing key. */
async function prepareSpool(settings: HookSettings): Promise<CryptoKey> {
  await ensureSpoolDirs(settings.queueDir, settings.queueRoot, ["pending"]);
  return await spoolKey(settings.spoolKeyFile);
}

/** Phase 3: on transcript events, the lines added since the last capture. */
async function attachIfDue(
  settings: HookSettings,
  envelope: Envelope,
  redactor: Redactor,
  journal: Journal,
  spoolReady: Promise<unknown>,
): Promise<AttachedTranscript | undefined> {
  if (!(TRANSCRIPT_EVENTS as readonly string[]).includes(envelope.event)) return undefined;
  try {
    await spoolReady;
  } catch {
    return undefined; // the spool phase reports why
  }
  const { attachTranscript } = await import("./attach-transcript.ts");
  return await attachTranscript(settings, envelope, redactor, journal);
}

/** Phase 4: the durable write. False when the event could not be spooled (it is lost). */
async function spool(
  settings: HookSettings,
  envelope: Envelope,
  spoolReady: Promise<CryptoKey>,
  journal: Journal,
  step: (name: CaptureStep) => Promise<void>,
): Promise<boolean> {
  try {
    const key = await spoolReady;
    const item = await putRecord(settings.queueDir, envelope, {
      key,
      beforeRename: () => step("spool-written"),
    });
    await step("spooled");
    journal.add("info", "queue", "spooled {event} at {path}", {
      event: envelope.event,
      path: item.path,
      transcriptLines: envelope.transcript?.length ?? 0,
    });
    return true;
  } catch (error) {
    const message = error instanceof UnsafePathError
      ? "refused to spool {event} in {queueDir} (nothing written): LOST"
      : "could not spool {event} in {queueDir}: LOST";
    journal.add("error", "queue", message, {
      event: envelope.event,
      queueDir: settings.queueDir,
      error: errorMessage(error),
    });
    return false;
  }
}

/** Phase 5: a shipper delivers what was spooled; SessionEnd waits for it, bounded. */
async function startShipper(
  settings: HookSettings,
  env: Record<string, string | undefined>,
  envelope: Envelope,
  options: CaptureOptions,
  journal: Journal,
  step: (name: CaptureStep) => Promise<void>,
): Promise<void> {
  const childEnv = Object.fromEntries(
    Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
  let state;
  try {
    state = await ensureShipper(settings.queueDir, childEnv, { spawn: options.spawnShipper });
    journal.add("debug", "queue", "shipper {state}", { state });
  } catch (error) {
    journal.add("warning", "queue", "could not start a shipper; {event} waits in the spool", {
      event: envelope.event,
      error: errorMessage(error),
    });
    return;
  }
  await step("shipper");
  if (envelope.event !== "SessionEnd") return;
  const delivered = await waitForDelivery(
    settings.queueDir,
    [envelope.requestId],
    SESSION_END_WAIT_MS,
  );
  journal.add("debug", "queue", "SessionEnd {outcome}", {
    outcome: delivered ? "delivered before exit" : `still waiting after ${SESSION_END_WAIT_MS} ms`,
  });
  await step("delivered");
}

/** Waiting and dead-lettered files, counted up to a cap so a huge backlog costs little. */
function spoolCounts(queueDir: string): { pending: number; failed: number } {
  const count = (state: string) => {
    let n = 0;
    try {
      for (const entry of Deno.readDirSync(join(queueDir, state))) {
        if (entry.name.endsWith(".json") && ++n >= SPOOL_COUNT_CAP) break;
      }
    } catch { /* not created yet: empty */ }
    return n;
  };
  return { pending: count("pending"), failed: count("failed") };
}

const SPOOL_COUNT_CAP = 10_000;
