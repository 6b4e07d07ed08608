//! The authorization code grant with PKCE, driven as a browser would: sign in, consent,
//! code, token. Pages are fetched with a cookie jar; redirects are followed by hand.

use crate::both_backends;
use crate::helpers::*;
use charter_server::admin::{accounts, applications};
use oauth2::basic::BasicClient;
use oauth2::{AuthUrl, AuthorizationCode, ClientId, CsrfToken, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse, TokenUrl};
use reqwest::header::LOCATION;
use serde_json::json;

const CALLBACK: &str = "https://app.example.com/callback";

struct Browser {
    http: reqwest::Client,
}

impl Browser {
    fn new(lang: &str) -> Self {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(reqwest::header::ACCEPT_LANGUAGE, lang.parse().unwrap());
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .default_headers(headers)
            .build()
            .unwrap();
        Self { http }
    }

    async fn get(&self, url: &str) -> (u16, String, String) {
        let r = self.http.get(url).send().await.unwrap();
        let loc = r.headers().get(LOCATION).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        (r.status().as_u16(), loc, r.text().await.unwrap())
    }

    async fn post(&self, url: &str, form: &[(&str, &str)]) -> (u16, String, String) {
        let r = self.http.post(url).form(form).send().await.unwrap();
        let loc = r.headers().get(LOCATION).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        (r.status().as_u16(), loc, r.text().await.unwrap())
    }
}

fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap_or_else(|| panic!("no {name} in {html}")) + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    unescape(&html[start..end])
}

/// Decodes the HTML character references askama writes (`&#38;`, `&amp;`, `&quot;`, …).
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let Some(j) = rest[i..].find(';') else { break };
        let entity = &rest[i + 1..i + j];
        let c = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            e if e.starts_with("#x") => u32::from_str_radix(&e[2..], 16).ok().and_then(char::from_u32),
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match c {
            Some(c) => out.push(c),
            None => out.push_str(&rest[i..i + j + 1]),
        }
        rest = &rest[i + j + 1..];
    }
    out.push_str(rest);
    out
}

