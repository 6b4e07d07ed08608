//! Settings that shape tokens. Loaded by the binary; passed to the engine.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct TokenSettings {
    /// The `iss` of every token and the issuer of the metadata document.
    pub issuer: String,
    /// The `aud` of JWT access tokens (Open edX's `JWT_AUDIENCE`).
    pub audience: String,
    /// Lifetime of access tokens, in seconds (Open edX: 3600).
    pub access_token_ttl: i64,
    /// The `version` claim (Open edX verifiers refuse a major version above 1).
    pub jwt_version: String,
    /// Lifetime of refresh tokens, in seconds (0: they do not expire, as in Open edX).
    pub refresh_token_ttl: i64,
    /// Issue refresh tokens with client_credentials too (off: RFC 6749 §4.4.3 advises against).
    pub refresh_for_client_credentials: bool,
}

impl Default for TokenSettings {
    fn default() -> Self {
        Self {
            issuer: "http://127.0.0.1:8000/oauth2".into(),
            audience: "lms-key".into(),
            access_token_ttl: 3600,
            jwt_version: "1.2.0".into(),
            refresh_token_ttl: 30 * 86_400,
            refresh_for_client_credentials: false,
        }
    }
}
