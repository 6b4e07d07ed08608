//! The scope catalogue: resources owned by services, and their scopes.

use super::{audit, event, Actor, AdminError, AdminResult};
use charter_core::scope::ScopeName;
use charter_core::scope_policy::{
    check_resource_name, check_scope_against_resources, openedx_default_catalogue, Resource, ScopeDefinition,
};
use charter_store::Store;
use std::collections::BTreeMap;

pub async fn create_resource(
    store: &dyn Store,
    actor: &Actor,
    name: &str,
    service: &str,
    description: &str,
    extra_actions: Vec<String>,
) -> AdminResult<Resource> {
    check_resource_name(name).map_err(|e| AdminError::Invalid(e.to_string()))?;
    if service.trim().is_empty() {
        return Err(AdminError::Invalid("a resource names the service that owns it (--service)".into()));
    }
    for a in &extra_actions {
        ScopeName::parse(&format!("{name}:{a}")).map_err(|e| AdminError::Invalid(e.to_string()))?;
    }
    let r = Resource {
        name: name.to_owned(),
        service: service.trim().to_owned(),
        description: description.trim().to_owned(),
        extra_actions,
    };
    let saved = event(actor, "resource.saved", None, None, serde_json::to_value(&r).unwrap_or_default());
    store.upsert_resource_audited(&r, Some(&saved)).await?;
    Ok(r)
}

pub async fn create_scope(
    store: &dyn Store,
    actor: &Actor,
    name: &str,
    description: &str,
    is_default: bool,
    translations: BTreeMap<String, String>,
) -> AdminResult<ScopeDefinition> {
    let name = ScopeName::parse(name).map_err(|e| AdminError::Invalid(e.to_string()))?;
    if description.trim().is_empty() {
        return Err(AdminError::Invalid("a scope needs a description (--description): it is shown to users".into()));
    }
    let resources = store.resources().await?;
    check_scope_against_resources(&name, &resources).map_err(|e| AdminError::Invalid(e.to_string()))?;
    let def = ScopeDefinition { name, description: description.trim().to_owned(), translations, is_default };
    let saved = event(actor, "scope.saved", None, None, serde_json::to_value(&def).unwrap_or_default());
    store.upsert_scope_audited(&def, Some(&saved)).await?;
    Ok(def)
}

pub async fn delete_scope(store: &dyn Store, actor: &Actor, name: &str) -> AdminResult<()> {
    let deleted = event(actor, "scope.deleted", None, None, serde_json::json!({"scope": name}));
    store.delete_scope_audited(name, Some(&deleted)).await.map_err(|e| match e {
        charter_store::StoreError::NotFound(_) => AdminError::NotFound(format!("no scope '{name}'")),
        other => other.into(),
    })
}

/// Loads Open edX's default catalogue into an empty store. Returns whether it did.
pub async fn seed_openedx_defaults(store: &dyn Store, actor: &Actor) -> AdminResult<bool> {
    if !store.scopes().await?.is_empty() {
        return Ok(false);
    }
    let (resources, scopes) = openedx_default_catalogue();
    for r in &resources {
        store.upsert_resource(r).await?;
    }
    for s in &scopes {
        store.upsert_scope(s).await?;
    }
    audit(store, actor, "catalogue.seeded", None, None, serde_json::json!({"scopes": scopes.len()})).await?;
    Ok(true)
}