fn query(url: &str, name: &str) -> Option<String> {
    let q = url.split_once('?')?.1;
    form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

async fn setup(app: &TestApp) -> Client {
    accounts::create_user(
        app.store.as_ref(),
        &app.actor(),
        accounts::NewUser {
            username: "lea".into(),
            email: Some("lea@example.org".into()),
            full_name: Some("Léa Learner".into()),
            is_staff: false,
            password: Some("correct horse battery".into()),
        },
    )
    .await
    .unwrap();
    app.client("grades-app", |s| {
        s.name = "Grade Tracker".into();
        s.client_type = Some("public".into());
        s.grant_types = vec!["authorization_code".into(), "refresh_token".into()];
        s.redirect_uris = vec![CALLBACK.into()];
        s.scopes = vec!["grades:read openid".into()];
        s.filters = vec!["content_org:MITx".into()];
    })
    .await
}

/// Follows the flow up to the consent page; returns the page's HTML.
async fn to_consent(app: &TestApp, b: &Browser, authorize_url: &str) -> String {
    let (s, login, _) = b.get(authorize_url).await;
    assert_eq!(s, 303);
    assert!(login.starts_with("/login?next="), "{login}");
    let (s, _, page) = b.get(&app.url(&login)).await;
    assert_eq!(s, 200);
    let csrf = hidden(&page, "csrf");
    let next = hidden(&page, "next");
    let (s, back, body) = b
        .post(&app.url("/login"), &[("csrf", &csrf), ("next", &next), ("username", "lea"), ("password", "correct horse battery")])
        .await;
    assert_eq!(s, 303, "{body}");
    assert!(back.starts_with("/oauth2/authorize?"), "{back}");
    let (s, _, consent) = b.get(&app.url(&back)).await;
    assert_eq!(s, 200, "{consent}");
    consent
}

async fn approve(app: &TestApp, b: &Browser, consent: &str, decision: &str) -> String {
    let mut form: Vec<(String, String)> = Vec::new();
    let mut rest = consent;
    while let Some(i) = rest.find("type=\"hidden\" name=\"") {
        rest = &rest[i + 20..];
        let name = &rest[..rest.find('"').unwrap()];
        form.push((name.to_owned(), hidden(consent, name)));
    }
    form.push(("decision".into(), decision.into()));
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (s, to, body) = b.post(&app.url("/oauth2/authorize"), &pairs).await;
    assert_eq!(s, 303, "{body}");
    to
}

both_backends!(sign_in_consent_code_and_token_with_pkce, |app: TestApp| async move {
    let _ = setup(&app).await;
    let client = BasicClient::new(ClientId::new("grades-app".into()))
        .set_auth_uri(AuthUrl::new(app.url("/oauth2/authorize")).unwrap())
        .set_token_uri(TokenUrl::new(app.url("/oauth2/token")).unwrap())
        .set_redirect_uri(RedirectUrl::new(CALLBACK.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state) = client
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new("grades:read".into()))
        .set_pkce_challenge(challenge)
        .url();
    let b = Browser::new("en");
    let consent = to_consent(&app, &b, url.as_str()).await;
    // The consent page names the application, its owner, each scope in words, and the filters.
    assert!(consent.contains("Grade Tracker wants to access your account"), "{consent}");
    assert!(consent.contains("Provided by Service Account"), "{consent}");
    assert!(consent.contains("Retrieve your grades for your enrolled courses"), "{consent}");
    assert!(consent.contains("only for courses of MITx") && consent.contains("only your own data"), "{consent}");
    let to = approve(&app, &b, &consent, "approve").await;
    assert!(to.starts_with(CALLBACK), "{to}");
    assert_eq!(query(&to, "state").as_deref(), Some(state.secret().as_str()), "state returned untouched");
    let code = query(&to, "code").unwrap();
    let tok = client
        .exchange_code(AuthorizationCode::new(code.clone()))
        .set_pkce_verifier(verifier)
        .request_async(&app.http)
        .await
        .unwrap();
    let claims = verify_with_jwks(&app, tok.access_token().secret()).await.unwrap();
    assert_eq!(claims["preferred_username"], "lea");
    assert_eq!(claims["scopes"], json!(["grades:read"]));
    assert_eq!(claims["filters"], json!(["content_org:MITx", "user:me"]));
    assert_eq!(claims["grant_type"], "authorization-code");
    assert!(tok.refresh_token().is_some());
    // The code is single-use: presenting it again fails and revokes what it issued.
    let again = app.post_form("/oauth2/token", None, &[("grant_type", "authorization_code"), ("client_id", "grades-app"), ("code", &code), ("redirect_uri", CALLBACK), ("code_verifier", "x".repeat(43).as_str())]).await;
    assert_eq!((again.0, again.2["error"].as_str()), (400, Some("invalid_grant")));
    let rs = app.resource_server("rs").await;
    assert_eq!(app.introspect(&rs, tok.access_token().secret()).await, json!({"active": false}));
    // Remembered consent: the next request goes straight back with a code.
    let (url, _) = client.authorize_url(CsrfToken::new_random).add_scope(Scope::new("grades:read".into())).set_pkce_challenge(PkceCodeChallenge::new_random_sha256().0).url();
    let (s, to, _) = b.get(url.as_str()).await;
    assert_eq!(s, 303);
    assert!(query(&to, "code").is_some(), "{to}");
    // prompt=consent shows the page again.
    let (s, _, page) = b.get(&format!("{url}&prompt=consent")).await;
    assert_eq!(s, 200);
    assert!(page.contains("Grade Tracker wants to access your account"));
});

both_backends!(denial_pkce_failures_and_prompt_none, |app: TestApp| async move {
    let _ = setup(&app).await;
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let base = format!(
        "{}?response_type=code&client_id=grades-app&redirect_uri={}&scope=grades%3Aread&state=s1&code_challenge={}&code_challenge_method=S256",
        app.url("/oauth2/authorize"),
        form_urlencoded::byte_serialize(CALLBACK.as_bytes()).collect::<String>(),
        challenge.as_str()
    );
    // prompt=none without a session: login_required, back at the client.
    let b = Browser::new("en");
    let (s, to, _) = b.get(&format!("{base}&prompt=none")).await;
    assert_eq!(s, 303);
    assert_eq!(query(&to, "error").as_deref(), Some("login_required"));
    assert_eq!(query(&to, "state").as_deref(), Some("s1"));
    // Denial sends access_denied back.
    let consent = to_consent(&app, &b, &base).await;
    let to = approve(&app, &b, &consent, "deny").await;
    assert_eq!(query(&to, "error").as_deref(), Some("access_denied"));
    assert_eq!(query(&to, "state").as_deref(), Some("s1"));
    // Signed in but no consent yet: prompt=none answers consent_required.
    let (_, to, _) = b.get(&format!("{base}&prompt=none")).await;
    assert_eq!(query(&to, "error").as_deref(), Some("consent_required"));
    // A public client without PKCE is refused (at the client, the redirect URI being good).
    let no_pkce = base.split("&code_challenge").next().unwrap().to_owned();
    let (_, to, _) = b.get(&no_pkce).await;
    assert_eq!(query(&to, "error").as_deref(), Some("invalid_request"));
    // plain is refused unless the operator enables it.
    let (_, to, _) = b.get(&format!("{no_pkce}&code_challenge={}&code_challenge_method=plain", "a".repeat(43))).await;
    assert_eq!(query(&to, "error").as_deref(), Some("invalid_request"));
    // A wrong verifier: invalid_grant.
    let consent = b.get(&format!("{base}&prompt=consent")).await.2;
    let to = approve(&app, &b, &consent, "approve").await;
    let code = query(&to, "code").unwrap();
    let (s, _, e) = app.post_form("/oauth2/token", None, &[("grant_type", "authorization_code"), ("client_id", "grades-app"), ("code", &code), ("redirect_uri", CALLBACK), ("code_verifier", &"b".repeat(43))]).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")));
    // A missing verifier, and a redirect URI that differs from the authorization request's.
    let consent = b.get(&format!("{base}&prompt=consent")).await.2;
    let code = query(&approve(&app, &b, &consent, "approve").await, "code").unwrap();
    let (s, _, e) = app.post_form("/oauth2/token", None, &[("grant_type", "authorization_code"), ("client_id", "grades-app"), ("code", &code), ("redirect_uri", CALLBACK)]).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")), "no code_verifier");
    let consent = b.get(&format!("{base}&prompt=consent")).await.2;
    let code = query(&approve(&app, &b, &consent, "approve").await, "code").unwrap();
    let (s, _, e) = app.post_form("/oauth2/token", None, &[("grant_type", "authorization_code"), ("client_id", "grades-app"), ("code", &code), ("redirect_uri", "https://app.example.com/other")]).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")), "redirect_uri mismatch");
    // Another client cannot redeem the code.
    let thief = app.client("thief", |s| { s.grant_types = vec!["authorization_code".into()]; s.redirect_uris = vec![CALLBACK.into()]; }).await;
    let (s, _, e) = app.post_form("/oauth2/token", Some((&thief.client_id, &thief.secret)), &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", CALLBACK)]).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")), "code of another client");
    // An expired code.
    let consent = b.get(&format!("{base}&prompt=consent")).await.2;
    let to = approve(&app, &b, &consent, "approve").await;
    let code = query(&to, "code").unwrap();
    app.clock.advance(61);
    let (s, _, e) = app.post_form("/oauth2/token", None, &[("grant_type", "authorization_code"), ("client_id", "grades-app"), ("code", &code), ("redirect_uri", CALLBACK)]).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")));
});

