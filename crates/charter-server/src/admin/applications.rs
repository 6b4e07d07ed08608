//! Applications: registration, changes, suspension and revocation.

use super::accounts::verb;
use super::secrets::{issue_secret, CreatedSecret};
use super::{event, Actor, AdminError, AdminResult};
use charter_core::client::{
    Application, ClientId, ClientType, GrantType, RedirectUri, Status, TokenFormat,
};
use charter_core::filter::{parse_filters, Filter};
use charter_core::scope::ScopeSet;
use charter_store::Store;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct ApplicationView {
    pub client_id: String,
    pub name: String,
    pub owner: String,
    pub client_type: ClientType,
    pub grant_types: Vec<GrantType>,
    pub redirect_uris: Vec<String>,
    pub allowed_scopes: Vec<String>,
    pub filters: Vec<String>,
    pub restricted: bool,
    pub token_format: TokenFormat,
    pub skip_authorization: bool,
    pub status: Status,
    pub created_at: i64,
    pub updated_at: i64,
}

async fn view(store: &dyn Store, app: Application) -> AdminResult<ApplicationView> {
    let owner = store.account_by_id(app.owner_id).await?.map(|a| a.username).unwrap_or_default();
    Ok(ApplicationView {
        client_id: app.client_id.to_string(),
        name: app.name,
        owner,
        client_type: app.client_type,
        grant_types: app.grant_types,
        redirect_uris: app.redirect_uris.into_iter().map(String::from).collect(),
        allowed_scopes: app.allowed_scopes.to_vec(),
        filters: app.filters.iter().map(|f| f.to_string()).collect(),
        restricted: app.restricted,
        token_format: app.token_format,
        skip_authorization: app.skip_authorization,
        status: app.status,
        created_at: app.created_at.0,
        updated_at: app.updated_at.0,
    })
}

/// What an operator gives to register an application. Strings are parsed here.
#[derive(Debug, Clone, Default)]
pub struct ApplicationSpec {
    pub client_id: Option<String>,
    pub name: String,
    pub owner: String,
    pub client_type: Option<String>,
    pub grant_types: Vec<String>,
    pub redirect_uris: Vec<String>,
    pub scopes: Vec<String>,
    pub filters: Vec<String>,
    pub restricted: bool,
    pub token_format: Option<String>,
    pub skip_authorization: bool,
    /// Seconds until the first secret expires; `None` for no expiry.
    pub secret_expires_in: Option<i64>,
}

/// (No `Debug`: it holds the secret.)
#[derive(Clone, Serialize)]
pub struct CreatedApplication {
    pub application: ApplicationView,
    /// Present for confidential clients; shown once.
    pub secret: Option<CreatedSecret>,
}

fn parse_scopes(store_scopes: &ScopeSet, list: &[String]) -> AdminResult<ScopeSet> {
    let joined = list.join(" ").replace(',', " ");
    let set = ScopeSet::parse_space_separated(&joined).map_err(|e| AdminError::Invalid(e.to_string()))?;
    let unknown = set.difference(store_scopes);
    if !unknown.is_empty() {
        return Err(AdminError::Invalid(format!(
            "not in the scope catalogue: {unknown} (create them with `charter scope create`)"
        )));
    }
    Ok(set)
}

fn parse_grants(list: &[String], client_type: ClientType) -> AdminResult<Vec<GrantType>> {
    let mut out: Vec<GrantType> = Vec::new();
    for g in list.iter().flat_map(|s| s.split([',', ' '])).filter(|s| !s.is_empty()) {
        let g: GrantType = g.parse().map_err(AdminError::Invalid)?;
        if !out.contains(&g) {
            out.push(g);
        }
    }
    if out.is_empty() {
        out.push(match client_type {
            ClientType::Confidential => GrantType::ClientCredentials,
            ClientType::Public => GrantType::AuthorizationCode,
        });
    }
    if client_type == ClientType::Public && out.contains(&GrantType::ClientCredentials) {
        return Err(AdminError::Invalid("a public client cannot use client_credentials (RFC 6749 section 4.4)".into()));
    }
    Ok(out)
}

