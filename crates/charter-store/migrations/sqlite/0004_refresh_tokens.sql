-- Refresh tokens: "<id><secret>" like opaque access tokens, found by id, the secret checked
-- against the keyed digest. All tokens descending from one grant share a family: presenting a
-- token that was already rotated revokes the whole family and the access tokens issued with it.
CREATE TABLE refresh_tokens (
    id              TEXT    PRIMARY KEY,
    digest          BLOB    NOT NULL,
    family_id       TEXT    NOT NULL,
    -- The access token issued together with this refresh token.
    access_token_id TEXT    NOT NULL,
    application_id  TEXT    NOT NULL REFERENCES applications (id),
    client_id       TEXT    NOT NULL,
    account_id      INTEGER NOT NULL REFERENCES accounts (id),
    scopes          TEXT    NOT NULL,
    filters         TEXT    NOT NULL,
    grant_type      TEXT    NOT NULL,
    issued_at       INTEGER NOT NULL,
    expires_at      INTEGER,
    rotated_at      INTEGER,
    revoked_at      INTEGER
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_application ON refresh_tokens (application_id);
