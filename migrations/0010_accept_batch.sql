-- 0010: group commit in one round trip. A batch of accepted SMTP messages used to cost BEGIN,
-- a lock statement, one petrel_accept call per message and COMMIT: each a round trip while the
-- batch held its row locks, so deliveries to one account waited on every one of them. This
-- procedure does the whole batch and commits it inside one CALL:
--
--   CALL petrel_accept_batch(<the batch as arrays>, NULL, NULL, NULL, NULL, NULL, NULL, NULL)
--
-- The CALL must run in its own transaction (not after BEGIN): then COMMIT below ends it, with
-- synchronous_commit's WAL flush, before the CALL returns its row. Every result is assigned
-- before that COMMIT and nothing runs after it, so a CALL that returns its row has committed,
-- and an ERROR raised by the work or by COMMIT itself means nothing of the batch was (once the
-- commit record is flushed PostgreSQL can only PANIC). An error whose timing is not known — a
-- cancel, a shutdown, a lost connection — must be taken as "maybe committed" by the caller
-- (MessageStore.acceptTogether). Procedures that commit cannot carry SET clauses, so unlike
-- 0005's functions this one plans with the default plan_cache_mode.
--
-- Message i of the batch is (p_sha256[i], … p_body_8bit[i]). Local copy j is (p_copy_account[j],
-- p_copy_mailbox[j], p_copy_prefix[j]) of message p_copy_message[j]; remote recipient j is
-- p_remote[j] of message p_remote_message[j]; both in message order, so each message's copies
-- and recipients are consecutive. Arrays cannot hold NULLs from the node, so: p_sent_on[i] ''
-- for no date, p_has_words[i] false for "let the database make the words" (p_words[i] is
-- then ignored; otherwise the words joined by single spaces, '' for none — a word is a run of
-- letters and digits), p_submitter[i] 0 for no authenticated account (account ids start at 1).
--
-- The batch is first tried as a whole, set-based (petrel_accept_together: one INSERT of its
-- bodies, one quota check per account, one UID allocation per mailbox, one INSERT of its
-- mailbox rows — so the statement triggers update each counter row once per batch, not once
-- per message). When some account lacks room or a target is gone, that attempt is undone and
-- the messages go through petrel_accept one by one, so that each is still all or nothing on
-- its own (petrel_accept's subtransaction) and the others are stored. r_message
-- says which message each result row is about, and r_status is petrel_accept's status (the
-- numbers are 0 where it gave NULL: a refused copy has no UID).
-- The words of the body-search prefilter (0005, 0006): p_words when the node made them (none
-- or more than 3,000: no entry), else the database's own split of the text.
CREATE FUNCTION petrel_search_vector(p_header_text text, p_body_text text, p_words text[]) RETURNS tsvector
LANGUAGE sql STABLE AS $$
    SELECT CASE
           WHEN p_words IS NOT NULL THEN
               CASE WHEN cardinality(p_words) BETWEEN 1 AND 3000 THEN array_to_tsvector(p_words) END
           ELSE
               (SELECT CASE WHEN count(*) BETWEEN 1 AND 3000 THEN array_to_tsvector(array_agg(x.w)) END
                FROM (SELECT DISTINCT left(t.w, 64) AS w
                      FROM regexp_split_to_table(lower(p_header_text || ' ' || p_body_text), '[^[:alnum:]]+') AS t(w)
                      WHERE t.w <> '') AS x)
           END
$$;

