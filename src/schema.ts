// The one typed schema of arrakis. Every shape that crosses a boundary (stdin, HTTP, disk,
// database) is declared here once; other modules import the schemas and their types.
import { z } from "zod";
import {
  isKnownHookEvent,
  type KnownHookEvent,
  MAX_EVENT_NAME_LENGTH,
  MAX_SESSION_ID_LENGTH,
  MAX_SOURCE_NAME_LENGTH,
  MAX_SOURCE_PATH_LENGTH,
  REQUEST_ID_PATTERN,
  SPAN_ID_PATTERN,
  SPOOL_RECORD_VERSION,
  TRACE_ID_PATTERN,
} from "./schema-plain.ts";

// ---------------------------------------------------------------------------------------------
// Claude Code hook input (stdin of `arrakis hook`)
// ---------------------------------------------------------------------------------------------

export {
  isKnownHookEvent,
  KNOWN_HOOK_EVENTS,
  type KnownHookEvent,
  REGISTERED_HOOK_EVENTS,
  REQUEST_ID_PATTERN,
  SPAN_ID_PATTERN,
  TRACE_ID_PATTERN,
  TRANSCRIPT_EVENTS,
  UNREGISTERED_HOOK_EVENTS,
} from "./schema-plain.ts";

// Numeric maxima: every number a client sends lands in a typed column or a SQL sum, so each has
// a ceiling far above any real value and inside what PostgreSQL and the pages compute with.

/** Counts stored or cast as a PostgreSQL integer (spool backlog sizes). */
export const MAX_COUNT = 2 ** 31 - 1;
/** Tokens per usage field: a million times a real context, and summable in bigint for ever. */
export const MAX_TOKENS = 10 ** 12;
/** A tool call's duration: 30 days in milliseconds. */
export const MAX_DURATION_MS = 30 * 24 * 3600 * 1000;

const Count = z.number().int().nonnegative().max(MAX_COUNT);
const Tokens = z.number().int().nonnegative().max(MAX_TOKENS);
const DurationMs = z.number().nonnegative().max(MAX_DURATION_MS);

/**
 * The event of an envelope `arrakis import` sends: a byte range of a transcript file on disk.
 * Not a Claude Code hook event; its payload names the session, the file, and for a subagent's
 * file the agent (agent_id, agent_type, agent_description, parent_tool_use_id from .meta.json).
 */
export const IMPORT_EVENT = "TranscriptImport";

// Claude Code adds fields and events often: every object is loose (unknown keys are kept) and
// only what arrakis needs to process an event is required.
const HookInputBase = z.looseObject({
  session_id: z.string().min(1).max(MAX_SESSION_ID_LENGTH),
  hook_event_name: z.string().min(1).max(MAX_EVENT_NAME_LENGTH),
  transcript_path: z.string().optional(),
  cwd: z.string().optional(),
  permission_mode: z.string().optional(),
  prompt_id: z.string().optional(),
  /** Set when the event fired inside a subagent: whose tool call or turn it is. */
  agent_id: z.string().max(256).optional(),
  agent_type: z.string().optional(),
});

const ToolUseBase = HookInputBase.extend({
  tool_name: z.string().min(1),
  tool_use_id: z.string().min(1).max(256),
  tool_input: z.unknown().optional(),
});

const StopBase = HookInputBase.extend({
  last_assistant_message: z.string().optional(),
  stop_hook_active: z.boolean().optional(),
});

const CompactBase = HookInputBase.extend({ trigger: z.string().optional() });
const TaskBase = HookInputBase.extend({
  task_id: z.string().optional(),
  task_subject: z.string().optional(),
  task_description: z.string().optional(),
  teammate_name: z.string().optional(),
  team_name: z.string().optional(),
});