fn check_redirects(grants: &[GrantType], uris: &[RedirectUri]) -> AdminResult<()> {
    if grants.contains(&GrantType::AuthorizationCode) && uris.is_empty() {
        return Err(AdminError::Invalid("the authorization_code grant needs at least one --redirect-uri".into()));
    }
    Ok(())
}

fn parse_filter_list(list: &[String]) -> AdminResult<Vec<Filter>> {
    parse_filters(&list.join(" ")).map_err(|e| AdminError::Invalid(e.to_string()))
}

async fn known_scopes(store: &dyn Store) -> AdminResult<ScopeSet> {
    Ok(store.scopes().await?.into_iter().map(|s| s.name).collect())
}

pub async fn create(store: &dyn Store, actor: &Actor, spec: ApplicationSpec, digest: &charter_core::digest::DigestKey) -> AdminResult<CreatedApplication> {
    let owner = store
        .account_by_username(&spec.owner)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("no account '{}' to own the application", spec.owner)))?;
    check_display_name(&spec.name)?;
    let client_id = match &spec.client_id {
        Some(c) => ClientId::parse(c).map_err(AdminError::Invalid)?,
        None => ClientId::parse(&charter_core::secret::generate_client_id()?).map_err(AdminError::Invalid)?,
    };
    let client_type: ClientType = match &spec.client_type {
        Some(t) => t.parse().map_err(AdminError::Invalid)?,
        None => ClientType::Confidential,
    };
    let grant_types = parse_grants(&spec.grant_types, client_type)?;
    let redirect_uris = spec
        .redirect_uris
        .iter()
        .map(|u| RedirectUri::parse(u).map_err(AdminError::Invalid))
        .collect::<AdminResult<Vec<_>>>()?;
    check_redirects(&grant_types, &redirect_uris)?;
    let allowed_scopes = parse_scopes(&known_scopes(store).await?, &spec.scopes)?;
    let token_format: TokenFormat = match &spec.token_format {
        Some(f) => f.parse().map_err(AdminError::Invalid)?,
        None => TokenFormat::Jwt,
    };
    let app = Application {
        id: uuid::Uuid::new_v4().to_string(),
        client_id,
        name: spec.name.trim().to_owned(),
        owner_id: owner.id,
        client_type,
        grant_types,
        redirect_uris,
        allowed_scopes,
        filters: parse_filter_list(&spec.filters)?,
        restricted: spec.restricted,
        token_format,
        skip_authorization: spec.skip_authorization,
        status: Status::Active,
        created_at: actor.now,
        updated_at: actor.now,
    };
    let created = event(
        actor,
        "application.created",
        Some(app.client_id.as_str()),
        Some(&owner.username),
        serde_json::json!({
            "name": app.name, "client_type": app.client_type, "grant_types": app.grant_types,
            "scopes": app.allowed_scopes.to_vec(), "filters": app.filters, "restricted": app.restricted,
        }),
    );
    store.create_application_audited(&app, Some(&created)).await.map_err(|e| match e {
        charter_store::StoreError::Conflict(_) => AdminError::Conflict(format!("client id '{}' is taken", app.client_id)),
        other => other.into(),
    })?;
    let secret = if client_type == ClientType::Confidential {
        Some(issue_secret(store, actor, app.client_id.as_str(), spec.secret_expires_in, Some("initial".into()), digest).await?)
    } else {
        None
    };
    Ok(CreatedApplication { application: view(store, app).await?, secret })
}

pub async fn get(store: &dyn Store, client_id: &str) -> AdminResult<ApplicationView> {
    let app = load(store, client_id).await?;
    view(store, app).await
}

pub(crate) async fn load(store: &dyn Store, client_id: &str) -> AdminResult<Application> {
    store
        .application(client_id)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("no application '{client_id}'")))
}

pub async fn list(store: &dyn Store, owner: Option<&str>) -> AdminResult<Vec<ApplicationView>> {
    let owner_id = match owner {
        Some(u) => Some(
            store
                .account_by_username(u)
                .await?
                .ok_or_else(|| AdminError::NotFound(format!("no account '{u}'")))?
                .id,
        ),
        None => None,
    };
    let mut out = Vec::new();
    for app in store.list_applications(owner_id).await? {
        out.push(view(store, app).await?);
    }
    Ok(out)
}

