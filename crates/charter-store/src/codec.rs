//! What both backends share: the SQL text, and the conversions between rows and
//! the domain types.
//!
//! The statements use `$N` placeholders, which both PostgreSQL and SQLite accept,
//! so one text serves both. Anything that no longer parses when read back is
//! reported as [`StoreError::Corrupt`], never a panic.

use crate::{Result, StoreError};
use charter_core::audit::{AuditEvent, Outcome};
use charter_core::client::{
    Account, AccountKind, Application, ClientId, ClientSecret, ClientType, GrantType, RedirectUri, Status,
    TokenFormat,
};
use charter_core::filter::Filter;
use charter_core::introspection::TokenState;
use charter_core::keys::{SigningAlgorithm, StoredKey};
use charter_core::scope::ScopeSet;
use charter_core::scope_policy::{Resource, ScopeDefinition};
use charter_core::time::UnixTime;
use charter_core::token::AccessTokenRecord;
use sqlx::Row;
use std::collections::BTreeMap;
use std::fmt::Display;
use std::str::FromStr;

// --- column lists (macros, so that `concat!` can build whole statements) ----

macro_rules! account_cols {
    () => {
        "o.id AS acc_id, o.username AS acc_username, o.kind AS acc_kind, o.email AS acc_email, \
         o.full_name AS acc_full_name, o.is_staff AS acc_is_staff, o.is_superuser AS acc_is_superuser, \
         o.status AS acc_status, o.anonymous_id AS acc_anonymous_id, o.created_at AS acc_created_at"
    };
}

macro_rules! app_cols {
    () => {
        "a.id AS app_id, a.client_id AS app_client_id, a.name AS app_name, a.owner_id AS app_owner_id, \
         a.client_type AS app_client_type, a.grant_types AS app_grant_types, a.redirect_uris AS app_redirect_uris, \
         a.allowed_scopes AS app_allowed_scopes, a.filters AS app_filters, a.restricted AS app_restricted, \
         a.token_format AS app_token_format, a.skip_authorization AS app_skip_authorization, \
         a.status AS app_status, a.created_at AS app_created_at, a.updated_at AS app_updated_at"
    };
}

macro_rules! secret_cols {
    () => {
        "s.id AS sec_id, s.digest AS sec_digest, s.label AS sec_label, s.created_at AS sec_created_at, \
         s.expires_at AS sec_expires_at, s.revoked_at AS sec_revoked_at"
    };
}

macro_rules! token_state_cols {
    () => {
        "t.id AS tok_id, t.digest AS tok_digest, t.format AS tok_format, t.application_id AS tok_application_id, \
         t.client_id AS tok_client_id, t.account_id AS tok_account_id, t.scopes AS tok_scopes, \
         t.filters AS tok_filters, t.grant_type AS tok_grant_type, t.issued_at AS tok_issued_at, \
         t.expires_at AS tok_expires_at, t.revoked_at AS tok_revoked_at, \
         a.status AS app_status, a.restricted AS app_restricted, \
         o.status AS acc_status, o.username AS acc_username, o.anonymous_id AS acc_anonymous_id"
    };
}

macro_rules! token_state_from {
    () => {
        " FROM access_tokens t JOIN applications a ON a.id = t.application_id JOIN accounts o ON o.id = t.account_id "
    };
}

// --- statements ---------------------------------------------------------------

pub(crate) const PING: &str = "SELECT 1";

pub(crate) const INSERT_ACCOUNT: &str = "INSERT INTO accounts \
    (username, kind, email, full_name, is_staff, is_superuser, status, anonymous_id, created_at, updated_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING id";
/// The same with an explicit id, bound tenth.
pub(crate) const INSERT_ACCOUNT_WITH_ID: &str = "INSERT INTO accounts \
    (username, kind, email, full_name, is_staff, is_superuser, status, anonymous_id, created_at, updated_at, id) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10) RETURNING id";
pub(crate) const ACCOUNT_BY_USERNAME: &str = concat!("SELECT ", account_cols!(), " FROM accounts o WHERE o.username = $1");
pub(crate) const ACCOUNT_BY_ID: &str = concat!("SELECT ", account_cols!(), " FROM accounts o WHERE o.id = $1");
pub(crate) const LIST_ACCOUNTS: &str =
    concat!("SELECT ", account_cols!(), " FROM accounts o WHERE ($1 IS NULL OR o.kind = $1) ORDER BY o.id");
pub(crate) const SET_ACCOUNT_STATUS: &str = "UPDATE accounts SET status = $2, updated_at = $3 WHERE username = $1";

pub(crate) const INSERT_APPLICATION: &str = "INSERT INTO applications \
    (id, client_id, name, owner_id, client_type, grant_types, redirect_uris, allowed_scopes, filters, \
     restricted, token_format, skip_authorization, status, created_at, updated_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)";
pub(crate) const UPDATE_APPLICATION: &str = "UPDATE applications SET \
    name = $2, owner_id = $3, client_type = $4, grant_types = $5, redirect_uris = $6, allowed_scopes = $7, \
    filters = $8, restricted = $9, token_format = $10, skip_authorization = $11, status = $12, updated_at = $13 \
    WHERE client_id = $1";
