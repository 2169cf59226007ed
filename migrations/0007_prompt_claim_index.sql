-- A prompt event claims the transcript user line of its session with the same text
-- (src/server/process_record.ts). Only lines no prompt has claimed yet are candidates: this
-- index holds just those, so a claim reads a handful of rows instead of every message of a
-- long session (a session of thousands of prompts made each claim, and so each batch, slower).
CREATE INDEX messages_unclaimed_lines_idx ON messages (session_id, occurred_at)
  WHERE role = 'user' AND source = 'transcript' AND agent_id IS NULL;
