//! The end-user pages: sign in, sign out, and the authorization endpoint with its consent page.

use crate::i18n::Lang;
use crate::pages::{self, language_links, ConsentPage, LoginPage, ScopeLine};
use crate::services::browser::{
    self as b, current_session, lang, refuse, safe_next, set_cookie, validate, AuthorizeFailure, LANG_COOKIE,
    LOGIN_CSRF_COOKIE, SESSION_COOKIE,
};
use crate::services::password;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use charter_core::audit::{AuditEvent, Outcome};
use charter_core::browser::{new_code, new_session, AuthorizationRequest, Prompt};
use charter_core::client::Account;
use charter_core::filter::Filter;
use charter_core::request::FormParams;
use charter_core::OAuthErrorCode;
use std::net::SocketAddr;
use subtle::ConstantTimeEq;

fn query_pairs(q: &FormParams) -> Vec<(String, String)> {
    q.pairs().map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

/// Whether the form carries the session's anti-forgery token (compared in constant time).
fn csrf_ok(session: &charter_core::browser::SessionRecord, form: &FormParams) -> bool {
    bool::from(session.csrf.as_bytes().ct_eq(form.get("csrf").unwrap_or("").as_bytes()))
}

fn see_other(to: &str) -> Response {
    let mut r = Redirect::to(to).into_response();
    *r.status_mut() = StatusCode::SEE_OTHER;
    crate::oauth_response::no_store(r.headers_mut());
    r
}

fn with_cookie(mut r: Response, cookie: Option<HeaderValue>) -> Response {
    if let Some(c) = cookie {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    r
}

/// Remembers an explicit language choice for the next pages.
fn remember_lang(state: &AppState, r: Response, explicit: Option<&str>, chosen: Lang) -> Response {
    match explicit {
        Some(_) => with_cookie(r, set_cookie(state, LANG_COOKIE, chosen.code(), 365 * 86_400)),
        None => r,
    }
}

fn unavailable_page(l: Lang) -> Response {
    pages::error(StatusCode::SERVICE_UNAVAILABLE, l, vec![], l.t("error-bad-request", &[("detail", "temporarily unavailable")]))
}

// --- sign in / out ---------------------------------------------------------------

/// `GET /login?next=…`
pub async fn login_page(State(state): State<AppState>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let q = FormParams::parse(q.unwrap_or_default().as_bytes()).unwrap_or_default();
    let l = lang(&headers, q.get("lang"));
    // Always a fresh token: a value the client brings may have been planted (login CSRF).
    let Ok(csrf) = charter_core::secret::generate_secret() else {
        return unavailable_page(l);
    };
    let page = LoginPage {
        lang: l,
        langs: language_links(l, "/login", &query_pairs(&q)),
        csrf: csrf.clone(),
        next: safe_next(q.get("next")),
        username: String::new(),
        error: None,
    };
    let r = pages::render(StatusCode::OK, &page);
    let r = with_cookie(r, set_cookie(&state, LOGIN_CSRF_COOKIE, &csrf, 3600));
    remember_lang(&state, r, q.get("lang"), l)
}

/// `POST /login`: the login form. Throttled per account and per client address.
pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Response {
    let l = lang(&headers, None);
    let now = state.clock.now();
    let Ok(f) = FormParams::parse(&body) else {
        return pages::error(StatusCode::BAD_REQUEST, l, vec![], l.t("error-csrf", &[]));
    };
    let expected = b::cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or("");
    let given = f.get("csrf").unwrap_or("");
    if expected.is_empty() || !bool::from(expected.as_bytes().ct_eq(given.as_bytes())) {
        return pages::error(StatusCode::FORBIDDEN, l, vec![], l.t("error-csrf", &[]));
    }
    let next = safe_next(f.get("next"));
    let username = f.get("username").unwrap_or("").to_owned();
    let secret = f.get("password").unwrap_or("").to_owned();
    let retry = |msg: String| {
        let page = LoginPage { lang: l, langs: vec![], csrf: given.to_owned(), next: next.clone(), username: username.clone(), error: Some(msg) };
        pages::render(StatusCode::UNAUTHORIZED, &page)
    };
    let source = b::throttle_source(peer.ip());
    let shown: String = username.chars().filter(|c| !c.is_control()).take(150).collect();
    let refused = |action: &str| AuditEvent::new(now, "anonymous", action, Outcome::Failure).account(shown.clone()).source(Some(source.clone()));
    let user = match password::check_login(&state, &username, &secret, Some(peer.ip()), now).await {
        Ok(a) if a.status == charter_core::client::Status::Active => a,
        Err(password::LoginError::Unavailable(_)) => return unavailable_page(l),
        Err(password::LoginError::Throttled) => {
            let _ = crate::services::client_auth::commit_audit(&state, refused("login.throttled")).await;
            return retry(l.t("login-throttled", &[]));
        }
        Ok(_) | Err(password::LoginError::Invalid) => {
            let _ = crate::services::client_auth::commit_audit(&state, refused("login.failed")).await;
            return retry(l.t("login-failed", &[]));
        }
    };
    // A new sign-in replaces whatever session this browser had (no fixation, no leftovers).
    if let Ok(Some((old, _))) = current_session(&state, &headers, now).await {
        let _ = state.store.revoke_session(&old.id, now).await;
    }
    let Ok((cookie_value, session)) = new_session(&user, &state.digest_key, now) else {
        return unavailable_page(l);
    };
    if state.store.insert_session(&session).await.is_err() {
        return unavailable_page(l);
    }
    let event = AuditEvent::new(now, format!("user:{}", user.username), "login.succeeded", Outcome::Success)
        .account(user.username.clone())
        .source(Some(source));
    let _ = crate::services::client_auth::commit_audit(&state, event).await;
    let r = see_other(&next);
    let r = with_cookie(r, set_cookie(&state, SESSION_COOKIE, &cookie_value, charter_core::browser::SESSION_TTL));
    with_cookie(r, set_cookie(&state, LOGIN_CSRF_COOKIE, "", 0))
}

/// `POST /logout` (with the session's anti-forgery token).
pub async fn logout(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let l = lang(&headers, None);
    let now = state.clock.now();
    let f = FormParams::parse(&body).unwrap_or_default();
    if let Ok(Some((s, _))) = current_session(&state, &headers, now).await {
        if !csrf_ok(&s, &f) {
            return pages::error(StatusCode::FORBIDDEN, l, vec![], l.t("error-csrf", &[]));
        }
        let _ = state.store.revoke_session(&s.id, now).await;
        let event = AuditEvent::new(now, format!("user:{}", s.account_id), "logout", Outcome::Success);
        let _ = crate::services::client_auth::commit_audit(&state, event).await;
    }
    with_cookie(see_other("/login"), set_cookie(&state, SESSION_COOKIE, "", 0))
}

// --- authorization endpoint --------------------------------------------------------

/// `GET /oauth2/authorize` (RFC 6749 §4.1.1).
pub async fn authorize(State(state): State<AppState>, headers: HeaderMap, RawQuery(raw): RawQuery) -> Response {
    let raw = raw.unwrap_or_default();
    let q = match FormParams::parse(raw.as_bytes()) {
        Ok(q) => q,
        Err(e) => {
            let l = lang(&headers, None);
            return pages::error(StatusCode::BAD_REQUEST, l, vec![], l.t("error-bad-request", &[("detail", &e.description)]));
        }
    };
    let explicit = q.get("lang").map(str::to_owned);
    let l = lang(&headers, explicit.as_deref());
    let langs = language_links(l, "/oauth2/authorize", &query_pairs(&q));
    let req = match validate(&state, &q, l).await {
        Ok(r) => r,
        Err(AuthorizeFailure::Page(msg)) => return pages::error(StatusCode::BAD_REQUEST, l, langs, msg),
        Err(AuthorizeFailure::Redirect(to)) => return see_other(&to),
    };
    let now = state.clock.now();
    let session = match current_session(&state, &headers, now).await {
        Ok(s) => s,
        Err(_) => return unavailable_page(l),
    };
    // prompt=login: a sign-in from the last minute counts, anything older does not.
    let session = session.filter(|(s, _)| req.prompt != Prompt::Login || now.0 - s.auth_time.0 <= 60);
    let Some((session, user)) = session else {
        if req.prompt == Prompt::None {
            return see_other(&refuse(&req, OAuthErrorCode::LoginRequired, "the user is not signed in"));
        }
        let next = format!("/oauth2/authorize?{raw}");
        return remember_lang(&state, see_other(&b::with_query("/login", &[("next", &next)])), explicit.as_deref(), l);
    };
    let granted = match state.store.consent(user.id, &req.application.id).await {
        Ok(g) => g,
        Err(_) => return unavailable_page(l),
    };
    let remembered = granted.is_some_and(|g| req.scopes.is_subset(&g));
    let needs_consent = req.prompt == Prompt::Consent || !(req.application.skip_authorization || remembered);
    if !needs_consent {
        if req.application.skip_authorization && !remembered {
            // Recorded all the same, so the user sees the application on their page and can revoke it.
            if state.store.grant_consent(user.id, &req.application.id, &req.scopes, now).await.is_err() {
                return unavailable_page(l);
            }
        }
        return issue_code(&state, &req, &user, session.auth_time, l).await;
    }
    if req.prompt == Prompt::None {
        return see_other(&refuse(&req, OAuthErrorCode::ConsentRequired, "the user has not consented to these scopes"));
    }
    let page = consent_page(&state, &req, &user, &session.csrf, &q, l, langs).await;
    remember_lang(&state, pages::render(StatusCode::OK, &page), explicit.as_deref(), l)
}

/// `POST /oauth2/authorize`: the consent form's answer.
pub async fn decide(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let l = lang(&headers, None);
    let f = match FormParams::parse(&body) {
        Ok(f) => f,
        Err(e) => return pages::error(StatusCode::BAD_REQUEST, l, vec![], l.t("error-bad-request", &[("detail", &e.description)])),
    };
    let now = state.clock.now();
    let Ok(Some((session, user))) = current_session(&state, &headers, now).await else {
        return pages::error(StatusCode::FORBIDDEN, l, vec![], l.t("error-csrf", &[]));
    };
    if !csrf_ok(&session, &f) {
        return pages::error(StatusCode::FORBIDDEN, l, vec![], l.t("error-csrf", &[]));
    }
    let req = match validate(&state, &f, l).await {
        Ok(r) => r,
        Err(AuthorizeFailure::Page(msg)) => return pages::error(StatusCode::BAD_REQUEST, l, vec![], msg),
        Err(AuthorizeFailure::Redirect(to)) => return see_other(&to),
    };
    match f.get("decision") {
        Some("approve") => {
            if state.store.grant_consent(user.id, &req.application.id, &req.scopes, now).await.is_err() {
                return unavailable_page(l);
            }
            issue_code(&state, &req, &user, session.auth_time, l).await
        }
        _ => {
            let event = AuditEvent::new(now, format!("user:{}", user.username), "authorization.denied", Outcome::Failure)
                .client(req.application.client_id.as_str())
                .account(user.username.clone())
                .scopes(req.scopes.to_space_separated());
            let _ = crate::services::client_auth::commit_audit(&state, event).await;
            see_other(&refuse(&req, OAuthErrorCode::AccessDenied, "the user denied the request"))
        }
    }
}

async fn issue_code(state: &AppState, req: &AuthorizationRequest, user: &Account, auth_time: charter_core::time::UnixTime, l: Lang) -> Response {
    let now = state.clock.now();
    let Ok((value, record)) = new_code(req, user, auth_time, &state.digest_key, now) else {
        return unavailable_page(l);
    };
    if state.store.insert_code(&record).await.is_err() {
        return unavailable_page(l);
    }
    let event = AuditEvent::new(now, format!("user:{}", user.username), "authorization.granted", Outcome::Success)
        .client(req.application.client_id.as_str())
        .account(user.username.clone())
        .scopes(req.scopes.to_space_separated());
    if crate::services::client_auth::commit_audit(state, event).await.is_err() {
        return unavailable_page(l);
    }
    let mut pairs = vec![("code", value.as_str())];
    if let Some(s) = &req.state {
        pairs.push(("state", s.as_str()));
    }
    see_other(&b::with_query(req.redirect_uri.as_str(), &pairs))
}

async fn consent_page(
    state: &AppState,
    req: &AuthorizationRequest,
    user: &Account,
    csrf: &str,
    q: &FormParams,
    l: Lang,
    langs: Vec<pages::LangLink>,
) -> ConsentPage {
    let app = &req.application;
    let owner = state.store.account_by_id(app.owner_id).await.ok().flatten();
    let owner_name = owner.and_then(|o| o.full_name.clone().or(Some(o.username))).unwrap_or_default();
    let scopes = scope_lines(state, &req.scopes, l);
    // The filters every token of this application will carry (the engine's rule, `user:me` included).
    let filters: Vec<String> = charter_core::grant::token_filters(app)
        .iter()
        .map(|f| match f {
            Filter::ContentOrg(org) => l.t("consent-filter-content-org", &[("org", org)]),
            Filter::UserMe => l.t("consent-filter-user-me", &[]),
            Filter::TpaProvider(p) => l.t("consent-filter-tpa", &[("provider", p)]),
        })
        .collect();
    ConsentPage {
        lang: l,
        langs,
        title: l.t("consent-title", &[("app", &app.name)]),
        owner_line: l.t("consent-owner", &[("owner", &owner_name)]),
        intro: l.t("consent-intro", &[("app", &app.name)]),
        scopes,
        filters,
        signed_in: l.t("consent-signed-in", &[("user", &user.username)]),
        csrf: csrf.to_owned(),
        hidden: q.pairs().filter(|(k, _)| !matches!(*k, "csrf" | "decision" | "lang")).map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
    }
}

/// Each scope in words, in the user's language: the owning service's own translation
/// first, then Charter's, then the scope's English description.
fn scope_lines(state: &AppState, scopes: &charter_core::scope::ScopeSet, l: Lang) -> Vec<ScopeLine> {
    let catalogue = state.catalogue();
    scopes
        .iter()
        .map(|s| {
            let id = format!("scope-{}", s.as_str().replace(':', "-"));
            let def = catalogue.scopes.iter().find(|d| &d.name == s);
            let text = def
                .and_then(|d| d.translations.get(l.code()).cloned())
                .or_else(|| l.has(&id).then(|| l.t(&id, &[])))
                .or_else(|| def.map(|d| d.description.clone()))
                .unwrap_or_else(|| s.as_str().to_owned());
            ScopeLine { name: s.as_str().to_owned(), text }
        })
        .collect()
}

/// `YYYY-MM-DD` of a Unix time (UTC), by the civil-from-days algorithm.
fn iso_date(t: charter_core::time::UnixTime) -> String {
    let z = t.0.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

// --- the user's authorized applications ---------------------------------------------

/// `GET /account/applications`: what the signed-in user has allowed, with a way to take it back.
pub async fn authorized_apps(State(state): State<AppState>, headers: HeaderMap, RawQuery(raw): RawQuery) -> Response {
    let q = FormParams::parse(raw.unwrap_or_default().as_bytes()).unwrap_or_default();
    let l = lang(&headers, q.get("lang"));
    let now = state.clock.now();
    let Ok(session) = current_session(&state, &headers, now).await else {
        return unavailable_page(l);
    };
    let Some((session, user)) = session else {
        return see_other(&b::with_query("/login", &[("next", "/account/applications")]));
    };
    let Ok(consents) = state.store.consents_of(user.id).await else {
        return unavailable_page(l);
    };
    let mut apps = Vec::new();
    for (client_id, scopes, at) in consents {
        let Ok(Some(app)) = state.store.application(&client_id).await else {
            continue;
        };
        let owner = state.store.account_by_id(app.owner_id).await.ok().flatten();
        let owner_name = owner.and_then(|o| o.full_name.clone().or(Some(o.username))).unwrap_or_default();
        apps.push(pages::AuthorizedApp {
            client_id: app.client_id.to_string(),
            name: app.name.clone(),
            owner_line: l.t("consent-owner", &[("owner", &owner_name)]),
            granted: l.t("apps-granted", &[("date", &iso_date(at))]),
            scopes: scope_lines(&state, &scopes, l),
        });
    }
    let page = pages::AppsPage { lang: l, langs: language_links(l, "/account/applications", &query_pairs(&q)), csrf: session.csrf, apps };
    remember_lang(&state, pages::render(StatusCode::OK, &page), q.get("lang"), l)
}

/// `POST /account/applications/revoke`: withdraws consent and revokes the application's tokens for this user.
pub async fn revoke_app(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let l = lang(&headers, None);
    let now = state.clock.now();
    let f = FormParams::parse(&body).unwrap_or_default();
    let Ok(Some((session, user))) = current_session(&state, &headers, now).await else {
        return pages::error(StatusCode::FORBIDDEN, l, vec![], l.t("error-csrf", &[]));
    };
    if !csrf_ok(&session, &f) {
        return pages::error(StatusCode::FORBIDDEN, l, vec![], l.t("error-csrf", &[]));
    }
    let Some(client_id) = f.get("client_id") else {
        return see_other("/account/applications");
    };
    let Ok(Some(app)) = state.store.application(client_id).await else {
        return see_other("/account/applications");
    };
    let revoked = match state.store.withdraw_consent(user.id, &app.id, now).await {
        Ok(n) => n,
        Err(_) => return unavailable_page(l),
    };
    let event = AuditEvent::new(now, format!("user:{}", user.username), "authorization.withdrawn", Outcome::Success)
        .client(client_id)
        .account(user.username.clone())
        .detail(serde_json::json!({ "revoked_tokens": revoked }));
    let _ = crate::services::client_auth::commit_audit(&state, event).await;
    see_other("/account/applications")
}
