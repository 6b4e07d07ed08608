//! The scope catalogue and the rules deciding which scopes a token gets.
//!
//! Open edX's rules: available to an application = (its allowed scopes ∪ the
//! defaults) ∩ known scopes; a request for anything outside that is rejected
//! with `invalid_scope` (never trimmed); no `scope` parameter gives the defaults.

use crate::client::{Application, GrantType};
use crate::error::OAuthError;
use crate::scope::{ScopeName, ScopeSet, STANDARD_ACTIONS};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A resource (OEP-4): a named group of capabilities, owned by one service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resource {
    pub name: String,
    /// The service that owns the resource and the metadata of its scopes.
    pub service: String,
    pub description: String,
    /// Actions beyond `read` and `write` that this resource declares.
    #[serde(default)]
    pub extra_actions: Vec<String>,
}

/// A scope in the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeDefinition {
    pub name: ScopeName,
    /// English description, shown when no translation exists.
    pub description: String,
    /// Descriptions by language tag (`es`, `fr`, `ar`, …).
    #[serde(default)]
    pub translations: BTreeMap<String, String>,
    /// Granted when a request names no scope, and available to every application.
    pub is_default: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogueError {
    #[error("resource '{0}' is not in the catalogue; create it first (with the service that owns it)")]
    UnknownResource(String),
    #[error("action '{action}' is not declared by resource '{resource}'; standard actions are read and write")]
    UndeclaredAction { resource: String, action: String },
    #[error("resource name '{0}' must be 1 to 32 characters of a-z, 0-9 and '_', starting with a letter")]
    BadResourceName(String),
    #[error("a description is required")]
    EmptyDescription,
}

/// Checks a new scope against the resources it belongs to.
pub fn check_scope_against_resources(
    name: &ScopeName,
    resources: &[Resource],
) -> Result<(), CatalogueError> {
    let Some((resource, action)) = name.parts() else {
        return Ok(());
    };
    let r = resources
        .iter()
        .find(|r| r.name == resource)
        .ok_or_else(|| CatalogueError::UnknownResource(resource.to_owned()))?;
    if STANDARD_ACTIONS.contains(&action) || r.extra_actions.iter().any(|a| a == action) {
        Ok(())
    } else {
        Err(CatalogueError::UndeclaredAction { resource: resource.to_owned(), action: action.to_owned() })
    }
}

pub fn check_resource_name(name: &str) -> Result<(), CatalogueError> {
    // A resource name follows the same rule as each half of a scope name.
    if ScopeName::parse(&format!("{name}:read")).is_ok() {
        Ok(())
    } else {
        Err(CatalogueError::BadResourceName(crate::scope::printable(name)))
    }
}

/// What the engine needs of the catalogue to decide a request.
#[derive(Debug, Clone, Default)]
pub struct ScopePolicy {
    pub known: ScopeSet,
    pub defaults: ScopeSet,
}

impl ScopePolicy {
    pub fn from_catalogue(scopes: &[ScopeDefinition]) -> Self {
        Self {
            known: scopes.iter().map(|s| s.name.clone()).collect(),
            defaults: scopes.iter().filter(|s| s.is_default).map(|s| s.name.clone()).collect(),
        }
    }

    /// (allowed ∪ defaults) ∩ known.
    pub fn available(&self, app: &Application) -> ScopeSet {
        app.allowed_scopes.union(&self.defaults).intersection(&self.known)
    }

    /// The scopes a token gets for this request, or `invalid_scope` (RFC 6749 §5.2).
    ///
    /// `requested` is the raw `scope` parameter, if any.
    pub fn resolve(
        &self,
        app: &Application,
        requested: Option<&str>,
        grant: GrantType,
    ) -> Result<ScopeSet, OAuthError> {
        let available = self.available(app);
        match requested {
            None => {
                let mut granted = self.defaults.intersection(&available);
                if grant == GrantType::ClientCredentials {
                    if let Ok(uid) = ScopeName::parse("user_id") {
                        if available.contains(&uid) {
                            granted.insert(uid);
                        }
                    }
                }
                Ok(granted)
            }
            Some(raw) => {
                let requested = ScopeSet::parse_space_separated(raw)
                    .map_err(|e| OAuthError::invalid_scope(e.to_string()))?;
                let unknown = requested.difference(&self.known);
                if !unknown.is_empty() {
                    return Err(OAuthError::invalid_scope(format!("unknown scope: {unknown}")));
                }
                let beyond = requested.difference(&available);
                if !beyond.is_empty() {
                    return Err(OAuthError::invalid_scope(format!(
                        "the application is not allowed the scope: {beyond}"
                    )));
                }
                Ok(requested)
            }
        }
    }
}

/// Lets an application introspect tokens issued to other applications.
pub const INTROSPECT_SCOPE: &str = "charter:introspect";
/// Lets an application read access reports through the API.
pub const ADMIN_SCOPE: &str = "charter:admin";

