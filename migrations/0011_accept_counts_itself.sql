-- 0011: the SMTP batch (0010) keeps its own counters, and takes its locks up front only when
-- it has to go message by message.
--
-- Measured on one CALL of one message (docs/benchmarks.md): the statement trigger that keeps
-- the counters (0003's petrel_messages_inserted: one UPDATE each of the body's refcount, the
-- mailbox's counts and the account's usage, and the NOTIFY) was a quarter of the CALL. The
-- whole-batch path already updates the mailbox row (UIDs) and locks the account row (quota),
-- so it now writes the counters in those same steps: the body row is inserted with its
-- refcount, the mailbox row takes its UIDs and its counts in one UPDATE, the account's usage
-- is added right after the quota check under the same lock, and it sends the NOTIFY. Its
-- INSERT into messages keeps the trigger from firing through the transaction-local setting
-- petrel.counted (set to the transaction's id, so that a stray session-wide SET cannot turn
-- the counting off), which it sets just before and clears just after that one statement;
-- every other INSERT into messages (APPEND, COPY, MOVE, petrel_accept) is still counted by
-- the trigger.
--
-- petrel_lock_targets took every row lock of a batch of several messages before the
-- whole-batch attempt. That attempt takes them itself, each kind in id order (bodies by
-- content, then domains, accounts and mailboxes), so only the message-by-message path needs
-- them up front: it now takes them there, after the attempt was undone.

-- The trigger itself is unchanged (0003); it is just not fired for those rows.
DROP TRIGGER messages_inserted ON messages;
CREATE TRIGGER messages_inserted AFTER INSERT ON messages
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    WHEN (current_setting('petrel.counted', true) IS DISTINCT FROM txid_current()::text)
    EXECUTE FUNCTION petrel_messages_inserted();

-- As 0010's, with the counters kept here (see above). Raises PT002, having written nothing
-- that survives its caller's subtransaction, when an account lacks room for what the batch
-- brings it or a target account or mailbox is gone.
CREATE OR REPLACE FUNCTION petrel_accept_together(
    p_sha256 bytea[], p_size bigint[], p_raw bytea[], p_envelope bytea[], p_body_structure bytea[], p_body bytea[],
    p_structure text[], p_sent_on text[], p_header_text text[], p_body_text text[], p_words text[],
    p_has_words boolean[], p_queue_id text[], p_sender text[], p_client text[], p_submitter bigint[],
    p_smtputf8 boolean[], p_body_8bit boolean[],
    p_copy_message integer[], p_copy_account bigint[], p_copy_mailbox bigint[], p_copy_prefix bytea[],
    p_remote_message integer[], p_remote text[])
RETURNS TABLE (message integer, status text, account_id bigint, mailbox_id bigint, uidvalidity bigint, uid bigint,
               modseq bigint)
LANGUAGE plpgsql
-- Its statements over unnest()ed arrays plan alike whatever the batch: once per session.
SET plan_cache_mode = force_generic_plan SET enable_seqscan = off AS $$
#variable_conflict use_column
DECLARE
    body_ids bigint[];
    wanted_accounts bigint[];
    wanted_bytes bigint[];
    wanted_messages bigint[];
    fitting integer;
    box_accounts bigint[];
    box_mailboxes bigint[];
    box_counts bigint[];
    box_bytes bigint[];
    got_accounts bigint[];
    got_mailboxes bigint[];
    got_validity bigint[];
    got_first bigint[];
    got_modseqs bigint[];
