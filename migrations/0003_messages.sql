-- 0003: messages, flags, modseq, the expunge log, quotas and change events.
--
-- Lock order, everywhere (store code and the triggers below): domain row, then account rows
-- in id order, then mailbox rows in id order, then message rows. Every change to a mailbox's
-- messages first bumps its mailbox row (uidnext / highestmodseq), so changes to one mailbox are
-- serialised and UIDs and modseqs become visible in ascending order.

-- Domain quotas (0 = unlimited). A domain's usage is the sum of its accounts' usage.
ALTER TABLE domains
    ADD COLUMN quota_bytes    bigint NOT NULL DEFAULT 0 CHECK (quota_bytes >= 0),
    ADD COLUMN quota_messages bigint NOT NULL DEFAULT 0 CHECK (quota_messages >= 0);

-- Counters kept in step with the messages table by the triggers below (STATUS without counting).
-- first_recent_uid: messages with uid >= it are \Recent (RFC 3501 §2.3.2); a session that
-- SELECTs the mailbox takes them by moving it to uidnext.
ALTER TABLE mailboxes
    ADD COLUMN message_count    bigint NOT NULL DEFAULT 0 CHECK (message_count >= 0),
    ADD COLUMN unseen_count     bigint NOT NULL DEFAULT 0 CHECK (unseen_count >= 0),
    ADD COLUMN total_size       bigint NOT NULL DEFAULT 0 CHECK (total_size >= 0),
    ADD COLUMN first_recent_uid bigint NOT NULL DEFAULT 1;

-- One row per distinct message content (SHA-256 of the raw bytes), shared by every mailbox row
-- that holds that content, in any account; freed by the triggers when the last reference goes.
-- The parse made at delivery lives here too, so no read parses again.
CREATE TABLE message_bodies (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sha256         bytea NOT NULL,
    size           bigint NOT NULL CHECK (size >= 0),
    -- The message exactly as stored (CR LF lines). STORAGE EXTERNAL: uncompressed TOAST, so
    -- substring() reads only the chunks it needs and large bodies stream.
    raw            bytea NOT NULL,
    refcount       bigint NOT NULL DEFAULT 0 CHECK (refcount >= 0),
    envelope       bytea NOT NULL,          -- IMAP ENVELOPE, as sent
    body_structure bytea NOT NULL,          -- IMAP BODYSTRUCTURE
    body           bytea NOT NULL,          -- IMAP BODY
    structure      jsonb NOT NULL,          -- MIME.MessageStructure: part offsets for BODY[section]
    sent_on        date,                    -- Date: header, day only (SEARCH SENTBEFORE/ON/SINCE)
    header_text    text NOT NULL,           -- decoded "Name: value" lines (SEARCH HEADER/FROM/SUBJECT…)
    body_text      text NOT NULL,           -- decoded text parts (SEARCH BODY/TEXT substring fallback)
    body_tsv       tsvector NOT NULL,       -- full-text index over body_text
    created_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT message_bodies_sha256_unique UNIQUE (sha256),
    CONSTRAINT message_bodies_sha256_length CHECK (octet_length(sha256) = 32)
);
ALTER TABLE message_bodies ALTER COLUMN raw SET STORAGE EXTERNAL;
CREATE INDEX message_bodies_tsv_idx ON message_bodies USING gin (body_tsv);

-- One row per message in a mailbox. flags: 1 \Seen, 2 \Answered, 4 \Flagged, 8 \Deleted, 16 \Draft.
CREATE TABLE messages (
    account_id    bigint NOT NULL,
    mailbox_id    bigint NOT NULL,
    uid           bigint NOT NULL CHECK (uid BETWEEN 1 AND 4294967295),
    body_id       bigint NOT NULL REFERENCES message_bodies (id),
    modseq        bigint NOT NULL CHECK (modseq >= 1),
    flags         smallint NOT NULL DEFAULT 0 CHECK (flags BETWEEN 0 AND 31),
    keywords      text[] NOT NULL DEFAULT '{}',
    internal_date timestamptz NOT NULL,
    size          bigint NOT NULL CHECK (size >= 0),
    PRIMARY KEY (account_id, mailbox_id, uid),
    FOREIGN KEY (account_id, mailbox_id) REFERENCES mailboxes (account_id, id) ON DELETE CASCADE
);
CREATE INDEX messages_modseq_idx ON messages (account_id, mailbox_id, modseq);
CREATE INDEX messages_body_idx ON messages (body_id);

-- Expunged UIDs with the modseq of their expunge (RFC 7162 QRESYNC VANISHED (EARLIER)).
CREATE TABLE expunged_messages (
    account_id bigint NOT NULL,
    mailbox_id bigint NOT NULL,
    uid        bigint NOT NULL,
    modseq     bigint NOT NULL,
    PRIMARY KEY (account_id, mailbox_id, uid),
    FOREIGN KEY (account_id, mailbox_id) REFERENCES mailboxes (account_id, id) ON DELETE CASCADE
);
CREATE INDEX expunged_messages_modseq_idx ON expunged_messages (account_id, mailbox_id, modseq);

