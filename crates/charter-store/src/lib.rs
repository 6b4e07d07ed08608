//! Charter's storage.
//!
//! The server sees storage only through the narrow [`Store`] trait. Two
//! implementations exist, embedded SQLite (the default) and PostgreSQL (for
//! several nodes), and both pass the one [`conformance`] suite.
//!
//! Nothing here caches: several Charter processes may share one PostgreSQL
//! database, and each read sees what the others committed.

mod codec;
/// The shared conformance suite (test support, behind the `testing` feature).
#[cfg(feature = "testing")]
pub mod conformance;
pub mod error;
pub mod journal;
pub mod open;
pub mod postgres;
mod shared;
pub mod sqlite;
mod sqlite_readers;
mod sqlite_writer;
/// Fresh PostgreSQL databases for tests (behind the `testing` feature).
#[cfg(feature = "testing")]
pub mod testing;
pub mod types;

pub use error::StoreError;
pub use journal::Journal;
pub use open::open;
pub use types::*;

use async_trait::async_trait;
use charter_core::audit::AuditEvent;
use charter_core::client::{Account, AccountKind, Application, ClientSecret, Status};
use charter_core::introspection::TokenState;
use charter_core::keys::StoredKey;
use charter_core::scope_policy::{Resource, ScopeDefinition};
use charter_core::time::UnixTime;

