//! Browser sign-in: sessions, the login form, and validation of authorization requests.

use crate::i18n::Lang;
use crate::oauth_response::unavailable;
use crate::state::AppState;
use axum::http::{header, HeaderMap, HeaderValue};
use charter_core::browser::{AuthorizationRequest, PkceChallenge, Prompt, SessionRecord};
use charter_core::client::{Account, ClientType, GrantType, RedirectUri, Status};
use charter_core::error::OAuthError;
use charter_core::request::FormParams;
use charter_core::time::UnixTime;

pub const SESSION_COOKIE: &str = "charter_session";
pub const LOGIN_CSRF_COOKIE: &str = "charter_login_csrf";
pub const LANG_COOKIE: &str = "charter_lang";

/// The value of cookie `name`, if the request carries it exactly once (a second one may
/// have been planted by a sibling site or a more specific path).
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let mut found = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .filter(|(k, _)| *k == name)
        .map(|(_, v)| v);
    match (found.next(), found.next()) {
        (Some(v), None) => Some(v),
        _ => None,
    }
}

/// `HttpOnly; SameSite=Lax; Path=/`, `Secure` when served over https.
pub fn set_cookie(state: &AppState, name: &str, value: &str, max_age: i64) -> Option<HeaderValue> {
    let secure = if state.settings.public_url.starts_with("https://") { "; Secure" } else { "" };
    HeaderValue::from_str(&format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}")).ok()
}

/// The page language: `?lang=`, else the language cookie, else `Accept-Language`.
pub fn lang(headers: &HeaderMap, explicit: Option<&str>) -> Lang {
    let accept = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
    Lang::negotiate(explicit.or(cookie(headers, LANG_COOKIE)), accept)
}

/// The signed-in user of this browser, if its session is live and the account active.
pub async fn current_session(
    state: &AppState,
    headers: &HeaderMap,
    now: UnixTime,
) -> Result<Option<(SessionRecord, Account)>, OAuthError> {
    let Some((id, secret)) = cookie(headers, SESSION_COOKIE).and_then(charter_core::token::split_opaque) else {
        return Ok(None);
    };
    let found = state.store.session_by_id(id).await.map_err(|e| unavailable(&e))?;
    Ok(found.filter(|(s, a)| {
        s.is_live(now) && a.status == Status::Active && state.digest_key.verify(secret.as_bytes(), &s.digest)
    }))
}

/// The key failed logins are counted under for a client address: the address, or its
/// /64 for IPv6 (one host commonly holds a whole /64).
pub fn throttle_source(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V4(v4) => v4.to_string(),
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// A `next` target that stays on this site: a path, never `//host` or a scheme.
pub fn safe_next(next: Option<&str>) -> String {
    // Browsers drop tabs and newlines and read `\` as `/` before resolving a Location,
    // so `/\t/evil` or `/\\evil` would leave the site: refuse any whitespace or control
    // character, and any second character that is a slash or backslash.
    let ok = |n: &str| {
        let mut chars = n.chars();
        chars.next() == Some('/')
            && !matches!(chars.next(), Some('/') | Some('\\'))
            && !n.chars().any(|c| c.is_control() || c.is_whitespace())
            && n.len() <= 4096
    };
    match next {
        Some(n) if ok(n) => n.to_owned(),
        _ => "/".to_owned(),
    }
}

/// Why an authorization request failed.
pub enum AuthorizeFailure {
    /// Shown to the user; never redirected (unknown client, unregistered redirect URI).
    Page(String),
    /// Sent back to the client's redirect URI (RFC 6749 §4.1.2.1).
    Redirect(String),
}

/// `uri` with `pairs` added to its query.
pub fn with_query(uri: &str, pairs: &[(&str, &str)]) -> String {
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        ser.append_pair(k, v);
    }
    let sep = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{sep}{}", ser.finish())
}

