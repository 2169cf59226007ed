// One byte range of a transcript file → the envelope that carries it, the same bytes always
// giving the same envelope: requestId and traceId derive from the session, file and range, so
// importing twice is answered DUPLICATE and nothing is written again.
import { sha256Of } from "../digest.ts";
import { basename } from "node:path";
import { type Envelope, IMPORT_EVENT, type TranscriptLine } from "../schema.ts";
import type { TranscriptFile } from "./scan.ts";

function digest(...parts: string[]): string {
  return sha256Of(parts.join("\u0000")).digest("hex");
}

/** A UUID (version 8, RFC 9562's custom layout) from a hash: stable, and a valid requestId. */
export function uuidFromHash(hex: string): string {
  const variant = ((parseInt(hex[16], 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${
    hex.slice(17, 20)
  }-${hex.slice(20, 32)}`;
}

export interface ImportSource {
  host: string;
  user: string;
}

/**
 * The envelope for lines [from, to) of `file`. Only what the bytes determine goes in (not the
 * arrakis version, not the time of the import): a re-import must hash the same.
 */
export function importEnvelope(
  file: TranscriptFile,
  range: { from: number; to: number },
  lines: TranscriptLine[],
  source: ImportSource,
): Envelope {
  const sessionId = lines.find((l) => typeof l.sessionId === "string")?.sessionId ??
    file.sessionId;
  const key = digest(
    "arrakis.import",
    sessionId,
    basename(file.path),
    `${range.from}`,
    `${range.to}`,
  );
  const times = lines.map((l) => l.timestamp).filter((t): t is string =>
    typeof t === "string" && Number.isFinite(Date.parse(t))
  ).map((t) => new Date(Date.parse(t)).toISOString()).sort();
  const cwd = lines.find((l) => typeof l.cwd === "string")?.cwd;
  const payload: Record<string, unknown> = {
    session_id: sessionId,
    hook_event_name: IMPORT_EVENT,
    transcript_path: file.sessionPath,
    ...(cwd ? { cwd } : {}),
  };
  if (file.agent) {
    payload.agent_id = lines.find((l) => typeof l.agentId === "string")?.agentId ??
      file.agent.agentId;
    payload.agent_transcript_path = file.path;
    if (file.agent.agentType) payload.agent_type = file.agent.agentType;
    if (file.agent.description) payload.agent_description = file.agent.description;
    if (file.agent.parentToolUseId) payload.parent_tool_use_id = file.agent.parentToolUseId;
  }
  return {
    requestId: uuidFromHash(key),
    traceId: key.slice(32, 64),
    spanId: key.slice(0, 16),
    event: IMPORT_EVENT,
    sessionId,
    // The range's last line time; a range without times gets the epoch rather than "now".
    occurredAt: times.at(-1) ?? new Date(0).toISOString(),
    attempt: 1,
    source: { host: source.host, user: source.user, ...(cwd ? { cwd, projectDir: cwd } : {}) },
    payload: payload as Envelope["payload"],
    transcript: lines,
    transcriptRange: { path: file.path, from: range.from, to: range.to },
  };
}
