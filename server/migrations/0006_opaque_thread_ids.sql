-- LangGraph threads are named "wa:" + the conversation's opaque ref (server/conversation_ids.py
-- thread_id), no longer "wa:" + the customer's number, so checkpoints hold no phone number.
-- Renames the threads of older versions. The HMAC secret is made here if no process has made it
-- yet (from gen_random_uuid, PostgreSQL's strong random source); processes load it at start.
DO $$
DECLARE
    secret bytea;
    inner_pad bytea;
    outer_pad bytea;
    i int;
    tbl text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM conversation_ref_key) THEN
        secret := decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex')
            || decode(repeat('00', 32), 'hex');
        inner_pad := secret;
        outer_pad := secret;
        FOR i IN 0..63 LOOP
            inner_pad := set_byte(inner_pad, i, get_byte(secret, i) # 54);  -- 0x36
            outer_pad := set_byte(outer_pad, i, get_byte(secret, i) # 92);  -- 0x5c
        END LOOP;
        INSERT INTO conversation_ref_key (inner_pad, outer_pad) VALUES (inner_pad, outer_pad);
    END IF;
    FOREACH tbl IN ARRAY ARRAY['checkpoints', 'checkpoint_blobs', 'checkpoint_writes'] LOOP
        IF to_regclass(tbl) IS NOT NULL THEN
            EXECUTE format('UPDATE %I SET thread_id = %L || conversation_ref(substr(thread_id, 4))'
                           ' WHERE thread_id LIKE %L AND thread_id !~ %L',
                           tbl, 'wa:', 'wa:%', '^wa:c_[0-9a-f]{20}$');
        END IF;
    END LOOP;
END $$;
