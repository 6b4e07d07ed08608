//! Test support: a fresh PostgreSQL database for each test.
//!
//! The server on `postgres://postgres@127.0.0.1:5432/test` (or `CHARTER_TEST_PG_URL`)
//! is only the door: each test creates `charter_test_<random hex>` there, runs
//! against it alone, and drops it afterwards with [`drop_postgres_database`].

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sqlx::{Connection, PgConnection};

/// The default administrative URL; `CHARTER_TEST_PG_URL` overrides it.
pub const DEFAULT_TEST_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The administrative URL tests connect to in order to create databases.
pub fn postgres_base_url() -> String {
    std::env::var("CHARTER_TEST_PG_URL").ok().filter(|u| !u.is_empty()).unwrap_or_else(|| DEFAULT_TEST_PG_URL.into())
}

/// `url` with its database name replaced by `db` (query parameters kept).
pub fn with_database(url: &str, db: &str) -> String {
    let (main, query) = match url.split_once('?') {
        Some((m, q)) => (m, Some(q)),
        None => (url, None),
    };
    let authority_start = main.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match main[authority_start..].find('/') {
        Some(i) => &main[..authority_start + i],
        None => main,
    };
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

/// The database name in `url`.
pub fn database_name(url: &str) -> Option<String> {
    let main = url.split('?').next().unwrap_or(url);
    let authority_start = main.find("://").map(|i| i + 3).unwrap_or(0);
    let rest = &main[authority_start..];
    rest.find('/').map(|i| rest[i + 1..].to_owned()).filter(|n| !n.is_empty())
}

/// Creates a fresh, empty database and returns its URL. Panics when PostgreSQL is unreachable.
pub async fn fresh_postgres_url() -> String {
    let base = postgres_base_url();
    let name = format!("charter_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(&base)
        .await
        .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {base} (set CHARTER_TEST_PG_URL): {e}"));
    sqlx::query(&format!("CREATE DATABASE \"{name}\"")).execute(&mut admin).await.expect("CREATE DATABASE");
    let _ = admin.close().await;
    with_database(&base, &name)
}

/// Drops a database made by [`fresh_postgres_url`], closing whatever is still connected to it.
/// Only `charter_test_*` databases are dropped.
pub async fn drop_postgres_database(url: &str) {
    let Some(name) = database_name(url) else { return };
    assert!(name.starts_with("charter_test_"), "refusing to drop {name}: not a test database");
    let base = postgres_base_url();
    let mut admin = PgConnection::connect(&base).await.expect("connect to drop the test database");
    sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .expect("DROP DATABASE");
    let _ = admin.close().await;
}

/// Runs `test` against a fresh database (its URL is the argument), then drops the
/// database, whether the test passed or panicked (the panic is passed on).
pub async fn with_fresh_postgres<F, Fut>(test: F)
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let url = fresh_postgres_url().await;
    let outcome = tokio::spawn(test(url.clone())).await;
    drop_postgres_database(&url).await;
    if let Err(e) = outcome {
        if e.is_panic() {
            std::panic::resume_unwind(e.into_panic());
        }
        panic!("test task failed: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_database_name() {
        assert_eq!(with_database("postgres://u@h:5432/test", "x"), "postgres://u@h:5432/x");
        assert_eq!(with_database("postgres://u@h/test?sslmode=disable", "x"), "postgres://u@h/x?sslmode=disable");
        assert_eq!(with_database("postgres://u@h", "x"), "postgres://u@h/x");
        assert_eq!(database_name("postgres://u@h:5432/abc?x=1").as_deref(), Some("abc"));
        assert_eq!(database_name("postgres://u@h:5432"), None);
    }
}