both_backends!(unknown_clients_and_foreign_redirects_are_pages_not_redirects, |app: TestApp| async move {
    let _ = setup(&app).await;
    let b = Browser::new("en");
    let (s, to, page) = b.get(&app.url("/oauth2/authorize?response_type=code&client_id=nobody&redirect_uri=https%3A%2F%2Fevil.example%2F")).await;
    assert_eq!((s, to.as_str()), (400, ""));
    assert!(page.contains("is not registered"), "{page}");
    let (s, to, page) = b.get(&app.url("/oauth2/authorize?response_type=code&client_id=grades-app&redirect_uri=https%3A%2F%2Fevil.example%2Fcallback")).await;
    assert_eq!((s, to.as_str()), (400, ""));
    assert!(page.contains("has not registered"), "{page}");
    // Repeated parameters are refused.
    let (s, _, _) = b.get(&app.url("/oauth2/authorize?client_id=grades-app&client_id=grades-app")).await;
    assert_eq!(s, 400);
    // next= never leaves the site.
    let (_, _, login) = b.get(&app.url("/login?next=https%3A%2F%2Fevil.example%2F")).await;
    let csrf = hidden(&login, "csrf");
    assert_eq!(hidden(&login, "next"), "/");
    let (s, to, _) = b.post(&app.url("/login"), &[("csrf", &csrf), ("next", "//evil.example/"), ("username", "lea"), ("password", "correct horse battery")]).await;
    assert_eq!((s, to.as_str()), (303, "/"));
    // Browsers drop tabs and read backslashes as slashes: none of these may leave the site.
    for evil in ["/\t/evil.example", "/\\evil.example", "/\u{0}x", "/%2F/evil.example\n", "https://evil.example/", "\\\\evil"] {
        let (_, _, login) = b.get(&app.url("/login")).await;
        let csrf = hidden(&login, "csrf");
        let (s, to, _) = b.post(&app.url("/login"), &[("csrf", &csrf), ("next", evil), ("username", "lea"), ("password", "correct horse battery")]).await;
        assert_eq!(s, 303, "{evil:?}");
        assert!(to == "/" || (to.starts_with('/') && !to.starts_with("//") && !to.contains(['\t', '\\'])), "{evil:?} -> {to:?}");
    }
});

