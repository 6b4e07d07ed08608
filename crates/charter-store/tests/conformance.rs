//! The conformance suite against every backend: SQLite (a file, and in memory)
//! and PostgreSQL (a fresh database per test on the server named by
//! `CHARTER_TEST_PG_URL`, default `postgres://postgres@127.0.0.1:5432/test`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use charter_store::conformance::{self, run_all};
use charter_store::postgres::PgStore;
use charter_store::sqlite::SqliteStore;
use charter_store::testing::with_fresh_postgres;
use charter_store::{open, AuditQuery, NewAccount, Store, StoreError, WriteBatch};
use charter_core::audit::{AuditEvent, Outcome};
use charter_core::client::{AccountKind, Application, ClientId, ClientType, GrantType, Status, TokenFormat};
use charter_core::scope::ScopeSet;
use charter_core::time::UnixTime;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// A directory under the system's temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let p = std::env::temp_dir().join(format!("charter-store-test-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn file(&self, name: &str) -> String {
        self.0.join(name).to_str().unwrap().to_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn migrated(url: &str) -> Arc<dyn Store> {
    let store = open(url).await.unwrap();
    store.migrate().await.unwrap();
    store
}

fn new_account(username: &str) -> NewAccount {
    NewAccount {
        id: None,
        username: username.into(),
        kind: AccountKind::Service,
        email: None,
        full_name: None,
        is_staff: false,
        is_superuser: false,
        anonymous_id: uuid::Uuid::new_v4().simple().to_string(),
        created_at: conformance::NOW,
    }
}

fn application(owner_id: i64, client_id: &str) -> Application {
    Application {
        id: format!("id-{client_id}"),
        client_id: ClientId::parse(client_id).unwrap(),
        name: client_id.into(),
        owner_id,
        client_type: ClientType::Confidential,
        grant_types: vec![GrantType::ClientCredentials],
        redirect_uris: vec![],
        allowed_scopes: ScopeSet::parse_space_separated("read grades:read").unwrap(),
        filters: vec![],
        restricted: false,
        token_format: TokenFormat::Jwt,
        skip_authorization: false,
        status: Status::Active,
        created_at: conformance::NOW,
        updated_at: conformance::NOW,
    }
}