pub(crate) const APPLICATION_BY_CLIENT_ID: &str =
    concat!("SELECT ", app_cols!(), " FROM applications a WHERE a.client_id = $1");
pub(crate) const LIST_APPLICATIONS: &str = concat!(
    "SELECT ",
    app_cols!(),
    " FROM applications a WHERE ($1 IS NULL OR a.owner_id = $1) ORDER BY a.created_at, a.client_id"
);

/// The token hot path: one row per secret (one row with NULL secret columns when
/// there is none), each carrying the application, its owner and the revisions.
pub(crate) const CLIENT_RECORD: &str = concat!(
    "SELECT ",
    app_cols!(),
    ", ",
    account_cols!(),
    ", ",
    secret_cols!(),
    ", (SELECT r.catalogue FROM revisions r WHERE r.id = 1) AS rev_catalogue",
    ", (SELECT r.keys FROM revisions r WHERE r.id = 1) AS rev_keys",
    " FROM applications a JOIN accounts o ON o.id = a.owner_id",
    " LEFT JOIN client_secrets s ON s.application_id = a.id",
    " WHERE a.client_id = $1 ORDER BY s.created_at, s.id"
);

pub(crate) const INSERT_SECRET: &str = "INSERT INTO client_secrets \
    (id, application_id, digest, label, created_at, expires_at, revoked_at) \
    SELECT $2, a.id, $3, $4, $5, $6, $7 FROM applications a WHERE a.client_id = $1";
pub(crate) const LIST_SECRETS: &str = concat!(
    "SELECT ",
    secret_cols!(),
    " FROM client_secrets s JOIN applications a ON a.id = s.application_id",
    " WHERE a.client_id = $1 ORDER BY s.created_at, s.id"
);
/// A second revocation keeps the time of the first.
pub(crate) const REVOKE_SECRET: &str = "UPDATE client_secrets SET revoked_at = COALESCE(revoked_at, $3) \
    WHERE id = $2 AND application_id = (SELECT a.id FROM applications a WHERE a.client_id = $1)";
pub(crate) const SET_SECRET_EXPIRY: &str = "UPDATE client_secrets SET expires_at = $3 \
    WHERE id = $2 AND application_id = (SELECT a.id FROM applications a WHERE a.client_id = $1)";

pub(crate) const UPSERT_RESOURCE: &str = "INSERT INTO resources (name, service, description, extra_actions) \
    VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO UPDATE SET \
    service = excluded.service, description = excluded.description, extra_actions = excluded.extra_actions";
pub(crate) const UPSERT_SCOPE: &str = "INSERT INTO scopes (name, description, is_default) VALUES ($1, $2, $3) \
    ON CONFLICT (name) DO UPDATE SET description = excluded.description, is_default = excluded.is_default";
pub(crate) const DELETE_TRANSLATIONS: &str = "DELETE FROM scope_translations WHERE scope = $1";
pub(crate) const INSERT_TRANSLATION: &str = "INSERT INTO scope_translations (scope, locale, text) VALUES ($1, $2, $3)";
pub(crate) const DELETE_SCOPE: &str = "DELETE FROM scopes WHERE name = $1";
pub(crate) const BUMP_CATALOGUE: &str = "UPDATE revisions SET catalogue = catalogue + 1 WHERE id = 1";
pub(crate) const RESOURCES: &str =
    "SELECT name, service, description, extra_actions FROM resources ORDER BY name";
pub(crate) const SCOPES: &str = "SELECT s.name, s.description, s.is_default, t.locale, t.text \
    FROM scopes s LEFT JOIN scope_translations t ON t.scope = s.name ORDER BY s.name, t.locale";

pub(crate) const TOKEN_BY_ID: &str = concat!("SELECT ", token_state_cols!(), token_state_from!(), "WHERE t.id = $1");
pub(crate) const REVOKE_APPLICATION_TOKENS: &str = "UPDATE access_tokens SET revoked_at = $2 \
    WHERE application_id = (SELECT a.id FROM applications a WHERE a.client_id = $1) AND revoked_at IS NULL";
/// At most `$2` rows per statement, so a large purge never holds the write lock for long.
pub(crate) const PURGE_EXPIRED_TOKENS: &str = "DELETE FROM access_tokens WHERE id IN \
    (SELECT id FROM access_tokens WHERE expires_at < $1 LIMIT $2)";
