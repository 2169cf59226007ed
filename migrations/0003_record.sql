-- The complete record: subagents as rows, agent_id on what they did, the 5m/1h cache split,
-- permission decisions on tool uses, session events (failures, compactions, tasks) and the
-- price table that cost is computed from. Plain SQL within PostgreSQL 15 (PGlite runs 18).

-- One row per subagent of a session. Filled from SubagentStart/Stop, from the Task/Agent tool
-- result that names the agent, and from the agent's own transcript, in any order.
CREATE TABLE agents (
  id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  conversation_id     bigint NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  session_id          text NOT NULL,
  agent_id            text NOT NULL,
  agent_type          text,
  description         text,
  parent_tool_use_id  text,
  parent_agent_id     text,
  transcript_path     text,
  started_at          timestamptz,
  ended_at            timestamptz,
  last_message        text,
  UNIQUE (session_id, agent_id)
);
CREATE INDEX agents_conversation_idx ON agents (conversation_id);

ALTER TABLE messages ADD COLUMN agent_id text;
ALTER TABLE tool_uses ADD COLUMN agent_id text;
ALTER TABLE tool_uses ADD COLUMN permission text CHECK (permission IN ('requested', 'denied'));
ALTER TABLE tool_uses ADD COLUMN permission_reason text;
ALTER TABLE token_usage ADD COLUMN agent_id text;
ALTER TABLE token_usage ADD COLUMN cache_creation_5m_input_tokens bigint NOT NULL DEFAULT 0;
ALTER TABLE token_usage ADD COLUMN cache_creation_1h_input_tokens bigint NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN start_sources text[] NOT NULL DEFAULT '{}';

-- Events that are data of their own: StopFailure, PostCompact, PostToolBatch, TaskCreated,
-- TaskCompleted. One row per delivered event (its requestId).
CREATE TABLE session_events (
  request_id       text PRIMARY KEY,
  conversation_id  bigint NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  session_id       text NOT NULL,
  agent_id         text,
  kind             text NOT NULL
    CHECK (kind IN ('stop_failure', 'compact', 'tool_batch', 'task_created', 'task_completed')),
  label            text,
  text             text,
  detail           jsonb,
  occurred_at      timestamptz
);
CREATE INDEX session_events_conversation_idx ON session_events (conversation_id, occurred_at);

-- Dollars per million tokens, replaced from data/prices.json (+ ARRAKIS_PRICES) at start.
-- A model id matches the longest price key it equals or starts with followed by '-' or '['
-- (claude-sonnet-4-5-20250929 and claude-sonnet-4-5[1m] both take claude-sonnet-4-5).
CREATE TABLE prices (
  model                   text PRIMARY KEY,
  input                   numeric NOT NULL,
  output                  numeric NOT NULL,
  cache_read              numeric NOT NULL,
  cache_write_5m          numeric NOT NULL,
  cache_write_1h          numeric NOT NULL,
  long_context_threshold  bigint,
  long_input              numeric,
  long_output             numeric,
  long_cache_read         numeric,
  long_cache_write_5m     numeric,
  long_cache_write_1h     numeric,
  effective_date          text NOT NULL,
  source                  text NOT NULL
);

-- The one place cost is computed: each usage row with its price and dollars. Cache writes the
-- split does not cover (older transcripts) are priced at the 5-minute rate, as billed then.
-- cost_usd is NULL when no price matches the model: unknown, never 0.
CREATE VIEW token_usage_costs AS
SELECT u.*, p.model AS price_model,
  CASE WHEN p.model IS NULL THEN NULL ELSE (
    u.input_tokens * r.input + u.output_tokens * r.output
    + u.cache_read_input_tokens * r.cache_read
    + (u.cache_creation_5m_input_tokens + greatest(u.cache_creation_input_tokens
        - u.cache_creation_5m_input_tokens - u.cache_creation_1h_input_tokens, 0)) * r.write_5m
    + u.cache_creation_1h_input_tokens * r.write_1h
  ) / 1000000 END AS cost_usd
FROM token_usage u
LEFT JOIN LATERAL (
  SELECT * FROM prices p
  WHERE u.model = p.model OR left(u.model, length(p.model) + 1) IN (p.model || '-', p.model || '[')
  ORDER BY length(p.model) DESC
  LIMIT 1
) p ON true
CROSS JOIN LATERAL (
  SELECT CASE WHEN long THEN p.long_input ELSE p.input END AS input,
    CASE WHEN long THEN p.long_output ELSE p.output END AS output,
    CASE WHEN long THEN p.long_cache_read ELSE p.cache_read END AS cache_read,
    CASE WHEN long THEN p.long_cache_write_5m ELSE p.cache_write_5m END AS write_5m,
    CASE WHEN long THEN p.long_cache_write_1h ELSE p.cache_write_1h END AS write_1h
  FROM (SELECT p.long_context_threshold IS NOT NULL AND u.input_tokens
    + u.cache_creation_input_tokens + u.cache_read_input_tokens > p.long_context_threshold
    AS long) AS t
) r;
