-- 0005: the delivery steps as functions in the database, so that storing a message costs one
-- round trip instead of one per step (and their plans are cached per session). The quota check
-- and the UID allocation exist only here: MessageStore calls them for APPEND, COPY and MOVE as
-- well as for SMTP.

-- SEARCH BODY / TEXT (RFC 3501: case-insensitive substring) use a word index as a prefilter
-- and strpos(lower(...)) for the exact answer. The words are the runs of [[:alnum:]] in
-- lower(header_text || body_text) — the same lower() the exact test uses — cut to 64
-- characters, at most 3,000 distinct (so a lexeme stays under 2 KiB and the vector under
-- 1 MiB); more: NULL. Not PostgreSQL's text-search parser, which keeps e-mail addresses, host
-- names and numbers as single tokens and so could not prove that a message lacks a
-- substring. NULL (rows stored before, too many words, no words): no prefilter.
ALTER TABLE message_bodies DROP COLUMN body_tsv;
ALTER TABLE message_bodies ADD COLUMN search_words tsvector;
CREATE INDEX message_bodies_search_words_idx ON message_bodies USING gin (search_words);

-- Usage counters change with every delivery: the account checks (alias domain, address) run
-- only when what they check changes, and updated_at tracks changes an administrator made.
DROP TRIGGER accounts_check ON accounts;
CREATE TRIGGER accounts_check BEFORE INSERT OR UPDATE OF domain_id, local_part, address ON accounts
    FOR EACH ROW EXECUTE FUNCTION petrel_accounts_check();
CREATE FUNCTION petrel_touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END $$;
CREATE TRIGGER accounts_touch BEFORE UPDATE ON accounts
    FOR EACH ROW WHEN (OLD.used_bytes = NEW.used_bytes AND OLD.used_messages = NEW.used_messages)
    EXECUTE FUNCTION petrel_touch_updated_at();

-- SMTP's RCPT look-up for a plain address in one call (Directory.recipientLookup): whether the
-- domain is ours and local, whether an active alias has this exact address, the active account
-- with its INBOX and the room its and its domain's quotas leave, and the most specific
-- recipient access rule among the patterns p_exact, p_at_domain, p_user (NULLs: none wanted).
-- Always one row.
CREATE FUNCTION petrel_recipient_lookup(p_address text, p_domain text, p_exact text, p_at_domain text, p_user text)
RETURNS TABLE (domain_found boolean, domain_local boolean, aliased boolean, account_id bigint, address text,
               inbox_id bigint, quota_bytes bigint, quota_messages bigint, used_bytes bigint, used_messages bigint,
               domain_quota_bytes bigint, domain_quota_messages bigint, domain_used_bytes bigint,
               domain_used_messages bigint, rule_id bigint, rule_kind text, rule_pattern text, rule_action text,
               rule_reply text, rule_created_at timestamptz)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT d.id IS NOT NULL, coalesce(d.active AND d.alias_target IS NULL, false),
           EXISTS (SELECT 1 FROM aliases al WHERE al.address = p_address AND al.active),
           a.id, a.address, m.id,
           coalesce(a.quota_bytes, 0), coalesce(a.quota_messages, 0), coalesce(a.used_bytes, 0), coalesce(a.used_messages, 0),
           coalesce(d.quota_bytes, 0), coalesce(d.quota_messages, 0), coalesce(u.bytes, 0), coalesce(u.messages, 0),
           r.id, r.kind, r.pattern, r.action, r.reply, r.created_at
    FROM (VALUES (1)) AS one (x)
    LEFT JOIN domains d ON d.name = p_domain
    LEFT JOIN accounts a ON a.domain_id = d.id AND a.address = p_address AND a.active
    LEFT JOIN mailboxes m ON m.account_id = a.id AND m.name = 'INBOX'
    -- The domain's usage, summed only when it has a quota (one pass over its accounts).
    LEFT JOIN LATERAL (SELECT sum(s.used_bytes)::bigint AS bytes, sum(s.used_messages)::bigint AS messages
                       FROM accounts s WHERE s.domain_id = d.id) u
           ON d.quota_bytes > 0 OR d.quota_messages > 0
    LEFT JOIN LATERAL (SELECT * FROM access_rules ar
                       WHERE ar.kind = 'recipient' AND ar.pattern IN (p_exact, p_at_domain, p_user)
                       ORDER BY CASE ar.pattern WHEN p_exact THEN 0 WHEN p_at_domain THEN 1 ELSE 2 END
                       LIMIT 1) r ON true;