fn redirect_error(uri: &RedirectUri, e: &OAuthError, state: Option<&str>) -> AuthorizeFailure {
    let body = e.body();
    let desc = body["error_description"].as_str().unwrap_or("");
    let mut pairs = vec![("error", e.code.as_str()), ("error_description", desc)];
    if let Some(s) = state {
        pairs.push(("state", s));
    }
    AuthorizeFailure::Redirect(with_query(uri.as_str(), &pairs))
}

/// Validates an authorization request (RFC 6749 §4.1.1, RFC 7636). Until the client
/// and its redirect URI are known good, failures are pages, not redirects.
pub async fn validate(state: &AppState, p: &FormParams, lang: Lang) -> Result<AuthorizationRequest, AuthorizeFailure> {
    let page = |id: &str, detail: &str| AuthorizeFailure::Page(lang.t(id, &[("detail", detail)]));
    let client_id = p.get("client_id").ok_or_else(|| page("error-bad-request", "client_id"))?;
    let app = match state.store.application(client_id).await {
        Ok(Some(a)) if a.status == Status::Active => a,
        Ok(_) => return Err(page("error-unknown-client", "")),
        Err(e) => {
            let _ = unavailable(&e);
            return Err(page("error-bad-request", "temporarily unavailable"));
        }
    };
    let redirect_uri = match p.get("redirect_uri") {
        Some(r) => app.redirect_uris.iter().find(|u| u.as_str() == r).cloned(),
        None if app.redirect_uris.len() == 1 => app.redirect_uris.first().cloned(),
        None => None,
    }
    .ok_or_else(|| page("error-redirect-uri", ""))?;
    if p.get("state").is_some_and(|s| s.len() > 1024) {
        return Err(page("error-bad-request", "state is longer than 1024 characters"));
    }
    let st = p.get("state");
    let fail = |e: OAuthError| redirect_error(&redirect_uri, &e, st);
    if p.get("nonce").is_some_and(|n| n.len() > 512) {
        return Err(fail(OAuthError::invalid_request("nonce is longer than 512 characters")));
    }
    match p.get("response_type") {
        Some("code") => {}
        _ => return Err(fail(OAuthError::new(charter_core::OAuthErrorCode::UnsupportedResponseType, "only response_type=code is supported"))),
    }
    if !app.allows_grant(GrantType::AuthorizationCode) {
        return Err(fail(OAuthError::unauthorized_client("the application is not allowed the authorization code grant")));
    }
    let policy = state.catalogue().policy.clone();
    let scopes = policy.resolve(&app, p.get("scope"), GrantType::AuthorizationCode).map_err(&fail)?;
    let allow_plain = state.settings.allow_plain_pkce;
    let pkce = PkceChallenge::parse(p.get("code_challenge"), p.get("code_challenge_method"), allow_plain).map_err(&fail)?;
    if pkce.is_none() && app.client_type == ClientType::Public {
        return Err(fail(OAuthError::invalid_request("public clients must use PKCE (code_challenge with S256)")));
    }
    let prompt = match p.get("prompt") {
        None => Prompt::Default,
        Some("none") => Prompt::None,
        Some("consent") => Prompt::Consent,
        Some("login") => Prompt::Login,
        Some(_) => return Err(fail(OAuthError::invalid_request("prompt must be none, login or consent"))),
    };
    let nonce = p.get("nonce").map(str::to_owned);
    Ok(AuthorizationRequest { application: app, redirect_uri, scopes, state: st.map(str::to_owned), nonce, pkce, prompt })
}

/// The error redirect for a validated request (`access_denied`, `login_required`, …).
pub fn refuse(req: &AuthorizationRequest, code: charter_core::OAuthErrorCode, description: &str) -> String {
    match redirect_error(&req.redirect_uri, &OAuthError::new(code, description), req.state.as_deref()) {
        AuthorizeFailure::Redirect(u) | AuthorizeFailure::Page(u) => u,
    }
}