both_backends!(csrf_and_login_throttling, |app: TestApp| async move {
    let _ = setup(&app).await;
    let b = Browser::new("en");
    let (_, _, login) = b.get(&app.url("/login")).await;
    let csrf = hidden(&login, "csrf");
    // Missing or wrong anti-forgery token.
    let (s, _, _) = b.post(&app.url("/login"), &[("username", "lea"), ("password", "correct horse battery")]).await;
    assert_eq!(s, 403);
    let (s, _, _) = b.post(&app.url("/login"), &[("csrf", "forged"), ("username", "lea"), ("password", "correct horse battery")]).await;
    assert_eq!(s, 403);
    // A browser without the cookie cannot replay the token either.
    let other = Browser::new("en");
    let (s, _, _) = other.post(&app.url("/login"), &[("csrf", &csrf), ("username", "lea"), ("password", "correct horse battery")]).await;
    assert_eq!(s, 403);
    // Brute force is slowed: after 5 failures, even the right password is refused for a while.
    for _ in 0..5 {
        let (s, _, page) = b.post(&app.url("/login"), &[("csrf", &csrf), ("username", "lea"), ("password", "wrong password!")]).await;
        assert_eq!(s, 401);
        assert!(page.contains("not right"), "{page}");
    }
    let (s, _, page) = b.post(&app.url("/login"), &[("csrf", &csrf), ("username", "lea"), ("password", "correct horse battery")]).await;
    assert_eq!(s, 401);
    assert!(page.contains("Too many failed attempts"), "{page}");
    // The consent form also needs the session's token.
    app.clock.advance(charter_core::login_throttle::WINDOW + 1);
    let (s, _, _) = b.post(&app.url("/login"), &[("csrf", &csrf), ("username", "lea"), ("password", "correct horse battery")]).await;
    assert_eq!(s, 303);
    let (s, _, _) = b.post(&app.url("/oauth2/authorize"), &[("client_id", "grades-app"), ("decision", "approve"), ("csrf", "forged")]).await;
    assert_eq!(s, 403);
});

