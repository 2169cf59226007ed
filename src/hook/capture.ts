// One hook event, start to finish: read, envelope, redact, spool durably, one short send, settle
// the spooled file by the answer. Never throws and never writes to stdout: whatever happens,
// Claude Code sees exit 0 and no output (problems go to stderr and the error log).
import { type Config, ConfigError, loadConfig, resolveClientCredentials } from "../config.ts";
import { type Envelope, TRANSCRIPT_EVENTS } from "../schema.ts";
import { z } from "zod";
import type { DeliveryOutcome, Target } from "../client.ts";
import type { Spool, SpoolItem } from "../queue/spool.ts";
import { createRedactor, type Redactor } from "../redact.ts";
import { readStdin, stubForOversizedInput } from "./stdin.ts";
import { buildEnvelope, normalizePayload } from "./envelope.ts";
import { createJournal, type Journal } from "./journal.ts";
import { pauseForTest } from "./test-pause.ts";
import { join } from "node:path";

/** How long a hook waits for another hook of the same session to release the transcript. */
const TRANSCRIPT_LOCK_TIMEOUT_MS = 2_000;

export interface CaptureOptions {
  env?: Record<string, string | undefined>;
  stdin?: ReadableStream<Uint8Array>;
}

/** Captures one event. Resolves when done; never rejects. */
export async function capture(options: CaptureOptions = {}): Promise<void> {
  const started = performance.now();
  // A hook parses each schema once and exits: compiling zod's fast paths (its JIT) costs more
  // than it saves, 5-20 ms per schema on first use.
  z.config({ jitless: true });
  const env = options.env ?? Deno.env.toObject();
  const journal = createJournal();
  // Milliseconds since the process started (performance's time origin) at each step: the
  // hook's time is the product's most visible number, so every run records where it went.
  const timings: Record<string, number> = { loaded: Math.round(started) };
  const lap = (step: string) => timings[step] = Math.round(performance.now());
  let config: Config | undefined;
  try {
    config = loadHookConfig(env, journal);
    lap("config");
    await captureEvent(config, env, options.stdin, journal, started, lap);
  } catch (error) {
    journal.add("error", "hook", "capture failed", { error: describe(error) });
  }
  lap("done");
  journal.add("debug", "hook", "done in {ms} ms", { ms: timings.done, timings });
  await journal.flush(config);
}

async function captureEvent(
  config: Config,
  env: Record<string, string | undefined>,
  stdin: ReadableStream<Uint8Array> | undefined,
  journal: Journal,
  started: number,
  lap: (step: string) => void,
): Promise<void> {
  const input = await readStdin(stdin);
  lap("stdin");
  const redactor = createRedactor(config.redactPatterns);
  const raw = parseInput(input.bytes, input.total, input.truncated, journal);
  if (raw === undefined) return;

  const payload = normalizePayload(redactor.value(raw));
  const envelope = buildEnvelope(payload, { env });
  envelope.source.spool = await spoolCounts(config.queueDir);
  lap("envelope");
  journal.ids.requestId = envelope.requestId;
  journal.ids.traceId = envelope.traceId;
  journal.add("debug", "hook", "received {event} for session {sessionId} ({bytes} bytes)", {
    event: envelope.event,
    sessionId: envelope.sessionId,
    bytes: input.total,
  });

  // Start loading the modules used after the spool write while the disk is busy.
  const queueModules = Promise.all([
    import("../queue/spool.ts"),
    import("../client.ts"),
  ]);
  queueModules.catch(() => {});

  const transcript = (TRANSCRIPT_EVENTS as readonly string[]).includes(envelope.event)
    ? await attachTranscript(config, envelope, redactor, journal)
    : undefined;

  let spool: Spool | undefined;
  let item: SpoolItem | undefined;
  try {
    await pauseForTest("before-spool", env);
    const { openSpool } = (await queueModules)[0];
    spool = await openSpool(config.queueDir, {
      retryScheduleMs: config.retryScheduleMs,
      maxAttempts: config.maxAttempts,
      leaseMs: config.leaseMs,
    });
    lap("modules");
    item = await spool.put(envelope);
    lap("spooled");
    journal.add("info", "queue", "spooled {event} at {path}", {
      event: envelope.event,
      path: item.path,
      transcriptLines: envelope.transcript?.length ?? 0,
    });
    await pauseForTest("after-spool", env);
    await transcript?.commit();
  } catch (error) {
    journal.add("error", "queue", "could not spool {event}; trying to send it anyway", {
      event: envelope.event,
      queueDir: config.queueDir,
      error: describe(error),
    });
  } finally {
    transcript?.release();
  }
  await pauseForTest("before-send", env);

  const [, client] = await queueModules;
  const target = await resolveTarget(config, journal);
  let outcome: DeliveryOutcome | undefined;
  if (target) {
    lap("credentials");
    outcome = await sendWithDeadline(client.sendEnvelope, target, envelope, config.hookTimeoutMs);
    lap("sent");
    await pauseForTest("after-send", env);
    await settle(spool, item, outcome, envelope, journal, started).catch((error) =>
      journal.add("error", "queue", "could not settle the spooled {event}", {
        event: envelope.event,
        error: describe(error),
      })
    );
    lap("settled");
  }

  if (!target && !item) {
    journal.add("error", "queue", "{event} could be neither spooled nor sent: LOST", {
      event: envelope.event,
    });
  }
  const othersWaiting = outcome?.kind === "delivered" &&
    await hasOtherPending(config.queueDir, envelope.requestId);
  if (envelope.event === "SessionEnd" || othersWaiting) {
    try {
      const { spawnDetachedShipper } = await import("../queue/spawn-drain.ts");
      spawnDetachedShipper();
      journal.add("info", "queue", "started a shipper", { reason: envelope.event });
    } catch (error) {
      journal.add("warning", "queue", "could not start a drain", { error: describe(error) });
    }
  }
}