export const HookInputSchemas = {
  Setup: HookInputBase.extend({ trigger: z.string().optional() }),
  SessionStart: HookInputBase.extend({
    /** startup, resume, clear, compact, fork (and whatever Claude Code adds). */
    source: z.string().optional(),
    model: z.string().optional(),
  }),
  UserPromptSubmit: HookInputBase.extend({ prompt: z.string() }),
  UserPromptExpansion: HookInputBase.extend({
    prompt: z.string().optional(),
    command_name: z.string().optional(),
  }),
  PreToolUse: ToolUseBase,
  PermissionRequest: ToolUseBase.extend({
    tool_use_id: z.string().min(1).max(256).optional(),
    permission_suggestions: z.unknown().optional(),
  }),
  PermissionDenied: ToolUseBase.extend({
    tool_use_id: z.string().min(1).max(256).optional(),
    reason: z.string().optional(),
  }),
  PostToolUse: ToolUseBase.extend({
    tool_response: z.unknown().optional(),
    duration_ms: DurationMs.optional(),
  }),
  PostToolUseFailure: ToolUseBase.extend({
    error: z.unknown().optional(),
    duration_ms: DurationMs.optional(),
    is_interrupt: z.boolean().optional(),
  }),
  PostToolBatch: HookInputBase.extend({ tool_calls: z.array(z.unknown()).optional() }),
  Stop: StopBase,
  StopFailure: HookInputBase.extend({
    error_type: z.string().optional(),
    error: z.unknown().optional(),
    error_message: z.string().optional(),
    last_assistant_message: z.string().optional(),
  }),
  SubagentStart: HookInputBase.extend({ agent_id: z.string().min(1).max(256) }),
  SubagentStop: StopBase.extend({ agent_transcript_path: z.string().optional() }),
  TaskCreated: TaskBase,
  TaskCompleted: TaskBase,
  TeammateIdle: TaskBase,
  Notification: HookInputBase.extend({
    message: z.string().optional(),
    title: z.string().optional(),
    notification_type: z.string().optional(),
  }),
  MessageDisplay: HookInputBase,
  InstructionsLoaded: HookInputBase.extend({
    file_path: z.string().optional(),
    memory_type: z.string().optional(),
    load_reason: z.string().optional(),
  }),
  ConfigChange: HookInputBase.extend({
    source: z.string().optional(),
    file_path: z.string().optional(),
  }),
  CwdChanged: HookInputBase.extend({
    old_cwd: z.string().optional(),
    new_cwd: z.string().optional(),
  }),
  DirectoryAdded: HookInputBase.extend({ directory: z.string().optional() }),
  FileChanged: HookInputBase.extend({
    file_path: z.string().optional(),
    event: z.string().optional(),
  }),
  WorktreeCreate: HookInputBase.extend({ name: z.string().optional() }),
  WorktreeRemove: HookInputBase.extend({ worktree_path: z.string().optional() }),
  PreCompact: CompactBase.extend({ custom_instructions: z.string().nullable().optional() }),
  PostCompact: CompactBase.extend({ compact_summary: z.string().optional() }),
  Elicitation: HookInputBase.extend({
    mcp_server_name: z.string().optional(),
    message: z.string().optional(),
  }),
  ElicitationResult: HookInputBase.extend({
    mcp_server_name: z.string().optional(),
    action: z.string().optional(),
  }),
  SessionEnd: HookInputBase.extend({ reason: z.string().optional() }),
} as const satisfies Record<KnownHookEvent, z.ZodType>;

export type HookInputOf<E extends KnownHookEvent> = z.infer<(typeof HookInputSchemas)[E]>;
export type HookInput = z.infer<typeof HookInputBase>;

/** The schema for one event name: the event's own for known events, the loose base otherwise. */
export function hookInputSchemaFor(event: string): z.ZodType<HookInput> {
  return isKnownHookEvent(event) ? HookInputSchemas[event] : HookInputBase;
}

// ---------------------------------------------------------------------------------------------
// Transcript lines (JSONL at transcript_path). Internal to Claude Code and drifting: lenient.
// ---------------------------------------------------------------------------------------------

export const TokenUsage = z.looseObject({
  input_tokens: Tokens.optional(),
  output_tokens: Tokens.optional(),
  cache_creation_input_tokens: Tokens.optional(),
  cache_read_input_tokens: Tokens.optional(),
  /** The cache writes split by lifetime: the 1-hour ones cost more than the 5-minute ones. */
  cache_creation: z.looseObject({
    ephemeral_5m_input_tokens: Tokens.optional(),
    ephemeral_1h_input_tokens: Tokens.optional(),
  }).optional(),
});
export type TokenUsage = z.infer<typeof TokenUsage>;

