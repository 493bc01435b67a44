-- 0001: the directory. Domains (local and alias domains), accounts, aliases.
--
-- Names are stored in Petrel's canonical form: lower case, domains IDNA-normalised (A-labels),
-- so uniqueness and lookups are plain equality on indexed text. The CHECK constraints refuse
-- anything else, whoever writes the row (the CLI, an admin with psql, an import).
-- Every account-owned table that follows keys on account_id first (distribution by account).

CREATE TABLE domains (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         text NOT NULL,
    -- NULL for a local domain; for an alias domain (group.com -> baidu.com) the target's name.
    -- The target need not be a domain of ours: an alias domain may forward to a remote domain
    -- (the seeds' `@work.com -> @qq.com` on baidu's server).
    alias_target text,
    active       boolean NOT NULL DEFAULT true,
    description  text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT domains_name_unique UNIQUE (name),
    CONSTRAINT domains_name_canonical CHECK (
        name = lower(name) AND length(name) BETWEEN 1 AND 253
        AND name ~ '^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$'),
    CONSTRAINT domains_alias_target_canonical CHECK (
        alias_target IS NULL OR (alias_target = lower(alias_target) AND length(alias_target) BETWEEN 1 AND 253
        AND alias_target ~ '^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$')),
    CONSTRAINT domains_alias_not_self CHECK (alias_target IS NULL OR alias_target <> name)
);
CREATE INDEX domains_alias_target_idx ON domains (alias_target) WHERE alias_target IS NOT NULL;

-- An alias domain may not point at another alias domain, and a domain that alias domains point
-- at may not itself become an alias domain: chains are refused so one rewrite always suffices.
CREATE FUNCTION petrel_domains_check_alias() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.alias_target IS NOT NULL THEN
        IF EXISTS (SELECT 1 FROM domains WHERE name = NEW.alias_target AND alias_target IS NOT NULL) THEN
            RAISE EXCEPTION 'alias domain % cannot point at % because that is an alias domain too', NEW.name, NEW.alias_target
                USING ERRCODE = 'check_violation', CONSTRAINT = 'domains_alias_target_not_alias';
        END IF;
        IF EXISTS (SELECT 1 FROM domains WHERE alias_target = NEW.name AND id <> NEW.id) THEN
            RAISE EXCEPTION 'domain % cannot become an alias domain because other alias domains point at it', NEW.name
                USING ERRCODE = 'check_violation', CONSTRAINT = 'domains_alias_target_not_alias';
        END IF;
        IF EXISTS (SELECT 1 FROM accounts WHERE domain_id = NEW.id) THEN
            RAISE EXCEPTION 'domain % has accounts and cannot become an alias domain', NEW.name
                USING ERRCODE = 'check_violation', CONSTRAINT = 'domains_alias_has_accounts';
        END IF;
    END IF;
    NEW.updated_at := now();
    RETURN NEW;
END $$;

CREATE TABLE accounts (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    domain_id       bigint NOT NULL REFERENCES domains (id) ON DELETE RESTRICT,
    local_part      text NOT NULL,
    -- local_part || '@' || the domain's name, kept here so that a lookup is one index probe.
    address         text NOT NULL,
    -- Dovecot scheme syntax: {ARGON2ID}$argon2id$..., {SHA512-CRYPT}$6$..., a bare $6$..., etc.
    password_hash   text NOT NULL,
    display_name    text NOT NULL DEFAULT '',
    -- 0 means no limit.
    quota_bytes     bigint NOT NULL DEFAULT 0 CHECK (quota_bytes >= 0),
    quota_messages  bigint NOT NULL DEFAULT 0 CHECK (quota_messages >= 0),
    -- Usage counters, updated in the same transaction as the change that causes them.
    used_bytes      bigint NOT NULL DEFAULT 0 CHECK (used_bytes >= 0),
    used_messages   bigint NOT NULL DEFAULT 0 CHECK (used_messages >= 0),
    active          boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    password_changed_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT accounts_address_unique UNIQUE (address),
    CONSTRAINT accounts_domain_local_part_unique UNIQUE (domain_id, local_part),
    CONSTRAINT accounts_local_part_canonical CHECK (
        local_part = lower(local_part) AND octet_length(local_part) BETWEEN 1 AND 64
        AND position('@' IN local_part) = 0 AND local_part !~ '[[:space:][:cntrl:]]'),
    CONSTRAINT accounts_address_canonical CHECK (address = lower(address)),
    CONSTRAINT accounts_password_hash_present CHECK (length(password_hash) > 0)
);