END $$;

-- The raw message and its parse, once per distinct content. ON CONFLICT … DO UPDATE locks an
-- existing row until commit, so a concurrent expunge of its last reference cannot free it.
CREATE FUNCTION petrel_store_body(p_sha256 bytea, p_size bigint, p_raw bytea, p_envelope bytea,
                                  p_body_structure bytea, p_body bytea, p_structure jsonb, p_sent_on date,
                                  p_header_text text, p_body_text text)
RETURNS bigint LANGUAGE plpgsql AS $$
-- PL/pgSQL rather than SQL: its plan is cached for the session instead of made on every call.
DECLARE
    body_id bigint;
BEGIN
    INSERT INTO message_bodies (sha256, size, raw, envelope, body_structure, body, structure, sent_on,
                                header_text, body_text, search_words)
    VALUES (p_sha256, p_size, p_raw, p_envelope, p_body_structure, p_body, p_structure, p_sent_on,
            p_header_text, p_body_text,
            (SELECT CASE WHEN count(*) BETWEEN 1 AND 3000 THEN array_to_tsvector(array_agg(x.w)) END
             FROM (SELECT DISTINCT left(t.w, 64) AS w
                   FROM regexp_split_to_table(lower(p_header_text || ' ' || p_body_text), '[^[:alnum:]]+') AS t(w)
                   WHERE t.w <> '') AS x))
    ON CONFLICT (sha256) DO UPDATE SET refcount = message_bodies.refcount
    RETURNING id INTO body_id;
    RETURN body_id;
END $$;

-- Locks the domains that have a quota and the accounts involved (domains first, each in id
-- order, so concurrent deliveries cannot deadlock) and says for each account whether it can
-- take what is added to it: p_bytes[i] and p_messages[i] more for p_accounts[i] (distinct ids).
-- Accounts that do not exist are not returned. Several accounts of one quota'd domain are
-- checked against the domain's room together, in account order. Usage itself is added by the
-- messages insert trigger in the same transaction, under these locks.
CREATE FUNCTION petrel_reserve_quota(p_accounts bigint[], p_bytes bigint[], p_messages bigint[])
RETURNS TABLE (account_id bigint, fits boolean) LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    dom_ids bigint[] := '{}';
    dom_quota_bytes bigint[] := '{}';
    dom_quota_messages bigint[] := '{}';
    dom_used_bytes bigint[] := '{}';
    dom_used_messages bigint[] := '{}';
    r record;
    i int;
    ok boolean;
BEGIN
    FOR r IN SELECT d.id, d.quota_bytes, d.quota_messages FROM domains d
             WHERE d.id IN (SELECT a.domain_id FROM accounts a WHERE a.id = ANY (p_accounts))
               AND (d.quota_bytes > 0 OR d.quota_messages > 0)
             ORDER BY d.id FOR NO KEY UPDATE
    LOOP
        dom_ids := dom_ids || r.id;
        dom_quota_bytes := dom_quota_bytes || r.quota_bytes;
        dom_quota_messages := dom_quota_messages || r.quota_messages;
        dom_used_bytes := dom_used_bytes
            || (SELECT coalesce(sum(a.used_bytes), 0)::bigint FROM accounts a WHERE a.domain_id = r.id);
        dom_used_messages := dom_used_messages
            || (SELECT coalesce(sum(a.used_messages), 0)::bigint FROM accounts a WHERE a.domain_id = r.id);
    END LOOP;
    FOR r IN SELECT a.id, a.domain_id, a.quota_bytes, a.quota_messages, a.used_bytes, a.used_messages,
                    t.b AS add_bytes, t.m AS add_messages
             FROM accounts a JOIN unnest(p_accounts, p_bytes, p_messages) AS t(id, b, m) ON a.id = t.id
             ORDER BY a.id FOR NO KEY UPDATE OF a
    LOOP
        ok := NOT ((r.quota_bytes > 0 AND r.used_bytes + r.add_bytes > r.quota_bytes)
                   OR (r.quota_messages > 0 AND r.used_messages + r.add_messages > r.quota_messages));
        i := array_position(dom_ids, r.domain_id);
        IF ok AND i IS NOT NULL THEN
            IF (dom_quota_bytes[i] > 0 AND dom_used_bytes[i] + r.add_bytes > dom_quota_bytes[i])
               OR (dom_quota_messages[i] > 0 AND dom_used_messages[i] + r.add_messages > dom_quota_messages[i]) THEN
                ok := false;
            ELSE
                dom_used_bytes[i] := dom_used_bytes[i] + r.add_bytes;
                dom_used_messages[i] := dom_used_messages[i] + r.add_messages;
            END IF;
        END IF;
        account_id := r.id;
        fits := ok;
        RETURN NEXT;
    END LOOP;