export const TranscriptLine = z.looseObject({
  type: z.string().optional(),
  uuid: z.string().optional(),
  parentUuid: z.string().nullable().optional(),
  sessionId: z.string().optional(),
  requestId: z.string().optional(),
  timestamp: z.string().optional(),
  isSidechain: z.boolean().optional(),
  /** The subagent whose transcript this line belongs to (subagents/agent-<agentId>.jsonl). */
  // Fields added later in Claude Code's life: null where a version writes null, so a line is
  // never turned away for them.
  agentId: z.string().nullable().optional(),
  /** Lines Claude Code adds itself (command caveats, expansions): not the user's prompt. */
  isMeta: z.boolean().nullable().optional(),
  promptId: z.string().nullable().optional(),
  isCompactSummary: z.boolean().nullable().optional(),
  cwd: z.string().nullable().optional(),
  /** On a tool_result line: the tool's structured result (for Task/Agent it names the agentId). */
  toolUseResult: z.unknown().optional(),
  message: z.looseObject({
    id: z.string().optional(),
    role: z.string().optional(),
    model: z.string().optional(),
    content: z.unknown().optional(),
    usage: TokenUsage.optional(),
  }).optional(),
});
export type TranscriptLine = z.infer<typeof TranscriptLine>;

/**
 * A transcript line as it travels: itself when the schema accepts it, else its JSON as text,
 * so one line Claude Code reshaped never sinks the whole event.
 */
export const LenientTranscriptLine = TranscriptLine.catch((
  ctx,
): TranscriptLine => ({ type: "arrakis.unparsed", raw: JSON.stringify(ctx.value) }));

/** One line through LenientTranscriptLine (the importer reads lines one by one). */
export function lenientTranscriptLine(value: unknown): TranscriptLine {
  return LenientTranscriptLine.parse(value);
}

// ---------------------------------------------------------------------------------------------
// The envelope (hook → server)
// ---------------------------------------------------------------------------------------------

export const RequestId = z.string().regex(REQUEST_ID_PATTERN, "requestId must be a lowercase UUID");
export const TraceId = z.string().regex(TRACE_ID_PATTERN, "traceId must be 32 lowercase hex");
export const SpanId = z.string().regex(SPAN_ID_PATTERN, "spanId must be 16 lowercase hex");

export const EnvelopeSource = z.looseObject({
  host: z.string().max(MAX_SOURCE_NAME_LENGTH).optional(),
  user: z.string().max(MAX_SOURCE_NAME_LENGTH).optional(),
  projectDir: z.string().max(MAX_SOURCE_PATH_LENGTH).optional(),
  cwd: z.string().max(MAX_SOURCE_PATH_LENGTH).optional(),
  version: z.string().max(64).optional(),
  /** The sender's spool when it spooled this event (this event not counted): backlog health. */
  spool: z.object({ pending: Count, failed: Count }).optional(),
});
export type EnvelopeSource = z.infer<typeof EnvelopeSource>;

/** Which bytes of the transcript file the attached lines came from. */
export const TranscriptRange = z.object({
  path: z.string(),
  from: z.number().int().nonnegative(),
  to: z.number().int().nonnegative(),
});
export type TranscriptRange = z.infer<typeof TranscriptRange>;

/** The envelope's structure alone: what a spool file must hold to be sendable. */
export const EnvelopeShape = z.object({
  requestId: RequestId,
  traceId: TraceId,
  spanId: SpanId,
  event: z.string().min(1).max(MAX_EVENT_NAME_LENGTH),
  sessionId: z.string().min(1).max(MAX_SESSION_ID_LENGTH),
  occurredAt: z.iso.datetime({ offset: true }),
  attempt: z.number().int().min(1).max(1_000_000),
  source: EnvelopeSource,
  payload: HookInputBase,
  transcript: z.array(TranscriptLine).optional(),
  transcriptRange: TranscriptRange.optional(),
});

