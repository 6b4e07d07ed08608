//! Client authentication (RFC 6749 §2.3): `client_secret_basic` and `client_secret_post`.

use crate::client::{ClientId, ClientRecord, ClientType};
use crate::client::Status;
use crate::digest::DigestKey;
use crate::error::OAuthError;
use crate::request::FormParams;
use crate::time::UnixTime;
use base64::Engine;

/// How the client presented its credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// `client_secret_basic`: HTTP Basic.
    Basic,
    /// `client_secret_post`: `client_id` and `client_secret` in the form.
    Post,
    /// A public client naming itself with `client_id` only.
    None,
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::Basic => "client_secret_basic",
            AuthMethod::Post => "client_secret_post",
            AuthMethod::None => "none",
        }
    }
}

/// Credentials as presented; the secret is never logged (custom `Debug`).
#[derive(Clone)]
pub struct PresentedCredentials {
    pub client_id: ClientId,
    pub secret: Option<String>,
    pub method: AuthMethod,
}

impl std::fmt::Debug for PresentedCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PresentedCredentials")
            .field("client_id", &self.client_id)
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .field("method", &self.method)
            .finish()
    }
}

fn decode_component(s: &str) -> String {
    // RFC 6749 §2.3.1: id and secret are form-urlencoded before Basic encoding.
    form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Reads the credentials from the `Authorization` header value (if any) and the form.
///
/// Using both Basic and a form secret in one request is `invalid_request`
/// (RFC 6749 §2.3: a client must not use more than one method). A malformed
/// Basic header is `invalid_client`.
pub fn presented_credentials(
    authorization: Option<&str>,
    form: &FormParams,
) -> Result<Option<PresentedCredentials>, OAuthError> {
    let form_id = form.get("client_id");
    let form_secret = form.get("client_secret");
    if let Some(header) = authorization {
        let (scheme, rest) = header.trim().split_once(' ').unwrap_or((header.trim(), ""));
        if scheme.eq_ignore_ascii_case("basic") {
            if form_secret.is_some() {
                return Err(OAuthError::invalid_request(
                    "the client authenticated with both HTTP Basic and client_secret; use one method",
                ));
            }
            let raw = base64::engine::general_purpose::STANDARD
                .decode(rest.trim())
                .map_err(|_| OAuthError::invalid_client("the Basic credentials are not valid base64"))?;
            let text = String::from_utf8(raw)
                .map_err(|_| OAuthError::invalid_client("the Basic credentials are not valid UTF-8"))?;
            let (id, secret) = text
                .split_once(':')
                .ok_or_else(|| OAuthError::invalid_client("the Basic credentials have no ':'"))?;
            let id = ClientId::parse(&decode_component(id))
                .map_err(|e| OAuthError::invalid_client(format!("client authentication failed: {e}")))?;
            if let Some(fid) = form_id {
                if fid != id.as_str() {
                    return Err(OAuthError::invalid_request(
                        "client_id in the form differs from the HTTP Basic client id",
                    ));
                }
            }
            let secret = decode_component(secret);
            return Ok(Some(PresentedCredentials {
                client_id: id,
                secret: (!secret.is_empty()).then_some(secret),
                method: AuthMethod::Basic,
            }));
        }
        // Other schemes (e.g. a Bearer token sent by mistake) are not client authentication.
    }
    match form_id {
        None if form_secret.is_some() => Err(OAuthError::invalid_request("client_secret given without client_id")),
        None => Ok(None),
        Some(id) => {
            let client_id = ClientId::parse(id)
                .map_err(|e| OAuthError::invalid_client(format!("client authentication failed: {e}")))?;
            Ok(Some(PresentedCredentials {
                client_id,
                secret: form_secret.map(str::to_owned),
                method: if form_secret.is_some() { AuthMethod::Post } else { AuthMethod::None },
            }))
        }
    }
}

/// Decides whether the presented credentials authenticate the stored client.
///
/// Every failure is the same `invalid_client` to the caller (no hint whether
/// the id or the secret was wrong); `reason` tells the audit log which.
pub fn authenticate(
    record: Option<&ClientRecord>,
    presented: &PresentedCredentials,
    digest_key: &DigestKey,
    now: UnixTime,
) -> Result<(), AuthFailure> {
    let Some(record) = record else {
        return Err(AuthFailure::UnknownClient);
    };
    let app = &record.application;
    match (app.client_type, &presented.secret) {
        (ClientType::Public, None) => {}
        (ClientType::Public, Some(_)) => return Err(AuthFailure::PublicClientWithSecret),
        (ClientType::Confidential, None) => return Err(AuthFailure::MissingSecret),
        (ClientType::Confidential, Some(secret)) => {
            let mut matched = false;
            for s in record.secrets.iter().filter(|s| s.is_live(now)) {
                // Check every live secret, so timing does not tell which matched.
                matched |= digest_key.verify(secret.as_bytes(), &s.digest);
            }
            if !matched {
                return Err(AuthFailure::WrongSecret);
            }
        }
    }
    if app.status != Status::Active {
        return Err(AuthFailure::ApplicationNotActive(app.status));
    }
    if record.owner.status != Status::Active {
        return Err(AuthFailure::OwnerNotActive);
    }
    Ok(())
}

/// Why client authentication failed (for the audit log, never for the client).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    UnknownClient,
    MissingSecret,
    WrongSecret,
    PublicClientWithSecret,
    ApplicationNotActive(Status),
    OwnerNotActive,
}