/// Rows deleted per statement by [`PURGE_EXPIRED_TOKENS`].
pub(crate) const PURGE_CHUNK: i64 = 5_000;
/// The audit query with only the filters `q` sets, so the `(client_id, at)` and `(at)`
/// indexes serve it. Placeholders are numbered in the order client_id, action prefix,
/// since, until, limit, each present only when set (the limit always is).
pub(crate) fn audit_sql(q: &crate::AuditQuery) -> String {
    let mut sql = String::from(
        "SELECT seq, at, actor, action, outcome, client_id, account, scopes, source, detail FROM audit_events",
    );
    let mut n = 0;
    let mut next = || {
        n += 1;
        n
    };
    let mut conditions = Vec::new();
    if q.client_id.is_some() {
        conditions.push(format!("client_id = ${}", next()));
    }
    if q.action_prefix.is_some() {
        let p = next();
        conditions.push(format!("substr(action, 1, length(${p})) = ${p}"));
    }
    if q.since.is_some() {
        conditions.push(format!("at >= ${}", next()));
    }
    if q.until.is_some() {
        conditions.push(format!("at <= ${}", next()));
    }
    if !conditions.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conditions.join(" AND "));
    }
    sql.push_str(&format!(" ORDER BY at DESC, seq DESC LIMIT ${}", next()));
    sql
}

pub(crate) const TOKEN_COLUMNS: &str = "id, digest, format, application_id, client_id, account_id, scopes, \
    filters, grant_type, issued_at, expires_at, revoked_at";
pub(crate) const AUDIT_COLUMNS: &str = "at, actor, action, outcome, client_id, account, scopes, source, detail";

pub(crate) const INSERT_KEY: &str = "INSERT INTO signing_keys \
    (kid, alg, sealed_private, public_jwk, created_at, activates_at, retired_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7)";
pub(crate) const KEYS: &str = "SELECT kid, alg, sealed_private, public_jwk, created_at, activates_at, retired_at \
    FROM signing_keys ORDER BY created_at, kid";
/// A second retirement keeps the time of the first.
pub(crate) const RETIRE_KEY: &str = "UPDATE signing_keys SET retired_at = COALESCE(retired_at, $2) WHERE kid = $1";
pub(crate) const BUMP_KEYS: &str = "UPDATE revisions SET keys = keys + 1 WHERE id = 1";
pub(crate) const REVISIONS: &str = "SELECT catalogue, keys FROM revisions WHERE id = 1";

// --- reading columns ------------------------------------------------------------

/// Typed column access that reports a bad value as [`StoreError::Corrupt`].
pub(crate) trait Cols {
    fn int(&self, col: &str) -> Result<i64>;
    fn opt_int(&self, col: &str) -> Result<Option<i64>>;
    fn text(&self, col: &str) -> Result<String>;
    fn opt_text(&self, col: &str) -> Result<Option<String>>;
    fn flag(&self, col: &str) -> Result<bool>;
    fn blob(&self, col: &str) -> Result<Vec<u8>>;
    fn opt_blob(&self, col: &str) -> Result<Option<Vec<u8>>>;
}

fn bad_column(col: &str, e: sqlx::Error) -> StoreError {
    StoreError::Corrupt(format!("column {col}: {e}"))
}

macro_rules! impl_cols {
    ($row:ty) => {
        impl Cols for $row {
            fn int(&self, col: &str) -> Result<i64> {
                self.try_get::<i64, _>(col).map_err(|e| bad_column(col, e))
            }
            fn opt_int(&self, col: &str) -> Result<Option<i64>> {
                self.try_get::<Option<i64>, _>(col).map_err(|e| bad_column(col, e))
            }
            fn text(&self, col: &str) -> Result<String> {
                self.try_get::<String, _>(col).map_err(|e| bad_column(col, e))
            }
            fn opt_text(&self, col: &str) -> Result<Option<String>> {
                self.try_get::<Option<String>, _>(col).map_err(|e| bad_column(col, e))
            }
            fn flag(&self, col: &str) -> Result<bool> {
                self.try_get::<bool, _>(col).map_err(|e| bad_column(col, e))
            }
            fn blob(&self, col: &str) -> Result<Vec<u8>> {
                self.try_get::<Vec<u8>, _>(col).map_err(|e| bad_column(col, e))
            }
            fn opt_blob(&self, col: &str) -> Result<Option<Vec<u8>>> {
                self.try_get::<Option<Vec<u8>>, _>(col).map_err(|e| bad_column(col, e))
            }
        }
    };
}
impl_cols!(sqlx::sqlite::SqliteRow);
impl_cols!(sqlx::postgres::PgRow);

// --- parsing stored values ------------------------------------------------------

fn corrupt(what: &str, e: impl Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

fn parse<T: FromStr<Err = String>>(what: &str, s: &str) -> Result<T> {
    s.parse().map_err(|e| corrupt(what, e))
}

/// Splits a space-separated list, keeping its order.
fn words(s: &str) -> impl Iterator<Item = &str> {
    s.split(' ').filter(|w| !w.is_empty())
}

pub(crate) fn digest32(what: &str, bytes: Vec<u8>) -> Result<[u8; 32]> {
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| corrupt(what, format!("{} bytes, expected 32", bytes.len())))
}

fn scope_set(what: &str, s: &str) -> Result<ScopeSet> {
    ScopeSet::parse_space_separated(s).map_err(|e| corrupt(what, e))
}

fn filters(what: &str, s: &str) -> Result<Vec<Filter>> {
    words(s).map(|w| Filter::parse(w).map_err(|e| corrupt(what, e))).collect()
}