-- Counters follow the rows, whatever removes them (EXPUNGE, a mailbox or account deleted):
-- statement-level triggers over the transition tables, one UPDATE per body / mailbox / account.
CREATE FUNCTION petrel_messages_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE message_bodies b SET refcount = b.refcount + n.c
      FROM (SELECT body_id, count(*) AS c FROM new_rows GROUP BY body_id) n WHERE b.id = n.body_id;
    UPDATE mailboxes m SET message_count = m.message_count + n.c, unseen_count = m.unseen_count + n.u,
                           total_size = m.total_size + n.s
      FROM (SELECT account_id, mailbox_id, count(*) AS c, count(*) FILTER (WHERE flags & 1 = 0) AS u, sum(size) AS s
              FROM new_rows GROUP BY account_id, mailbox_id) n
     WHERE m.account_id = n.account_id AND m.id = n.mailbox_id;
    UPDATE accounts a SET used_bytes = a.used_bytes + n.s, used_messages = a.used_messages + n.c
      FROM (SELECT account_id, count(*) AS c, sum(size) AS s FROM new_rows GROUP BY account_id) n
     WHERE a.id = n.account_id;
    PERFORM pg_notify('petrel_changes', format('%s %s append %s', n.account_id, n.mailbox_id, n.modseq))
       FROM (SELECT account_id, mailbox_id, max(modseq) AS modseq FROM new_rows GROUP BY account_id, mailbox_id) n;
    RETURN NULL;
END $$;

CREATE FUNCTION petrel_messages_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE message_bodies b SET refcount = b.refcount - o.c
      FROM (SELECT body_id, count(*) AS c FROM old_rows GROUP BY body_id) o WHERE b.id = o.body_id;
    DELETE FROM message_bodies b WHERE b.id IN (SELECT DISTINCT body_id FROM old_rows) AND b.refcount = 0;
    -- A mailbox deleted with its messages is already gone: these updates then match nothing.
    UPDATE mailboxes m SET message_count = m.message_count - o.c, unseen_count = m.unseen_count - o.u,
                           total_size = m.total_size - o.s
      FROM (SELECT account_id, mailbox_id, count(*) AS c, count(*) FILTER (WHERE flags & 1 = 0) AS u, sum(size) AS s
              FROM old_rows GROUP BY account_id, mailbox_id) o
     WHERE m.account_id = o.account_id AND m.id = o.mailbox_id;
    UPDATE accounts a SET used_bytes = a.used_bytes - o.s, used_messages = a.used_messages - o.c
      FROM (SELECT account_id, count(*) AS c, sum(size) AS s FROM old_rows GROUP BY account_id) o
     WHERE a.id = o.account_id;
    PERFORM pg_notify('petrel_changes', format('%s %s expunge %s', o.account_id, o.mailbox_id, o.modseq))
       FROM (SELECT account_id, mailbox_id, max(modseq) AS modseq FROM old_rows GROUP BY account_id, mailbox_id) o;
    RETURN NULL;
END $$;

CREATE FUNCTION petrel_messages_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE mailboxes m SET unseen_count = m.unseen_count + d.delta
      FROM (SELECT n.account_id, n.mailbox_id,
                   sum((o.flags & 1) - (n.flags & 1)) AS delta
              FROM new_rows n JOIN old_rows o USING (account_id, mailbox_id, uid)
             GROUP BY n.account_id, n.mailbox_id) d
     WHERE m.account_id = d.account_id AND m.id = d.mailbox_id AND d.delta <> 0;
    PERFORM pg_notify('petrel_changes', format('%s %s flags %s', n.account_id, n.mailbox_id, n.modseq))
       FROM (SELECT account_id, mailbox_id, max(modseq) AS modseq FROM new_rows GROUP BY account_id, mailbox_id) n;
    RETURN NULL;
END $$;

CREATE TRIGGER messages_inserted AFTER INSERT ON messages
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION petrel_messages_inserted();
CREATE TRIGGER messages_deleted AFTER DELETE ON messages
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION petrel_messages_deleted();
CREATE TRIGGER messages_updated AFTER UPDATE ON messages
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION petrel_messages_updated();

-- Mailbox list changes (CREATE, DELETE, RENAME) are events too.
CREATE FUNCTION petrel_mailboxes_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('petrel_changes', format('%s %s mailbox 0', OLD.account_id, OLD.id));
    ELSIF TG_OP = 'INSERT' OR OLD.name IS DISTINCT FROM NEW.name OR OLD.selectable IS DISTINCT FROM NEW.selectable THEN
        PERFORM pg_notify('petrel_changes', format('%s %s mailbox 0', NEW.account_id, NEW.id));
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER mailboxes_changed AFTER INSERT OR DELETE OR UPDATE OF name, selectable ON mailboxes
    FOR EACH ROW EXECUTE FUNCTION petrel_mailboxes_changed();
