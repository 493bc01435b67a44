-- 0002: mailboxes and subscriptions. Keyed by account_id first (distribution by account).

-- UIDVALIDITY values come from one sequence, so a mailbox deleted and created again under the
-- same name never reuses one (RFC 3501 §2.3.1.1). It starts at the current Unix time so that a
-- database rebuilt from scratch does not hand out values clients have already cached.
CREATE SEQUENCE mailbox_uidvalidity_seq MINVALUE 1 MAXVALUE 4294967295;
DO $$
BEGIN
    EXECUTE format('ALTER SEQUENCE mailbox_uidvalidity_seq RESTART WITH %s', extract(epoch FROM now())::bigint);
END $$;

CREATE TABLE mailboxes (
    account_id    bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    id            bigint GENERATED ALWAYS AS IDENTITY,
    -- UTF-8, '/' separates levels, INBOX upper case (MailCore.MailboxName).
    name          text NOT NULL,
    special_use   text,
    -- false for a level that only holds children: RFC 3501 §6.3.4 DELETE of a mailbox with
    -- inferiors leaves it \Noselect.
    selectable    boolean NOT NULL DEFAULT true,
    uidvalidity   bigint NOT NULL DEFAULT nextval('mailbox_uidvalidity_seq'),
    uidnext       bigint NOT NULL DEFAULT 1 CHECK (uidnext BETWEEN 1 AND 4294967296),
    highestmodseq bigint NOT NULL DEFAULT 1 CHECK (highestmodseq >= 1),
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, id),
    CONSTRAINT mailboxes_name_unique UNIQUE (account_id, name),
    CONSTRAINT mailboxes_special_use_unique UNIQUE (account_id, special_use),
    CONSTRAINT mailboxes_special_use_known CHECK (
        special_use IS NULL OR special_use IN ('\All', '\Archive', '\Drafts', '\Flagged', '\Junk', '\Sent', '\Trash')),
    CONSTRAINT mailboxes_name_valid CHECK (
        octet_length(name) BETWEEN 1 AND 1000 AND name !~ '(^/|/$|//)' AND name !~ '[[:cntrl:]*%]'
        AND (name !~* '^inbox(/|$)' OR name ~ '^INBOX(/|$)')),
    CONSTRAINT mailboxes_uidvalidity_range CHECK (uidvalidity BETWEEN 1 AND 4294967295)
);

-- RFC 3501 §6.3.6: a subscription names a mailbox that may not exist (any more), so it is a
-- name of its own, not a reference.
CREATE TABLE subscriptions (
    account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name       text NOT NULL,
    PRIMARY KEY (account_id, name),
    CONSTRAINT subscriptions_name_valid CHECK (octet_length(name) BETWEEN 1 AND 1000)
);
