//! PostgreSQL, for several Charter nodes sharing one database.
//!
//! No state lives in the process: every read goes to the database, and the
//! revisions row tells each node when the catalogue or the keys changed.
//! Migrations take sqlx's advisory lock, so nodes starting together do not race.

use crate::codec;
use crate::{Result, StoreError, WriteBatch};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, Transaction};
use std::str::FromStr;
use std::time::Duration;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Serialises inserts of accounts with explicit ids (which move the identity sequence).
const ACCOUNT_ID_LOCK: i64 = 0x6368_6172_7465_7201;

pub struct PgStore {
    pub(crate) pool: PgPool,
}

impl PgStore {
    pub(crate) const BACKEND: &'static str = "postgres";

    /// Connects to `postgres://…` (no TLS) with a pool of up to 10 connections.
    pub async fn connect(url: &str) -> Result<PgStore> {
        Self::connect_with(url, 10).await
    }

    /// Like [`PgStore::connect`], with a chosen pool size.
    pub async fn connect_with(url: &str, max_connections: u32) -> Result<PgStore> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Unavailable(format!("bad PostgreSQL URL: {e}")))?
            .application_name("charter")
            .statement_cache_capacity(256);
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .min_connections(0)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Unavailable(format!("cannot connect to PostgreSQL: {e}")))?;
        Ok(PgStore { pool })
    }

    /// The connection pool, for tools and tests that need raw SQL.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn migrate_schema(&self) -> Result<()> {
        MIGRATOR.run(&self.pool).await.map_err(|e| StoreError::Unavailable(format!("migration failed: {e}")))
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Postgres>> {
        Ok(self.pool.begin().await?)
    }

    /// Moves the identity sequence past an explicit id, so later automatic ids never collide.
    async fn explicit_account_id(tx: &mut Transaction<'static, Postgres>, id: i64) -> Result<()> {
        sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(ACCOUNT_ID_LOCK).execute(&mut **tx).await?;
        sqlx::query(
            "SELECT setval('accounts_id_seq', $1) FROM accounts_id_seq \
             WHERE $1 > last_value OR ($1 = last_value AND NOT is_called)",
        )
        .bind(id)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Each kind of row in one statement, whatever the batch size: arrays, unnested.
    async fn write_batch_in(tx: &mut Transaction<'static, Postgres>, batch: &WriteBatch) -> Result<()> {
        if !batch.tokens.is_empty() {
            let t = &batch.tokens;
            sqlx::query(
                "INSERT INTO access_tokens (id, digest, format, application_id, client_id, account_id, scopes, \
                 filters, grant_type, issued_at, expires_at, revoked_at) \
                 SELECT * FROM UNNEST($1::text[], $2::bytea[], $3::text[], $4::text[], $5::text[], $6::int8[], \
                 $7::text[], $8::text[], $9::text[], $10::int8[], $11::int8[], $12::int8[])",
            )
            .bind(t.iter().map(|t| t.id.as_str()).collect::<Vec<_>>())
            .bind(t.iter().map(|t| t.digest.as_ref().map(|d| &d[..])).collect::<Vec<_>>())
            .bind(t.iter().map(|t| t.format.as_str()).collect::<Vec<_>>())
            .bind(t.iter().map(|t| t.application_id.as_str()).collect::<Vec<_>>())
            .bind(t.iter().map(|t| t.client_id.as_str()).collect::<Vec<_>>())
            .bind(t.iter().map(|t| t.account_id).collect::<Vec<_>>())
            .bind(t.iter().map(|t| t.scopes.to_space_separated()).collect::<Vec<_>>())
            .bind(t.iter().map(|t| codec::join_filters(&t.filters)).collect::<Vec<_>>())
            .bind(t.iter().map(|t| t.grant_type.as_str()).collect::<Vec<_>>())
            .bind(t.iter().map(|t| t.issued_at.0).collect::<Vec<_>>())
            .bind(t.iter().map(|t| t.expires_at.0).collect::<Vec<_>>())
            .bind(t.iter().map(|t| t.revoked_at.map(|r| r.0)).collect::<Vec<_>>())
            .execute(&mut **tx)
            .await?;
        }
        if !batch.revocations.is_empty() {
            let r = &batch.revocations;
            sqlx::query(
                "UPDATE access_tokens AS t SET revoked_at = r.at \
                 FROM (SELECT DISTINCT ON (id) id, at \
                       FROM UNNEST($1::text[], $2::int8[]) WITH ORDINALITY AS u(id, at, n) ORDER BY id, n) AS r \
                 WHERE t.id = r.id AND t.revoked_at IS NULL",
            )
            .bind(r.iter().map(|r| r.token_id.as_str()).collect::<Vec<_>>())
            .bind(r.iter().map(|r| r.at.0).collect::<Vec<_>>())
            .execute(&mut **tx)
            .await?;
        }
        if !batch.audit.is_empty() {
            let a = &batch.audit;
            sqlx::query(
                "INSERT INTO audit_events (at, actor, action, outcome, client_id, account, scopes, source, detail) \
                 SELECT at, actor, action, outcome, client_id, account, scopes, source, detail \
                 FROM UNNEST($1::int8[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], \
                 $8::text[], $9::text[]) WITH ORDINALITY \
                 AS u(at, actor, action, outcome, client_id, account, scopes, source, detail, n) ORDER BY n",
            )
            .bind(a.iter().map(|e| e.at.0).collect::<Vec<_>>())
            .bind(a.iter().map(|e| e.actor.as_str()).collect::<Vec<_>>())
            .bind(a.iter().map(|e| e.action.as_str()).collect::<Vec<_>>())
            .bind(a.iter().map(|e| e.outcome.as_str()).collect::<Vec<_>>())
            .bind(a.iter().map(|e| e.client_id.as_deref()).collect::<Vec<_>>())
            .bind(a.iter().map(|e| e.account.as_deref()).collect::<Vec<_>>())
            .bind(a.iter().map(|e| e.scopes.as_deref()).collect::<Vec<_>>())
            .bind(a.iter().map(|e| e.source.as_deref()).collect::<Vec<_>>())
            .bind(a.iter().map(codec::detail_json).collect::<Vec<_>>())
            .execute(&mut **tx)
            .await?;
        }
        for r in &batch.refresh_tokens {
            codec::bind_refresh(sqlx::query::<Postgres>(codec::INSERT_REFRESH), r).execute(&mut **tx).await?;
        }
        for o in &batch.observations {
            codec::bind_observation(sqlx::query::<Postgres>(codec::INSERT_OBSERVATION), o).execute(&mut **tx).await?;
        }
        Ok(())
    }
}

crate::shared::sqlx_hot_reads!(PgStore, Postgres);
crate::shared::shared_store_impl!(PgStore, Postgres);

impl PgStore {
    async fn hot_client_record(&self, client_id: &str) -> Result<Option<crate::ClientLookup>> {
        self.sqlx_client_record(client_id).await
    }
    async fn hot_token_by_id(&self, id: &str) -> Result<Option<charter_core::introspection::TokenState>> {
        self.sqlx_token_by_id(id).await
    }
    async fn hot_revisions(&self) -> Result<crate::Revisions> {
        self.sqlx_revisions().await
    }
    async fn hot_write_batch(&self, batch: &WriteBatch) -> Result<()> {
        self.sqlx_write_batch(batch).await
    }
}