/** The configuration; a bad setting is reported and left out (its default applies). */
function loadHookConfig(env: Record<string, string | undefined>, journal: Journal): Config {
  const usable = { ...env };
  for (let tries = 0;; tries++) {
    try {
      return loadConfig(usable);
    } catch (error) {
      if (!(error instanceof ConfigError) || tries > 20) throw error;
      const name = error.variable;
      journal.add("error", "config", "bad setting ignored, default used: {reason}", {
        reason: error.message,
      });
      if (name === undefined || !(name in usable)) throw error;
      delete usable[name];
    }
  }
}

function parseInput(
  bytes: Uint8Array,
  total: number,
  truncated: boolean,
  journal: Journal,
): Record<string, unknown> | undefined {
  const text = new TextDecoder().decode(bytes);
  if (truncated) {
    journal.add(
      "warning",
      "hook",
      "event of {bytes} bytes is over the limit; keeping its identity",
      {
        bytes: total,
      },
    );
    return stubForOversizedInput(text, total);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    journal.add("error", "hook", "stdin is not JSON ({bytes} bytes); nothing captured", {
      bytes: total,
      error: describe(error),
      head: createRedactor().string(text.slice(0, 512)),
    });
    return undefined;
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    journal.add("error", "hook", "stdin is JSON but not an object; nothing captured", {
      bytes: total,
    });
    return undefined;
  }
  return value as Record<string, unknown>;
}

interface AttachedTranscript {
  commit(): Promise<void>;
  release(): void;
}

/**
 * Attaches the transcript lines added since the last capture and records the intent to spool
 * them. The lock stays held until release(), so no other hook of the session takes them too.
 */
async function attachTranscript(
  config: Config,
  envelope: Envelope,
  redactor: Redactor,
  journal: Journal,
): Promise<AttachedTranscript | undefined> {
  const payload = envelope.payload as Record<string, unknown>;
  // A subagent's lines live in their own file; its session transcript is read on Stop.
  const path = [payload.agent_transcript_path, payload.transcript_path].find((candidate) =>
    typeof candidate === "string" && candidate !== ""
  ) as string | undefined;
  if (path === undefined) return undefined;
  const [{ openSessionState, settleIntent }, { readTranscriptChunk }] = await Promise.all([
    import("./session-state.ts"),
    import("./transcript.ts"),
  ]);
  let handle;
  try {
    handle = await openSessionState(
      config.queueDir,
      envelope.sessionId,
      TRANSCRIPT_LOCK_TIMEOUT_MS,
    );
  } catch (error) {
    journal.add("error", "transcript", "transcript state unavailable; lines left for later", {
      error: describe(error),
    });
    return undefined;
  }
  if (!handle) {
    journal.add("warning", "transcript", "session busy; transcript lines left for the next event");
    return undefined;
  }
  try {
    for (const file of Object.values(handle.state.files)) {
      if (await settleIntent(file, config.queueDir)) await handle.save();
    }
    const known = handle.state.files[path];
    const chunk = await readTranscriptChunk(path, known?.offset ?? 0, known?.ino);
    if (chunk === undefined) {
      journal.add("debug", "transcript", "no transcript at {path} yet", { path });
      handle.release();
      return undefined;
    }
    if (chunk.lines.length === 0) {
      handle.release();
      return undefined;
    }
    envelope.transcript = chunk.lines.map((line) => redactor.value(line));
    envelope.transcriptRange = { path: redactor.string(path), from: chunk.from, to: chunk.to };
    const entry = { offset: known?.offset ?? 0, ino: chunk.ino };
    handle.state.files[path] = {
      ...entry,
      intent: { requestId: envelope.requestId, from: chunk.from, to: chunk.to },
    };
    await handle.save();
    journal.add("debug", "transcript", "attached {lines} lines [{from}, {to}) of {path}", {
      lines: chunk.lines.length,
      from: chunk.from,
      to: chunk.to,
      path,
    });
    const state = handle;
    return {
      async commit() {
        state.state.files[path] = { offset: chunk.to, ino: chunk.ino };
        await state.save();
      },
      release: () => state.release(),
    };
  } catch (error) {
    handle.release();
    delete envelope.transcript;
    delete envelope.transcriptRange;
    journal.add("error", "transcript", "could not read the transcript; lines left for later", {
      path,
      error: describe(error),
    });
    return undefined;
  }
}