fn outcome(s: &str) -> Result<Outcome> {
    match s {
        "success" => Ok(Outcome::Success),
        "failure" => Ok(Outcome::Failure),
        other => Err(corrupt("audit_events.outcome", format!("'{other}' is not success or failure"))),
    }
}

// --- writing values ---------------------------------------------------------------

pub(crate) fn join_grants(g: &[GrantType]) -> String {
    g.iter().map(|g| g.as_str()).collect::<Vec<_>>().join(" ")
}

pub(crate) fn join_uris(u: &[RedirectUri]) -> String {
    u.iter().map(|u| u.as_str()).collect::<Vec<_>>().join(" ")
}

pub(crate) fn join_filters(f: &[Filter]) -> String {
    f.iter().map(|f| f.to_string()).collect::<Vec<_>>().join(" ")
}

pub(crate) fn detail_json(e: &AuditEvent) -> String {
    e.detail.to_string()
}

// --- rows to domain types -------------------------------------------------------------

/// From [`account_cols!`].
pub(crate) fn account(r: &impl Cols) -> Result<Account> {
    Ok(Account {
        id: r.int("acc_id")?,
        username: r.text("acc_username")?,
        kind: parse::<AccountKind>("accounts.kind", &r.text("acc_kind")?)?,
        email: r.opt_text("acc_email")?,
        full_name: r.opt_text("acc_full_name")?,
        is_staff: r.flag("acc_is_staff")?,
        is_superuser: r.flag("acc_is_superuser")?,
        status: parse::<Status>("accounts.status", &r.text("acc_status")?)?,
        anonymous_id: r.text("acc_anonymous_id")?,
        created_at: UnixTime(r.int("acc_created_at")?),
    })
}

/// From [`app_cols!`].
pub(crate) fn application(r: &impl Cols) -> Result<Application> {
    let client_id = r.text("app_client_id")?;
    Ok(Application {
        id: r.text("app_id")?,
        client_id: ClientId::parse(&client_id).map_err(|e| corrupt("applications.client_id", e))?,
        name: r.text("app_name")?,
        owner_id: r.int("app_owner_id")?,
        client_type: parse::<ClientType>("applications.client_type", &r.text("app_client_type")?)?,
        grant_types: words(&r.text("app_grant_types")?)
            .map(|w| parse::<GrantType>("applications.grant_types", w))
            .collect::<Result<_>>()?,
        redirect_uris: words(&r.text("app_redirect_uris")?)
            .map(|w| RedirectUri::parse(w).map_err(|e| corrupt("applications.redirect_uris", e)))
            .collect::<Result<_>>()?,
        allowed_scopes: scope_set("applications.allowed_scopes", &r.text("app_allowed_scopes")?)?,
        filters: filters("applications.filters", &r.text("app_filters")?)?,
        restricted: r.flag("app_restricted")?,
        token_format: parse::<TokenFormat>("applications.token_format", &r.text("app_token_format")?)?,
        skip_authorization: r.flag("app_skip_authorization")?,
        status: parse::<Status>("applications.status", &r.text("app_status")?)?,
        created_at: UnixTime(r.int("app_created_at")?),
        updated_at: UnixTime(r.int("app_updated_at")?),
    })
}

/// From [`secret_cols!`]; `None` for the NULL secret of a LEFT JOIN with no match.
pub(crate) fn secret(r: &impl Cols) -> Result<Option<ClientSecret>> {
    let Some(id) = r.opt_text("sec_id")? else {
        return Ok(None);
    };
    Ok(Some(ClientSecret {
        id,
        digest: digest32("client_secrets.digest", r.blob("sec_digest")?)?,
        label: r.opt_text("sec_label")?,
        created_at: UnixTime(r.int("sec_created_at")?),
        expires_at: r.opt_int("sec_expires_at")?.map(UnixTime),
        revoked_at: r.opt_int("sec_revoked_at")?.map(UnixTime),
    }))
}

/// The revisions carried by every row of [`CLIENT_RECORD`].
pub(crate) fn row_revisions(r: &impl Cols) -> Result<crate::Revisions> {
    match (r.opt_int("rev_catalogue")?, r.opt_int("rev_keys")?) {
        (Some(catalogue), Some(keys)) => Ok(crate::Revisions { catalogue, keys }),
        _ => Err(StoreError::Corrupt("the revisions row is missing".into())),
    }
}

/// Assembles [`CLIENT_RECORD`]'s rows.
pub(crate) fn client_lookup<R: Cols>(rows: &[R]) -> Result<Option<crate::ClientLookup>> {
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let mut secrets = Vec::with_capacity(rows.len());
    for r in rows {
        if let Some(s) = secret(r)? {
            secrets.push(s);
        }
    }
    Ok(Some(crate::ClientLookup {
        record: charter_core::client::ClientRecord { application: application(first)?, owner: account(first)?, secrets },
        revisions: row_revisions(first)?,
    }))
}