// --- SQLite ------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_file_passes_conformance() {
    let dir = TempDir::new();
    let store = migrated(&dir.file("charter.db")).await;
    assert_eq!(store.backend(), "sqlite");
    run_all(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_url_passes_conformance() {
    let dir = TempDir::new();
    let store = migrated(&format!("sqlite://{}", dir.file("charter.db"))).await;
    run_all(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_memory_passes_conformance() {
    let store = migrated("sqlite::memory:").await;
    run_all(store).await;
}

#[tokio::test]
async fn sqlite_memory_databases_are_private() {
    let a = migrated("sqlite::memory:").await;
    let b = migrated("sqlite::memory:").await;
    a.create_account(&new_account("only-in-a")).await.unwrap();
    assert!(b.account_by_username("only-in-a").await.unwrap().is_none());
}

#[tokio::test]
async fn sqlite_file_settings_and_durability() {
    let dir = TempDir::new();
    let path = dir.file("charter.db");
    {
        let store = SqliteStore::open(&path).await.unwrap();
        store.migrate().await.unwrap();
        let pragma = |p: &'static str| {
            let pool = store.pool().clone();
            async move { sqlx::query_scalar::<_, String>(p).fetch_one(&pool).await.unwrap() }
        };
        assert_eq!(pragma("PRAGMA journal_mode").await, "wal");
        assert_eq!(pragma("SELECT CAST(synchronous AS TEXT) FROM pragma_synchronous").await, "2", "FULL");
        assert_eq!(pragma("SELECT CAST(foreign_keys AS TEXT) FROM pragma_foreign_keys").await, "1");
        assert_eq!(pragma("SELECT CAST(timeout AS TEXT) FROM pragma_busy_timeout").await, "5000");
        let a = store.create_account(&new_account("durable")).await.unwrap();
        store.create_application(&application(a.id, "durable-client")).await.unwrap();
        let event = AuditEvent::new(conformance::NOW, "system", "durable.test", Outcome::Success);
        store.write_batch(&WriteBatch { audit: vec![event], ..WriteBatch::default() }).await.unwrap();
        store.close().await;
    }
    let store = migrated(&path).await;
    assert!(store.client_record("durable-client").await.unwrap().is_some());
    let q = AuditQuery { action_prefix: Some("durable.".into()), ..AuditQuery::default() };
    assert_eq!(store.audit_events(&q).await.unwrap().len(), 1);
}

#[tokio::test]
async fn sqlite_reports_corrupt_values() {
    let store = SqliteStore::open("sqlite::memory:").await.unwrap();
    store.migrate().await.unwrap();
    corrupt_values(&store, |sql| {
        let pool = store.pool().clone();
        async move {
            sqlx::query(&sql).execute(&pool).await.unwrap();
        }
    })
    .await;
}

/// Client lookups on the token hot path, measured (no assertion on the time).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_client_record_rate() {
    const N: usize = 10_000;
    let dir = TempDir::new();
    let store = migrated(&dir.file("charter.db")).await;
    let a = store.create_account(&new_account("rate-owner")).await.unwrap();
    store.create_application(&application(a.id, "rate-client")).await.unwrap();
    for i in 0..2 {
        let secret = charter_core::client::ClientSecret {
            id: format!("s{i}"),
            digest: [i as u8; 32],
            label: None,
            created_at: UnixTime(i),
            expires_at: None,
            revoked_at: None,
        };
        store.add_secret("rate-client", &secret).await.unwrap();
    }
    for _ in 0..200 {
        assert!(store.client_record("rate-client").await.unwrap().is_some());
    }

    let start = Instant::now();
    for _ in 0..N {
        let r = store.client_record("rate-client").await.unwrap().unwrap();
        assert_eq!(r.record.secrets.len(), 2);
    }
    let sequential = start.elapsed();

    let start = Instant::now();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                for _ in 0..N / 8 {
                    assert!(store.client_record("rate-client").await.unwrap().is_some());
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let concurrent = start.elapsed();
    println!(
        "client_record on SQLite ({} build): {N} sequential in {sequential:?} = {:.0}/s; \
         {N} over 8 tasks in {concurrent:?} = {:.0}/s",
        if cfg!(debug_assertions) { "debug" } else { "release" },
        N as f64 / sequential.as_secs_f64(),
        N as f64 / concurrent.as_secs_f64(),
    );
}

/// Group-commit batches of hundreds, measured (no assertion on the time).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_write_batch_rate() {
    const BATCH: usize = 500;
    const BATCHES: usize = 10;
    let dir = TempDir::new();
    let store = migrated(&dir.file("charter.db")).await;
    let a = store.create_account(&new_account("batch-owner")).await.unwrap();
    let app = application(a.id, "batch-client");
    store.create_application(&app).await.unwrap();
    let start = Instant::now();
    for b in 0..BATCHES {
        let mut batch = WriteBatch::default();
        for i in 0..BATCH {
            let id = format!("t-{b}-{i}");
            batch.tokens.push(charter_core::token::AccessTokenRecord {
                id: id.clone(),
                digest: None,
                format: TokenFormat::Jwt,
                application_id: app.id.clone(),
                client_id: app.client_id.as_str().into(),
                account_id: a.id,
                scopes: ScopeSet::parse_space_separated("read grades:read").unwrap(),
                filters: vec![],
                grant_type: GrantType::ClientCredentials,
                issued_at: conformance::NOW,
                expires_at: conformance::NOW.plus(3600),
                revoked_at: None,
            });
            batch.audit.push(
                AuditEvent::new(conformance::NOW, "client:batch-client", "token.issued", Outcome::Success)
                    .client("batch-client")
                    .detail(serde_json::json!({ "jti": id })),
            );
        }
        store.write_batch(&batch).await.unwrap();
    }
    let elapsed = start.elapsed();
    println!(
        "write_batch on SQLite ({} build): {BATCHES} batches of {BATCH} tokens + {BATCH} audit events in {elapsed:?} \
         = {:.0} tokens/s",
        if cfg!(debug_assertions) { "debug" } else { "release" },
        (BATCH * BATCHES) as f64 / elapsed.as_secs_f64(),
    );
}

// --- PostgreSQL ----------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_passes_conformance() {
    with_fresh_postgres(|url| async move {
        let store = migrated(&url).await;
        assert_eq!(store.backend(), "postgres");
        run_all(store).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_postgresql_scheme_opens() {
    with_fresh_postgres(|url| async move {
        let url = url.replacen("postgres://", "postgresql://", 1);
        let store = migrated(&url).await;
        store.ping().await.unwrap();
        assert_eq!(store.backend(), "postgres");
    })
    .await;
}

/// Two nodes on one database: no caching, each sees the other's commits at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_nodes_see_each_other() {
    with_fresh_postgres(|url| async move {
        let a: Arc<dyn Store> = Arc::new(PgStore::connect(&url).await.unwrap());
        let b: Arc<dyn Store> = Arc::new(PgStore::connect(&url).await.unwrap());
        a.migrate().await.unwrap();
        b.migrate().await.unwrap();

        let owner = a.create_account(&new_account("shared-owner")).await.unwrap();
        assert_eq!(b.account_by_username("shared-owner").await.unwrap(), Some(owner.clone()));
        // Automatic ids on both nodes never collide.
        let other = b.create_account(&new_account("other-owner")).await.unwrap();
        assert_ne!(other.id, owner.id);
        let mut explicit = new_account("imported");
        explicit.id = Some(other.id + 100);
        a.create_account(&explicit).await.unwrap();
        let after = b.create_account(&new_account("after-import")).await.unwrap();
        assert!(after.id > other.id + 100);

        let app = application(owner.id, "shared-client");
        a.create_application(&app).await.unwrap();
        let rev = b.client_record("shared-client").await.unwrap().unwrap().revisions;

        a.upsert_resource(&charter_core::scope_policy::Resource {
            name: "shared".into(),
            service: "lms".into(),
            description: "x".into(),
            extra_actions: vec![],
        })
        .await
        .unwrap();
        let now = b.client_record("shared-client").await.unwrap().unwrap().revisions;
        assert_eq!(now.catalogue, rev.catalogue + 1, "node b sees node a's catalogue change");

        let mut suspended = app.clone();
        suspended.status = Status::Suspended;
        b.update_application(&suspended).await.unwrap();
        assert_eq!(a.application("shared-client").await.unwrap().unwrap().status, Status::Suspended);

        let token = charter_core::token::AccessTokenRecord {
            id: "shared-token".into(),
            digest: Some([7; 32]),
            format: TokenFormat::Opaque,
            application_id: app.id.clone(),
            client_id: app.client_id.as_str().into(),
            account_id: owner.id,
            scopes: ScopeSet::parse_space_separated("read").unwrap(),
            filters: vec![],
            grant_type: GrantType::ClientCredentials,
            issued_at: conformance::NOW,
            expires_at: conformance::NOW.plus(60),
            revoked_at: None,
        };
        a.write_batch(&WriteBatch { tokens: vec![token.clone()], ..WriteBatch::default() }).await.unwrap();
        let seen = b.token_by_id("shared-token").await.unwrap().unwrap();
        assert_eq!(seen.record, token);
        assert_eq!(seen.application_status, Status::Suspended);
        assert_eq!(b.revoke_application_tokens("shared-client", conformance::NOW).await.unwrap(), 1);
        assert!(a.token_by_id("shared-token").await.unwrap().unwrap().record.revoked_at.is_some());
    })
    .await;
}

/// Nodes starting together migrate the same fresh database at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_concurrent_migrate() {
    with_fresh_postgres(|url| async move {
        let stores: Vec<PgStore> = {
            let mut v = Vec::new();
            for _ in 0..3 {
                v.push(PgStore::connect(&url).await.unwrap());
            }
            v
        };
        let (r1, r2, r3) = tokio::join!(stores[0].migrate(), stores[1].migrate(), stores[2].migrate());
        r1.unwrap();
        r2.unwrap();
        r3.unwrap();
        for s in &stores {
            s.ping().await.unwrap();
            assert_eq!(s.revisions().await.unwrap(), charter_store::Revisions::default());
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_reports_corrupt_values() {
    with_fresh_postgres(|url| async move {
        let store = PgStore::connect(&url).await.unwrap();
        store.migrate().await.unwrap();
        let pool = store.pool().clone();
        corrupt_values(&store, move |sql| {
            let pool = pool.clone();
            async move {
                sqlx::query(&sql).execute(&pool).await.unwrap();
            }
        })
        .await;
    })
    .await;
}

// --- shared by both backends ---------------------------------------------------------------

/// Values edited by hand into something the domain types refuse are reported, not panicked on.
async fn corrupt_values<F, Fut>(store: &dyn Store, exec: F)
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let owner = store.create_account(&new_account("corrupt-owner")).await.unwrap();
    let corrupt = |r: Result<_, StoreError>| matches!(r, Err(StoreError::Corrupt(_)));

    for (i, (column, value)) in [
        ("grant_types", "client_credentials implicit"),
        ("allowed_scopes", "read NotAScope"),
        ("filters", "org:MITx"),
        ("status", "frozen"),
        ("token_format", "paseto"),
        ("redirect_uris", "http://evil.example.com/cb"),
        ("client_id", "has space"),
    ]
    .into_iter()
    .enumerate()
    {
        let cid = format!("corrupt-{i}");
        store.create_application(&application(owner.id, &cid)).await.unwrap();
        exec(format!("UPDATE applications SET {column} = '{value}' WHERE client_id = '{cid}'")).await;
        let lookup = if column == "client_id" { "has space" } else { cid.as_str() };
        assert!(corrupt(store.application(lookup).await.map(|_| ())), "{column}");
        assert!(corrupt(store.client_record(lookup).await.map(|_| ())), "{column}");
        assert!(corrupt(store.list_applications(Some(owner.id)).await.map(|_| ())), "{column}");
        exec(format!("DELETE FROM applications WHERE id = 'id-{cid}'")).await;
    }

    let cid = "corrupt-ok";
    store.create_application(&application(owner.id, cid)).await.unwrap();
    exec(format!("UPDATE accounts SET kind = 'robot' WHERE id = {}", owner.id)).await;
    assert!(corrupt(store.account_by_id(owner.id).await.map(|_| ())));
    assert!(corrupt(store.client_record(cid).await.map(|_| ())));
    exec(format!("UPDATE accounts SET kind = 'service' WHERE id = {}", owner.id)).await;
    assert!(store.client_record(cid).await.unwrap().is_some());

    exec("INSERT INTO scopes (name, description) VALUES ('Bad Scope', 'x')".into()).await;
    assert!(corrupt(store.scopes().await.map(|_| ())));
    exec("DELETE FROM scopes".into()).await;

    exec("INSERT INTO signing_keys (kid, alg, sealed_private, public_jwk, created_at, activates_at) \
          VALUES ('k', 'HS256', 'x', '{}', 0, 0)"
        .replace("'x'", if store.backend() == "postgres" { "'\\x00'::bytea" } else { "x'00'" }))
    .await;
    assert!(corrupt(store.keys().await.map(|_| ())));

    exec("INSERT INTO audit_events (at, actor, action, outcome, detail) VALUES (1, 'a', 'corrupt.x', 'maybe', 'null')".into())
        .await;
    let q = AuditQuery { action_prefix: Some("corrupt.".into()), ..AuditQuery::default() };
    assert!(corrupt(store.audit_events(&q).await.map(|_| ())));

    exec("DELETE FROM revisions".into()).await;
    assert!(corrupt(store.revisions().await.map(|_| ())));
    assert!(corrupt(store.client_record(cid).await.map(|_| ())));
}
