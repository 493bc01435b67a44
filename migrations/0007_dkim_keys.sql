-- 0007: DKIM signing keys (RFC 6376; ed25519-sha256 per RFC 8463), per domain.
--
-- The queue workers sign mail submitted by local users with the active keys of the envelope
-- sender's domain, the newest one of each algorithm (so a domain may sign with both RSA and
-- Ed25519, as RFC 8463 §4.1 suggests). A key is made inactive to prepare a rotation: the new
-- key is published in DNS first, then activated, then the old one deactivated and removed.
-- The private key is PEM text (PKCS#1 or PKCS#8); `petrel dkim` makes and imports them.
CREATE TABLE dkim_keys (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    domain_id   bigint NOT NULL REFERENCES domains (id) ON DELETE CASCADE,
    selector    text NOT NULL,
    algorithm   text NOT NULL,
    private_key text NOT NULL,
    active      boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT dkim_keys_selector_unique UNIQUE (domain_id, selector),
    -- A selector is one or more DNS labels (RFC 6376 §3.1), kept in lower case.
    CONSTRAINT dkim_keys_selector_syntax CHECK (
        length(selector) BETWEEN 1 AND 63
        AND selector ~ '^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$'),
    CONSTRAINT dkim_keys_algorithm_known CHECK (algorithm IN ('rsa-sha256', 'ed25519-sha256'))
);

CREATE INDEX dkim_keys_domain_idx ON dkim_keys (domain_id, algorithm, created_at DESC) WHERE active;
