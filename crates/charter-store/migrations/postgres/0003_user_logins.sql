-- End users log in with a password (Argon2id PHC string; NULL: cannot log in with a password).
ALTER TABLE accounts ADD COLUMN password_hash TEXT;
CREATE INDEX accounts_email ON accounts (email);

-- Failed logins, to slow down guessing per account and per client address.
CREATE TABLE login_failures (
    at       BIGINT  NOT NULL,
    account  TEXT    NOT NULL,
    source   TEXT    NOT NULL
);
CREATE INDEX login_failures_account_at ON login_failures (account, at);
CREATE INDEX login_failures_source_at ON login_failures (source, at);