/// From [`token_state_cols!`].
pub(crate) fn token_state(r: &impl Cols) -> Result<TokenState> {
    let record = AccessTokenRecord {
        id: r.text("tok_id")?,
        digest: match r.opt_blob("tok_digest")? {
            Some(d) => Some(digest32("access_tokens.digest", d)?),
            None => None,
        },
        format: parse::<TokenFormat>("access_tokens.format", &r.text("tok_format")?)?,
        application_id: r.text("tok_application_id")?,
        client_id: r.text("tok_client_id")?,
        account_id: r.int("tok_account_id")?,
        scopes: scope_set("access_tokens.scopes", &r.text("tok_scopes")?)?,
        filters: filters("access_tokens.filters", &r.text("tok_filters")?)?,
        grant_type: parse::<GrantType>("access_tokens.grant_type", &r.text("tok_grant_type")?)?,
        issued_at: UnixTime(r.int("tok_issued_at")?),
        expires_at: UnixTime(r.int("tok_expires_at")?),
        revoked_at: r.opt_int("tok_revoked_at")?.map(UnixTime),
    };
    Ok(TokenState {
        record,
        application_status: parse::<Status>("applications.status", &r.text("app_status")?)?,
        restricted: r.flag("app_restricted")?,
        account_status: parse::<Status>("accounts.status", &r.text("acc_status")?)?,
        username: r.text("acc_username")?,
        subject: r.text("acc_anonymous_id")?,
    })
}

/// From [`RESOURCES`].
pub(crate) fn resource(r: &impl Cols) -> Result<Resource> {
    Ok(Resource {
        name: r.text("name")?,
        service: r.text("service")?,
        description: r.text("description")?,
        extra_actions: words(&r.text("extra_actions")?).map(str::to_owned).collect(),
    })
}

/// Assembles [`SCOPES`]'s rows (one per translation, ordered by scope name).
pub(crate) fn scopes<R: Cols>(rows: &[R]) -> Result<Vec<ScopeDefinition>> {
    let mut out: Vec<ScopeDefinition> = Vec::new();
    for r in rows {
        let name = r.text("name")?;
        let same = out.last().is_some_and(|s| s.name.as_str() == name);
        if !same {
            out.push(ScopeDefinition {
                name: charter_core::scope::ScopeName::parse(&name).map_err(|e| corrupt("scopes.name", e))?,
                description: r.text("description")?,
                translations: BTreeMap::new(),
                is_default: r.flag("is_default")?,
            });
        }
        if let (Some(locale), Some(text)) = (r.opt_text("locale")?, r.opt_text("text")?) {
            if let Some(s) = out.last_mut() {
                s.translations.insert(locale, text);
            }
        }
    }
    Ok(out)
}

/// From [`KEYS`].
pub(crate) fn key(r: &impl Cols) -> Result<StoredKey> {
    Ok(StoredKey {
        kid: r.text("kid")?,
        alg: parse::<SigningAlgorithm>("signing_keys.alg", &r.text("alg")?)?,
        sealed_private: r.blob("sealed_private")?,
        public_jwk: r.text("public_jwk")?,
        created_at: UnixTime(r.int("created_at")?),
        activates_at: UnixTime(r.int("activates_at")?),
        retired_at: r.opt_int("retired_at")?.map(UnixTime),
    })
}

/// From [`audit_sql`].
pub(crate) fn audit_event(r: &impl Cols) -> Result<crate::StoredAuditEvent> {
    let detail = r.text("detail")?;
    Ok(crate::StoredAuditEvent {
        seq: r.int("seq")?,
        event: AuditEvent {
            at: UnixTime(r.int("at")?),
            actor: r.text("actor")?,
            action: r.text("action")?,
            outcome: outcome(&r.text("outcome")?)?,
            client_id: r.opt_text("client_id")?,
            account: r.opt_text("account")?,
            scopes: r.opt_text("scopes")?,
            source: r.opt_text("source")?,
            detail: serde_json::from_str(&detail).map_err(|e| corrupt("audit_events.detail", e))?,
        },
    })
}

/// From [`REVISIONS`].
pub(crate) fn revisions(r: &impl Cols) -> Result<crate::Revisions> {
    Ok(crate::Revisions { catalogue: r.int("catalogue")?, keys: r.int("keys")? })
}

/// Splits `len` rows into chunks of decreasing powers of two, at most `max` each,
/// so a multi-row statement comes in only a few shapes (each prepared once per connection).
pub(crate) fn pow2_chunks(len: usize, max: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < len {
        let left = len - start;
        let mut n = max.max(1);
        while n > left {
            n /= 2;
        }
        out.push((start, n));
        start += n;
    }
    out
}



// --- observations ------------------------------------------------------------------

pub(crate) const OBSERVATION_SUMMARY: &str = "SELECT source, reporter, method, route, scopes_held, required_all, \
    required_any, mode, decision, reason, CAST(SUM(count) AS BIGINT) AS count, MIN(at) AS first_at, MAX(at) AS last_at \
    FROM observations WHERE client_id = $1 AND at >= $2 AND at <= $3 \
    GROUP BY source, reporter, method, route, scopes_held, required_all, required_any, mode, decision, reason \
    ORDER BY route, method, reporter, source, decision";
