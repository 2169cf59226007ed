// The zod-free part of the one schema (src/schema.ts builds its zod schemas from these and
// re-exports them): names, patterns and limits the hook needs, importable without loading zod.
// Only plain values live here; shapes stay in src/schema.ts and reach the hook as `import type`.

export const KNOWN_HOOK_EVENTS = [
  "Setup",
  "SessionStart",
  "UserPromptSubmit",
  "UserPromptExpansion",
  "PreToolUse",
  "PermissionRequest",
  "PermissionDenied",
  "PostToolUse",
  "PostToolUseFailure",
  "PostToolBatch",
  "Stop",
  "StopFailure",
  "SubagentStart",
  "SubagentStop",
  "TaskCreated",
  "TaskCompleted",
  "TeammateIdle",
  "Notification",
  "MessageDisplay",
  "InstructionsLoaded",
  "ConfigChange",
  "CwdChanged",
  "DirectoryAdded",
  "FileChanged",
  "WorktreeCreate",
  "WorktreeRemove",
  "PreCompact",
  "PostCompact",
  "Elicitation",
  "ElicitationResult",
  "SessionEnd",
] as const;
export type KnownHookEvent = (typeof KNOWN_HOOK_EVENTS)[number];

export function isKnownHookEvent(name: string): name is KnownHookEvent {
  return (KNOWN_HOOK_EVENTS as readonly string[]).includes(name);
}

/**
 * Events `arrakis install` does not register: a hook on them is not a silent observer (its
 * output, or its mere presence, changes what Claude Code does). docs/HOOK.md gives each reason.
 * They are still known, so an event sent by a hook someone registered by hand is stored typed.
 */
export const UNREGISTERED_HOOK_EVENTS: readonly KnownHookEvent[] = [
  "WorktreeCreate",
  "WorktreeRemove",
  "MessageDisplay",
  "FileChanged",
];

/** The events `arrakis install` registers: every known event a silent hook leaves unchanged. */
export const REGISTERED_HOOK_EVENTS: readonly KnownHookEvent[] = KNOWN_HOOK_EVENTS.filter((e) =>
  !UNREGISTERED_HOOK_EVENTS.includes(e)
);

/** Events on which the hook reads new transcript lines and attaches them. */
export const TRANSCRIPT_EVENTS: readonly KnownHookEvent[] = [
  "Stop",
  "StopFailure",
  "SubagentStop",
  "PreCompact",
  "SessionEnd",
];

export const REQUEST_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const TRACE_ID_PATTERN = /^[0-9a-f]{32}$/;
export const SPAN_ID_PATTERN = /^[0-9a-f]{16}$/;

/** Longest session_id and hook_event_name the server accepts (the hook clips to these). */
export const MAX_SESSION_ID_LENGTH = 256;
export const MAX_EVENT_NAME_LENGTH = 128;
/** Longest source.host / source.user and source.projectDir / source.cwd. */
export const MAX_SOURCE_NAME_LENGTH = 256;
export const MAX_SOURCE_PATH_LENGTH = 4096;

/** The version of the spool file layout (SpoolRecord.version). */
export const SPOOL_RECORD_VERSION = 1;
