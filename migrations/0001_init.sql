-- arrakis initial schema. Plain SQL within PostgreSQL 15 (PGlite runs 18).
-- Row shapes are mirrored by the interfaces in src/schema.ts.

-- One row per Claude Code session_id, created by whichever event arrives first.
CREATE TABLE conversations (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  session_id       text NOT NULL UNIQUE,
  project_dir      text,
  cwd              text,
  host             text,
  user_name        text,
  model            text,
  start_source     text,
  permission_mode  text,
  transcript_path  text,
  started_at       timestamptz,
  ended_at         timestamptz,
  end_reason       text,
  first_seen_at    timestamptz NOT NULL DEFAULT now(),
  last_event_at    timestamptz
);
CREATE INDEX conversations_started_idx ON conversations (coalesce(started_at, first_seen_at) DESC);

-- User prompts, assistant text blocks from the transcript, and Stop's last assistant message.
-- dedupe_key makes every source idempotent: the prompt's requestId/prompt_id, the transcript
-- line uuid, or the Stop event's requestId.
CREATE TABLE messages (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  conversation_id  bigint NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  session_id       text NOT NULL,
  role             text NOT NULL CHECK (role IN ('user', 'assistant')),
  source           text NOT NULL CHECK (source IN ('prompt', 'transcript', 'stop')),
  dedupe_key       text NOT NULL,
  content          text,
  content_json     jsonb,
  model            text,
  message_id       text,
  api_request_id   text,
  transcript_uuid  text,
  parent_uuid      text,
  request_id       text,
  occurred_at      timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (session_id, dedupe_key)
);
CREATE INDEX messages_conversation_idx ON messages (conversation_id, occurred_at, id);
CREATE INDEX messages_message_id_idx ON messages (message_id) WHERE message_id IS NOT NULL;

-- Token usage counted once per assistant API message: the transcript repeats usage on every
-- content block of one message, so (message.id, requestId) is the key.
CREATE TABLE token_usage (
  message_id                   text NOT NULL,
  api_request_id               text NOT NULL,
  conversation_id              bigint NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  session_id                   text NOT NULL,
  model                        text,
  input_tokens                 bigint NOT NULL DEFAULT 0,
  output_tokens                bigint NOT NULL DEFAULT 0,
  cache_creation_input_tokens  bigint NOT NULL DEFAULT 0,
  cache_read_input_tokens      bigint NOT NULL DEFAULT 0,
  occurred_at                  timestamptz,
  PRIMARY KEY (message_id, api_request_id)
);
CREATE INDEX token_usage_conversation_idx ON token_usage (conversation_id);

-- One row per tool_use_id; PreToolUse and PostToolUse(Failure) fill it in any order.
CREATE TABLE tool_uses (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  conversation_id  bigint NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  session_id       text NOT NULL,
  tool_use_id      text NOT NULL UNIQUE,
  tool_name        text,
  tool_input       jsonb,
  tool_response    jsonb,
  error            jsonb,
  status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'success', 'failure')),
  duration_ms      double precision,
  pre_at           timestamptz,
  post_at          timestamptz
);
CREATE INDEX tool_uses_conversation_idx ON tool_uses (conversation_id, coalesce(pre_at, post_at));

-- The audit trail: one row per HTTP request (or batch item), whatever its outcome.
-- The meaning of each status is documented in src/schema.ts (WEBHOOK_STATUS_MEANINGS).
CREATE TYPE webhook_status AS ENUM (
  'RECEIVED', 'PROCESSING', 'SUCCESS', 'DUPLICATE', 'CONFLICT', 'INVALID', 'UNAUTHORIZED', 'ERROR'
);

CREATE TABLE webhook_events (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  request_id       text,
  trace_id         text,
  span_id          text,
  session_id       text,
  event_type       text,
  conversation_id  bigint REFERENCES conversations (id) ON DELETE SET NULL,
  status           webhook_status NOT NULL DEFAULT 'RECEIVED',
  stage            text NOT NULL DEFAULT 'metadata',
  http_status      integer,
  error_code       text,
  error_message    text,
  payload          jsonb,
  body_sha256      text,
  response         jsonb,
  headers          jsonb,
  ip               text,
  user_agent       text,
  attempt          integer,
  batch_id         text,
  stage_timings    jsonb,
  received_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
  completed_at     timestamptz,
  processing_ms    double precision
);
-- Every delivery gets its own audit row; a requestId is processed (SUCCESS) at most once.
CREATE UNIQUE INDEX webhook_events_request_id_success_key
  ON webhook_events (request_id) WHERE status = 'SUCCESS';
CREATE INDEX webhook_events_request_id_idx ON webhook_events (request_id);
CREATE INDEX webhook_events_trace_id_idx ON webhook_events (trace_id);
CREATE INDEX webhook_events_session_idx ON webhook_events (session_id, received_at DESC);
CREATE INDEX webhook_events_status_idx ON webhook_events (status, received_at DESC);
CREATE INDEX webhook_events_event_type_idx ON webhook_events (event_type, received_at DESC);
CREATE INDEX webhook_events_received_idx ON webhook_events (received_at DESC);