pub(crate) const INSERT_OBSERVATION: &str = "INSERT INTO observations (at, source, reporter, client_id, method, route, \
    scopes_held, required_all, required_any, mode, decision, reason, count) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";

pub(crate) fn mode_str(m: charter_wire::Mode) -> &'static str {
    match m {
        charter_wire::Mode::Enforce => "enforce",
        charter_wire::Mode::ReportOnly => "report-only",
        charter_wire::Mode::Off => "off",
    }
}

pub(crate) fn decision_str(d: charter_wire::Decision) -> &'static str {
    match d {
        charter_wire::Decision::Allow => "allow",
        charter_wire::Decision::Deny => "deny",
        charter_wire::Decision::WouldDeny => "would_deny",
    }
}

pub(crate) fn observation_summary(r: &impl Cols) -> Result<charter_core::access_report::ObservationSummary> {
    use charter_core::observation::ObservationSource;
    let source = match r.text("source")?.as_str() {
        "decision" => ObservationSource::Decision,
        "introspection" => ObservationSource::Introspection,
        other => return Err(corrupt("observation source", other)),
    };
    let mode = match r.text("mode")?.as_str() {
        "enforce" => charter_wire::Mode::Enforce,
        "report-only" => charter_wire::Mode::ReportOnly,
        "off" => charter_wire::Mode::Off,
        other => return Err(corrupt("observation mode", other)),
    };
    let decision = match r.text("decision")?.as_str() {
        "allow" => charter_wire::Decision::Allow,
        "deny" => charter_wire::Decision::Deny,
        "would_deny" => charter_wire::Decision::WouldDeny,
        other => return Err(corrupt("observation decision", other)),
    };
    Ok(charter_core::access_report::ObservationSummary {
        source,
        reporter: r.text("reporter")?,
        method: r.text("method")?,
        route: r.text("route")?,
        scopes_held: r.text("scopes_held")?,
        required_all: r.text("required_all")?,
        required_any: r.text("required_any")?,
        mode,
        decision,
        reason: r.text("reason")?,
        count: u64::try_from(r.int("count")?).map_err(|e| corrupt("observation count", e))?,
        first_at: UnixTime(r.int("first_at")?),
        last_at: UnixTime(r.int("last_at")?),
    })
}

pub(crate) fn bind_observation<'q, DB: sqlx::Database>(
    q: sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>,
    o: &'q charter_core::observation::Observation,
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>
where
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    q.bind(o.at.0)
        .bind(o.source.as_str())
        .bind(o.reporter.as_str())
        .bind(o.client_id.as_str())
        .bind(o.method.as_str())
        .bind(o.route.as_str())
        .bind(o.scopes_held.as_str())
        .bind(o.required_all.as_str())
        .bind(o.required_any.as_str())
        .bind(mode_str(o.mode))
        .bind(decision_str(o.decision))
        .bind(o.reason.as_str())
        .bind(i64::try_from(o.count).unwrap_or(i64::MAX))
}

// --- end-user logins -------------------------------------------------------------

pub(crate) const SET_ACCOUNT_PASSWORD: &str = "UPDATE accounts SET password_hash = $2, updated_at = $3 WHERE username = $1";
pub(crate) const LOGIN_BY_USERNAME: &str =
    concat!("SELECT ", account_cols!(), ", o.password_hash AS password_hash FROM accounts o WHERE o.username = $1");
/// At most two rows: a second one means the email is ambiguous.
pub(crate) const LOGIN_BY_EMAIL: &str = concat!(
    "SELECT ", account_cols!(), ", o.password_hash AS password_hash FROM accounts o WHERE LOWER(o.email) = LOWER($1) LIMIT 2"
);
pub(crate) const INSERT_LOGIN_FAILURE: &str = "INSERT INTO login_failures (at, account, source) VALUES ($1, $2, $3)";
pub(crate) const LOGIN_FAILURES: &str = "SELECT \
    (SELECT COUNT(*) FROM login_failures WHERE account = $1 AND at >= $3) AS by_account, \
    (SELECT COUNT(*) FROM login_failures WHERE source = $2 AND at >= $3) AS by_source";
pub(crate) const PURGE_LOGIN_FAILURES: &str = "DELETE FROM login_failures WHERE at < $1";

// --- refresh tokens ---------------------------------------------------------------

pub(crate) const INSERT_REFRESH: &str = "INSERT INTO refresh_tokens (id, digest, family_id, access_token_id, \
    application_id, client_id, account_id, scopes, filters, grant_type, issued_at, expires_at, rotated_at, revoked_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)";
pub(crate) const REFRESH_BY_ID: &str = "SELECT r.id, r.digest, r.family_id, r.access_token_id, r.application_id, \
    r.client_id, r.account_id, r.scopes, r.filters, r.grant_type, r.issued_at, r.expires_at, r.rotated_at, r.revoked_at, \
    a.status AS app_status, o.status AS acc_status, o.username AS acc_username \
    FROM refresh_tokens r JOIN applications a ON a.id = r.application_id JOIN accounts o ON o.id = r.account_id \
    WHERE r.id = $1";
