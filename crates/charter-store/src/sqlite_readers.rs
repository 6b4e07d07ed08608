//! The hot reads of the SQLite backend (client lookup, token lookup, revisions),
//! done on the calling thread with `rusqlite`.
//!
//! sqlx runs each SQLite connection on a thread of its own and hands every
//! query over a channel: two thread wake-ups per query, which under load cost
//! more than the query. These lookups read a few pages that are in the page
//! cache and take microseconds, so they run inline on the async worker, on a
//! small pool of read connections (`query_only`; WAL lets them read while the
//! journal writes). Writes still go through sqlx, in batches.

use crate::codec::Cols;
use crate::{Result, StoreError};
use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

/// Read connections kept for reuse; more are opened under bursts and then closed.
const MAX_IDLE: usize = 16;

pub(crate) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

fn unavailable(e: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(format!("SQLite read: {e}"))
}

impl Readers {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self { path, idle: Mutex::new(Vec::new()) }
    }

    fn open(&self) -> Result<Connection> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.path, flags).map_err(unavailable)?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(unavailable)?;
        conn.pragma_update(None, "query_only", true).map_err(unavailable)?;
        conn.set_prepared_statement_cache_capacity(32);
        Ok(conn)
    }

    /// Runs `f` on a pooled read connection.
    pub(crate) fn with<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let pooled = match self.idle.lock() {
            Ok(mut idle) => idle.pop(),
            Err(p) => p.into_inner().pop(),
        };
        let conn = match pooled {
            Some(c) => c,
            None => self.open()?,
        };
        let out = f(&conn);
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < MAX_IDLE {
                idle.push(conn);
            }
        }
        out
    }

    /// Every row of `sql` with `params`, as owned rows.
    pub(crate) fn rows(&self, sql: &str, params: &[&dyn rusqlite::ToSql]) -> Result<Vec<OwnedRow>> {
        self.with(|conn| {
            let mut stmt = conn.prepare_cached(sql).map_err(unavailable)?;
            let names: std::sync::Arc<[String]> = stmt.column_names().into_iter().map(str::to_owned).collect();
            let mut rows = stmt.query(params).map_err(unavailable)?;
            let mut out = Vec::new();
            while let Some(row) = rows.next().map_err(unavailable)? {
                let mut values = Vec::with_capacity(names.len());
                for i in 0..names.len() {
                    values.push(row.get::<_, Value>(i).map_err(unavailable)?);
                }
                out.push(OwnedRow { names: std::sync::Arc::clone(&names), values });
            }
            Ok(out)
        })
    }
}

/// A row read by [`Readers::rows`], read back through the same [`Cols`] as sqlx rows.
pub(crate) struct OwnedRow {
    names: std::sync::Arc<[String]>,
    values: Vec<Value>,
}

impl OwnedRow {
    fn get(&self, col: &str) -> Result<&Value> {
        self.names
            .iter()
            .position(|n| n == col)
            .map(|i| &self.values[i])
            .ok_or_else(|| StoreError::Corrupt(format!("column {col} is missing")))
    }
}

fn wrong(col: &str, want: &str) -> StoreError {
    StoreError::Corrupt(format!("column {col}: not {want}"))
}

impl Cols for OwnedRow {
    fn int(&self, col: &str) -> Result<i64> {
        self.opt_int(col)?.ok_or_else(|| wrong(col, "an integer"))
    }
    fn opt_int(&self, col: &str) -> Result<Option<i64>> {
        match self.get(col)? {
            Value::Integer(i) => Ok(Some(*i)),
            Value::Null => Ok(None),
            _ => Err(wrong(col, "an integer")),
        }
    }
    fn text(&self, col: &str) -> Result<String> {
        self.opt_text(col)?.ok_or_else(|| wrong(col, "text"))
    }
    fn opt_text(&self, col: &str) -> Result<Option<String>> {
        match self.get(col)? {
            Value::Text(t) => Ok(Some(t.clone())),
            Value::Null => Ok(None),
            _ => Err(wrong(col, "text")),
        }
    }
    fn flag(&self, col: &str) -> Result<bool> {
        Ok(self.int(col)? != 0)
    }
    fn blob(&self, col: &str) -> Result<Vec<u8>> {
        self.opt_blob(col)?.ok_or_else(|| wrong(col, "a blob"))
    }
    fn opt_blob(&self, col: &str) -> Result<Option<Vec<u8>>> {
        match self.get(col)? {
            Value::Blob(b) => Ok(Some(b.clone())),
            Value::Null => Ok(None),
            _ => Err(wrong(col, "a blob")),
        }
    }
}
