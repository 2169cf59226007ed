-- Dashboard sessions signed out before they expired. A cookie whose session id is here is
-- refused by every instance, across restarts, until its own expiry; then the row may go.
CREATE TABLE revoked_sessions (
  session_id  text PRIMARY KEY,
  expires_at  timestamptz NOT NULL,
  revoked_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX revoked_sessions_expires_at ON revoked_sessions (expires_at);
