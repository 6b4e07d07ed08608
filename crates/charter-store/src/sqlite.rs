//! Embedded SQLite: one file, WAL journal, `synchronous = FULL` (a commit that has
//! returned is on disk), foreign keys enforced.
//!
//! Writers take the lock up front (`BEGIN IMMEDIATE`), so a transaction never fails
//! half-way because another connection wrote first; `busy_timeout` makes them queue.

use crate::codec::{self, pow2_chunks};
use crate::{Result, StoreError, WriteBatch};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};
use std::str::FromStr;
use std::sync::OnceLock;
use std::time::Duration;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Rows per multi-row INSERT at most (SQLite allows 32766 parameters).
const MAX_ROWS_PER_INSERT: usize = 64;

pub struct SqliteStore {
    pub(crate) pool: SqlitePool,
    /// Inline read connections for the hot path (file databases only).
    readers: Option<crate::sqlite_readers::Readers>,
    /// The connection the journal's batches are written on (file databases only).
    writer: Option<crate::sqlite_writer::Writer>,
}

impl SqliteStore {
    pub(crate) const BACKEND: &'static str = "sqlite";

    /// Opens (creating if missing) a database file, given as a plain path or a
    /// `sqlite:` URL. `sqlite::memory:` (or any URL with `mode=memory`) opens a
    /// private in-memory database on one shared connection, for tests.
    pub async fn open(path_or_url: &str) -> Result<SqliteStore> {
        let in_memory = is_memory(path_or_url);
        let options = if path_or_url.starts_with("sqlite:") {
            SqliteConnectOptions::from_str(path_or_url).map_err(|e| StoreError::Unavailable(e.to_string()))?
        } else {
            SqliteConnectOptions::new().filename(path_or_url)
        };
        let options = options
            .create_if_missing(true)
            .journal_mode(if in_memory { SqliteJournalMode::Memory } else { SqliteJournalMode::Wal })
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5))
            .statement_cache_capacity(256);
        let pool_options = if in_memory {
            // The database lives as long as its one connection.
            SqlitePoolOptions::new().max_connections(1).min_connections(1).idle_timeout(None).max_lifetime(None)
        } else {
            let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
            SqlitePoolOptions::new().max_connections((2 * cores).clamp(4, 16) as u32).min_connections(1)
        };
        let readers = (!in_memory).then(|| crate::sqlite_readers::Readers::new(options.get_filename().to_path_buf()));
        let writer = (!in_memory).then(|| crate::sqlite_writer::Writer::new(options.get_filename().to_path_buf()));
        let pool = pool_options
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Unavailable(format!("cannot open SQLite database: {e}")))?;
        Ok(SqliteStore { pool, readers, writer })
    }

    /// The connection pool, for tools and tests that need raw SQL.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Closes every connection (checkpointing the WAL).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn migrate_schema(&self) -> Result<()> {
        MIGRATOR.run(&self.pool).await.map_err(|e| StoreError::Unavailable(format!("migration failed: {e}")))
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// SQLite numbers the next row after the largest id: nothing to do.
    async fn explicit_account_id(_tx: &mut Transaction<'static, Sqlite>, _id: i64) -> Result<()> {
        Ok(())
    }

    async fn write_batch_in(tx: &mut Transaction<'static, Sqlite>, batch: &WriteBatch) -> Result<()> {
        static TOKEN_SQL: MultiInsert = MultiInsert::new("access_tokens", codec::TOKEN_COLUMNS, 12);
        static AUDIT_SQL: MultiInsert = MultiInsert::new("audit_events", codec::AUDIT_COLUMNS, 9);

        for (start, n) in pow2_chunks(batch.tokens.len(), MAX_ROWS_PER_INSERT) {
            let mut q = sqlx::query::<Sqlite>(TOKEN_SQL.sql(n)?);
            for t in &batch.tokens[start..start + n] {
                q = q
                    .bind(t.id.as_str())
                    .bind(t.digest.as_ref().map(|d| &d[..]))
                    .bind(t.format.as_str())
                    .bind(t.application_id.as_str())
                    .bind(t.client_id.as_str())
                    .bind(t.account_id)
                    .bind(t.scopes.to_space_separated())
                    .bind(codec::join_filters(&t.filters))
                    .bind(t.grant_type.as_str())
                    .bind(t.issued_at.0)
                    .bind(t.expires_at.0)
                    .bind(t.revoked_at.map(|r| r.0));
            }
            q.execute(&mut **tx).await?;
        }
        for r in &batch.revocations {
            sqlx::query::<Sqlite>("UPDATE access_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(r.at.0)
                .bind(r.token_id.as_str())
                .execute(&mut **tx)
                .await?;
        }
        for (start, n) in pow2_chunks(batch.audit.len(), MAX_ROWS_PER_INSERT) {
            let mut q = sqlx::query::<Sqlite>(AUDIT_SQL.sql(n)?);
            for e in &batch.audit[start..start + n] {
                q = q
                    .bind(e.at.0)
                    .bind(e.actor.as_str())
                    .bind(e.action.as_str())
                    .bind(e.outcome.as_str())
                    .bind(e.client_id.as_deref())
                    .bind(e.account.as_deref())
                    .bind(e.scopes.as_deref())
                    .bind(e.source.as_deref())
                    .bind(codec::detail_json(e));
            }
            q.execute(&mut **tx).await?;
        }
        for r in &batch.refresh_tokens {
            codec::bind_refresh(sqlx::query::<Sqlite>(codec::INSERT_REFRESH), r).execute(&mut **tx).await?;
        }
        for o in &batch.observations {
            codec::bind_observation(sqlx::query::<Sqlite>(codec::INSERT_OBSERVATION), o).execute(&mut **tx).await?;
        }
        Ok(())
    }
}

