-- Authentication backends (issue 9): per-domain backend settings, SCRAM-SHA-256 secrets,
-- failed-login counters shared by every node.

-- A domain's authentication backend. No row: the accounts table (sql).
-- settings: the backend's options as JSON (LDAP URI, base DN, filters, …; see docs/authentication.md).
CREATE TABLE domain_auth (
    domain_id   bigint PRIMARY KEY REFERENCES domains(id) ON DELETE CASCADE,
    backend     text NOT NULL CHECK (backend IN ('sql', 'ldap', 'cyrus')),
    settings    jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(settings) = 'object'),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- SCRAM-SHA-256 secrets (RFC 5802 §3) in Dovecot's layout "iterations,salt,StoredKey,ServerKey"
-- (base64), written whenever a password is set or rehashed at login. NULL: none yet.
ALTER TABLE accounts ADD COLUMN scram_sha256 text;

-- Accounts created from a directory (LDAP) on first delivery or login, rather than by an admin.
-- Their password_hash is '{LDAP}', which never verifies: the directory checks the password.
ALTER TABLE accounts ADD COLUMN provisioned_from text CHECK (provisioned_from IN ('ldap', 'cyrus'));

-- Failed logins per client address ('client:192.0.2.7', 'client:2001:db8:1:2::/64') and per
-- account ('account:user@example.com'), seen by every node. A row is removed by a successful
-- login (the account's), by `petrel auth unblock`, or once it is a day old.
CREATE TABLE login_failures (
    key            text PRIMARY KEY CHECK (length(key) <= 400),
    failures       integer NOT NULL CHECK (failures > 0),
    first_failure  timestamptz NOT NULL DEFAULT now(),
    last_failure   timestamptz NOT NULL DEFAULT now(),
    blocked_until  timestamptz
);
CREATE INDEX login_failures_last ON login_failures (last_failure);

-- Secrets shared by every node. 'scram_decoy' keys the made-up SCRAM-SHA-256 salts given to
-- logins without secrets: every node, before and after a restart, shows the same salt for the
-- same unknown name, as it does for a real account (no enumeration by comparing nodes).
CREATE TABLE auth_secrets (
    name   text PRIMARY KEY,
    value  text NOT NULL CHECK (length(value) >= 32)
);
-- gen_random_uuid() draws from the server's strong random source (PostgreSQL 13+).
INSERT INTO auth_secrets (name, value)
VALUES ('scram_decoy', replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''));