/** The full envelope check the server applies: structure plus the event's own payload. */
export const Envelope = EnvelopeShape.superRefine((env, ctx) => {
  if (env.payload.session_id !== env.sessionId) {
    ctx.addIssue({
      code: "custom",
      path: ["payload", "session_id"],
      message: "payload.session_id must equal sessionId",
    });
  }
  if (env.payload.hook_event_name !== env.event) {
    ctx.addIssue({
      code: "custom",
      path: ["payload", "hook_event_name"],
      message: "payload.hook_event_name must equal event",
    });
  }
  const own = hookInputSchemaFor(env.event).safeParse(env.payload);
  if (!own.success) {
    for (const issue of own.error.issues) {
      ctx.addIssue({ code: "custom", path: ["payload", ...issue.path], message: issue.message });
    }
  }
});
export type Envelope = z.infer<typeof Envelope>;

// ---------------------------------------------------------------------------------------------
// Audit statuses (webhook_events.status)
// ---------------------------------------------------------------------------------------------

/** Every status a request can have, with its one meaning. Final ones end a request. */
export const WEBHOOK_STATUS_MEANINGS = {
  RECEIVED:
    "not written by this version: audit rows are written once, in their final state, with the " +
    "data they describe (a row still RECEIVED from an older server is swept to ERROR INTERRUPTED)",
  PROCESSING:
    "reserved for processing that outlives its request (not written by this version; swept " +
    "like RECEIVED)",
  SUCCESS: "event processed and committed; the 200 answer is stored on the row",
  DUPLICATE: "requestId already succeeded with the same body; nothing else was written",
  CONFLICT: "requestId already succeeded with a different body; rejected with 409",
  INVALID: "request malformed, too large or failing the schema; rejected with a 4xx",
  UNAUTHORIZED: "missing or wrong API key; rejected with 401, payload not stored",
  ERROR: "server or database failure; answered 5xx, the client keeps the event and retries",
  ABORTED: "the client went away before its body arrived; nothing was wrong with the request and " +
    "nothing was stored (not a failure: the client still holds the event and sends it again)",
} as const;
export const WEBHOOK_STATUSES = Object.keys(WEBHOOK_STATUS_MEANINGS) as WebhookStatus[];
/**
 * The one definition of a delivery rate, used by the overview, the alerts and the Failed page:
 * settled deliveries of an authenticated client, good or failed. In-flight rows, requests
 * without a valid key and clients that hung up mid-body (ABORTED) are left out: neither says
 * anything about the pipeline.
 */
export const OK_STATUSES: readonly WebhookStatus[] = ["SUCCESS", "DUPLICATE"];
export const FAILED_STATUSES: readonly WebhookStatus[] = ["ERROR", "INVALID", "CONFLICT"];
export const RATE_DEFINITION = "SUCCESS and DUPLICATE over those plus ERROR, INVALID and " +
  "CONFLICT; in-flight, UNAUTHORIZED and ABORTED requests are left out";
export const WebhookStatus = z.enum([
  "RECEIVED",
  "PROCESSING",
  "SUCCESS",
  "DUPLICATE",
  "CONFLICT",
  "INVALID",
  "UNAUTHORIZED",
  "ERROR",
  "ABORTED",
]);
export type WebhookStatus = z.infer<typeof WebhookStatus>;

/** The furthest stage a request reached, stored on its audit row. */
export const IngestStage = z.enum([
  "metadata",
  "authenticate",
  "audit",
  "dedupe",
  "validate",
  "process",
  "respond",
]);
export type IngestStage = z.infer<typeof IngestStage>;

// ---------------------------------------------------------------------------------------------
// Server answers
// ---------------------------------------------------------------------------------------------

export const ValidationIssue = z.object({
  path: z.array(z.union([z.string(), z.number()])),
  message: z.string(),
});
export type ValidationIssue = z.infer<typeof ValidationIssue>;

export const IngestAnswer = z.object({
  /** A final status: an answer is never in flight. */
  status: WebhookStatus.exclude(["RECEIVED", "PROCESSING"]),
  requestId: z.string().optional(),
  traceId: z.string().optional(),
  eventId: z.number().int().optional(),
  message: z.string().optional(),
  code: z.string().optional(),
  issues: z.array(ValidationIssue).optional(),
});
export type IngestAnswer = z.infer<typeof IngestAnswer>;

