//! The verified claims of an access token, whether it was a JWT checked locally
//! or an opaque token resolved by introspection.

use serde::de::{self, Deserializer};
use serde::Deserialize;
use std::ops::Deref;
use std::sync::Arc;

/// Where the claims came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    /// A JWT whose signature was verified against the issuer's published keys.
    Jwt,
    /// An opaque token the issuer vouched for at its introspection endpoint.
    Introspection,
}

/// What a verified token says about its holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// The application (OAuth client) the token was issued to. Charter's tokens
    /// always name it; Open edX's own JWTs (from the LMS) do not. Decisions about a
    /// token without one are logged but not reported to Charter.
    pub client_id: Option<String>,
    /// The token's scopes (Open edX `scopes`, or RFC 9068 `scope` split on spaces).
    pub scopes: Vec<String>,
    /// Open edX filters: `content_org:<org>`, `user:me`, `tpa_provider:<id>`.
    pub filters: Vec<String>,
    /// Open edX restricted application: its scopes and filters bind it.
    pub is_restricted: bool,
    /// The user the token acts for (for client_credentials: the application's service user).
    pub preferred_username: Option<String>,
    pub sub: Option<String>,
    pub iss: String,
    pub aud: Vec<String>,
    /// Unix seconds.
    pub exp: i64,
    pub iat: Option<i64>,
    pub jti: Option<String>,
    /// The application's grant type (Open edX claim), when the token says.
    pub grant_type: Option<String>,
    pub email: Option<String>,
    pub user_id: Option<i64>,
    pub version: Option<String>,
    pub source: TokenSource,
}

impl Claims {
    /// The client id, or `"unknown"` when the token names none (for display and logs).
    pub fn client_id_or_unknown(&self) -> &str {
        self.client_id.as_deref().unwrap_or("unknown")
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// The orgs of the token's `content_org:<org>` filters.
    pub fn content_orgs(&self) -> impl Iterator<Item = &str> {
        self.filters.iter().filter_map(|f| filter_value(f, "content_org"))
    }

    /// The value of the token's first `user:<value>` filter (`me` in practice).
    pub fn user_filter(&self) -> Option<&str> {
        self.filters.iter().find_map(|f| filter_value(f, "user"))
    }
}

/// `content_org:MITx` → `Some("MITx")` for kind `content_org`. A value holding a
/// second colon is malformed (Open edX's verifiers split on every colon) and ignored.
pub(crate) fn filter_value<'a>(filter: &'a str, kind: &str) -> Option<&'a str> {
    let (k, v) = filter.split_once(':')?;
    (k == kind && !v.is_empty() && !v.contains(':')).then_some(v)
}

/// The claims of a verified token, put in the request by the guard's layer.
/// Extract it in a handler: `async fn h(token: VerifiedToken)`, or
/// `Option<VerifiedToken>` on report-only routes (where invalid tokens pass).
#[derive(Debug, Clone)]
pub struct VerifiedToken(pub Arc<Claims>);

impl Deref for VerifiedToken {
    type Target = Claims;
    fn deref(&self) -> &Claims {
        &self.0
    }
}

/// The claims read from a JWT's payload. Everything optional here is checked
/// after the signature, so that refusals can say which claim was wrong.
#[derive(Debug, Deserialize)]
pub(crate) struct JwtClaims {
    #[serde(default)]
    pub iss: Option<String>,
    #[serde(default)]
    pub sub: Option<String>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub aud: Vec<String>,
    #[serde(default, deserialize_with = "numeric_date")]
    pub exp: Option<i64>,
    #[serde(default, deserialize_with = "numeric_date")]
    pub nbf: Option<i64>,
    #[serde(default, deserialize_with = "numeric_date")]
    pub iat: Option<i64>,
    #[serde(default)]
    pub jti: Option<String>,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    #[serde(default)]
    pub filters: Vec<String>,
    #[serde(default)]
    pub is_restricted: bool,
    #[serde(default)]
    pub preferred_username: Option<String>,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub grant_type: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub user_id: Option<i64>,
}

/// RFC 7662 §2.2 response, with Charter's (and Open edX's) extra members.
#[derive(Debug, Deserialize)]
pub(crate) struct IntrospectionClaims {
    pub active: bool,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub client_id: Option<String>,
    /// RFC 7662 §2.2 `token_type`; Charter answers `Bearer`.
    #[serde(default)]
    pub token_type: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default, deserialize_with = "numeric_date")]
    pub exp: Option<i64>,
    #[serde(default, deserialize_with = "numeric_date")]
    pub iat: Option<i64>,
    #[serde(default, deserialize_with = "numeric_date")]
    pub nbf: Option<i64>,
    #[serde(default)]
    pub sub: Option<String>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub aud: Vec<String>,
    #[serde(default)]
    pub iss: Option<String>,
    #[serde(default)]
    pub jti: Option<String>,
    #[serde(default)]
    pub filters: Vec<String>,
    #[serde(default)]
    pub is_restricted: bool,
}

pub(crate) fn split_scope(scope: Option<&str>) -> Vec<String> {
    scope.map(|s| s.split_ascii_whitespace().map(str::to_owned).collect()).unwrap_or_default()
}

fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<OneOrMany>::deserialize(d)? {
        None => Vec::new(),
        Some(OneOrMany::One(s)) => vec![s],
        Some(OneOrMany::Many(v)) => v,
    })
}

/// RFC 7519 NumericDate: a JSON number, possibly with a fraction (truncated).
fn numeric_date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let v = Option::<serde_json::Number>::deserialize(d)?;
    match v {
        None => Ok(None),
        Some(n) => {
            if let Some(i) = n.as_i64() {
                Ok(Some(i))
            } else if let Some(f) = n.as_f64().filter(|f| f.is_finite() && f.abs() < 1e15) {
                Ok(Some(f.trunc() as i64))
            } else {
                Err(de::Error::custom("not a NumericDate"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_values() {
        assert_eq!(filter_value("content_org:MITx", "content_org"), Some("MITx"));
        assert_eq!(filter_value("content_org:", "content_org"), None);
        assert_eq!(filter_value("content_org:a:b", "content_org"), None);
        assert_eq!(filter_value("user:me", "content_org"), None);
        assert_eq!(filter_value("user:me", "user"), Some("me"));
    }

    #[test]
    fn audience_and_dates() {
        let c: JwtClaims =
            serde_json::from_str(r#"{"aud":"a","exp":1.5,"scopes":["x"]}"#).unwrap_or_else(|_| unreachable!());
        assert_eq!(c.aud, vec!["a".to_owned()]);
        assert_eq!(c.exp, Some(1));
        let c: JwtClaims = serde_json::from_str(r#"{"aud":["a","b"]}"#).unwrap_or_else(|_| unreachable!());
        assert_eq!(c.aud.len(), 2);
        assert!(serde_json::from_str::<JwtClaims>(r#"{"exp":"soon"}"#).is_err());
    }
}