fn is_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// `INSERT INTO table (cols) VALUES (?, …), (?, …)…` for 1, 2, 4, … rows, built once.
struct MultiInsert {
    table: &'static str,
    columns: &'static str,
    width: usize,
    by_log2: OnceLock<Vec<String>>,
}

impl MultiInsert {
    const fn new(table: &'static str, columns: &'static str, width: usize) -> Self {
        Self { table, columns, width, by_log2: OnceLock::new() }
    }

    /// The statement for `rows` rows; `rows` must be a power of two at most [`MAX_ROWS_PER_INSERT`].
    fn sql(&self, rows: usize) -> Result<&str> {
        let all = self.by_log2.get_or_init(|| {
            let mut out = Vec::new();
            let mut n = 1;
            while n <= MAX_ROWS_PER_INSERT {
                let one = format!("({})", vec!["?"; self.width].join(", "));
                let values = vec![one; n].join(", ");
                out.push(format!("INSERT INTO {} ({}) VALUES {}", self.table, self.columns, values));
                n *= 2;
            }
            out
        });
        let i = rows.trailing_zeros() as usize;
        match all.get(i) {
            Some(sql) if rows.is_power_of_two() => Ok(sql),
            _ => Err(StoreError::Unavailable(format!("no {rows}-row insert into {}", self.table))),
        }
    }
}

crate::shared::sqlx_hot_reads!(SqliteStore, Sqlite);
crate::shared::shared_store_impl!(SqliteStore, Sqlite);

impl SqliteStore {
    async fn hot_client_record(&self, client_id: &str) -> Result<Option<crate::ClientLookup>> {
        match &self.readers {
            Some(r) => codec::client_lookup(&r.rows(codec::CLIENT_RECORD, &[&client_id])?),
            None => self.sqlx_client_record(client_id).await,
        }
    }
    async fn hot_token_by_id(&self, id: &str) -> Result<Option<charter_core::introspection::TokenState>> {
        match &self.readers {
            Some(r) => r.rows(codec::TOKEN_BY_ID, &[&id])?.first().map(codec::token_state).transpose(),
            None => self.sqlx_token_by_id(id).await,
        }
    }
    async fn hot_write_batch(&self, batch: &WriteBatch) -> Result<()> {
        match &self.writer {
            Some(w) => w.write(batch),
            None => self.sqlx_write_batch(batch).await,
        }
    }
    async fn hot_revisions(&self) -> Result<crate::Revisions> {
        match &self.readers {
            Some(r) => match r.rows(codec::REVISIONS, &[])?.first() {
                Some(row) => codec::revisions(row),
                None => Err(StoreError::Corrupt("the revisions row is missing".into())),
            },
            None => self.sqlx_revisions().await,
        }
    }
}
