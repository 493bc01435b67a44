-- 0004: what SMTP needs: per-delivery header lines, the outbound queue, access rules.

-- Lines added in front of the stored body for one delivered copy (Return-Path:, Delivered-To:),
-- so that a message to many local recipients keeps ONE body row while each copy carries its own
-- trace headers. A copy's bytes are header_prefix || raw; messages.size counts both.
ALTER TABLE messages ADD COLUMN header_prefix bytea NOT NULL DEFAULT ''::bytea;

-- The outbound queue: one row per accepted message with remote recipients, sharing the body
-- row with the local copies, and one row per remote recipient. Written in the same transaction
-- as the local copies (the SMTP durability contract); claimed later by queue workers.
CREATE TABLE outbound_messages (
    id          text PRIMARY KEY,                   -- the queue id in the 250 reply and every log line
    body_id     bigint NOT NULL REFERENCES message_bodies (id),
    sender      text NOT NULL,                      -- envelope sender, '' for the null sender <>
    size        bigint NOT NULL CHECK (size >= 0),
    client      text NOT NULL DEFAULT '',           -- client address and HELO name, for logs and DSNs
    account_id  bigint REFERENCES accounts (id) ON DELETE SET NULL, -- the submitting account, if any
    smtputf8    boolean NOT NULL DEFAULT false,
    body_8bit   boolean NOT NULL DEFAULT false,     -- MAIL BODY=8BITMIME
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE outbound_recipients (
    message_id      text NOT NULL REFERENCES outbound_messages (id) ON DELETE CASCADE,
    recipient       text NOT NULL,
    status          text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'hold')),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    attempts        integer NOT NULL DEFAULT 0,
    lease_owner     text,
    lease_expires   timestamptz,
    last_error      text,
    PRIMARY KEY (message_id, recipient)
);
CREATE INDEX outbound_recipients_due_idx ON outbound_recipients (next_attempt_at) WHERE status = 'queued';

-- Queue rows hold a reference on their body like mailbox rows do.
CREATE FUNCTION petrel_outbound_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE message_bodies b SET refcount = b.refcount + n.c
      FROM (SELECT body_id, count(*) AS c FROM new_rows GROUP BY body_id) n WHERE b.id = n.body_id;
    RETURN NULL;
END $$;
CREATE FUNCTION petrel_outbound_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE message_bodies b SET refcount = b.refcount - o.c
      FROM (SELECT body_id, count(*) AS c FROM old_rows GROUP BY body_id) o WHERE b.id = o.body_id;
    DELETE FROM message_bodies b WHERE b.id IN (SELECT DISTINCT body_id FROM old_rows) AND b.refcount = 0;
    RETURN NULL;
END $$;
CREATE TRIGGER outbound_messages_inserted AFTER INSERT ON outbound_messages
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION petrel_outbound_inserted();
CREATE TRIGGER outbound_messages_deleted AFTER DELETE ON outbound_messages
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION petrel_outbound_deleted();

-- Access rules, like Postfix's access(5) tables: a client network, a sender or a recipient
-- pattern, and OK or REJECT with an optional text.
--   client:    a network in CIDR form (10.0.0.0/8, 2001:db8::/32, 192.0.2.7)
--   sender / recipient: user@domain, @domain (any user there), or user@ (that user anywhere)
CREATE TABLE access_rules (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind       text NOT NULL CHECK (kind IN ('client', 'sender', 'recipient')),
    pattern    text NOT NULL,
    network    cidr,                                 -- set for client rules
    action     text NOT NULL CHECK (action IN ('OK', 'REJECT')),
    reply      text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT access_rules_unique UNIQUE (kind, pattern),
    CONSTRAINT access_rules_client_network CHECK ((kind = 'client') = (network IS NOT NULL))
);
