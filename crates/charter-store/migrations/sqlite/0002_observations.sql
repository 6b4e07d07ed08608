-- What resource servers decided (reported) and introspected (seen by Charter), for the
-- access report and the retrofit proposal. `count` stands for identical observations.
CREATE TABLE observations (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    at            INTEGER NOT NULL,
    source        TEXT    NOT NULL,
    reporter      TEXT    NOT NULL,
    client_id     TEXT    NOT NULL,
    method        TEXT    NOT NULL,
    route         TEXT    NOT NULL,
    scopes_held   TEXT    NOT NULL,
    required_all  TEXT    NOT NULL,
    required_any  TEXT    NOT NULL,
    mode          TEXT    NOT NULL,
    decision      TEXT    NOT NULL,
    reason        TEXT    NOT NULL,
    count         INTEGER NOT NULL
);
CREATE INDEX observations_client_at ON observations (client_id, at);