END $$;

-- Takes p_counts[i] UIDs and one new modseq in mailbox p_mailboxes[i] of account p_accounts[i],
-- locking the mailbox rows in order first. Mailboxes that do not exist or are \Noselect are
-- left out of the result (and not changed).
CREATE FUNCTION petrel_allocate_uids(p_accounts bigint[], p_mailboxes bigint[], p_counts bigint[])
RETURNS TABLE (account_id bigint, mailbox_id bigint, uidvalidity bigint, first_uid bigint, modseq bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
    PERFORM 1 FROM mailboxes m JOIN unnest(p_accounts, p_mailboxes) AS t(a, b) ON m.account_id = t.a AND m.id = t.b
      ORDER BY m.account_id, m.id FOR NO KEY UPDATE OF m;
    RETURN QUERY
        UPDATE mailboxes m SET uidnext = m.uidnext + t.n, highestmodseq = m.highestmodseq + 1
        FROM unnest(p_accounts, p_mailboxes, p_counts) AS t(a, b, n)
        WHERE m.account_id = t.a AND m.id = t.b AND m.selectable
        RETURNING m.account_id, m.id, m.uidvalidity::bigint, m.uidnext - t.n, m.highestmodseq;
END $$;

-- Group commit: several messages in one transaction would take their row locks in message
-- order, and two such batches could wait on each other. A batch first locks every domain
-- (with a quota), account and mailbox it will touch, each kind in id order.
CREATE FUNCTION petrel_lock_targets(p_accounts bigint[], p_mailboxes bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    accounts bigint[] := ARRAY(SELECT DISTINCT a FROM unnest(p_accounts) AS t(a) ORDER BY a);
BEGIN
    PERFORM 1 FROM petrel_reserve_quota(accounts, array_fill(0::bigint, ARRAY[cardinality(accounts)]),
                                        array_fill(0::bigint, ARRAY[cardinality(accounts)]));
    PERFORM 1 FROM mailboxes m JOIN unnest(p_accounts, p_mailboxes) AS t(a, b) ON m.account_id = t.a AND m.id = t.b
      ORDER BY m.account_id, m.id FOR NO KEY UPDATE OF m;
END $$;

-- One accepted SMTP message (the durability contract): the body once, one mailbox row per local
-- copy (p_accounts[i], p_mailboxes[i], with its own trace lines p_prefixes[i]; pairs distinct),
-- and the queue rows for the remote recipients, all or nothing. Returns one row per copy:
-- 'stored' with its UID; or, when a copy cannot be stored and then NOTHING of the message is,
-- 'over_quota' / 'no_account' / 'no_mailbox' for the copies at fault. The work runs in a
-- subtransaction, so a refused message leaves nothing behind even when several messages share
-- one transaction (group commit). The caller answers 250 only once COMMIT has returned.
CREATE FUNCTION petrel_accept(
    p_sha256 bytea, p_size bigint, p_raw bytea, p_envelope bytea, p_body_structure bytea, p_body bytea,
    p_structure jsonb, p_sent_on date, p_header_text text, p_body_text text,
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
                                  p_sent_on, p_header_text, p_body_text);
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

-- Every statement in these functions is a keyed look-up or a small update whose best plan does
-- not depend on the parameters: plan once per session rather than re-plan per call (PostgreSQL
-- otherwise makes custom plans for the first calls and may keep doing so).
ALTER FUNCTION petrel_store_body(bytea, bigint, bytea, bytea, bytea, bytea, jsonb, date, text, text)
    SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION petrel_reserve_quota(bigint[], bigint[], bigint[]) SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION petrel_allocate_uids(bigint[], bigint[], bigint[]) SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION petrel_accept(bytea, bigint, bytea, bytea, bytea, bytea, jsonb, date, text, text, bigint[], bigint[], bytea[],
                             text, text, text, bigint, boolean, boolean, text[])
    SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION petrel_recipient_lookup(text, text, text, text, text) SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION petrel_lock_targets(bigint[], bigint[]) SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION petrel_messages_inserted() SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION petrel_outbound_inserted() SET plan_cache_mode = force_generic_plan;