both_backends!(consent_in_the_users_language_with_rtl_arabic, |app: TestApp| async move {
    let _ = setup(&app).await;
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let url = format!(
        "{}?response_type=code&client_id=grades-app&scope=grades%3Aread&code_challenge={}&code_challenge_method=S256",
        app.url("/oauth2/authorize"),
        challenge.as_str()
    );
    let es = to_consent(&app, &Browser::new("es-ES,es;q=0.9"), &url).await;
    assert!(es.contains("lang=\"es\"") && es.contains("quiere acceder a tu cuenta"), "{es}");
    assert!(es.contains("Obtener tus calificaciones"), "{es}");
    let fr = to_consent(&app, &Browser::new("fr"), &url).await;
    assert!(fr.contains("souhaite accéder à votre compte") || fr.contains("souhaite acc&#233;der"), "{fr}");
    let ar = to_consent(&app, &Browser::new("ar"), &url).await;
    assert!(ar.contains("dir=\"rtl\"") && ar.contains("lang=\"ar\""), "{ar}");
    // The language can be switched on the page; a service's own translation wins over Charter's.
    applications::update(app.store.as_ref(), &app.actor(), "grades-app", Default::default()).await.unwrap();
    let b = Browser::new("en");
    let en = to_consent(&app, &b, &url).await;
    assert!(en.contains("dir=\"ltr\""));
    let (_, _, switched) = b.get(&format!("{url}&lang=ar")).await;
    assert!(switched.contains("dir=\"rtl\""), "{switched}");
});

both_backends!(openid_connect_id_token_and_userinfo, |app: TestApp| async move {
    let _ = setup(&app).await;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let url = format!(
        "{}?response_type=code&client_id=grades-app&scope=openid%20profile%20email&nonce=n-0S6&state=st&code_challenge={}&code_challenge_method=S256",
        app.url("/oauth2/authorize"),
        challenge.as_str()
    );
    let b = Browser::new("en");
    let consent = to_consent(&app, &b, &url).await;
    assert!(consent.contains("Sign you in with your account"), "{consent}");
    let to = approve(&app, &b, &consent, "approve").await;
    let code = query(&to, "code").unwrap();
    let (s, _, tok) = app
        .post_form("/oauth2/token", None, &[("grant_type", "authorization_code"), ("client_id", "grades-app"), ("code", &code), ("redirect_uri", CALLBACK), ("code_verifier", verifier.secret())])
        .await;
    assert_eq!(s, 200, "{tok}");
    let id_token = tok["id_token"].as_str().unwrap();
    let access = tok["access_token"].as_str().unwrap();
    // The ID token: signed with the published keys, for this client, with the nonce and at_hash.
    let jwks: jsonwebtoken::jwk::JwkSet = serde_json::from_value(app.get_json("/.well-known/jwks.json").await).unwrap();
    let header = jsonwebtoken::decode_header(id_token).unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(jwks.find(header.kid.as_deref().unwrap()).unwrap()).unwrap();
    let mut v = jsonwebtoken::Validation::new(header.alg);
    v.set_audience(&["grades-app"]);
    v.set_issuer(&["http://charter.test/oauth2"]);
    let claims = jsonwebtoken::decode::<serde_json::Value>(id_token, &key, &v).unwrap().claims;
    let user = app.store.account_by_username("lea").await.unwrap().unwrap();
    assert_eq!(claims["sub"], user.anonymous_id);
    assert_eq!(claims["nonce"], "n-0S6");
    assert!(claims["auth_time"].as_i64().unwrap() <= claims["iat"].as_i64().unwrap());
    assert_eq!(claims["email"], "lea@example.org");
    assert_eq!(claims["preferred_username"], "lea");
    use base64::Engine;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, access.as_bytes());
    let expected = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest.as_ref()[..16]);
    assert_eq!(claims["at_hash"], expected);
    // /userinfo answers by scope.
    let info: serde_json::Value = app.http.get(app.url("/oauth2/userinfo")).bearer_auth(access).send().await.unwrap().json().await.unwrap();
    assert_eq!(info["sub"], user.anonymous_id);
    assert_eq!(info["name"], "Léa Learner");
    assert!(info.get("email_verified").is_none(), "Charter does not verify addresses: {info}");
    let r = app.http.get(app.url("/oauth2/userinfo")).bearer_auth("nope").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    // Discovery names the OpenID endpoints.
    let md = app.get_json("/.well-known/openid-configuration").await;
    assert!(md["userinfo_endpoint"].as_str().unwrap().ends_with("/oauth2/userinfo"));
    assert!(md["authorization_endpoint"].as_str().unwrap().ends_with("/oauth2/authorize"));
    assert_eq!(md["code_challenge_methods_supported"], json!(["S256"]));
});