-- An account lives in a local domain, and its address is its local part in that domain.
CREATE FUNCTION petrel_accounts_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    d record;
BEGIN
    SELECT name, alias_target INTO d FROM domains WHERE id = NEW.domain_id;
    IF d.alias_target IS NOT NULL THEN
        RAISE EXCEPTION '% is an alias domain of %: accounts belong in %', d.name, d.alias_target, d.alias_target
            USING ERRCODE = 'check_violation', CONSTRAINT = 'accounts_domain_is_local';
    END IF;
    IF NEW.address <> NEW.local_part || '@' || d.name THEN
        RAISE EXCEPTION 'account address % does not match local part % in domain %', NEW.address, NEW.local_part, d.name
            USING ERRCODE = 'check_violation', CONSTRAINT = 'accounts_address_matches';
    END IF;
    NEW.updated_at := now();
    RETURN NEW;
END $$;

CREATE TABLE aliases (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    domain_id   bigint NOT NULL REFERENCES domains (id) ON DELETE RESTRICT,
    -- NULL for the catch-all '@domain'.
    local_part  text,
    -- 'user@domain', or '@domain' for the catch-all.
    address     text NOT NULL,
    active      boolean NOT NULL DEFAULT true,
    description text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT aliases_address_unique UNIQUE (address),
    CONSTRAINT aliases_local_part_canonical CHECK (
        local_part IS NULL OR (local_part = lower(local_part) AND octet_length(local_part) BETWEEN 1 AND 64
        AND position('@' IN local_part) = 0 AND local_part !~ '[[:space:][:cntrl:]]')),
    CONSTRAINT aliases_address_canonical CHECK (address = lower(address))
);

CREATE FUNCTION petrel_aliases_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    domain_name text;
BEGIN
    SELECT name INTO domain_name FROM domains WHERE id = NEW.domain_id;
    IF NEW.address <> coalesce(NEW.local_part, '') || '@' || domain_name THEN
        RAISE EXCEPTION 'alias address % does not match local part % in domain %', NEW.address, NEW.local_part, domain_name
            USING ERRCODE = 'check_violation', CONSTRAINT = 'aliases_address_matches';
    END IF;
    NEW.updated_at := now();
    RETURN NEW;
END $$;

-- One row per target of an alias, in the order given. A target is an address (local or
-- external) or a bare local part, meaning that local part in the alias's own domain.
CREATE TABLE alias_targets (
    alias_id  bigint NOT NULL REFERENCES aliases (id) ON DELETE CASCADE,
    position  integer NOT NULL CHECK (position >= 0),
    target    text NOT NULL,
    PRIMARY KEY (alias_id, position),
    CONSTRAINT alias_targets_unique UNIQUE (alias_id, target),
    CONSTRAINT alias_targets_canonical CHECK (
        target = lower(target) AND octet_length(target) BETWEEN 1 AND 320
        AND target !~ '[[:space:][:cntrl:],]' AND target NOT LIKE '@%')
);
-- "Which aliases deliver to this address?" (submission sender ownership, `alias list --target`).
CREATE INDEX alias_targets_target_idx ON alias_targets (target);

CREATE TRIGGER domains_check_alias BEFORE INSERT OR UPDATE ON domains
    FOR EACH ROW EXECUTE FUNCTION petrel_domains_check_alias();
CREATE TRIGGER accounts_check BEFORE INSERT OR UPDATE ON accounts
    FOR EACH ROW EXECUTE FUNCTION petrel_accounts_check();
CREATE TRIGGER aliases_check BEFORE INSERT OR UPDATE ON aliases
    FOR EACH ROW EXECUTE FUNCTION petrel_aliases_check();

-- Renaming a domain would silently orphan the denormalised addresses: refuse it.
CREATE FUNCTION petrel_domains_forbid_rename() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'domains cannot be renamed (% -> %): add the new domain and move accounts', OLD.name, NEW.name
        USING ERRCODE = 'check_violation', CONSTRAINT = 'domains_name_immutable';
END $$;
CREATE TRIGGER domains_forbid_rename BEFORE UPDATE OF name ON domains
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name) EXECUTE FUNCTION petrel_domains_forbid_rename();
