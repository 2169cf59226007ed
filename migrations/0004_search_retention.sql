-- Full-text search over what people look for later: prompts, assistant text, tool inputs,
-- outputs and error texts. Generated columns, so no write path has to know about indexing, and
-- GIN indexes. Within PostgreSQL 15 (PGlite runs 18).

-- The string values of a JSON document, joined: keys and punctuation are not what anyone
-- searches for, and jsonb::text would turn escapes such as \n into words.
CREATE FUNCTION arrakis_json_text(doc jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (
  SELECT string_agg(value #>> '{}', E'\n')
  FROM jsonb_path_query(coalesce(doc, 'null'::jsonb), 'strict $.** ? (@.type() == "string")') AS value
);

-- What a search document holds, capped: a tsvector has a 1 MB limit, and an ingest must never
-- fail because a tool printed a large file. Words past the cap are not found. Angle brackets
-- become spaces: the parser reads <...> as an HTML tag and drops it, with the words of a
-- <script> element, and prompts and tool output are full of code.
CREATE FUNCTION arrakis_search_vector(doc text) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN to_tsvector('english'::regconfig, translate(left(coalesce(doc, ''), 65536), '<>', '  '));

CREATE FUNCTION arrakis_tool_text(name text, input jsonb, response jsonb, error jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN concat_ws(E'\n', name, arrakis_json_text(input), arrakis_json_text(error),
  arrakis_json_text(response));

ALTER TABLE messages ADD COLUMN search_tsv tsvector
  GENERATED ALWAYS AS (arrakis_search_vector(content)) STORED;
CREATE INDEX messages_search_idx ON messages USING gin (search_tsv);

ALTER TABLE tool_uses ADD COLUMN search_tsv tsvector
  GENERATED ALWAYS AS (
    arrakis_search_vector(arrakis_tool_text(tool_name, tool_input, tool_response, error))
  ) STORED;
CREATE INDEX tool_uses_search_idx ON tool_uses USING gin (search_tsv);

-- Retention (src/retention/prune.ts) drops the payloads of stored events after a while: this
-- index holds exactly the rows still to visit, so each small batch finds its rows directly
-- instead of walking past the ones already pruned.
CREATE INDEX webhook_events_payload_retention_idx ON webhook_events (received_at)
  WHERE payload IS NOT NULL AND status IN ('SUCCESS', 'DUPLICATE');
-- Session retention finds old sessions by their last activity.
CREATE INDEX conversations_last_activity_idx
  ON conversations (coalesce(last_event_at, first_seen_at));