/** One item of a batch answer: the item's own answer and the HTTP status it would have had. */
export const BatchItemAnswer = IngestAnswer.extend({ httpStatus: z.number().int() });
export type BatchItemAnswer = z.infer<typeof BatchItemAnswer>;
export const BatchAnswer = z.object({ results: z.array(BatchItemAnswer) });
export type BatchAnswer = z.infer<typeof BatchAnswer>;

// ---------------------------------------------------------------------------------------------
// The local spool (one JSON file per envelope)
// ---------------------------------------------------------------------------------------------

export const DeliveryState = z.object({
  attempts: z.number().int().nonnegative(),
  firstAttemptAt: z.string().nullable(),
  lastAttemptAt: z.string().nullable(),
  nextAttemptAt: z.string().nullable(),
  lastError: z.string().nullable(),
  lastHttpStatus: z.number().int().nullable(),
  /** The server's answer for a permanent failure, kept beside the dead letter. */
  lastAnswer: z.unknown().optional(),
});
export type DeliveryState = z.infer<typeof DeliveryState>;

export const SpoolRecord = z.object({
  version: z.literal(SPOOL_RECORD_VERSION),
  // Only the structure: whether the payload is acceptable is the server's call, so an event
  // Claude Code reshapes later still travels and comes back as a dead letter with the reason.
  // The hook keeps every transcript line as Claude Code wrote it (it cannot load zod): a line the
  // schema rejects travels as text rather than sinking the whole event, in the same pass (a
  // lenient pass over the lines before the record's own parsed each line twice: 6 lines of the
  // fixture transcript, 42-66 against 33-41 µs a record).
  envelope: EnvelopeShape.extend({ transcript: z.array(LenientTranscriptLine).optional() }),
  delivery: DeliveryState,
});
export type SpoolRecord = z.infer<typeof SpoolRecord>;

// ---------------------------------------------------------------------------------------------
// Table rows (migrations/*.sql)
// ---------------------------------------------------------------------------------------------

export interface ConversationRow {
  id: string;
  session_id: string;
  project_dir: string | null;
  cwd: string | null;
  host: string | null;
  user_name: string | null;
  model: string | null;
  start_source: string | null;
  permission_mode: string | null;
  transcript_path: string | null;
  started_at: Date | null;
  ended_at: Date | null;
  end_reason: string | null;
  first_seen_at: Date;
  last_event_at: Date | null;
  /** Name of the API key that sent the session's first stored event (migration 0005). */
  key_name: string | null;
}

export type MessageRole = "user" | "assistant";
/** Where a message came from: a prompt event, a transcript line, or Stop's last message. */
export type MessageSource = "prompt" | "transcript" | "stop";

export interface MessageRow {
  id: string;
  conversation_id: string;
  session_id: string;
  /** The subagent that wrote it; null for the main conversation. */
  agent_id: string | null;
  role: MessageRole;
  source: MessageSource;
  dedupe_key: string;
  content: string | null;
  content_json: unknown;
  model: string | null;
  message_id: string | null;
  api_request_id: string | null;
  transcript_uuid: string | null;
  parent_uuid: string | null;
  request_id: string | null;
  occurred_at: Date | null;
  created_at: Date;
}

export interface TokenUsageRow {
  message_id: string;
  api_request_id: string;
  session_id: string;
  conversation_id: string;
  agent_id: string | null;
  model: string | null;
  input_tokens: string;
  output_tokens: string;
  cache_creation_input_tokens: string;
  /** The part of cache_creation_input_tokens written for 5 minutes / for 1 hour. */
  cache_creation_5m_input_tokens: string;
  cache_creation_1h_input_tokens: string;
  cache_read_input_tokens: string;
  occurred_at: Date | null;
}

/** One subagent of a session (migrations/0003). */
/** One usage record's tokens (or their sums); cache writes also split by lifetime, priced apart. */
export interface TokenCounts {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_creation_5m_input_tokens: number;
  cache_creation_1h_input_tokens: number;
  cache_read_input_tokens: number;
}

