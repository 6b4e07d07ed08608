-- Charter's schema, SQLite. Times are unix seconds; lists are space-separated text.

CREATE TABLE accounts (
    id            INTEGER PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE,
    kind          TEXT    NOT NULL,
    email         TEXT,
    full_name     TEXT,
    is_staff      INTEGER NOT NULL DEFAULT 0,
    is_superuser  INTEGER NOT NULL DEFAULT 0,
    status        TEXT    NOT NULL,
    anonymous_id  TEXT    NOT NULL UNIQUE,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE applications (
    id                  TEXT    PRIMARY KEY,
    client_id           TEXT    NOT NULL UNIQUE,
    name                TEXT    NOT NULL,
    owner_id            INTEGER NOT NULL REFERENCES accounts (id),
    client_type         TEXT    NOT NULL,
    grant_types         TEXT    NOT NULL,
    redirect_uris       TEXT    NOT NULL DEFAULT '',
    allowed_scopes      TEXT    NOT NULL DEFAULT '',
    filters             TEXT    NOT NULL DEFAULT '',
    restricted          INTEGER NOT NULL DEFAULT 0,
    token_format        TEXT    NOT NULL,
    skip_authorization  INTEGER NOT NULL DEFAULT 0,
    status              TEXT    NOT NULL,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);
CREATE INDEX applications_owner ON applications (owner_id);

CREATE TABLE client_secrets (
    id              TEXT    PRIMARY KEY,
    application_id  TEXT    NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    digest          BLOB    NOT NULL CHECK (length(digest) = 32),
    label           TEXT,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER,
    revoked_at      INTEGER
);
CREATE INDEX client_secrets_application ON client_secrets (application_id, created_at, id);

CREATE TABLE resources (
    name           TEXT PRIMARY KEY,
    service        TEXT NOT NULL,
    description    TEXT NOT NULL,
    extra_actions  TEXT NOT NULL DEFAULT ''
);

CREATE TABLE scopes (
    name         TEXT    PRIMARY KEY,
    description  TEXT    NOT NULL,
    is_default   INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE scope_translations (
    scope   TEXT NOT NULL REFERENCES scopes (name) ON DELETE CASCADE,
    locale  TEXT NOT NULL,
    text    TEXT NOT NULL,
    PRIMARY KEY (scope, locale)
);

CREATE TABLE access_tokens (
    id              TEXT    PRIMARY KEY,
    -- Opaque tokens are "<id><secret>": found by id, then the secret checked against this keyed digest.
    digest          BLOB,
    format          TEXT    NOT NULL,
    application_id  TEXT    NOT NULL REFERENCES applications (id),
    client_id       TEXT    NOT NULL,
    account_id      INTEGER NOT NULL REFERENCES accounts (id),
    scopes          TEXT    NOT NULL,
    filters         TEXT    NOT NULL,
    grant_type      TEXT    NOT NULL,
    issued_at       INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    revoked_at      INTEGER
);
CREATE INDEX access_tokens_application ON access_tokens (application_id);
CREATE INDEX access_tokens_expires ON access_tokens (expires_at);

CREATE TABLE signing_keys (
    kid             TEXT    PRIMARY KEY,
    alg             TEXT    NOT NULL,
    sealed_private  BLOB    NOT NULL,
    public_jwk      TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    activates_at    INTEGER NOT NULL,
    retired_at      INTEGER
);

CREATE TABLE audit_events (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    at         INTEGER NOT NULL,
    actor      TEXT    NOT NULL,
    action     TEXT    NOT NULL,
    outcome    TEXT    NOT NULL,
    client_id  TEXT,
    account    TEXT,
    scopes     TEXT,
    source     TEXT,
    detail     TEXT    NOT NULL DEFAULT 'null'
);
CREATE INDEX audit_events_client_at ON audit_events (client_id, at);
CREATE INDEX audit_events_at ON audit_events (at);

-- One row: counters bumped with every change of the scope catalogue and of the signing keys.
CREATE TABLE revisions (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    catalogue  INTEGER NOT NULL DEFAULT 0,
    keys       INTEGER NOT NULL DEFAULT 0
);
INSERT INTO revisions (id, catalogue, keys) VALUES (1, 0, 0);
