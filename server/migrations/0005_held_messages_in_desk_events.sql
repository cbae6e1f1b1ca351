-- Customer messages written while a human owns a conversation are kept once, as the desk's
-- 'customer_message' events (Desk.note_customer), and the hand-back reads them from there
-- (server/conversations.py resume). held_messages, which kept them a second time, is retired.
-- Its rows become events of their conversation (the thread id "wa:<id>" without "wa:"), but
-- for those the desk already has (the server wrote both until now), oldest first.
INSERT INTO desk_events (conversation_key, at, actor, kind, payload)
SELECT substr(h.thread_id, 4), h.received_at, 'customer', 'customer_message',
       jsonb_build_object('text', h.body)
FROM held_messages h
WHERE h.thread_id LIKE 'wa:%'
  AND NOT EXISTS (SELECT 1 FROM desk_events e WHERE e.conversation_key = substr(h.thread_id, 4)
                  AND e.kind = 'customer_message' AND e.payload->>'text' = h.body)
ORDER BY h.id;
DROP TABLE held_messages;