/// Suspends, reactivates or revokes an application. Suspension stops its
/// tokens at introspection at once (the token lookup reads the status);
/// revocation also revokes every token it holds, for good.
pub async fn set_status(store: &dyn Store, actor: &Actor, client_id: &str, status: Status) -> AdminResult<ApplicationView> {
    let mut app = load(store, client_id).await?;
    if app.status == Status::Revoked && status != Status::Revoked {
        return Err(AdminError::Invalid("a revoked application cannot be reactivated; register a new one".into()));
    }
    app.status = status;
    app.updated_at = actor.now;
    let changed = event(actor, &format!("application.{}", verb(status)), Some(client_id), None, serde_json::Value::Null);
    store.update_application_audited(&app, Some(&changed)).await?;
    if status == Status::Revoked {
        // Already inactive through the application's status; revoked for good as well.
        let n = store.revoke_application_tokens(client_id, actor.now).await?;
        let revoked = event(actor, "application.tokens_revoked", Some(client_id), None, serde_json::json!({"revoked_tokens": n}));
        store.write_batch(&charter_store::WriteBatch { audit: vec![revoked], ..Default::default() }).await?;
    }
    view(store, app).await
}

/// A change to an application; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ApplicationChange {
    pub name: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub add_scopes: Vec<String>,
    pub remove_scopes: Vec<String>,
    pub filters: Option<Vec<String>>,
    pub restricted: Option<bool>,
    pub token_format: Option<String>,
    pub grant_types: Option<Vec<String>>,
    pub redirect_uris: Option<Vec<String>>,
    pub skip_authorization: Option<bool>,
}

pub async fn update(store: &dyn Store, actor: &Actor, client_id: &str, change: ApplicationChange) -> AdminResult<ApplicationView> {
    let mut app = load(store, client_id).await?;
    let before = view(store, app.clone()).await?;
    let known = known_scopes(store).await?;
    if let Some(n) = change.name {
        check_display_name(&n)?;
        app.name = n.trim().to_owned();
    }
    if let Some(s) = change.scopes {
        app.allowed_scopes = parse_scopes(&known, &s)?;
    }
    if !change.add_scopes.is_empty() {
        app.allowed_scopes = app.allowed_scopes.union(&parse_scopes(&known, &change.add_scopes)?);
    }
    if !change.remove_scopes.is_empty() {
        let remove = ScopeSet::parse_space_separated(&change.remove_scopes.join(" "))
            .map_err(|e| AdminError::Invalid(e.to_string()))?;
        app.allowed_scopes = app.allowed_scopes.difference(&remove);
    }
    if let Some(f) = change.filters {
        app.filters = parse_filter_list(&f)?;
    }
    if let Some(r) = change.restricted {
        app.restricted = r;
    }
    if let Some(f) = change.token_format {
        app.token_format = f.parse().map_err(AdminError::Invalid)?;
    }
    if let Some(g) = change.grant_types {
        app.grant_types = parse_grants(&g, app.client_type)?;
    }
    if let Some(u) = change.redirect_uris {
        app.redirect_uris = u.iter().map(|u| RedirectUri::parse(u).map_err(AdminError::Invalid)).collect::<AdminResult<_>>()?;
    }
    if let Some(s) = change.skip_authorization {
        app.skip_authorization = s;
    }
    check_redirects(&app.grant_types, &app.redirect_uris)?;
    app.updated_at = actor.now;
    let after = view(store, app.clone()).await?;
    let changed = event(actor, "application.updated", Some(client_id), None, serde_json::json!({"before": before, "after": after}));
    store.update_application_audited(&app, Some(&changed)).await?;
    Ok(after)
}

/// A name shown to users on the consent page: 1 to 255 characters, no control or
/// bidirectional-formatting characters (which could reorder the page's sentences).
pub(crate) fn check_display_name(name: &str) -> AdminResult<()> {
    let bidi = |c: char| matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{061c}');
    if name.trim().is_empty() || name.len() > 255 || name.chars().any(|c| c.is_control() || bidi(c)) {
        return Err(AdminError::Invalid(
            "a name must be 1 to 255 characters, without control or bidirectional-formatting characters".into(),
        ));
    }
    Ok(())
}
