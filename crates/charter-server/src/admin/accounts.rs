//! Service users (and, later, end users).

use super::{event, Actor, AdminError, AdminResult};
use charter_core::client::{Account, AccountKind, Status};
use charter_core::secret::generate_hex_id;
use charter_store::{NewAccount, Store};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct AccountView {
    pub id: i64,
    pub username: String,
    pub kind: AccountKind,
    pub email: Option<String>,
    pub full_name: Option<String>,
    pub status: Status,
    pub anonymous_id: String,
    pub created_at: i64,
}

impl From<Account> for AccountView {
    fn from(a: Account) -> Self {
        Self {
            id: a.id,
            username: a.username,
            kind: a.kind,
            email: a.email,
            full_name: a.full_name,
            status: a.status,
            anonymous_id: a.anonymous_id,
            created_at: a.created_at.0,
        }
    }
}

/// An end user: a person who logs in and delegates access to applications.
pub struct NewUser {
    pub username: String,
    pub email: Option<String>,
    pub full_name: Option<String>,
    pub is_staff: bool,
    /// Hashed with Argon2id; `None`: the user cannot log in with a password yet.
    pub password: Option<String>,
}

pub async fn create_user(store: &dyn Store, actor: &Actor, new: NewUser) -> AdminResult<AccountView> {
    check_username(&new.username)?;
    if let Some(n) = &new.full_name {
        super::applications::check_display_name(n)?;
    }
    check_email(new.email.as_deref())?;
    let hash = match new.password {
        Some(p) => Some(crate::services::password::hash(p).await.map_err(|e| AdminError::Invalid(e.to_string()))?),
        None => None,
    };
    let created = event(actor, "account.created", None, Some(&new.username), serde_json::json!({"kind": "user"}));
    let account = store
        .create_account_audited(&NewAccount {
            id: None,
            username: new.username.clone(),
            kind: AccountKind::User,
            email: new.email,
            full_name: new.full_name,
            is_staff: new.is_staff,
            is_superuser: false,
            anonymous_id: generate_hex_id()?,
            created_at: actor.now,
        }, Some(&created))
        .await
        .map_err(|e| match e {
            charter_store::StoreError::Conflict(_) => AdminError::Conflict(format!("username '{}' is taken", new.username)),
            other => other.into(),
        })?;
    if let Some(h) = &hash {
        let set = event(actor, "account.password_set", None, Some(&account.username), serde_json::Value::Null);
        store.set_account_password_audited(&account.username, Some(h), actor.now, Some(&set)).await?;
    }
    Ok(account.into())
}

/// Sets a user's password (Argon2id).
pub async fn set_password(store: &dyn Store, actor: &Actor, username: &str, password: String) -> AdminResult<()> {
    let hash = crate::services::password::hash(password).await.map_err(|e| AdminError::Invalid(e.to_string()))?;
    let set = event(actor, "account.password_set", None, Some(username), serde_json::Value::Null);
    store.set_account_password_audited(username, Some(&hash), actor.now, Some(&set)).await.map_err(|e| match e {
        charter_store::StoreError::NotFound(_) => AdminError::NotFound(format!("no account '{username}'")),
        other => other.into(),
    })?;
    // A new password ends every browser session signed in with the old one.
    let account = get(store, username).await?;
    store.revoke_sessions_of(account.id, actor.now).await?;
    Ok(())
}

fn check_email(email: Option<&str>) -> AdminResult<()> {
    match email {
        Some(e) if !e.contains('@') || e.len() > 254 => Err(AdminError::Invalid(format!("'{e}' is not an email address"))),
        _ => Ok(()),
    }
}

pub struct NewServiceUser {
    pub username: String,
    pub email: Option<String>,
    pub full_name: Option<String>,
}

fn check_username(u: &str) -> AdminResult<()> {
    let ok = !u.is_empty()
        && u.len() <= 150
        && u.chars().all(|c| c.is_alphanumeric() || "@.+-_".contains(c));
    if ok {
        Ok(())
    } else {
        Err(AdminError::Invalid(
            "a username is 1 to 150 letters, digits and @ . + - _ (as Django allows)".into(),
        ))
    }
}

pub async fn create_service_user(store: &dyn Store, actor: &Actor, new: NewServiceUser) -> AdminResult<AccountView> {
    check_username(&new.username)?;
    if let Some(n) = &new.full_name {
        super::applications::check_display_name(n)?;
    }
    check_email(new.email.as_deref())?;
    let created = event(actor, "account.created", None, Some(&new.username), serde_json::json!({"kind": "service"}));
    let account = store
        .create_account_audited(&NewAccount {
            id: None,
            username: new.username.clone(),
            kind: AccountKind::Service,
            email: new.email,
            full_name: new.full_name,
            is_staff: false,
            is_superuser: false,
            anonymous_id: generate_hex_id()?,
            created_at: actor.now,
        }, Some(&created))
        .await
        .map_err(|e| match e {
            charter_store::StoreError::Conflict(_) => AdminError::Conflict(format!("username '{}' is taken", new.username)),
            other => other.into(),
        })?;
    Ok(account.into())
}

pub async fn get(store: &dyn Store, username: &str) -> AdminResult<AccountView> {
    store
        .account_by_username(username)
        .await?
        .map(Into::into)
        .ok_or_else(|| AdminError::NotFound(format!("no account '{username}'")))
}

pub async fn list(store: &dyn Store, kind: Option<AccountKind>) -> AdminResult<Vec<AccountView>> {
    Ok(store.list_accounts(kind).await?.into_iter().map(Into::into).collect())
}

pub async fn set_status(store: &dyn Store, actor: &Actor, username: &str, status: Status) -> AdminResult<AccountView> {
    let current = get(store, username).await?;
    if current.status == Status::Revoked && status != Status::Revoked {
        return Err(AdminError::Invalid("a revoked account cannot be reactivated; create a new one".into()));
    }
    let changed = event(actor, &format!("account.{}", verb(status)), None, Some(username), serde_json::Value::Null);
    store.set_account_status_audited(username, status, actor.now, Some(&changed)).await.map_err(|e| match e {
        charter_store::StoreError::NotFound(_) => AdminError::NotFound(format!("no account '{username}'")),
        other => other.into(),
    })?;
    if status != Status::Active {
        store.revoke_sessions_of(current.id, actor.now).await?;
    }
    get(store, username).await
}

pub(crate) fn verb(s: Status) -> &'static str {
    match s {
        Status::Active => "activated",
        Status::Suspended => "suspended",
        Status::Revoked => "revoked",
    }
}
