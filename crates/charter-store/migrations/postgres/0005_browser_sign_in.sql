-- Browser sign-in: sessions, authorization codes and remembered consent.
-- Sessions and codes are "<id><secret>" values like tokens: found by id, the secret checked
-- against the keyed digest.
CREATE TABLE sessions (
    id          TEXT    PRIMARY KEY,
    digest      BYTEA   NOT NULL,
    account_id  BIGINT  NOT NULL REFERENCES accounts (id),
    -- The anti-forgery token of every form shown in this session.
    csrf        TEXT    NOT NULL,
    auth_time   BIGINT  NOT NULL,
    expires_at  BIGINT  NOT NULL,
    revoked_at  BIGINT
);

CREATE TABLE authorization_codes (
    id                     TEXT    PRIMARY KEY,
    digest                 BYTEA   NOT NULL,
    application_id         TEXT    NOT NULL REFERENCES applications (id),
    client_id              TEXT    NOT NULL,
    account_id             BIGINT  NOT NULL REFERENCES accounts (id),
    redirect_uri           TEXT    NOT NULL,
    scopes                 TEXT    NOT NULL,
    code_challenge         TEXT,
    code_challenge_method  TEXT,
    nonce                  TEXT,
    auth_time              BIGINT  NOT NULL,
    issued_at              BIGINT  NOT NULL,
    expires_at             BIGINT  NOT NULL,
    used_at                BIGINT,
    -- What the code was exchanged for, revoked if the code is presented again.
    access_token_id        TEXT,
    refresh_family         TEXT
);

-- What a user has granted an application: no consent page again for these scopes.
CREATE TABLE consents (
    account_id      BIGINT  NOT NULL REFERENCES accounts (id),
    application_id  TEXT    NOT NULL REFERENCES applications (id),
    scopes          TEXT    NOT NULL,
    granted_at      BIGINT  NOT NULL,
    PRIMARY KEY (account_id, application_id)
);