async function resolveTarget(config: Config, journal: Journal): Promise<Target | undefined> {
  try {
    const { url, apiKey } = await resolveClientCredentials(config);
    if (apiKey === undefined) {
      journal.add(
        "error",
        "config",
        "no API key (set ARRAKIS_API_KEY, write {file}, or run arrakis serve once); event kept in the spool",
        { file: config.clientConfigFile },
      );
      return undefined;
    }
    return { url, apiKey };
  } catch (error) {
    journal.add("error", "config", "cannot read the client configuration; event kept", {
      error: describe(error),
    });
    return undefined;
  }
}

/** One send, bounded by the deadline even if the client were to overrun it. */
async function sendWithDeadline(
  send: typeof import("../client.ts").sendEnvelope,
  target: Target,
  envelope: Envelope,
  timeoutMs: number,
): Promise<DeliveryOutcome> {
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<DeliveryOutcome>((resolve) => {
    timer = setTimeout(() => {
      controller.abort();
      resolve({ kind: "retryable", httpStatus: null, error: `no answer within ${timeoutMs} ms` });
    }, timeoutMs + 50);
  });
  try {
    return await Promise.race([
      send(target, envelope, { timeoutMs, signal: controller.signal }).catch((error) => ({
        kind: "retryable" as const,
        httpStatus: null,
        error: describe(error),
      })),
      deadline,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function settle(
  spool: Spool | undefined,
  item: SpoolItem | undefined,
  outcome: DeliveryOutcome,
  envelope: Envelope,
  journal: Journal,
  started: number,
): Promise<void> {
  const properties = {
    event: envelope.event,
    sessionId: envelope.sessionId,
    httpStatus: outcome.httpStatus,
    ms: Math.round(performance.now() - started),
  };
  if (outcome.kind === "delivered") {
    if (spool && item) await spool.complete(item);
    journal.add("info", "success", "delivered {event} ({httpStatus}) in {ms} ms", {
      ...properties,
      status: outcome.answer.status,
    });
    return;
  }
  if (!spool || !item) {
    journal.add("error", "queue", "{event} neither spooled nor delivered: LOST", {
      ...properties,
      error: outcome.error,
    });
    return;
  }
  const where = await spool.recordFailure(item, outcome);
  const level = outcome.kind === "permanent" ? "error" : "warning";
  journal.add(level, "queue", "{event} not delivered ({httpStatus}), now {where}", {
    ...properties,
    where,
    error: outcome.error,
  });
}

/** Waiting and dead-lettered files, counted up to a cap so a huge backlog costs little. */
async function spoolCounts(queueDir: string): Promise<{ pending: number; failed: number }> {
  const count = async (state: string) => {
    let n = 0;
    try {
      for await (const entry of Deno.readDir(join(queueDir, state))) {
        if (entry.name.endsWith(".json") && ++n >= SPOOL_COUNT_CAP) break;
      }
    } catch { /* not created yet: empty */ }
    return n;
  };
  const [pending, failed] = await Promise.all([count("pending"), count("failed")]);
  return { pending, failed };
}

const SPOOL_COUNT_CAP = 10_000;

async function hasOtherPending(queueDir: string, requestId: string): Promise<boolean> {
  try {
    for await (const entry of Deno.readDir(join(queueDir, "pending"))) {
      if (entry.name.endsWith(".json") && entry.name !== `${requestId}.json`) return true;
    }
  } catch { /* no pending directory: nothing waits */ }
  return false;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
