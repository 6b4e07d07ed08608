//! The claims of a JWT access token: RFC 9068 and Open edX's, in one set.

use crate::client::{Account, Status};
use crate::scope::ScopeSet;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    // RFC 9068 §2.2
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub client_id: String,
    /// Space-separated (RFC 9068 §2.2.3).
    pub scope: String,
    // Open edX (edx-drf-extensions)
    pub scopes: Vec<String>,
    pub filters: Vec<String>,
    pub is_restricted: bool,
    pub version: String,
    pub preferred_username: String,
    /// The application's configured grant type, with hyphens.
    pub grant_type: String,
    pub email_verified: bool,
    // Scope-driven claims
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub administrator: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub superuser: Option<bool>,
}

/// The claims that scopes add, about the token's user (Open edX `JwtBuilder`).
#[derive(Debug, Default)]
pub struct UserClaims {
    pub user_id: Option<i64>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub administrator: Option<bool>,
    pub superuser: Option<bool>,
}

pub fn user_claims(scopes: &ScopeSet, user: &Account) -> UserClaims {
    let mut c = UserClaims::default();
    if scopes.contains_str("user_id") {
        c.user_id = Some(user.id);
    }
    if scopes.contains_str("email") {
        c.email = user.email.clone();
    }
    if scopes.contains_str("profile") {
        let full = user.full_name.clone().unwrap_or_default();
        let (given, family) = full.split_once(' ').unwrap_or((full.as_str(), ""));
        c.given_name = Some(given.to_owned());
        c.family_name = Some(family.to_owned());
        c.name = Some(full.clone());
        c.administrator = Some(user.is_staff);
        c.superuser = Some(user.is_superuser);
    }
    c
}

pub fn email_verified(user: &Account) -> bool {
    user.status == Status::Active
}

/// OpenID Connect Core §2 ID token claims, with the profile and email claims by scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdTokenClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub auth_time: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// Left half of the hash of the access token, base64url (OIDC Core §3.1.3.6).
    pub at_hash: String,
    #[serde(flatten)]
    pub user: UserInfo,
}

/// The claims about the user that `/userinfo` returns, by scope (OIDC Core §5.4).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
}

pub fn userinfo(scopes: &ScopeSet, user: &Account) -> UserInfo {
    let mut u = UserInfo::default();
    if scopes.contains_str("profile") {
        let full = user.full_name.clone().unwrap_or_default();
        let (given, family) = full.split_once(' ').unwrap_or((full.as_str(), ""));
        u.preferred_username = Some(user.username.clone());
        u.given_name = Some(given.to_owned());
        u.family_name = Some(family.to_owned());
        u.name = Some(full.clone());
    }
    if scopes.contains_str("email") {
        // Charter does not verify addresses, so OpenID `email_verified` is not claimed.
        u.email = user.email.clone();
    }
    u
}

/// `at_hash`: the left half of the access token's hash with the ID token's algorithm's hash.
pub fn at_hash(access_token: &str, alg: crate::keys::SigningAlgorithm) -> String {
    use aws_lc_rs::digest;
    use base64::Engine;
    let d = match alg {
        crate::keys::SigningAlgorithm::RS512 => digest::digest(&digest::SHA512, access_token.as_bytes()),
        // EdDSA with Ed25519 uses SHA-512 as well (OIDC errata / common practice).
        crate::keys::SigningAlgorithm::EdDSA => digest::digest(&digest::SHA512, access_token.as_bytes()),
        _ => digest::digest(&digest::SHA256, access_token.as_bytes()),
    };
    let bytes = d.as_ref();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes[..bytes.len() / 2])
}
