-- Bearer tokens of the GraphQL API (see crates/api/src/tokens.rs).
--
-- Only a SHA-256 digest of each token is stored: a token is 32 random bytes, so a fast digest
-- is enough, and a leaked table does not leak usable tokens. Tokens are never deleted, only
-- revoked, so that the name recorded in events can always be traced to the token that wrote.
CREATE TABLE api_tokens (
    token_id    uuid         PRIMARY KEY,
    -- Who holds it; written as `recorded_by` into every event recorded with it.
    name        text         NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    role        text         NOT NULL CHECK (role IN ('viewer', 'recorder', 'auditor', 'admin')),
    token_hash  bytea        NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    issued_at   timestamptz  NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

-- One live token per name, so that a name in the log names one holder at a time.
CREATE UNIQUE INDEX api_tokens_live_name ON api_tokens (name) WHERE revoked_at IS NULL;
