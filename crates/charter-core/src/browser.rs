//! Browser sign-in: sessions, authorization codes (RFC 6749 §4.1) and PKCE (RFC 7636).

use crate::client::{Account, Application, RedirectUri};
use crate::digest::DigestKey;
use crate::error::OAuthError;
use crate::scope::ScopeSet;
use crate::time::UnixTime;
use aws_lc_rs::digest;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;

/// Lifetime of an authorization code (RFC 6749 §4.1.2 recommends at most 10 minutes; Open edX uses 60 s).
pub const CODE_TTL: i64 = 60;
/// Lifetime of a browser session.
pub const SESSION_TTL: i64 = 12 * 3600;

/// A signed-in browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub id: String,
    pub digest: [u8; 32],
    pub account_id: i64,
    pub csrf: String,
    pub auth_time: UnixTime,
    pub expires_at: UnixTime,
    pub revoked_at: Option<UnixTime>,
}

impl SessionRecord {
    pub fn is_live(&self, now: UnixTime) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}

/// A session cookie value and its record.
pub fn new_session(account: &Account, key: &DigestKey, now: UnixTime) -> Result<(String, SessionRecord), crate::digest::KeyMaterialError> {
    let id = crate::secret::generate_ordered_id(now)?;
    let secret = crate::secret::generate_secret()?;
    let record = SessionRecord {
        id: id.clone(),
        digest: key.digest(secret.as_bytes()),
        account_id: account.id,
        csrf: crate::secret::generate_secret()?,
        auth_time: now,
        expires_at: now.plus(SESSION_TTL),
        revoked_at: None,
    };
    Ok((format!("{id}{secret}"), record))
}

/// PKCE methods (RFC 7636 §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PkceMethod {
    S256,
    Plain,
}

impl PkceMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            PkceMethod::S256 => "S256",
            PkceMethod::Plain => "plain",
        }
    }
}

/// A PKCE challenge as the authorization request carried it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PkceChallenge {
    pub challenge: String,
    pub method: PkceMethod,
}

/// RFC 7636 §4.1: 43 to 128 characters of `[A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~"`.
fn pkce_syntax_ok(s: &str) -> bool {
    (43..=128).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

impl PkceChallenge {
    /// Parses `code_challenge` and `code_challenge_method` (default `plain`, RFC 7636 §4.3).
    pub fn parse(challenge: Option<&str>, method: Option<&str>, allow_plain: bool) -> Result<Option<Self>, OAuthError> {
        let Some(challenge) = challenge else {
            if method.is_some() {
                return Err(OAuthError::invalid_request("code_challenge_method given without code_challenge"));
            }
            return Ok(None);
        };
        let method = match method.unwrap_or("plain") {
            "S256" => PkceMethod::S256,
            "plain" if allow_plain => PkceMethod::Plain,
            "plain" => return Err(OAuthError::invalid_request("the PKCE method plain is not allowed; use S256")),
            _ => return Err(OAuthError::invalid_request("unsupported code_challenge_method; use S256")),
        };
        if !pkce_syntax_ok(challenge) {
            return Err(OAuthError::invalid_request("code_challenge must be 43 to 128 unreserved characters"));
        }
        Ok(Some(Self { challenge: challenge.to_owned(), method }))
    }

    /// RFC 7636 §4.6, comparing in constant time.
    pub fn verify(&self, verifier: &str) -> bool {
        if !pkce_syntax_ok(verifier) {
            return false;
        }
        let computed = match self.method {
            PkceMethod::S256 => B64.encode(digest::digest(&digest::SHA256, verifier.as_bytes())),
            PkceMethod::Plain => verifier.to_owned(),
        };
        subtle::ConstantTimeEq::ct_eq(computed.as_bytes(), self.challenge.as_bytes()).into()
    }
}

/// A fresh PKCE verifier and its S256 challenge (for tools and demos acting as a client).
pub fn pkce_pair() -> Result<(String, String), crate::digest::KeyMaterialError> {
    let verifier = crate::secret::generate_secret()?;
    let challenge = B64.encode(digest::digest(&digest::SHA256, verifier.as_bytes()));
    Ok((verifier, challenge))
}

/// An authorization code as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeRecord {
    pub id: String,
    pub digest: [u8; 32],
    pub application_id: String,
    pub client_id: String,
    pub account_id: i64,
    pub redirect_uri: String,
    pub scopes: ScopeSet,
    pub pkce: Option<PkceChallenge>,
    pub nonce: Option<String>,
    pub auth_time: UnixTime,
    pub issued_at: UnixTime,
    pub expires_at: UnixTime,
    pub used_at: Option<UnixTime>,
}

/// A validated authorization request (RFC 6749 §4.1.1), the application it names and
/// the redirect URI it will answer at.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    pub application: Application,
    pub redirect_uri: RedirectUri,
    pub scopes: ScopeSet,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub pkce: Option<PkceChallenge>,
    pub prompt: Prompt,
}

/// OpenID Connect `prompt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Prompt {
    #[default]
    Default,
    /// Never show a page: answer `login_required` / `consent_required` instead.
    None,
    /// Show the consent page even when consent was given before.
    Consent,
    /// Ask the user to sign in again.
    Login,
}

/// Makes the code that answers `req` for `user`.
pub fn new_code(
    req: &AuthorizationRequest,
    user: &Account,
    auth_time: UnixTime,
    key: &DigestKey,
    now: UnixTime,
) -> Result<(String, CodeRecord), crate::digest::KeyMaterialError> {
    let id = crate::secret::generate_ordered_id(now)?;
    let secret = crate::secret::generate_secret()?;
    let record = CodeRecord {
        id: id.clone(),
        digest: key.digest(secret.as_bytes()),
        application_id: req.application.id.clone(),
        client_id: req.application.client_id.as_str().to_owned(),
        account_id: user.id,
        redirect_uri: req.redirect_uri.as_str().to_owned(),
        scopes: req.scopes.clone(),
        pkce: req.pkce.clone(),
        nonce: req.nonce.clone(),
        auth_time,
        issued_at: now,
        expires_at: now.plus(CODE_TTL),
        used_at: None,
    };
    Ok((format!("{id}{secret}"), record))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_rfc7636_appendix_b() {
        let c = PkceChallenge::parse(Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"), Some("S256"), false)
            .ok()
            .flatten();
        let c = c.unwrap_or_else(|| unreachable!());
        assert!(c.verify("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"));
        assert!(!c.verify("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXl"));
    }

    #[test]
    fn plain_refused_unless_allowed_and_syntax_checked() {
        assert!(PkceChallenge::parse(Some(&"a".repeat(43)), None, false).is_err());
        assert!(PkceChallenge::parse(Some(&"a".repeat(43)), Some("plain"), true).is_ok());
        assert!(PkceChallenge::parse(Some("short"), Some("S256"), false).is_err());
        assert!(PkceChallenge::parse(Some(&"a".repeat(43)), Some("S512"), false).is_err());
        assert!(PkceChallenge::parse(None, Some("S256"), false).is_err());
        assert_eq!(PkceChallenge::parse(None, None, false).ok(), Some(None));
    }
}
