// The hook's transcript phase: attaches the transcript lines added since the last capture to
// the envelope and records the intent to spool them (protocol in src/hook/session-state.ts).
// The session's lock stays held until release(), so no other hook of the session takes them.
import type { Envelope } from "../schema.ts";
import type { HookSettings } from "../config-core.ts";
import type { Redactor } from "../redact.ts";
import type { Journal } from "./journal.ts";
import { openSessionState, settleIntent } from "./session-state.ts";
import { readTranscriptChunk } from "./transcript.ts";
import { errorMessage } from "../error_message.ts";

/** How long a hook waits for another hook of the same session to release the transcript. */
const TRANSCRIPT_LOCK_TIMEOUT_MS = 2_000;

export interface AttachedTranscript {
  /** The lines are in the spool: move the offset past them. */
  commit(): Promise<void>;
  release(): void;
}

/** Attaches new lines to `envelope`; undefined when there are none (or they must wait). */
export async function attachTranscript(
  settings: Pick<HookSettings, "queueDir">,
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
  let handle;
  try {
    handle = await openSessionState(
      settings.queueDir,
      envelope.sessionId,
      TRANSCRIPT_LOCK_TIMEOUT_MS,
    );
  } catch (error) {
    journal.add("error", "transcript", "transcript state unavailable; lines left for later", {
      error: errorMessage(error),
    });
    return undefined;
  }
  if (!handle) {
    journal.add("warning", "transcript", "session busy; transcript lines left for the next event");
    return undefined;
  }
  try {
    for (const file of Object.values(handle.state.files)) {
      if (await settleIntent(file, settings.queueDir)) await handle.save();
    }
    const known = handle.state.files[path];
    const chunk = await readTranscriptChunk(path, known?.offset ?? 0, known?.ino);
    if (chunk === undefined || chunk.lines.length === 0) {
      if (chunk === undefined) {
        journal.add("debug", "transcript", "no transcript at {path} yet", { path });
      }
      handle.release();
      return undefined;
    }
    envelope.transcript = chunk.lines.map((line) => redactor.value(line));
    envelope.transcriptRange = { path: redactor.string(path), from: chunk.from, to: chunk.to };
    handle.state.files[path] = {
      offset: known?.offset ?? 0,
      ino: chunk.ino,
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
      error: errorMessage(error),
    });
    return undefined;
  }
}
