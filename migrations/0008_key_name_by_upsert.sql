-- A conversation's key_name is now written by the group's conversations upsert (the key of the
-- session's earliest event, kept once set: src/server/write.ts), not by 0005's row trigger on
-- webhook_events. The trigger updated the conversation once more for every stored event: a
-- second row version per new session, which two groups committing at once (session lanes,
-- src/server/group.ts) then had to step over in each other's index scans.
DROP TRIGGER webhook_events_key_name_to_conversation ON webhook_events;
DROP FUNCTION conversations_take_key_name();
