-- Reply buttons and lists (server/outbox/queue.py enqueue_reply): a text row may carry the
-- options offered with it, as JSON {"choices": [{"id", "title", "description"?}, ...]}. The
-- body stays the whole text, numbered options included, which is what a sender that cannot
-- show buttons (Twilio without Content templates) sends.
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS interactive jsonb;