pub type Result<T> = std::result::Result<T, StoreError>;

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Creates or migrates the schema. Idempotent; safe when several nodes start at once.
    async fn migrate(&self) -> Result<()>;
    /// A cheap round trip, for `/readyz`.
    async fn ping(&self) -> Result<()>;
    /// `"sqlite"` or `"postgres"`.
    fn backend(&self) -> &'static str;

    // --- accounts ---------------------------------------------------------
    /// `Conflict` when the username is taken. The id is assigned by the database
    /// unless `new.id` is set (an importer keeps Open edX's user ids).
    async fn create_account(&self, new: &NewAccount) -> Result<Account> {
        self.create_account_audited(new, None).await
    }
    /// [`Store::create_account`], with `audit` written in the same transaction.
    async fn create_account_audited(&self, new: &NewAccount, audit: Option<&AuditEvent>) -> Result<Account>;
    async fn account_by_username(&self, username: &str) -> Result<Option<Account>>;
    async fn account_by_id(&self, id: i64) -> Result<Option<Account>>;
    async fn list_accounts(&self, kind: Option<AccountKind>) -> Result<Vec<Account>>;
    /// `NotFound` when no such account.
    async fn set_account_status(&self, username: &str, status: Status, now: UnixTime) -> Result<()> {
        self.set_account_status_audited(username, status, now, None).await
    }
    /// [`Store::set_account_status`], with `audit` written in the same transaction.
    async fn set_account_status_audited(&self, username: &str, status: Status, now: UnixTime, audit: Option<&AuditEvent>) -> Result<()>;

    /// Sets (or clears) an account's password hash. `NotFound` when no such account.
    async fn set_account_password(&self, username: &str, hash: Option<&str>, now: UnixTime) -> Result<()> {
        self.set_account_password_audited(username, hash, now, None).await
    }
    /// [`Store::set_account_password`], with `audit` written in the same transaction.
    async fn set_account_password_audited(&self, username: &str, hash: Option<&str>, now: UnixTime, audit: Option<&AuditEvent>) -> Result<()>;
    /// The account a login names, by username, else by email (case-insensitive) when
    /// exactly one account has it; with its password hash.
    async fn login_account(&self, username_or_email: &str) -> Result<Option<(Account, Option<String>)>>;
    /// Records a failed login.
    async fn record_login_failure(&self, at: UnixTime, account: &str, source: &str) -> Result<()>;
    /// Failed logins since `since`: (for this account, from this source).
    async fn login_failures_since(&self, account: &str, source: &str, since: UnixTime) -> Result<(u64, u64)>;

    // --- applications -----------------------------------------------------
    /// `Conflict` when the client id is taken; `NotFound` when the owner does not exist.
    async fn create_application(&self, app: &Application) -> Result<()> {
        self.create_application_audited(app, None).await
    }
    /// [`Store::create_application`], with `audit` written in the same transaction.
    async fn create_application_audited(&self, app: &Application, audit: Option<&AuditEvent>) -> Result<()>;
    /// Replaces every field but `id`, `client_id` and `created_at`. `NotFound` when absent.
    async fn update_application(&self, app: &Application) -> Result<()> {
        self.update_application_audited(app, None).await
    }
    /// [`Store::update_application`], with `audit` written in the same transaction.
    async fn update_application_audited(&self, app: &Application, audit: Option<&AuditEvent>) -> Result<()>;
    async fn application(&self, client_id: &str) -> Result<Option<Application>>;
    async fn list_applications(&self, owner_id: Option<i64>) -> Result<Vec<Application>>;

    /// The token hot path: the application, its owner and all its secrets, in one
    /// round trip, with the current revisions of the catalogue and of the keys.
    async fn client_record(&self, client_id: &str) -> Result<Option<ClientLookup>>;

    // --- client secrets ---------------------------------------------------
    /// `NotFound` when the application does not exist.
    async fn add_secret(&self, client_id: &str, secret: &ClientSecret) -> Result<()> {
        self.add_secret_audited(client_id, secret, None).await
    }
    /// [`Store::add_secret`], with `audit` written in the same transaction.
    async fn add_secret_audited(&self, client_id: &str, secret: &ClientSecret, audit: Option<&AuditEvent>) -> Result<()>;
    async fn list_secrets(&self, client_id: &str) -> Result<Vec<ClientSecret>>;
    /// Sets `revoked_at`. `NotFound` when no such secret of that application.
    async fn revoke_secret(&self, client_id: &str, secret_id: &str, now: UnixTime) -> Result<()> {
        self.revoke_secret_audited(client_id, secret_id, now, None).await
    }
    /// [`Store::revoke_secret`], with `audit` written in the same transaction.
    async fn revoke_secret_audited(&self, client_id: &str, secret_id: &str, now: UnixTime, audit: Option<&AuditEvent>) -> Result<()>;
    /// Sets (or clears) the expiry. `NotFound` when no such secret of that application.
    async fn set_secret_expiry(&self, client_id: &str, secret_id: &str, expires_at: Option<UnixTime>) -> Result<()> {
        self.set_secret_expiry_audited(client_id, secret_id, expires_at, None).await
    }
    /// [`Store::set_secret_expiry`], with `audit` written in the same transaction.
    async fn set_secret_expiry_audited(&self, client_id: &str, secret_id: &str, expires_at: Option<UnixTime>, audit: Option<&AuditEvent>) -> Result<()>;

    // --- scope catalogue (each change bumps the catalogue revision) ---------
    async fn upsert_resource(&self, resource: &Resource) -> Result<()> {
        self.upsert_resource_audited(resource, None).await
    }
    /// [`Store::upsert_resource`], with `audit` written in the same transaction.
    async fn upsert_resource_audited(&self, resource: &Resource, audit: Option<&AuditEvent>) -> Result<()>;
    async fn upsert_scope(&self, scope: &ScopeDefinition) -> Result<()> {
        self.upsert_scope_audited(scope, None).await
    }
    /// [`Store::upsert_scope`], with `audit` written in the same transaction.
    async fn upsert_scope_audited(&self, scope: &ScopeDefinition, audit: Option<&AuditEvent>) -> Result<()>;
    /// `NotFound` when absent.
    async fn delete_scope(&self, name: &str) -> Result<()> {
        self.delete_scope_audited(name, None).await
    }
    /// [`Store::delete_scope`], with `audit` written in the same transaction.
    async fn delete_scope_audited(&self, name: &str, audit: Option<&AuditEvent>) -> Result<()>;
    async fn resources(&self) -> Result<Vec<Resource>>;
    /// Ordered by name.
    async fn scopes(&self) -> Result<Vec<ScopeDefinition>>;

    // --- tokens and audit -------------------------------------------------
    /// Writes everything in `batch` in ONE transaction: all of it or none of it.
    async fn write_batch(&self, batch: &WriteBatch) -> Result<()>;
    /// An access token by id: the JWT `jti`, or the selector half of an opaque token
    /// (whose secret half the caller checks against `record.digest`).
    async fn token_by_id(&self, id: &str) -> Result<Option<TokenState>>;
    /// A refresh token by id (the selector half), with the state of its application and account.
    async fn refresh_token_by_id(&self, id: &str) -> Result<Option<charter_core::refresh::RefreshTokenState>>;
    /// Rotation, atomically: marks `old_id` rotated at `at` only if it is neither rotated nor
    /// revoked, and then writes `batch` (the new refresh and access tokens, the audit event) in
    /// the same transaction. `false` (and nothing written) when the token was already used.
    async fn rotate_refresh_token(&self, old_id: &str, at: UnixTime, batch: &WriteBatch) -> Result<bool>;
    /// Revokes every refresh token of the family and the access tokens issued with them; returns
    /// how many refresh tokens were newly revoked.
    async fn revoke_refresh_family(&self, family_id: &str, at: UnixTime) -> Result<u64>;
    // --- browser sign-in ---------------------------------------------------
    async fn insert_session(&self, session: &charter_core::browser::SessionRecord) -> Result<()>;
    /// A session by id, with its account.
    async fn session_by_id(&self, id: &str) -> Result<Option<(charter_core::browser::SessionRecord, Account)>>;
    async fn revoke_session(&self, id: &str, at: UnixTime) -> Result<()>;
    /// Revokes every live session of the account (a password or status change); returns how many.
    async fn revoke_sessions_of(&self, account_id: i64, at: UnixTime) -> Result<u64>;
    async fn insert_code(&self, code: &charter_core::browser::CodeRecord) -> Result<()>;
    async fn code_by_id(&self, id: &str) -> Result<Option<charter_core::browser::CodeRecord>>;
    /// Redemption, atomically: marks the code used at `at` (only if unused) and records what it
    /// was exchanged for, then writes `batch`. `false` (and nothing written) when already used.
    async fn redeem_code(
        &self,
        id: &str,
        at: UnixTime,
        access_token_id: &str,
        refresh_family: Option<&str>,
        batch: &WriteBatch,
    ) -> Result<bool>;
    /// A code presented twice: revokes what its first use issued (RFC 6749 §4.1.2). Returns how
    /// many tokens were newly revoked.
    async fn revoke_code_tokens(&self, id: &str, at: UnixTime) -> Result<u64>;
    /// The scopes a user has granted an application.
    async fn consent(&self, account_id: i64, application_id: &str) -> Result<Option<charter_core::scope::ScopeSet>>;
    /// Adds `scopes` to what the user has granted the application.
    async fn grant_consent(
        &self,
        account_id: i64,
        application_id: &str,
        scopes: &charter_core::scope::ScopeSet,
        at: UnixTime,
    ) -> Result<()>;

    /// Every application (by client id) the user has granted something, with the scopes and when.
    async fn consents_of(&self, account_id: i64) -> Result<Vec<(String, charter_core::scope::ScopeSet, UnixTime)>>;
    /// Withdraws the user's consent to the application and revokes, in the same transaction,
    /// every access and refresh token the application holds for the user. Returns the tokens revoked.
    async fn withdraw_consent(&self, account_id: i64, application_id: &str, at: UnixTime) -> Result<u64>;

    /// Revokes every unrevoked access token of the application; returns how many.
    async fn revoke_application_tokens(&self, client_id: &str, now: UnixTime) -> Result<u64> {
        self.revoke_application_tokens_audited(client_id, now, None).await
    }
    /// [`Store::revoke_application_tokens`], with `audit` written in the same transaction.
    async fn revoke_application_tokens_audited(&self, client_id: &str, now: UnixTime, audit: Option<&AuditEvent>) -> Result<u64>;
    /// Deletes access tokens that expired before `before`; returns how many.
    async fn purge_expired_tokens(&self, before: UnixTime) -> Result<u64>;
    /// One application's observations in the window, aggregated over everything but time.
    async fn observations(&self, query: &ObservationQuery) -> Result<Vec<charter_core::access_report::ObservationSummary>>;
    /// Newest first.
    async fn audit_events(&self, query: &AuditQuery) -> Result<Vec<StoredAuditEvent>>;

    // --- signing keys (each change bumps the keys revision) ----------------
    async fn insert_key(&self, key: &StoredKey) -> Result<()> {
        self.insert_key_audited(key, None).await
    }
    /// [`Store::insert_key`], with `audit` written in the same transaction.
    async fn insert_key_audited(&self, key: &StoredKey, audit: Option<&AuditEvent>) -> Result<()>;
    async fn keys(&self) -> Result<Vec<StoredKey>>;
    /// `NotFound` when absent.
    async fn retire_key(&self, kid: &str, now: UnixTime) -> Result<()> {
        self.retire_key_audited(kid, now, None).await
    }
    /// [`Store::retire_key`], with `audit` written in the same transaction.
    async fn retire_key_audited(&self, kid: &str, now: UnixTime, audit: Option<&AuditEvent>) -> Result<()>;

    async fn revisions(&self) -> Result<Revisions>;
}
