-- Batch-first ingest (issue 11) and per-session tool ids (issue 16).

-- A client that went away before its body arrived: not INVALID, not a failure.
ALTER TYPE webhook_status ADD VALUE IF NOT EXISTS 'ABORTED';

-- tool_use_id is unique within its session only: a PostToolUse sent with another session's id
-- must never overwrite that session's tool use.
ALTER TABLE tool_uses DROP CONSTRAINT tool_uses_tool_use_id_key;
ALTER TABLE tool_uses
  ADD CONSTRAINT tool_uses_session_tool_use_key UNIQUE (session_id, tool_use_id);