pub(crate) const ROTATE_REFRESH: &str =
    "UPDATE refresh_tokens SET rotated_at = $2 WHERE id = $1 AND rotated_at IS NULL AND revoked_at IS NULL";
pub(crate) const REVOKE_FAMILY_ACCESS: &str = "UPDATE access_tokens SET revoked_at = $2 WHERE revoked_at IS NULL \
    AND id IN (SELECT access_token_id FROM refresh_tokens WHERE family_id = $1)";
pub(crate) const REVOKE_FAMILY: &str =
    "UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL";

pub(crate) fn refresh_state(r: &impl Cols) -> Result<charter_core::refresh::RefreshTokenState> {
    let record = charter_core::refresh::RefreshTokenRecord {
        id: r.text("id")?,
        digest: digest32("refresh_tokens.digest", r.blob("digest")?)?,
        family_id: r.text("family_id")?,
        access_token_id: r.text("access_token_id")?,
        application_id: r.text("application_id")?,
        client_id: r.text("client_id")?,
        account_id: r.int("account_id")?,
        scopes: scope_set("refresh_tokens.scopes", &r.text("scopes")?)?,
        filters: filters("refresh_tokens.filters", &r.text("filters")?)?,
        grant_type: parse::<GrantType>("refresh_tokens.grant_type", &r.text("grant_type")?)?,
        issued_at: UnixTime(r.int("issued_at")?),
        expires_at: r.opt_int("expires_at")?.map(UnixTime),
        rotated_at: r.opt_int("rotated_at")?.map(UnixTime),
        revoked_at: r.opt_int("revoked_at")?.map(UnixTime),
    };
    Ok(charter_core::refresh::RefreshTokenState {
        record,
        application_status: parse::<Status>("applications.status", &r.text("app_status")?)?,
        account_status: parse::<Status>("accounts.status", &r.text("acc_status")?)?,
        username: r.text("acc_username")?,
    })
}

pub(crate) fn bind_refresh<'q, DB: sqlx::Database>(
    q: sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>,
    t: &'q charter_core::refresh::RefreshTokenRecord,
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>
where
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<i64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    &'q [u8]: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    q.bind(t.id.as_str())
        .bind(&t.digest[..])
        .bind(t.family_id.as_str())
        .bind(t.access_token_id.as_str())
        .bind(t.application_id.as_str())
        .bind(t.client_id.as_str())
        .bind(t.account_id)
        .bind(t.scopes.to_space_separated())
        .bind(join_filters(&t.filters))
        .bind(t.grant_type.as_str())
        .bind(t.issued_at.0)
        .bind(t.expires_at.map(|x| x.0))
        .bind(t.rotated_at.map(|x| x.0))
        .bind(t.revoked_at.map(|x| x.0))
}



// --- browser sign-in -----------------------------------------------------------------

pub(crate) const INSERT_SESSION: &str = "INSERT INTO sessions (id, digest, account_id, csrf, auth_time, expires_at, revoked_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7)";
pub(crate) const SESSION_BY_ID: &str = concat!(
    "SELECT s.id AS ses_id, s.digest AS ses_digest, s.account_id AS ses_account_id, s.csrf AS ses_csrf, \
     s.auth_time AS ses_auth_time, s.expires_at AS ses_expires_at, s.revoked_at AS ses_revoked_at, ",
    account_cols!(),
    " FROM sessions s JOIN accounts o ON o.id = s.account_id WHERE s.id = $1"
);
pub(crate) const REVOKE_SESSION: &str = "UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL";
pub(crate) const INSERT_CODE: &str = "INSERT INTO authorization_codes (id, digest, application_id, client_id, account_id, \
    redirect_uri, scopes, code_challenge, code_challenge_method, nonce, auth_time, issued_at, expires_at, used_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)";
pub(crate) const CODE_BY_ID: &str = "SELECT id, digest, application_id, client_id, account_id, redirect_uri, scopes, \
    code_challenge, code_challenge_method, nonce, auth_time, issued_at, expires_at, used_at \
    FROM authorization_codes WHERE id = $1";
pub(crate) const REDEEM_CODE: &str = "UPDATE authorization_codes SET used_at = $2, access_token_id = $3, refresh_family = $4 \
    WHERE id = $1 AND used_at IS NULL";
pub(crate) const CODE_ISSUED: &str = "SELECT access_token_id, refresh_family FROM authorization_codes WHERE id = $1";
pub(crate) const REVOKE_TOKEN_BY_ID: &str = "UPDATE access_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL";
pub(crate) const CONSENT: &str = "SELECT scopes FROM consents WHERE account_id = $1 AND application_id = $2";
pub(crate) const UPSERT_CONSENT: &str = "INSERT INTO consents (account_id, application_id, scopes, granted_at) \
    VALUES ($1, $2, $3, $4) ON CONFLICT (account_id, application_id) DO UPDATE SET scopes = excluded.scopes, \
    granted_at = excluded.granted_at";