BEGIN
    -- The bodies, each distinct content once, in content order (two batches lock them alike),
    -- each with as many references as the batch makes to it.
    WITH stored AS (
        INSERT INTO message_bodies AS mb (sha256, size, raw, envelope, body_structure, body, structure, sent_on,
                                          header_text, body_text, search_words, refcount)
        SELECT DISTINCT ON (t.sha) t.sha, t.size, t.raw, t.env, t.bs, t.b, t.st::jsonb, nullif(t.so, '')::date, t.ht, t.bt,
               petrel_search_vector(t.ht, t.bt, CASE WHEN t.hw THEN string_to_array(t.w, ' ') END),
               (SELECT count(*) FROM unnest(p_copy_message) AS c(m) WHERE p_sha256[c.m] = t.sha)
        FROM unnest(p_sha256, p_size, p_raw, p_envelope, p_body_structure, p_body, p_structure, p_sent_on,
                    p_header_text, p_body_text, p_words, p_has_words)
             WITH ORDINALITY AS t(sha, size, raw, env, bs, b, st, so, ht, bt, w, hw, i)
        ORDER BY t.sha, t.i
        ON CONFLICT (sha256) DO UPDATE SET refcount = mb.refcount + excluded.refcount
        RETURNING mb.id, mb.sha256)
    SELECT array_agg(s.id ORDER BY t.i) INTO body_ids
    FROM unnest(p_sha256) WITH ORDINALITY AS t(sha, i) JOIN stored s ON s.sha256 = t.sha;
    IF cardinality(p_copy_message) > 0 THEN
        -- Room for everything the batch brings each account (and its domain), accounts in id
        -- order; then the usage it adds, under the lock petrel_reserve_quota took.
        SELECT array_agg(w.a ORDER BY w.a), array_agg(w.b ORDER BY w.a), array_agg(w.m ORDER BY w.a)
          INTO wanted_accounts, wanted_bytes, wanted_messages
        FROM (SELECT c.a, sum(p_size[c.m] + octet_length(c.p))::bigint AS b, count(*)::bigint AS m
              FROM unnest(p_copy_message, p_copy_account, p_copy_prefix) AS c(m, a, p) GROUP BY c.a) AS w;
        SELECT count(*) INTO fitting
        FROM petrel_reserve_quota(wanted_accounts, wanted_bytes, wanted_messages) AS q WHERE q.fits;
        IF fitting < cardinality(wanted_accounts) THEN
            RAISE EXCEPTION 'refused' USING ERRCODE = 'PT002';
        END IF;
        UPDATE accounts a SET used_bytes = a.used_bytes + w.b, used_messages = a.used_messages + w.m
          FROM unnest(wanted_accounts, wanted_bytes, wanted_messages) AS w(id, b, m) WHERE a.id = w.id;
        -- Per mailbox: as many UIDs as it gets copies, one new modseq, and its counts (a new
        -- message is unseen), the rows locked in id order first.
        SELECT array_agg(x.a ORDER BY x.a, x.b), array_agg(x.b ORDER BY x.a, x.b), array_agg(x.c ORDER BY x.a, x.b),
               array_agg(x.s ORDER BY x.a, x.b)
          INTO box_accounts, box_mailboxes, box_counts, box_bytes
        FROM (SELECT c.a, c.b, count(*)::bigint AS c, sum(p_size[c.m] + octet_length(c.p))::bigint AS s
              FROM unnest(p_copy_message, p_copy_account, p_copy_mailbox, p_copy_prefix) AS c(m, a, b, p)
              GROUP BY c.a, c.b) AS x;
        PERFORM 1 FROM mailboxes m JOIN unnest(box_accounts, box_mailboxes) AS t(a, b) ON m.account_id = t.a AND m.id = t.b
          ORDER BY m.account_id, m.id FOR NO KEY UPDATE OF m;
        WITH bumped AS (
            UPDATE mailboxes m SET uidnext = m.uidnext + t.n, highestmodseq = m.highestmodseq + 1,
                                   message_count = m.message_count + t.n, unseen_count = m.unseen_count + t.n,
                                   total_size = m.total_size + t.s
            FROM unnest(box_accounts, box_mailboxes, box_counts, box_bytes) AS t(a, b, n, s)
            WHERE m.account_id = t.a AND m.id = t.b AND m.selectable
            RETURNING m.account_id AS a, m.id AS b, m.uidvalidity::bigint AS v, m.uidnext - t.n AS f, m.highestmodseq AS s)
        SELECT array_agg(u.a), array_agg(u.b), array_agg(u.v), array_agg(u.f), array_agg(u.s)
          INTO got_accounts, got_mailboxes, got_validity, got_first, got_modseqs
        FROM bumped u;
        IF coalesce(cardinality(got_accounts), 0) < cardinality(box_accounts) THEN
            RAISE EXCEPTION 'refused' USING ERRCODE = 'PT002';
        END IF;
        PERFORM set_config('petrel.counted', txid_current()::text, true);
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
        PERFORM set_config('petrel.counted', '', true);
        PERFORM pg_notify('petrel_changes', format('%s %s append %s', g.a, g.b, g.s))
           FROM unnest(got_accounts, got_mailboxes, got_modseqs) AS g(a, b, s);
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

CREATE OR REPLACE PROCEDURE petrel_accept_batch(
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
        -- Not all of it can be stored: message by message, each all or nothing. Several
        -- messages would take their row locks in message order, and two batches could wait on
        -- each other: take every lock of the batch first, each kind in id order (0005).
        IF n > 1 AND cardinality(p_copy_account) > 0 THEN
            PERFORM petrel_lock_targets(p_copy_account, p_copy_mailbox);
        END IF;
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
