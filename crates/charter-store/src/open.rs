//! Opens the store a URL names.

use crate::postgres::PgStore;
use crate::sqlite::SqliteStore;
use crate::{Result, Store};
use std::sync::Arc;

/// `postgres://` or `postgresql://` → PostgreSQL; a `sqlite:` URL or a plain file
/// path → SQLite. Does not migrate: the caller calls [`Store::migrate`].
pub async fn open(url: &str) -> Result<Arc<dyn Store>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PgStore::connect(url).await?))
    } else {
        Ok(Arc::new(SqliteStore::open(url).await?))
    }
}
