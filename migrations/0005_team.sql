-- A team server: several `arrakis serve` instances on one PostgreSQL, and keys per person or
-- machine. Plain SQL within PostgreSQL 15 (PGlite runs 18).

-- One row per server process, beating while it runs. The start-up sweep closes only the
-- unfinished audit rows of instances whose heartbeat stopped.
CREATE TABLE instances (
  id            text PRIMARY KEY,
  host          text,
  pid           integer,
  started_at    timestamptz NOT NULL DEFAULT now(),
  heartbeat_at  timestamptz NOT NULL DEFAULT now(),
  stopped_at    timestamptz
);

-- API keys: only the sha256 of each key is stored; the key itself is shown once at creation.
CREATE TABLE api_keys (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name          text NOT NULL,
  role          text NOT NULL CHECK (role IN ('ingest', 'read', 'admin')),
  key_sha256    text NOT NULL UNIQUE,
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_used_at  timestamptz,
  revoked_at    timestamptz
);
-- A name stays unique among live keys; a revoked name may be issued again.
CREATE UNIQUE INDEX api_keys_live_name_key ON api_keys (name) WHERE revoked_at IS NULL;

-- Alert incidents: at most one open per rule, so each fires once and resolves once whichever
-- instance leads and however often they restart.
CREATE TABLE alert_incidents (
  id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  rule              text NOT NULL,
  started_at        timestamptz NOT NULL,
  detail            text NOT NULL,
  notified_at       timestamptz,
  resolved_at       timestamptz,
  resolved_detail   text,
  resolve_notified_at timestamptz
);
CREATE UNIQUE INDEX alert_incidents_open_key ON alert_incidents (rule) WHERE resolved_at IS NULL;
CREATE INDEX alert_incidents_started_idx ON alert_incidents (started_at DESC);

-- Who sent each request (the key's name) and which instance wrote its audit row.
ALTER TABLE webhook_events ADD COLUMN key_name text, ADD COLUMN instance_id text;
CREATE INDEX webhook_events_key_name_idx ON webhook_events (key_name, received_at DESC);
CREATE INDEX webhook_events_unfinished_idx ON webhook_events (instance_id)
  WHERE status IN ('RECEIVED', 'PROCESSING');

-- The key that first sent events of a session. Set from the audit row of its first stored
-- event, so every ingest path records it without its own statement.
ALTER TABLE conversations ADD COLUMN key_name text;
CREATE INDEX conversations_key_name_idx ON conversations (key_name);

CREATE FUNCTION conversations_take_key_name() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE conversations SET key_name = NEW.key_name
  WHERE id = NEW.conversation_id AND key_name IS NULL;
  RETURN NULL;
END;
$$;

CREATE TRIGGER webhook_events_key_name_to_conversation
  AFTER INSERT OR UPDATE OF conversation_id, status ON webhook_events
  FOR EACH ROW
  WHEN (NEW.status = 'SUCCESS' AND NEW.conversation_id IS NOT NULL AND NEW.key_name IS NOT NULL)
  EXECUTE FUNCTION conversations_take_key_name();
