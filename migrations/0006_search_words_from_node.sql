-- 0006: the words of the SEARCH BODY / TEXT prefilter (0005) are made by the node when the
-- search text is pure ASCII (MIME.SearchWords.indexWords: the same runs of letters and digits of
-- the lower-cased text, cut to 64 characters, at most 3,000 distinct), and passed as p_words.
-- Splitting with a regular expression here cost about 0.6 ms of database CPU per message, the
-- largest single step of a delivery. p_words NULL (text with other characters, whose lower()
-- and [[:alnum:]] are the database's to say): the words are made here as before. An empty array:
-- no index entry (no words, or too many).
DROP FUNCTION petrel_accept(bytea, bigint, bytea, bytea, bytea, bytea, jsonb, date, text, text, bigint[], bigint[], bytea[],
                            text, text, text, bigint, boolean, boolean, text[]);
DROP FUNCTION petrel_store_body(bytea, bigint, bytea, bytea, bytea, bytea, jsonb, date, text, text);

CREATE FUNCTION petrel_store_body(p_sha256 bytea, p_size bigint, p_raw bytea, p_envelope bytea,
                                  p_body_structure bytea, p_body bytea, p_structure jsonb, p_sent_on date,
                                  p_header_text text, p_body_text text, p_words text[])
RETURNS bigint LANGUAGE plpgsql AS $$
-- PL/pgSQL rather than SQL: its plan is cached for the session instead of made on every call.
DECLARE
    body_id bigint;
BEGIN
    INSERT INTO message_bodies (sha256, size, raw, envelope, body_structure, body, structure, sent_on,
                                header_text, body_text, search_words)
    VALUES (p_sha256, p_size, p_raw, p_envelope, p_body_structure, p_body, p_structure, p_sent_on,
            p_header_text, p_body_text,
            CASE
            WHEN p_words IS NOT NULL THEN
                CASE WHEN cardinality(p_words) BETWEEN 1 AND 3000 THEN array_to_tsvector(p_words) END
            ELSE
                (SELECT CASE WHEN count(*) BETWEEN 1 AND 3000 THEN array_to_tsvector(array_agg(x.w)) END
                 FROM (SELECT DISTINCT left(t.w, 64) AS w
                       FROM regexp_split_to_table(lower(p_header_text || ' ' || p_body_text), '[^[:alnum:]]+') AS t(w)
                       WHERE t.w <> '') AS x)
            END)
    ON CONFLICT (sha256) DO UPDATE SET refcount = message_bodies.refcount
    RETURNING id INTO body_id;
    RETURN body_id;
END $$;

-- As in 0005, with p_words passed on to petrel_store_body.
CREATE FUNCTION petrel_accept(
    p_sha256 bytea, p_size bigint, p_raw bytea, p_envelope bytea, p_body_structure bytea, p_body bytea,
    p_structure jsonb, p_sent_on date, p_header_text text, p_body_text text, p_words text[],
    p_accounts bigint[], p_mailboxes bigint[], p_prefixes bytea[],
    p_queue_id text, p_sender text, p_client text, p_submitter bigint, p_smtputf8 boolean, p_body_8bit boolean,
    p_remote text[])
RETURNS TABLE (status text, account_id bigint, mailbox_id bigint, uidvalidity bigint, uid bigint, modseq bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    body bigint;
    bad_status text[];
    bad_accounts bigint[];
    bad_mailboxes bigint[];
    got_accounts bigint[];
    got_mailboxes bigint[];
    got_validity bigint[];
    got_uids bigint[];
    got_modseqs bigint[];
BEGIN
    BEGIN
        -- The same lock order as every other delivery: the body row, then quota rows, then mailboxes.
        body := petrel_store_body(p_sha256, p_size, p_raw, p_envelope, p_body_structure, p_body, p_structure,
                                  p_sent_on, p_header_text, p_body_text, p_words);
        IF cardinality(p_accounts) > 0 THEN
            WITH wanted AS (
                SELECT t.a, sum(p_size + octet_length(t.p))::bigint AS b, count(*)::bigint AS m
                FROM unnest(p_accounts, p_prefixes) AS t(a, p) GROUP BY t.a),
            checked AS (
                SELECT q.account_id, q.fits FROM petrel_reserve_quota(
                    (SELECT array_agg(w.a ORDER BY w.a) FROM wanted w),
                    (SELECT array_agg(w.b ORDER BY w.a) FROM wanted w),
                    (SELECT array_agg(w.m ORDER BY w.a) FROM wanted w)) q)
            SELECT array_agg(CASE WHEN c.account_id IS NULL THEN 'no_account' ELSE 'over_quota' END), array_agg(t.a),
                   array_agg(t.b)
              INTO bad_status, bad_accounts, bad_mailboxes
            FROM unnest(p_accounts, p_mailboxes) AS t(a, b)
            LEFT JOIN checked c ON c.account_id = t.a
            WHERE c.fits IS NOT TRUE;
            IF bad_status IS NOT NULL THEN
                RAISE EXCEPTION 'refused' USING ERRCODE = 'PT001';
            END IF;
            SELECT array_agg(a.account_id), array_agg(a.mailbox_id), array_agg(a.uidvalidity), array_agg(a.first_uid),
                   array_agg(a.modseq)
              INTO got_accounts, got_mailboxes, got_validity, got_uids, got_modseqs
            FROM petrel_allocate_uids(p_accounts, p_mailboxes, array_fill(1::bigint, ARRAY[cardinality(p_accounts)])) a;
            IF coalesce(cardinality(got_accounts), 0) < cardinality(p_accounts) THEN
                SELECT array_agg('no_mailbox'::text), array_agg(t.a), array_agg(t.b)
                  INTO bad_status, bad_accounts, bad_mailboxes
                FROM unnest(p_accounts, p_mailboxes) AS t(a, b)
                WHERE NOT EXISTS (SELECT 1 FROM unnest(got_accounts, got_mailboxes) AS g(a, b) WHERE g.a = t.a AND g.b = t.b);
                RAISE EXCEPTION 'refused' USING ERRCODE = 'PT001';
            END IF;
            INSERT INTO messages (account_id, mailbox_id, uid, body_id, modseq, flags, keywords, internal_date, size,
                                  header_prefix)
            SELECT g.a, g.b, g.u, body, g.m, 0, '{}', now(), p_size + octet_length(t.p), t.p
            FROM unnest(got_accounts, got_mailboxes, got_uids, got_modseqs) AS g(a, b, u, m)
            JOIN unnest(p_accounts, p_mailboxes, p_prefixes) AS t(a, b, p) ON t.a = g.a AND t.b = g.b;
        END IF;
        IF cardinality(p_remote) > 0 THEN
            INSERT INTO outbound_messages (id, body_id, sender, size, client, account_id, smtputf8, body_8bit)
            VALUES (p_queue_id, body, p_sender, p_size, p_client, p_submitter, p_smtputf8, p_body_8bit);
            INSERT INTO outbound_recipients (message_id, recipient)
            SELECT p_queue_id, r FROM unnest(p_remote) AS t(r);
        END IF;
    EXCEPTION WHEN SQLSTATE 'PT001' THEN
        -- Everything since BEGIN is undone; say which copies were at fault.
        RETURN QUERY SELECT x.s, x.a, x.b, NULL::bigint, NULL::bigint, NULL::bigint
                     FROM unnest(bad_status, bad_accounts, bad_mailboxes) AS x(s, a, b);
        RETURN;
    END;
    RETURN QUERY SELECT 'stored'::text, g.a, g.b, g.v, g.u, g.m
                 FROM unnest(got_accounts, got_mailboxes, got_validity, got_uids, got_modseqs) AS g(a, b, v, u, m);
END $$;

ALTER FUNCTION petrel_store_body(bytea, bigint, bytea, bytea, bytea, bytea, jsonb, date, text, text, text[])
    SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION petrel_accept(bytea, bigint, bytea, bytea, bytea, bytea, jsonb, date, text, text, text[], bigint[], bigint[],
                             bytea[], text, text, text, bigint, boolean, boolean, text[])
    SET plan_cache_mode = force_generic_plan;