-- The whole batch at once (arrays as petrel_accept_batch's). Raises PT002, having written nothing that survives its caller's subtransaction, when
-- an account lacks room for what the batch brings it or a target account or mailbox is gone.
-- Several messages to one mailbox take consecutive UIDs in message order and share the
-- mailbox's one new modseq (as a COPY of several messages does).
CREATE FUNCTION petrel_accept_together(
    p_sha256 bytea[], p_size bigint[], p_raw bytea[], p_envelope bytea[], p_body_structure bytea[], p_body bytea[],
    p_structure text[], p_sent_on text[], p_header_text text[], p_body_text text[], p_words text[],
    p_has_words boolean[], p_queue_id text[], p_sender text[], p_client text[], p_submitter bigint[],
    p_smtputf8 boolean[], p_body_8bit boolean[],
    p_copy_message integer[], p_copy_account bigint[], p_copy_mailbox bigint[], p_copy_prefix bytea[],
    p_remote_message integer[], p_remote text[])
RETURNS TABLE (message integer, status text, account_id bigint, mailbox_id bigint, uidvalidity bigint, uid bigint,
               modseq bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    n integer := cardinality(p_sha256);
    body_ids bigint[];
    wanted_accounts bigint[];
    wanted_bytes bigint[];
    wanted_messages bigint[];
    fitting integer;
    box_accounts bigint[];
    box_mailboxes bigint[];
    box_counts bigint[];
    got_accounts bigint[];
    got_mailboxes bigint[];
    got_validity bigint[];
    got_first bigint[];
    got_modseqs bigint[];
BEGIN
    -- The bodies, each distinct content once, in content order (two batches lock them alike).
    WITH stored AS (
        INSERT INTO message_bodies AS mb (sha256, size, raw, envelope, body_structure, body, structure, sent_on,
                                          header_text, body_text, search_words)
        SELECT DISTINCT ON (t.sha) t.sha, t.size, t.raw, t.env, t.bs, t.b, t.st::jsonb, nullif(t.so, '')::date, t.ht, t.bt,
               petrel_search_vector(t.ht, t.bt, CASE WHEN t.hw THEN string_to_array(t.w, ' ') END)
        FROM unnest(p_sha256, p_size, p_raw, p_envelope, p_body_structure, p_body, p_structure, p_sent_on,
                    p_header_text, p_body_text, p_words, p_has_words)
             WITH ORDINALITY AS t(sha, size, raw, env, bs, b, st, so, ht, bt, w, hw, i)
        ORDER BY t.sha, t.i
        ON CONFLICT (sha256) DO UPDATE SET refcount = mb.refcount
        RETURNING mb.id, mb.sha256)
    SELECT array_agg(s.id ORDER BY t.i) INTO body_ids
    FROM unnest(p_sha256) WITH ORDINALITY AS t(sha, i) JOIN stored s ON s.sha256 = t.sha;
    IF cardinality(p_copy_message) > 0 THEN
        -- Room for everything the batch brings each account (and its domain), accounts in id order.
        SELECT array_agg(w.a ORDER BY w.a), array_agg(w.b ORDER BY w.a), array_agg(w.m ORDER BY w.a)
          INTO wanted_accounts, wanted_bytes, wanted_messages
        FROM (SELECT c.a, sum(p_size[c.m] + octet_length(c.p))::bigint AS b, count(*)::bigint AS m
              FROM unnest(p_copy_message, p_copy_account, p_copy_prefix) AS c(m, a, p) GROUP BY c.a) AS w;
        SELECT count(*) INTO fitting
        FROM petrel_reserve_quota(wanted_accounts, wanted_bytes, wanted_messages) AS q WHERE q.fits;
        IF fitting < cardinality(wanted_accounts) THEN
            RAISE EXCEPTION 'refused' USING ERRCODE = 'PT002';
        END IF;
        -- As many UIDs per mailbox as it gets copies.
        SELECT array_agg(x.a ORDER BY x.a, x.b), array_agg(x.b ORDER BY x.a, x.b), array_agg(x.c ORDER BY x.a, x.b)
          INTO box_accounts, box_mailboxes, box_counts
        FROM (SELECT c.a, c.b, count(*)::bigint AS c FROM unnest(p_copy_account, p_copy_mailbox) AS c(a, b)
              GROUP BY c.a, c.b) AS x;
        SELECT array_agg(a.account_id), array_agg(a.mailbox_id), array_agg(a.uidvalidity), array_agg(a.first_uid),
               array_agg(a.modseq)
          INTO got_accounts, got_mailboxes, got_validity, got_first, got_modseqs
        FROM petrel_allocate_uids(box_accounts, box_mailboxes, box_counts) AS a;
        IF coalesce(cardinality(got_accounts), 0) < cardinality(box_accounts) THEN
            RAISE EXCEPTION 'refused' USING ERRCODE = 'PT002';
        END IF;
        RETURN QUERY
        WITH copies AS (
            SELECT c.m, c.a, c.b, c.p, g.v, g.f + row_number() OVER (PARTITION BY c.a, c.b ORDER BY c.k) - 1 AS u, g.s
            FROM unnest(p_copy_message, p_copy_account, p_copy_mailbox, p_copy_prefix) WITH ORDINALITY AS c(m, a, b, p, k)
            JOIN unnest(got_accounts, got_mailboxes, got_validity, got_first, got_modseqs) AS g(a, b, v, f, s)
              ON g.a = c.a AND g.b = c.b),
        inserted AS (
            INSERT INTO messages (account_id, mailbox_id, uid, body_id, modseq, flags, keywords, internal_date, size,
                                  header_prefix)
            SELECT cp.a, cp.b, cp.u, body_ids[cp.m], cp.s, 0, '{}', now(), p_size[cp.m] + octet_length(cp.p), cp.p
            FROM copies cp)
        SELECT cp.m::integer, 'stored'::text, cp.a, cp.b, cp.v, cp.u, cp.s FROM copies cp;
    END IF;
    IF cardinality(p_remote_message) > 0 THEN
        INSERT INTO outbound_messages (id, body_id, sender, size, client, account_id, smtputf8, body_8bit)
        SELECT p_queue_id[g.i], body_ids[g.i], p_sender[g.i], p_size[g.i], p_client[g.i], nullif(p_submitter[g.i], 0),
               p_smtputf8[g.i], p_body_8bit[g.i]
        FROM (SELECT DISTINCT q.m AS i FROM unnest(p_remote_message) AS q(m)) AS g;
        INSERT INTO outbound_recipients (message_id, recipient)
        SELECT p_queue_id[q.m], q.r FROM unnest(p_remote_message, p_remote) AS q(m, r);
    END IF;
END $$;

-- Its statements over unnest()ed arrays plan alike whatever the batch: once per session.
ALTER FUNCTION petrel_accept_together(bytea[], bigint[], bytea[], bytea[], bytea[], bytea[], text[], text[], text[], text[],
                                      text[], boolean[], text[], text[], text[], bigint[], boolean[], boolean[], integer[],
                                      bigint[], bigint[], bytea[], integer[], text[])
    SET plan_cache_mode = force_generic_plan;

CREATE PROCEDURE petrel_accept_batch(
    p_sha256 bytea[], p_size bigint[], p_raw bytea[], p_envelope bytea[], p_body_structure bytea[], p_body bytea[],
    p_structure text[], p_sent_on text[], p_header_text text[], p_body_text text[], p_words text[],
    p_has_words boolean[], p_queue_id text[], p_sender text[], p_client text[], p_submitter bigint[],
    p_smtputf8 boolean[], p_body_8bit boolean[],
    p_copy_message integer[], p_copy_account bigint[], p_copy_mailbox bigint[], p_copy_prefix bytea[],
    p_remote_message integer[], p_remote text[],
    OUT r_message integer[], OUT r_status text[], OUT r_account bigint[], OUT r_mailbox bigint[],
    OUT r_uidvalidity bigint[], OUT r_uid bigint[], OUT r_modseq bigint[])
LANGUAGE plpgsql AS $$
DECLARE
    n integer := coalesce(cardinality(p_sha256), 0);
    i integer;
    c_from integer;
    c_to integer;
    q_from integer;
    q_to integer;
    r record;
BEGIN
    r_message := '{}'; r_status := '{}'; r_account := '{}'; r_mailbox := '{}';
    r_uidvalidity := '{}'; r_uid := '{}'; r_modseq := '{}';
    -- Several messages would take their row locks in message order, and two batches could wait
    -- on each other: take every lock of the batch first, each kind in id order (0005).
    IF n > 1 AND cardinality(p_copy_account) > 0 THEN
        PERFORM petrel_lock_targets(p_copy_account, p_copy_mailbox);
    END IF;
    BEGIN
        SELECT coalesce(array_agg(x.message), '{}'), coalesce(array_agg(x.status), '{}'),
               coalesce(array_agg(x.account_id), '{}'), coalesce(array_agg(x.mailbox_id), '{}'),
               coalesce(array_agg(x.uidvalidity), '{}'), coalesce(array_agg(x.uid), '{}'),
               coalesce(array_agg(x.modseq), '{}')
          INTO r_message, r_status, r_account, r_mailbox, r_uidvalidity, r_uid, r_modseq
        FROM petrel_accept_together(
            p_sha256, p_size, p_raw, p_envelope, p_body_structure, p_body, p_structure, p_sent_on, p_header_text,
            p_body_text, p_words, p_has_words, p_queue_id, p_sender, p_client, p_submitter, p_smtputf8, p_body_8bit,
            p_copy_message, p_copy_account, p_copy_mailbox, p_copy_prefix, p_remote_message, p_remote) AS x;
    EXCEPTION WHEN SQLSTATE 'PT002' THEN
        -- Not all of it can be stored: message by message, each all or nothing.
        FOR i IN 1 .. n LOOP
            c_from := coalesce(array_position(p_copy_message, i), 1);
            c_to := c_from + coalesce(cardinality(array_positions(p_copy_message, i)), 0) - 1;
            q_from := coalesce(array_position(p_remote_message, i), 1);
            q_to := q_from + coalesce(cardinality(array_positions(p_remote_message, i)), 0) - 1;
            FOR r IN
                SELECT * FROM petrel_accept(
                    p_sha256[i], p_size[i], p_raw[i], p_envelope[i], p_body_structure[i], p_body[i],
                    p_structure[i]::jsonb, nullif(p_sent_on[i], '')::date, p_header_text[i], p_body_text[i],
                    CASE WHEN p_has_words[i] THEN string_to_array(p_words[i], ' ') END,
                    coalesce(p_copy_account[c_from:c_to], '{}'), coalesce(p_copy_mailbox[c_from:c_to], '{}'),
                    coalesce(p_copy_prefix[c_from:c_to], '{}'),
                    p_queue_id[i], p_sender[i], p_client[i], nullif(p_submitter[i], 0), p_smtputf8[i], p_body_8bit[i],
                    coalesce(p_remote[q_from:q_to], '{}'))
            LOOP
                r_message := r_message || i;
                r_status := r_status || r.status;
                r_account := r_account || coalesce(r.account_id, 0);
                r_mailbox := r_mailbox || coalesce(r.mailbox_id, 0);
                r_uidvalidity := r_uidvalidity || coalesce(r.uidvalidity, 0);
                r_uid := r_uid || coalesce(r.uid, 0);
                r_modseq := r_modseq || coalesce(r.modseq, 0);
            END LOOP;
        END LOOP;
    END;
    COMMIT;
END $$;

-- Every statement of the delivery path is a keyed look-up or update of a few rows. Their plans
-- are generic and made once per connection (0005), so a node that connected to a young
-- database — a few hundred rows, no statistics yet — kept sequential scans of accounts,
-- mailboxes and domains (with their dead row versions) for as long as it stayed connected.
-- Index scans whenever an index applies; tables without one are still scanned.
ALTER FUNCTION petrel_accept_together(bytea[], bigint[], bytea[], bytea[], bytea[], bytea[], text[], text[], text[], text[],
                                      text[], boolean[], text[], text[], text[], bigint[], boolean[], boolean[], integer[],
                                      bigint[], bigint[], bytea[], integer[], text[])
    SET enable_seqscan = off;
ALTER FUNCTION petrel_accept(bytea, bigint, bytea, bytea, bytea, bytea, jsonb, date, text, text, text[], bigint[], bigint[],
                             bytea[], text, text, text, bigint, boolean, boolean, text[])
    SET enable_seqscan = off;
ALTER FUNCTION petrel_reserve_quota(bigint[], bigint[], bigint[]) SET enable_seqscan = off;
ALTER FUNCTION petrel_allocate_uids(bigint[], bigint[], bigint[]) SET enable_seqscan = off;
ALTER FUNCTION petrel_lock_targets(bigint[], bigint[]) SET enable_seqscan = off;
ALTER FUNCTION petrel_recipient_lookup(text, text, text, text, text) SET enable_seqscan = off;
ALTER FUNCTION petrel_messages_inserted() SET enable_seqscan = off;