impl AuthFailure {
    pub fn reason(self) -> &'static str {
        match self {
            AuthFailure::UnknownClient => "unknown_client",
            AuthFailure::MissingSecret => "missing_secret",
            AuthFailure::WrongSecret => "wrong_secret",
            AuthFailure::PublicClientWithSecret => "public_client_with_secret",
            AuthFailure::ApplicationNotActive(Status::Suspended) => "application_suspended",
            AuthFailure::ApplicationNotActive(_) => "application_revoked",
            AuthFailure::OwnerNotActive => "owner_not_active",
        }
    }

    /// The RFC 6749 §5.2 error the client sees.
    pub fn to_oauth(self) -> OAuthError {
        OAuthError::invalid_client("client authentication failed")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(s: &str) -> FormParams {
        FormParams::parse(s.as_bytes()).unwrap_or_default()
    }

    #[test]
    fn basic_and_post_are_read() {
        let b64 = base64::engine::general_purpose::STANDARD.encode("my%20app:s%3Acret");
        let c = presented_credentials(Some(&format!("Basic {b64}")), &form("")).ok().flatten();
        let c = c.map(|c| (c.client_id.as_str().to_owned(), c.secret, c.method));
        assert_eq!(c, None, "a client id with a space is refused");
        let b64 = base64::engine::general_purpose::STANDARD.encode("app:s%3Acret");
        let c = presented_credentials(Some(&format!("Basic {b64}")), &form("")).ok().flatten();
        let c = c.map(|c| (c.client_id.as_str().to_owned(), c.secret, c.method));
        assert_eq!(c, Some(("app".into(), Some("s:cret".into()), AuthMethod::Basic)));
        let c = presented_credentials(None, &form("client_id=app&client_secret=x")).ok().flatten();
        assert_eq!(c.map(|c| c.method), Some(AuthMethod::Post));
    }

    #[test]
    fn both_methods_is_invalid_request() {
        let b64 = base64::engine::general_purpose::STANDARD.encode("app:x");
        let e = presented_credentials(Some(&format!("Basic {b64}")), &form("client_secret=x")).err();
        assert_eq!(e.map(|e| e.code), Some(crate::OAuthErrorCode::InvalidRequest));
    }

    #[test]
    fn bad_basic_is_invalid_client() {
        let e = presented_credentials(Some("Basic !!!"), &form("")).err();
        assert_eq!(e.map(|e| e.code), Some(crate::OAuthErrorCode::InvalidClient));
        let b64 = base64::engine::general_purpose::STANDARD.encode("nocolon");
        let e = presented_credentials(Some(&format!("Basic {b64}")), &form("")).err();
        assert_eq!(e.map(|e| e.code), Some(crate::OAuthErrorCode::InvalidClient));
    }
}