export interface AgentRow {
  id: string;
  conversation_id: string;
  session_id: string;
  agent_id: string;
  agent_type: string | null;
  description: string | null;
  /** The Task/Agent tool call that started it. */
  parent_tool_use_id: string | null;
  /** The agent that made that call; null when the main conversation did. */
  parent_agent_id: string | null;
  transcript_path: string | null;
  started_at: Date | null;
  ended_at: Date | null;
  last_message: string | null;
}

/** What a session went through besides messages and tools: failures, compactions, tasks. */
export type SessionEventKind =
  | "stop_failure"
  | "compact"
  | "tool_batch"
  | "task_created"
  | "task_completed";

export interface SessionEventRow {
  request_id: string;
  conversation_id: string;
  session_id: string;
  agent_id: string | null;
  kind: SessionEventKind;
  /** stop_failure: error_type; compact: trigger; task_*: task_id. */
  label: string | null;
  /** stop_failure: error_message; compact: the summary; task_*: the subject. */
  text: string | null;
  detail: unknown;
  occurred_at: Date | null;
}

/** Dollars per million tokens for one model (data/prices.json, loaded at start). */
export interface PriceRow {
  model: string;
  input: string;
  output: string;
  cache_read: string;
  cache_write_5m: string;
  cache_write_1h: string;
  /** Above this many prompt tokens (input + cache) a request is billed at the long_* rates. */
  long_context_threshold: string | null;
  long_input: string | null;
  long_output: string | null;
  long_cache_read: string | null;
  long_cache_write_5m: string | null;
  long_cache_write_1h: string | null;
  effective_date: string;
  source: string;
}

export type ToolUseStatus = "pending" | "success" | "failure";

export type PermissionDecision = "requested" | "denied";

export interface ToolUseRow {
  id: string;
  conversation_id: string;
  session_id: string;
  agent_id: string | null;
  tool_use_id: string;
  /** requested: a permission dialog was shown (PermissionRequest); denied: PermissionDenied. */
  permission: PermissionDecision | null;
  permission_reason: string | null;
  tool_name: string | null;
  tool_input: unknown;
  tool_response: unknown;
  error: unknown;
  status: ToolUseStatus;
  duration_ms: number | null;
  pre_at: Date | null;
  post_at: Date | null;
}

export interface WebhookEventRow {
  id: string;
  request_id: string | null;
  trace_id: string | null;
  span_id: string | null;
  session_id: string | null;
  event_type: string | null;
  conversation_id: string | null;
  status: WebhookStatus;
  stage: IngestStage;
  http_status: number | null;
  error_code: string | null;
  error_message: string | null;
  payload: unknown;
  body_sha256: string | null;
  response: unknown;
  headers: Record<string, string> | null;
  ip: string | null;
  user_agent: string | null;
  attempt: number | null;
  batch_id: string | null;
  stage_timings: Record<string, number> | null;
  received_at: Date;
  completed_at: Date | null;
  processing_ms: number | null;
  /** Name of the API key that sent the request; null when none was accepted. */
  key_name: string | null;
  /** The `arrakis serve` instance that wrote the row. */
  instance_id: string | null;
}

// ---------------------------------------------------------------------------------------------
// Team server: key roles, keys, instances (migrations/0005_team.sql)
// ---------------------------------------------------------------------------------------------

/** What a key may do: ingest posts events; read uses the dashboard and read API; admin both,
 * plus reprocessing and managing keys. */
export const KeyRole = z.enum(["ingest", "read", "admin"]);
export type KeyRole = z.infer<typeof KeyRole>;

/** Key names appear in audit rows, filters and URLs: a short, plain label. */
export const KeyName = z.string().regex(
  /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/,
  "a key name is 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit",
);

export interface ApiKeyRow {
  id: string;
  name: string;
  role: KeyRole;
  key_sha256: string;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

export interface InstanceRow {
  id: string;
  host: string | null;
  pid: number | null;
  started_at: Date;
  heartbeat_at: Date;
  stopped_at: Date | null;
}

export interface SchemaMigrationRow {
  version: string;
  name: string;
  checksum: string;
  applied_at: Date;
}