pub(crate) fn session(r: &impl Cols) -> Result<charter_core::browser::SessionRecord> {
    Ok(charter_core::browser::SessionRecord {
        id: r.text("ses_id")?,
        digest: digest32("sessions.digest", r.blob("ses_digest")?)?,
        account_id: r.int("ses_account_id")?,
        csrf: r.text("ses_csrf")?,
        auth_time: UnixTime(r.int("ses_auth_time")?),
        expires_at: UnixTime(r.int("ses_expires_at")?),
        revoked_at: r.opt_int("ses_revoked_at")?.map(UnixTime),
    })
}

pub(crate) fn code(r: &impl Cols) -> Result<charter_core::browser::CodeRecord> {
    use charter_core::browser::{PkceChallenge, PkceMethod};
    let pkce = match (r.opt_text("code_challenge")?, r.opt_text("code_challenge_method")?) {
        (Some(challenge), Some(m)) => {
            let method = match m.as_str() {
                "S256" => PkceMethod::S256,
                "plain" => PkceMethod::Plain,
                other => return Err(corrupt("authorization_codes.code_challenge_method", other)),
            };
            Some(PkceChallenge { challenge, method })
        }
        _ => None,
    };
    Ok(charter_core::browser::CodeRecord {
        id: r.text("id")?,
        digest: digest32("authorization_codes.digest", r.blob("digest")?)?,
        application_id: r.text("application_id")?,
        client_id: r.text("client_id")?,
        account_id: r.int("account_id")?,
        redirect_uri: r.text("redirect_uri")?,
        scopes: scope_set("authorization_codes.scopes", &r.text("scopes")?)?,
        pkce,
        nonce: r.opt_text("nonce")?,
        auth_time: UnixTime(r.int("auth_time")?),
        issued_at: UnixTime(r.int("issued_at")?),
        expires_at: UnixTime(r.int("expires_at")?),
        used_at: r.opt_int("used_at")?.map(UnixTime),
    })
}

pub(crate) fn consent_scopes(r: &impl Cols) -> Result<ScopeSet> {
    scope_set("consents.scopes", &r.text("scopes")?)
}

pub(crate) const CONSENTS_OF: &str = "SELECT a.client_id AS client_id, c.scopes AS scopes, c.granted_at AS granted_at \
    FROM consents c JOIN applications a ON a.id = c.application_id WHERE c.account_id = $1 \
    ORDER BY c.granted_at DESC, a.client_id";
pub(crate) const DELETE_CONSENT: &str = "DELETE FROM consents WHERE account_id = $1 AND application_id = $2";
pub(crate) const REVOKE_USER_APP_ACCESS: &str = "UPDATE access_tokens SET revoked_at = $3 \
    WHERE account_id = $1 AND application_id = $2 AND revoked_at IS NULL";
pub(crate) const REVOKE_USER_APP_REFRESH: &str = "UPDATE refresh_tokens SET revoked_at = $3 \
    WHERE account_id = $1 AND application_id = $2 AND revoked_at IS NULL";

pub(crate) const REVOKE_SESSIONS_OF: &str = "UPDATE sessions SET revoked_at = $2 WHERE account_id = $1 AND revoked_at IS NULL";
pub(crate) const BURN_USER_APP_CODES: &str = "UPDATE authorization_codes SET used_at = $3 \
    WHERE account_id = $1 AND application_id = $2 AND used_at IS NULL";

/// Binds an application's fields from `name` to `status`, in the column order shared by
/// the insert and the update statements.
pub(crate) fn bind_application<'q, DB: sqlx::Database>(
    q: sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>,
    app: &'q charter_core::client::Application,
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>
where
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    bool: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    q.bind(app.name.as_str())
        .bind(app.owner_id)
        .bind(app.client_type.as_str())
        .bind(join_grants(&app.grant_types))
        .bind(join_uris(&app.redirect_uris))
        .bind(app.allowed_scopes.to_space_separated())
        .bind(join_filters(&app.filters))
        .bind(app.restricted)
        .bind(app.token_format.as_str())
        .bind(app.skip_authorization)
        .bind(app.status.as_str())
}

/// A foreign-key failure when writing an application names its missing owner.
pub(crate) fn owner_not_found(e: sqlx::Error, owner_id: i64) -> StoreError {
    match StoreError::from(e) {
        StoreError::NotFound(_) => StoreError::NotFound(format!("owner account {owner_id}")),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_everything_in_few_shapes() {
        for len in 0..300 {
            let c = pow2_chunks(len, 64);
            assert_eq!(c.iter().map(|(_, n)| n).sum::<usize>(), len);
            let mut next = 0;
            for (s, n) in &c {
                assert_eq!(*s, next);
                assert!(n.is_power_of_two() && *n <= 64);
                next += n;
            }
        }
        assert_eq!(pow2_chunks(300, 64).len(), 4 + 3);
    }
}
