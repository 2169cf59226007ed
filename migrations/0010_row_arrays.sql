-- arrakis_write_group (0009) takes each audit row and each conversation row as an array of its
-- fields at fixed positions, and what the items of one request share (headers, ip, key,
-- instance) once per request (src/server/audit.ts, auditDoc; src/server/write.ts), where it took
-- one object per row with every field named. PostgreSQL 15 turns a jsonb input into its binary
-- form a character at a time and sorts the keys of every object: the key names and a batch's
-- headers copied onto each of its items were a third of a drained group's document and more of
-- that work. PostgreSQL's CPU per event, this function alone on the same rows (a drained batch of
-- 266 events, each of a new session; a group of 3 single requests): 65 -> 50 µs and 189 -> 178
-- µs; the audit rows alone as arrays gave 55 and 178. A column per array (ROWS FROM over one
-- jsonb_array_elements per column) saved less on the batch and cost more on small groups: 60 and
-- 206 µs. Only these two statements changed, and 0009's document is still taken (turned into
-- arrays first) from a server of the previous version; the rest of the function is 0009's.

CREATE OR REPLACE FUNCTION arrakis_write_group(doc jsonb) RETURNS text[]
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $fn$
DECLARE
  ids text[];
BEGIN
  -- A server of the previous version sends 0009's document, a named object per row, and keeps
  -- writing through a deploy that applied this migration under it: its rows become the arrays
  -- the statements read (one `requests` entry per audit row).
  IF jsonb_typeof(doc -> 'conversations' -> 0) = 'object' THEN
    doc := jsonb_set(doc, '{conversations}', (
      SELECT jsonb_agg(jsonb_build_array(x -> 'session_id', x -> 'project_dir', x -> 'cwd',
        x -> 'host', x -> 'user_name', x -> 'model', x -> 'start_source', x -> 'permission_mode',
        x -> 'transcript_path', x -> 'started_at', x -> 'ended_at', x -> 'end_reason',
        x -> 'last_event_at', x -> 'start_sources', x -> 'key_name') ORDER BY n)
      FROM jsonb_array_elements(doc -> 'conversations') WITH ORDINALITY AS e(x, n)));
  END IF;
  IF jsonb_typeof(doc -> 'audit' -> 0) = 'object' THEN
    doc := doc || jsonb_build_object(
      'audit', (SELECT jsonb_agg(jsonb_build_array(x -> 'request_id', x -> 'trace_id',
          x -> 'span_id', x -> 'session_id', x -> 'event_type', x -> 'link', x -> 'status',
          x -> 'stage', x -> 'http_status', x -> 'error_code', x -> 'error_message',
          x -> 'payload', x -> 'body_sha256', x -> 'response', x -> 'attempt',
          x -> 'stage_timings', x -> 'processing_ms', n - 1) ORDER BY n)
        FROM jsonb_array_elements(doc -> 'audit') WITH ORDINALITY AS e(x, n)),
      'requests', (SELECT jsonb_agg(jsonb_build_array(x -> 'headers', x -> 'ip',
          x -> 'user_agent', x -> 'batch_id', x -> 'key_name', x -> 'instance_id') ORDER BY n)
        FROM jsonb_array_elements(doc -> 'audit') WITH ORDINALITY AS e(x, n)));
  END IF;

  -- First: every later statement finds its conversation by session_id. Each row is an array
  -- (src/server/write.ts, conversationArray): 0 session_id, 1 project_dir, 2 cwd, 3 host,
  -- 4 user_name, 5 model, 6 start_source, 7 permission_mode, 8 transcript_path, 9 started_at,
  -- 10 ended_at, 11 end_reason, 12 last_event_at, 13 start_sources, 14 key_name.
  IF doc ? 'conversations' THEN
    INSERT INTO conversations AS c (
      session_id, project_dir, cwd, host, user_name, model, start_source, permission_mode,
      transcript_path, started_at, ended_at, end_reason, last_event_at, start_sources, key_name
    )
    SELECT r ->> 0, r ->> 1, r ->> 2, r ->> 3, r ->> 4, r ->> 5, r ->> 6, r ->> 7, r ->> 8,
      (r ->> 9)::timestamptz, (r ->> 10)::timestamptz, r ->> 11, (r ->> 12)::timestamptz,
      ARRAY(SELECT jsonb_array_elements_text(r -> 13)), r ->> 14
    FROM jsonb_array_elements(doc -> 'conversations') AS a(r)
    -- The key that first sent events of the session: once set, kept.
    ON CONFLICT (session_id) DO UPDATE SET
      key_name = coalesce(c.key_name, EXCLUDED.key_name),
      project_dir = CASE WHEN c.last_event_at IS NULL OR EXCLUDED.last_event_at >= c.last_event_at
        THEN coalesce(EXCLUDED.project_dir, c.project_dir)
        ELSE coalesce(c.project_dir, EXCLUDED.project_dir) END,
      cwd = CASE WHEN c.last_event_at IS NULL OR EXCLUDED.last_event_at >= c.last_event_at
        THEN coalesce(EXCLUDED.cwd, c.cwd) ELSE coalesce(c.cwd, EXCLUDED.cwd) END,
      host = CASE WHEN c.last_event_at IS NULL OR EXCLUDED.last_event_at >= c.last_event_at
        THEN coalesce(EXCLUDED.host, c.host) ELSE coalesce(c.host, EXCLUDED.host) END,
      user_name = CASE WHEN c.last_event_at IS NULL OR EXCLUDED.last_event_at >= c.last_event_at
        THEN coalesce(EXCLUDED.user_name, c.user_name)
        ELSE coalesce(c.user_name, EXCLUDED.user_name) END,
      permission_mode = CASE
        WHEN c.last_event_at IS NULL OR EXCLUDED.last_event_at >= c.last_event_at
        THEN coalesce(EXCLUDED.permission_mode, c.permission_mode)
        ELSE coalesce(c.permission_mode, EXCLUDED.permission_mode) END,
      transcript_path = CASE
        WHEN c.last_event_at IS NULL OR EXCLUDED.last_event_at >= c.last_event_at
        THEN coalesce(EXCLUDED.transcript_path, c.transcript_path)
        ELSE coalesce(c.transcript_path, EXCLUDED.transcript_path) END,
      model = CASE WHEN EXCLUDED.started_at IS NOT NULL
          AND (c.started_at IS NULL OR EXCLUDED.started_at < c.started_at)
        THEN coalesce(EXCLUDED.model, c.model) ELSE coalesce(c.model, EXCLUDED.model) END,
      start_source = CASE WHEN EXCLUDED.started_at IS NOT NULL
          AND (c.started_at IS NULL OR EXCLUDED.started_at < c.started_at)
        THEN coalesce(EXCLUDED.start_source, c.start_source)
        ELSE coalesce(c.start_source, EXCLUDED.start_source) END,
      started_at = least(c.started_at, EXCLUDED.started_at),
      end_reason = CASE WHEN EXCLUDED.ended_at IS NOT NULL
          AND (c.ended_at IS NULL OR EXCLUDED.ended_at >= c.ended_at)
        THEN coalesce(EXCLUDED.end_reason, c.end_reason) ELSE c.end_reason END,
      ended_at = greatest(c.ended_at, EXCLUDED.ended_at),
      last_event_at = greatest(c.last_event_at, EXCLUDED.last_event_at),
      start_sources = CASE WHEN EXCLUDED.start_sources <@ c.start_sources THEN c.start_sources
        ELSE ARRAY(SELECT DISTINCT s FROM unnest(c.start_sources || EXCLUDED.start_sources) AS s
          ORDER BY s) END;
  END IF;

  IF doc ? 'messages' THEN
    INSERT INTO messages AS m (
      conversation_id, session_id, role, source, dedupe_key, content, content_json, model,
      message_id, api_request_id, transcript_uuid, parent_uuid, request_id, occurred_at
    )
    SELECT (SELECT c.id FROM conversations c WHERE c.session_id = x.session_id),
      x.session_id, x.role, x.source, x.dedupe_key, x.content, x.content_json,
      x.model, x.message_id, x.api_request_id, x.transcript_uuid, x.parent_uuid, x.request_id,
      x.occurred_at
    FROM jsonb_to_recordset(doc -> 'messages') AS x(
      session_id text, role text, source text, dedupe_key text, content text,
      content_json jsonb, model text, message_id text, api_request_id text,
      transcript_uuid text, parent_uuid text, request_id text, occurred_at timestamptz
    )
    ON CONFLICT (session_id, dedupe_key) DO UPDATE SET
      role = EXCLUDED.role, source = EXCLUDED.source, content = EXCLUDED.content,
      content_json = EXCLUDED.content_json, model = EXCLUDED.model,
      message_id = EXCLUDED.message_id, api_request_id = EXCLUDED.api_request_id,
      transcript_uuid = EXCLUDED.transcript_uuid, parent_uuid = EXCLUDED.parent_uuid,
      request_id = EXCLUDED.request_id, occurred_at = EXCLUDED.occurred_at
      WHERE m.request_id IS NULL OR EXCLUDED.request_id < m.request_id;
  END IF;

  IF doc ? 'toolUses' THEN
    INSERT INTO tool_uses AS t (
      conversation_id, session_id, tool_use_id, tool_name, tool_input, tool_response, error,
      status, duration_ms, pre_at, post_at, agent_id
    )
    SELECT (SELECT c.id FROM conversations c WHERE c.session_id = x.session_id),
      x.session_id, x.tool_use_id, x.tool_name, x.tool_input, x.tool_response,
      x.error, x.status, x.duration_ms, x.pre_at, x.post_at, x.agent_id
    FROM jsonb_to_recordset(doc -> 'toolUses') AS x(
      session_id text, tool_use_id text, tool_name text, tool_input jsonb, tool_response jsonb,
      error jsonb, status text, duration_ms double precision, pre_at timestamptz,
      post_at timestamptz, agent_id text
    )
    -- A hook's Post is the outcome: it replaces one taken from a transcript's tool result
    -- (which only fills a pending row: toolResults below).
    ON CONFLICT (session_id, tool_use_id) DO UPDATE SET
      agent_id = coalesce(t.agent_id, EXCLUDED.agent_id),
      tool_name = CASE WHEN EXCLUDED.pre_at IS NOT NULL
        THEN coalesce(EXCLUDED.tool_name, t.tool_name)
        ELSE coalesce(t.tool_name, EXCLUDED.tool_name) END,
      tool_input = CASE WHEN EXCLUDED.pre_at IS NOT NULL
        THEN coalesce(EXCLUDED.tool_input, t.tool_input)
        ELSE coalesce(t.tool_input, EXCLUDED.tool_input) END,
      pre_at = least(t.pre_at, EXCLUDED.pre_at),
      tool_response = CASE WHEN EXCLUDED.post_at IS NOT NULL THEN EXCLUDED.tool_response
        ELSE t.tool_response END,
      error = CASE WHEN EXCLUDED.post_at IS NOT NULL THEN EXCLUDED.error
        ELSE t.error END,
      status = CASE WHEN EXCLUDED.post_at IS NOT NULL THEN EXCLUDED.status
        ELSE t.status END,
      duration_ms = CASE WHEN EXCLUDED.post_at IS NOT NULL THEN EXCLUDED.duration_ms
        ELSE t.duration_ms END,
      post_at = coalesce(EXCLUDED.post_at, t.post_at);
  END IF;

  -- The record rows (src/server/record_intents.ts): each an idempotent upsert that applies
  -- against the stored row the rule the merge applied within the group. Tool uses go
  -- permission, call, result (the order one envelope's rows took); prompts before the lines
  -- that merge into them.
  IF doc ? 'sessionEvents' THEN
    INSERT INTO session_events (
      request_id, conversation_id, session_id, agent_id, kind, label, text, detail, occurred_at
    )
    SELECT x.request_id, (SELECT c.id FROM conversations c WHERE c.session_id = x.session_id),
      x.session_id, x.agent_id, x.kind, x.label, x.text, x.detail, x.occurred_at
    FROM jsonb_to_recordset(doc -> 'sessionEvents') AS x(
      request_id text, session_id text, agent_id text, kind text,
      label text, text text, detail jsonb, occurred_at timestamptz
    )
    ON CONFLICT (request_id) DO NOTHING;
  END IF;

  IF doc ? 'agents' THEN
    INSERT INTO agents AS a (
      conversation_id, session_id, agent_id, agent_type, description, parent_tool_use_id,
      parent_agent_id, transcript_path, started_at, ended_at, last_message
    )
    SELECT (SELECT c.id FROM conversations c WHERE c.session_id = x.session_id), x.session_id,
      x.agent_id, x.agent_type, x.description, x.parent_tool_use_id, x.parent_agent_id,
      x.transcript_path, x.started_at, x.ended_at, x.last_message
    FROM jsonb_to_recordset(doc -> 'agents') AS x(
      session_id text, agent_id text, agent_type text, description text,
      parent_tool_use_id text, parent_agent_id text, transcript_path text,
      started_at timestamptz, ended_at timestamptz, last_message text
    )
    ON CONFLICT (session_id, agent_id) DO UPDATE SET
      agent_type = coalesce(a.agent_type, EXCLUDED.agent_type),
      description = coalesce(a.description, EXCLUDED.description),
      parent_tool_use_id = coalesce(a.parent_tool_use_id, EXCLUDED.parent_tool_use_id),
      parent_agent_id = coalesce(a.parent_agent_id, EXCLUDED.parent_agent_id),
      transcript_path = coalesce(a.transcript_path, EXCLUDED.transcript_path),
      started_at = least(a.started_at, EXCLUDED.started_at),
      ended_at = greatest(a.ended_at, EXCLUDED.ended_at),
      last_message = coalesce(a.last_message, EXCLUDED.last_message);
  END IF;

  -- A denial is final: a later "requested" for the same call does not undo it.
  IF doc ? 'permissions' THEN
    INSERT INTO tool_uses AS t (
      conversation_id, session_id, tool_use_id, tool_name, tool_input, agent_id, permission,
      permission_reason
    )
    SELECT (SELECT c.id FROM conversations c WHERE c.session_id = x.session_id), x.session_id,
      x.tool_use_id, x.tool_name, x.tool_input, x.agent_id, x.permission, x.reason
    FROM jsonb_to_recordset(doc -> 'permissions') AS x(
      session_id text, tool_use_id text, tool_name text,
      tool_input jsonb, agent_id text, permission text, reason text
    )
    ON CONFLICT (session_id, tool_use_id) DO UPDATE SET
      tool_name = coalesce(t.tool_name, EXCLUDED.tool_name),
      tool_input = coalesce(t.tool_input, EXCLUDED.tool_input),
      agent_id = coalesce(t.agent_id, EXCLUDED.agent_id),
      permission = CASE WHEN 'denied' IN (t.permission, EXCLUDED.permission) THEN 'denied'
        ELSE EXCLUDED.permission END,
      permission_reason = coalesce(EXCLUDED.permission_reason, t.permission_reason);
  END IF;

  -- What the hook saw wins; the transcript fills what no hook event delivered.
  IF doc ? 'toolCalls' THEN
    INSERT INTO tool_uses AS t (
      conversation_id, session_id, tool_use_id, tool_name, tool_input, agent_id, pre_at
    )
    SELECT (SELECT c.id FROM conversations c WHERE c.session_id = x.session_id), x.session_id,
      x.tool_use_id, x.tool_name, x.tool_input, x.agent_id, x.pre_at
    FROM jsonb_to_recordset(doc -> 'toolCalls') AS x(
      session_id text, tool_use_id text, tool_name text,
      tool_input jsonb, agent_id text, pre_at timestamptz
    )
    ON CONFLICT (session_id, tool_use_id) DO UPDATE SET
      tool_name = coalesce(t.tool_name, EXCLUDED.tool_name),
      tool_input = coalesce(t.tool_input, EXCLUDED.tool_input),
      agent_id = coalesce(t.agent_id, EXCLUDED.agent_id),
      pre_at = least(t.pre_at, EXCLUDED.pre_at);
  END IF;

  IF doc ? 'toolResults' THEN
    INSERT INTO tool_uses AS t (
      conversation_id, session_id, tool_use_id, tool_response, error, status, agent_id,
      post_at
    )
    SELECT (SELECT c.id FROM conversations c WHERE c.session_id = x.session_id), x.session_id,
      x.tool_use_id, x.tool_response, x.error, x.status, x.agent_id, x.post_at
    FROM jsonb_to_recordset(doc -> 'toolResults') AS x(
      session_id text, tool_use_id text, tool_response jsonb,
      error jsonb, status text, agent_id text, post_at timestamptz
    )
    ON CONFLICT (session_id, tool_use_id) DO UPDATE SET
      tool_response = CASE WHEN t.status = 'pending' THEN EXCLUDED.tool_response
        ELSE t.tool_response END,
      error = CASE WHEN t.status = 'pending' THEN EXCLUDED.error ELSE t.error END,
      status = CASE WHEN t.status = 'pending' THEN EXCLUDED.status ELSE t.status END,
      agent_id = coalesce(t.agent_id, EXCLUDED.agent_id),
      post_at = coalesce(t.post_at, EXCLUDED.post_at);
  END IF;

  -- A line re-sent with a later event keeps the earliest requestId (UUIDv7: minted first), so
  -- the row does not depend on which delivery arrived first.
  IF doc ? 'assistant' THEN
    INSERT INTO messages AS m (
      conversation_id, session_id, agent_id, role, source, dedupe_key, content, content_json,
      model, message_id, api_request_id, transcript_uuid, parent_uuid, request_id, occurred_at
    )
    SELECT (SELECT c.id FROM conversations c WHERE c.session_id = x.session_id), x.session_id,
      x.agent_id, 'assistant', 'transcript', x.dedupe_key, x.content, x.content_json, x.model,
      x.message_id, x.api_request_id, x.transcript_uuid, x.parent_uuid, x.request_id,
      x.occurred_at
    FROM jsonb_to_recordset(doc -> 'assistant') AS x(
      session_id text, dedupe_key text, agent_id text, content text,
      content_json jsonb, model text, message_id text, api_request_id text,
      transcript_uuid text, parent_uuid text, request_id text, occurred_at timestamptz
    )
    ON CONFLICT (session_id, dedupe_key) DO UPDATE SET request_id = EXCLUDED.request_id
      WHERE EXCLUDED.request_id < m.request_id;
  END IF;

  -- The group's UserPromptSubmit prompts. One whose text a stored transcript user line gave
  -- (arrakis_prompt_near) takes that row over (the earliest such line, each line for one
  -- prompt); the others are inserted. Before the group's lines, which merge into a prompt row
  -- the same way (a later statement sees this one's rows): either arrival order, in one group
  -- or in two, ends in one identical row.
  IF doc ? 'hookPrompts' THEN
    WITH x AS (
      SELECT * FROM jsonb_to_recordset(doc -> 'hookPrompts') AS x(
        session_id text, dedupe_key text, content text,
        request_id text, occurred_at timestamptz
      )
    ), target AS (
      SELECT DISTINCT ON (o.id) o.id, x.session_id, x.dedupe_key
      FROM x CROSS JOIN LATERAL (
        SELECT o.id FROM messages o
        WHERE o.session_id = x.session_id AND o.role = 'user' AND o.source = 'transcript'
          AND o.agent_id IS NULL AND o.content = x.content
          AND arrakis_prompt_near(o.occurred_at, x.occurred_at)
        ORDER BY o.occurred_at NULLS LAST, o.id LIMIT 1
      ) o
      -- A key already stored is not claimed again (the rename would break its uniqueness).
      -- Asked as a scalar subquery, so it is an index probe for the few prompts that found a
      -- line: as NOT EXISTS it became an anti join reading every message of the table.
      WHERE (SELECT 1 FROM messages k
        WHERE k.session_id = x.session_id AND k.dedupe_key = x.dedupe_key) IS NULL
      ORDER BY o.id, x.occurred_at NULLS LAST, x.dedupe_key
    ), claimed AS (
      UPDATE messages m SET dedupe_key = x.dedupe_key, source = 'prompt',
        request_id = x.request_id, occurred_at = x.occurred_at
      FROM target t JOIN x ON x.session_id = t.session_id AND x.dedupe_key = t.dedupe_key
      WHERE m.id = t.id
      RETURNING x.session_id, x.dedupe_key
    )
    INSERT INTO messages (
      conversation_id, session_id, role, source, dedupe_key, content, request_id, occurred_at
    )
    SELECT (SELECT c.id FROM conversations c WHERE c.session_id = x.session_id), x.session_id,
      'user', 'prompt', x.dedupe_key, x.content, x.request_id, x.occurred_at
    FROM x
    WHERE NOT EXISTS (
      SELECT 1 FROM claimed c WHERE c.session_id = x.session_id AND c.dedupe_key = x.dedupe_key)
    ON CONFLICT (session_id, dedupe_key) DO NOTHING;
  END IF;

  -- The user's prompts from transcript lines. One the UserPromptSubmit hook already stored
  -- (same text, arrakis_prompt_near) is not stored again: the line's uuid and content go on
  -- that row instead, as hookPrompts does from the other side. The fill, then the insert that
  -- sees it.
  IF doc ? 'lines' THEN
    UPDATE messages o SET transcript_uuid = x.transcript_uuid, parent_uuid = x.parent_uuid,
      content_json = x.content_json
    FROM jsonb_to_recordset(doc -> 'lines') AS x(
      session_id text, agent_id text, content text, content_json jsonb, transcript_uuid text,
      parent_uuid text, occurred_at timestamptz
    )
    WHERE o.session_id = x.session_id AND o.role = 'user' AND o.source = 'prompt'
      AND o.transcript_uuid IS NULL AND x.agent_id IS NULL AND o.content = x.content
      AND arrakis_prompt_near(o.occurred_at, x.occurred_at);

    INSERT INTO messages AS m (
      conversation_id, session_id, agent_id, role, source, dedupe_key, content, content_json,
      transcript_uuid, parent_uuid, request_id, occurred_at
    )
    SELECT (SELECT c.id FROM conversations c WHERE c.session_id = x.session_id), x.session_id,
      x.agent_id, 'user', 'transcript', x.dedupe_key, x.content, x.content_json,
      x.transcript_uuid, x.parent_uuid, x.request_id, x.occurred_at
    FROM jsonb_to_recordset(doc -> 'lines') AS x(
      session_id text, dedupe_key text, agent_id text, content text,
      content_json jsonb, transcript_uuid text, parent_uuid text, request_id text,
      occurred_at timestamptz
    )
    WHERE x.agent_id IS NOT NULL OR NOT EXISTS (
      SELECT 1 FROM messages p
      WHERE p.session_id = x.session_id AND p.role = 'user' AND p.source = 'prompt'
        AND (p.transcript_uuid = x.transcript_uuid
          OR (p.content = x.content AND arrakis_prompt_near(p.occurred_at, x.occurred_at))))
    ON CONFLICT (session_id, dedupe_key) DO UPDATE SET request_id = EXCLUDED.request_id
      WHERE EXCLUDED.request_id < m.request_id;
  END IF;

  -- Later blocks of one message may carry grown counts: keep the largest, whatever the order.
  IF doc ? 'usage' THEN
    INSERT INTO token_usage AS u (
      message_id, api_request_id, conversation_id, session_id, agent_id, model, input_tokens,
      output_tokens, cache_creation_input_tokens, cache_creation_5m_input_tokens,
      cache_creation_1h_input_tokens, cache_read_input_tokens, occurred_at
    )
    SELECT x.message_id, x.api_request_id,
      (SELECT c.id FROM conversations c WHERE c.session_id = x.session_id), x.session_id,
      x.agent_id, x.model, x.input_tokens, x.output_tokens, x.cache_creation_input_tokens,
      x.cache_creation_5m_input_tokens, x.cache_creation_1h_input_tokens,
      x.cache_read_input_tokens, x.occurred_at
    FROM jsonb_to_recordset(doc -> 'usage') AS x(
      message_id text, api_request_id text, session_id text,
      agent_id text, model text, input_tokens bigint, output_tokens bigint,
      cache_creation_input_tokens bigint, cache_creation_5m_input_tokens bigint,
      cache_creation_1h_input_tokens bigint, cache_read_input_tokens bigint,
      occurred_at timestamptz
    )
    ON CONFLICT (message_id, api_request_id) DO UPDATE SET
      model = coalesce(u.model, EXCLUDED.model),
      agent_id = coalesce(u.agent_id, EXCLUDED.agent_id),
      input_tokens = greatest(u.input_tokens, EXCLUDED.input_tokens),
      output_tokens = greatest(u.output_tokens, EXCLUDED.output_tokens),
      cache_creation_input_tokens = greatest(u.cache_creation_input_tokens,
        EXCLUDED.cache_creation_input_tokens),
      cache_creation_5m_input_tokens = greatest(u.cache_creation_5m_input_tokens,
        EXCLUDED.cache_creation_5m_input_tokens),
      cache_creation_1h_input_tokens = greatest(u.cache_creation_1h_input_tokens,
        EXCLUDED.cache_creation_1h_input_tokens),
      cache_read_input_tokens = greatest(u.cache_read_input_tokens,
        EXCLUDED.cache_read_input_tokens),
      occurred_at = least(u.occurred_at, EXCLUDED.occurred_at);
  END IF;

  -- The transcript's first and last lines bound the session (an imported one has no
  -- SessionStart); its first assistant model names it when no SessionStart did. Every row's
  -- conversation was upserted earlier in the group, so this only ever takes the DO UPDATE arm:
  -- an upsert finds each row through its arbiter index, where `UPDATE ... FROM` let a generic
  -- plan made on a near-empty table hash-join a sequential scan of every conversation.
  IF doc ? 'bounds' THEN
    INSERT INTO conversations AS c (session_id, started_at, last_event_at, model)
    SELECT x.session_id, x.first, x.last, x.model
    FROM jsonb_to_recordset(doc -> 'bounds') AS x(
      session_id text, first timestamptz, last timestamptz, model text
    )
    ON CONFLICT (session_id) DO UPDATE SET
      started_at = least(c.started_at, EXCLUDED.started_at),
      last_event_at = greatest(c.last_event_at, EXCLUDED.last_event_at),
      model = coalesce(c.model, EXCLUDED.model);
  END IF;

  -- Last: a stored event's audit row links to the conversation written above. Each row is an
  -- array, its fields at fixed positions (src/server/audit.ts, itemTuple): 0 request_id,
  -- 1 trace_id, 2 span_id, 3 session_id, 4 event_type, 5 link, 6 status, 7 stage,
  -- 8 http_status, 9 error_code, 10 error_message, 11 payload, 12 body_sha256, 13 response,
  -- 14 attempt, 15 stage_timings, 16 processing_ms, 17 its request's index in `requests`,
  -- whose arrays hold what one request's items share (requestTuple): 0 headers, 1 ip,
  -- 2 user_agent, 3 batch_id, 4 key_name, 5 instance_id. Identity values are drawn in
  -- insertion order, so ascending ids follow the input order.
  WITH inserted AS (
    INSERT INTO webhook_events (
      request_id, trace_id, span_id, session_id, event_type, conversation_id, status, stage,
      http_status, error_code, error_message, payload, body_sha256, response, headers, ip,
      user_agent, attempt, batch_id, stage_timings, completed_at, processing_ms, key_name,
      instance_id
    )
    SELECT r ->> 0, r ->> 1, r ->> 2, r ->> 3, r ->> 4,
      CASE WHEN (r ->> 5)::boolean
        THEN (SELECT c.id FROM conversations c WHERE c.session_id = r ->> 3) END,
      (r ->> 6)::webhook_status, r ->> 7, (r ->> 8)::int, r ->> 9, r ->> 10,
      nullif(r -> 11, 'null'), r ->> 12, nullif(r -> 13, 'null'), nullif(q -> 0, 'null'),
      q ->> 1, q ->> 2, (r ->> 14)::int, q ->> 3, nullif(r -> 15, 'null'), clock_timestamp(),
      (r ->> 16)::double precision, q ->> 4, q ->> 5
    FROM jsonb_array_elements(doc -> 'audit') WITH ORDINALITY AS a(r, ordinal),
      LATERAL (SELECT doc -> 'requests' -> (r ->> 17)::int AS q) AS request
    ORDER BY a.ordinal
    RETURNING id
  )
  SELECT coalesce(array_agg(id::text ORDER BY id), '{}') INTO ids FROM inserted;
  RETURN ids;
END
$fn$;