both_backends!(the_users_page_of_authorized_apps_revokes_at_once, |app: TestApp| async move {
    let _ = setup(&app).await;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let url = format!(
        "{}?response_type=code&client_id=grades-app&scope=grades%3Aread&code_challenge={}&code_challenge_method=S256",
        app.url("/oauth2/authorize"),
        challenge.as_str()
    );
    let b = Browser::new("en");
    let consent = to_consent(&app, &b, &url).await;
    let to = approve(&app, &b, &consent, "approve").await;
    let code = query(&to, "code").unwrap();
    let (_, _, tok) = app
        .post_form("/oauth2/token", None, &[("grant_type", "authorization_code"), ("client_id", "grades-app"), ("code", &code), ("redirect_uri", CALLBACK), ("code_verifier", verifier.secret())])
        .await;
    let access = tok["access_token"].as_str().unwrap().to_owned();
    let refresh = tok["refresh_token"].as_str().unwrap().to_owned();
    let rs = app.resource_server("rs").await;
    assert_eq!(app.introspect(&rs, &access).await["active"], true);
    let (s, _, page) = b.get(&app.url("/account/applications")).await;
    assert_eq!(s, 200);
    assert!(page.contains("Grade Tracker") && page.contains("Retrieve your grades"), "{page}");
    let csrf = hidden(&page, "csrf");
    let (s, to, _) = b.post(&app.url("/account/applications/revoke"), &[("csrf", &csrf), ("client_id", "grades-app")]).await;
    assert_eq!((s, to.as_str()), (303, "/account/applications"));
    assert_eq!(app.introspect(&rs, &access).await, json!({"active": false}));
    let (s, _, e) = app.post_form("/oauth2/token", None, &[("grant_type", "refresh_token"), ("client_id", "grades-app"), ("refresh_token", &refresh)]).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")));
    let (_, _, page) = b.get(&app.url("/account/applications")).await;
    assert!(page.contains("No application has access"), "{page}");
    // Consent was withdrawn too: the next request asks again.
    let (s, _, again) = b.get(&url).await;
    assert_eq!(s, 200);
    assert!(again.contains("wants to access your account"));
    // Without a session the page sends to sign-in.
    let (s, to, _) = Browser::new("en").get(&app.url("/account/applications")).await;
    assert_eq!((s, to.starts_with("/login")), (303, true));
});

both_backends!(confidential_clients_may_skip_pkce_but_not_mix_it, |app: TestApp| async move {
    let _ = setup(&app).await;
    let web = app.client("web-app", |s| {
        s.name = "Web App".into();
        s.grant_types = vec!["authorization_code".into()];
        s.redirect_uris = vec![CALLBACK.into()];
        s.scopes = vec!["grades:read".into()];
        s.skip_authorization = true;
    }).await;
    let b = Browser::new("en");
    let url = format!("{}?response_type=code&client_id=web-app&scope=grades%3Aread", app.url("/oauth2/authorize"));
    // Trusted (skip_authorization): no consent page, straight back with a code after sign-in.
    let (_, login, _) = b.get(&url).await;
    let (_, _, page) = b.get(&app.url(&login)).await;
    let csrf = hidden(&page, "csrf");
    let next = hidden(&page, "next");
    let (_, back, _) = b.post(&app.url("/login"), &[("csrf", &csrf), ("next", &next), ("username", "lea"), ("password", "correct horse battery")]).await;
    let (s, to, _) = b.get(&app.url(&back)).await;
    assert_eq!(s, 303);
    let code = query(&to, "code").unwrap();
    // A verifier for a request that had no challenge is refused; without one the code works.
    let (s, _, e) = app.post_form("/oauth2/token", Some((&web.client_id, &web.secret)), &[("grant_type", "authorization_code"), ("code", &code), ("code_verifier", &"v".repeat(43))]).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")));
    let (_, to, _) = b.get(&url).await;
    let code = query(&to, "code").unwrap();
    let (s, _, t) = app.post_form("/oauth2/token", Some((&web.client_id, &web.secret)), &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", CALLBACK)]).await;
    assert_eq!(s, 200, "{t}");
    assert!(t.get("id_token").is_none(), "no openid scope, no ID token");
});
