-- A hand-back (return to the bot, or resolve) recorded on the desk row under its lock, waiting
-- for the conversation's turn worker to resume the paused graph under its lease
-- (server/desk/handback.py). NULL when nothing waits; {"event_id", "action", "agent", "notes"}.
ALTER TABLE desk_conversations ADD COLUMN IF NOT EXISTS handback jsonb;
CREATE INDEX IF NOT EXISTS desk_handback_waiting ON desk_conversations (key) WHERE handback IS NOT NULL;
