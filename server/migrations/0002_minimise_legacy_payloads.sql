-- Inbox rows stored before payloads were minimised (server/inbound_payload.py) held the
-- provider's whole JSON: keep only their top-level ids, type and time, marked
-- '_minimised': 'legacy' (inbound_payload.MINIMISED). Rows already minimised are left alone.
UPDATE inbound_messages SET payload = coalesce((
    SELECT jsonb_object_agg(key, value) FROM jsonb_each(payload)
    WHERE key IN ('id', 'from', 'from_user_id', 'timestamp', 'type', 'MessageSid', 'SmsMessageSid',
                  'SmsSid', 'AccountSid', 'WaId', 'From', 'To', 'NumMedia', 'MessageType')
      AND jsonb_typeof(value) IN ('string', 'number')), '{}'::jsonb)
    || jsonb_build_object('_minimised', 'legacy')
WHERE NOT payload ? '_minimised';
