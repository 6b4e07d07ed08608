//! The SQLite backend's batch writes, on one `rusqlite` connection.
//!
//! The journal commits many requests' tokens and audit events in one
//! transaction. Through sqlx each statement is a hand-off to the connection's
//! own thread; here the whole transaction runs on the journal's thread, with
//! cached single-row statements, and only the commit waits for the disk
//! (`synchronous = FULL`). On a multi-threaded runtime the wait is announced
//! with `block_in_place`, so the worker's other tasks move elsewhere.

use crate::codec;
use crate::{Result, StoreError, WriteBatch};
use rusqlite::{params, Connection, TransactionBehavior};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

const INSERT_TOKEN: &str = "INSERT INTO access_tokens (id, digest, format, application_id, client_id, account_id, \
    scopes, filters, grant_type, issued_at, expires_at, revoked_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";
const REVOKE_TOKEN: &str = "UPDATE access_tokens SET revoked_at = ?1 WHERE id = ?2 AND revoked_at IS NULL";
const INSERT_AUDIT: &str = "INSERT INTO audit_events (at, actor, action, outcome, client_id, account, scopes, source, detail) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";

pub(crate) struct Writer {
    path: PathBuf,
    conn: Mutex<Option<Connection>>,
}

fn store_error(e: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(f, msg) = &e {
        let msg = msg.clone().unwrap_or_else(|| f.to_string());
        match f.extended_code {
            rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY => return StoreError::NotFound(msg),
            rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                return StoreError::Conflict(msg)
            }
            _ => {}
        }
    }
    StoreError::Unavailable(format!("SQLite write: {e}"))
}

impl Writer {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self { path, conn: Mutex::new(None) }
    }

    fn open(&self) -> Result<Connection> {
        let conn = Connection::open(&self.path).map_err(store_error)?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(store_error)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(store_error)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(store_error)?;
        conn.pragma_update(None, "foreign_keys", true).map_err(store_error)?;
        // Checkpoint less often: the token path rewrites the same few tail pages in every
        // commit, and a page is copied into the database once per checkpoint however often
        // it changed in the WAL meanwhile (16 MB of WAL at most with 4 KiB pages).
        conn.pragma_update(None, "wal_autocheckpoint", 4000).map_err(store_error)?;
        conn.set_prepared_statement_cache_capacity(16);
        Ok(conn)
    }

    /// Writes `batch` in one transaction: all of it, or (on error) none of it.
    pub(crate) fn write(&self, batch: &WriteBatch) -> Result<()> {
        let run = || {
            let mut guard = match self.conn.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            if guard.is_none() {
                *guard = Some(self.open()?);
            }
            let Some(conn) = guard.as_mut() else {
                return Err(StoreError::Unavailable("SQLite writer connection missing".into()));
            };
            let result = write_in(conn, batch);
            if matches!(result, Err(StoreError::Unavailable(_))) {
                // Start over with a fresh connection next time.
                *guard = None;
            }
            result
        };
        let multi_thread = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        if multi_thread {
            tokio::task::block_in_place(run)
        } else {
            run()
        }
    }
}

fn write_in(conn: &mut Connection, batch: &WriteBatch) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(store_error)?;
    {
        let mut insert = tx.prepare_cached(INSERT_TOKEN).map_err(store_error)?;
        for t in &batch.tokens {
            insert
                .execute(params![
                    t.id,
                    t.digest.as_ref().map(|d| &d[..]),
                    t.format.as_str(),
                    t.application_id,
                    t.client_id,
                    t.account_id,
                    t.scopes.to_space_separated(),
                    codec::join_filters(&t.filters),
                    t.grant_type.as_str(),
                    t.issued_at.0,
                    t.expires_at.0,
                    t.revoked_at.map(|r| r.0),
                ])
                .map_err(store_error)?;
        }
        let mut revoke = tx.prepare_cached(REVOKE_TOKEN).map_err(store_error)?;
        for r in &batch.revocations {
            revoke.execute(params![r.at.0, r.token_id]).map_err(store_error)?;
        }
        let mut refresh = tx.prepare_cached(codec::INSERT_REFRESH).map_err(store_error)?;
        for r in &batch.refresh_tokens {
            refresh
                .execute(params![
                    r.id,
                    &r.digest[..],
                    r.family_id,
                    r.access_token_id,
                    r.application_id,
                    r.client_id,
                    r.account_id,
                    r.scopes.to_space_separated(),
                    codec::join_filters(&r.filters),
                    r.grant_type.as_str(),
                    r.issued_at.0,
                    r.expires_at.map(|x| x.0),
                    r.rotated_at.map(|x| x.0),
                    r.revoked_at.map(|x| x.0),
                ])
                .map_err(store_error)?;
        }
        let mut observe = tx.prepare_cached(codec::INSERT_OBSERVATION).map_err(store_error)?;
        for o in &batch.observations {
            observe
                .execute(params![
                    o.at.0,
                    o.source.as_str(),
                    o.reporter,
                    o.client_id,
                    o.method,
                    o.route,
                    o.scopes_held,
                    o.required_all,
                    o.required_any,
                    codec::mode_str(o.mode),
                    codec::decision_str(o.decision),
                    o.reason,
                    i64::try_from(o.count).unwrap_or(i64::MAX),
                ])
                .map_err(store_error)?;
        }
        let mut audit = tx.prepare_cached(INSERT_AUDIT).map_err(store_error)?;
        for e in &batch.audit {
            audit
                .execute(params![
                    e.at.0,
                    e.actor,
                    e.action,
                    e.outcome.as_str(),
                    e.client_id,
                    e.account,
                    e.scopes,
                    e.source,
                    codec::detail_json(e),
                ])
                .map_err(store_error)?;
        }
    }
    tx.commit().map_err(store_error)
}