/// The catalogue a fresh Charter starts with: Open edX's scopes and Charter's own.
pub fn openedx_default_catalogue() -> (Vec<Resource>, Vec<ScopeDefinition>) {
    let res = |name: &str, description: &str| Resource {
        name: name.into(),
        service: "lms".into(),
        description: description.into(),
        extra_actions: vec![],
    };
    let mut resources = vec![
        res("certificates", "Course certificates"),
        res("grades", "Grades in enrolled courses"),
        res("tpa", "Third-party authentication username mappings"),
    ];
    resources.push(Resource {
        name: "charter".into(),
        service: "charter".into(),
        description: "Charter itself: introspection, observations, administration".into(),
        extra_actions: vec!["introspect".into(), "report".into(), "admin".into()],
    });
    let scope = |name: &str, description: &str, is_default: bool| {
        ScopeName::parse(name).ok().map(|name| ScopeDefinition {
            name,
            description: description.into(),
            translations: BTreeMap::new(),
            is_default,
        })
    };
    let scopes = [
        scope("read", "Read access", true),
        scope("write", "Write access", true),
        scope("email", "Know your email address", true),
        scope("profile", "Know your name and username", true),
        scope("user_id", "Know your user identifier", false),
        scope("openid", "Sign you in with your account", false),
        scope("certificates:read", "Retrieve your course certificates", false),
        scope("grades:read", "Retrieve your grades for your enrolled courses", false),
        scope("tpa:read", "Retrieve your third-party authentication username mapping", false),
        scope(INTROSPECT_SCOPE, "Introspect the access tokens of other applications (resource servers)", false),
        scope(charter_wire::REPORT_SCOPE, "Send access decisions to Charter's access report (resource servers)", false),
        scope(ADMIN_SCOPE, "Read access reports and administer Charter", false),
    ]
    .into_iter()
    .flatten()
    .collect();
    (resources, scopes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::*;
    use crate::time::UnixTime;
    use crate::OAuthErrorCode;

    fn app(allowed: &str) -> Application {
        Application {
            id: "a".into(),
            client_id: ClientId::parse("c").unwrap_or_else(|_| unreachable!()),
            name: "n".into(),
            owner_id: 1,
            client_type: ClientType::Confidential,
            grant_types: vec![GrantType::ClientCredentials],
            redirect_uris: vec![],
            allowed_scopes: ScopeSet::parse_space_separated(allowed).unwrap_or_default(),
            filters: vec![],
            restricted: false,
            token_format: TokenFormat::Jwt,
            skip_authorization: false,
            status: Status::Active,
            created_at: UnixTime(0),
            updated_at: UnixTime(0),
        }
    }

    fn policy() -> ScopePolicy {
        ScopePolicy::from_catalogue(&openedx_default_catalogue().1)
    }

    #[test]
    fn defaults_when_no_scope() {
        let p = policy();
        let s = p.resolve(&app(""), None, GrantType::ClientCredentials).unwrap_or_default();
        assert_eq!(s.to_space_separated(), "email profile read write");
        let s = p.resolve(&app("user_id grades:read"), None, GrantType::ClientCredentials).unwrap_or_default();
        assert_eq!(s.to_space_separated(), "email profile read user_id write");
        let s = p.resolve(&app("user_id"), None, GrantType::Password).unwrap_or_default();
        assert_eq!(s.to_space_separated(), "email profile read write");
    }

    #[test]
    fn requested_must_be_available_not_trimmed() {
        let p = policy();
        let s = p.resolve(&app("grades:read"), Some("grades:read read"), GrantType::ClientCredentials);
        assert_eq!(s.map(|s| s.to_space_separated()).ok(), Some("grades:read read".into()));
        let e = p.resolve(&app("grades:read"), Some("grades:read certificates:read"), GrantType::ClientCredentials);
        assert_eq!(e.err().map(|e| e.code), Some(OAuthErrorCode::InvalidScope));
        let e = p.resolve(&app("grades:read"), Some("nonexistent:read"), GrantType::ClientCredentials);
        assert_eq!(e.err().map(|e| e.code), Some(OAuthErrorCode::InvalidScope));
        let e = p.resolve(&app(""), Some("BAD"), GrantType::ClientCredentials);
        assert_eq!(e.err().map(|e| e.code), Some(OAuthErrorCode::InvalidScope));
    }

    #[test]
    fn allowed_but_unknown_is_not_available() {
        let p = policy();
        let s = p.available(&app("catalog:read grades:read"));
        assert!(!s.contains_str("catalog:read"));
        assert!(s.contains_str("grades:read"));
    }

    #[test]
    fn undeclared_actions_are_refused() {
        let (resources, _) = openedx_default_catalogue();
        let ok = ScopeName::parse("grades:write").map(|n| check_scope_against_resources(&n, &resources));
        assert_eq!(ok, Ok(Ok(())));
        let e = ScopeName::parse("grades:delete").map(|n| check_scope_against_resources(&n, &resources));
        assert!(matches!(e, Ok(Err(CatalogueError::UndeclaredAction { .. }))));
        let e = ScopeName::parse("catalog:read").map(|n| check_scope_against_resources(&n, &resources));
        assert!(matches!(e, Ok(Err(CatalogueError::UnknownResource(_)))));
    }
}
