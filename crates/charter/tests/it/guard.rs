//! charter-guard (the resource servers' enforcement library) against the real Charter:
//! JWT verification and its refusals, key rotation, introspection and its cache,
//! the Open edX permission rules, report-only mode and the reporter.

use crate::helpers::*;
use axum::routing::get;
use axum::Router;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD as B64};
use base64::Engine;
use charter_core::keys::{SigningAlgorithm, SigningKey};
use charter_guard::{
    AuthError, Guard, GuardConfig, Mode, Policy, ReportConfig, ReportError, Requirement, TokenError, TokenSource,
    VerifiedToken,
};
use charter_server::admin::{catalogue, keys};
use charter_server::Clock;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const ISSUER: &str = "http://charter.test/oauth2";

/// Charter is reached at `app.base`; its metadata names its public URL (not this
/// test's port), so the endpoints are rebased onto `app.base`.
fn config(app: &TestApp) -> GuardConfig {
    GuardConfig::new(ISSUER).charter_url(&app.base).rebase_endpoints(true).audience("lms-key").leeway(Duration::ZERO)
}

async fn catalogue_scopes(app: &TestApp) {
    let s = app.store.as_ref();
    catalogue::create_resource(s, &app.actor(), "catalog", "discovery", "Course catalogue", vec![]).await.unwrap();
    catalogue::create_scope(s, &app.actor(), "catalog:read", "Read the course catalogue", false, Default::default())
        .await
        .unwrap();
    catalogue::create_resource(s, &app.actor(), "enrollments", "lms", "Enrollments", vec![]).await.unwrap();
    catalogue::create_scope(s, &app.actor(), "enrollments:read", "Read enrollments", false, Default::default())
        .await
        .unwrap();
}

/// The resource server's own application: introspects and reports.
async fn resource_server(app: &TestApp) -> Client {
    app.client("catalogue-rs", |s| s.scopes = vec!["charter:report".into(), "charter:introspect".into()]).await
}

async fn token(app: &TestApp, c: &Client, scope: &str) -> String {
    let (s, b) = app.token(c, &[("scope", scope)]).await;
    assert_eq!(s, 200, "{b}");
    b["access_token"].as_str().unwrap().to_owned()
}

/// The key Charter signs with now.
async fn charter_signer(app: &TestApp) -> SigningKey {
    let now = app.clock.now();
    let sealing = app.master.sealing_key();
    let mut stored = app.store.keys().await.unwrap();
    stored.retain(|k| k.activates_at <= now && k.retired_at.is_none());
    stored.sort_by_key(|k| k.activates_at);
    SigningKey::open(stored.last().unwrap(), &sealing).unwrap()
}

fn payload(token: &str) -> Value {
    serde_json::from_slice(&B64.decode(token.split('.').nth(1).unwrap()).unwrap()).unwrap()
}

fn sign_raw(key: &SigningKey, header: &Value, claims: &Value) -> String {
    let mut out = format!("{}.{}", B64.encode(header.to_string()), B64.encode(claims.to_string()));
    let sig = key.sign(out.as_bytes()).unwrap();
    out.push('.');
    out.push_str(&B64.encode(sig));
    out
}

fn token_error(r: Result<Arc<charter_guard::Claims>, AuthError>) -> TokenError {
    match r {
        Err(AuthError::Token { error, .. }) => error,
        other => panic!("expected a token error, got {other:?}"),
    }
}

/// The example service's routes, behind a guard, on a port of its own.
async fn serve(guard: &Guard) -> String {
    async fn who(t: Option<VerifiedToken>) -> String {
        t.map(|t| t.client_id_or_unknown().to_owned()).unwrap_or_else(|| "anonymous".into())
    }
    let router = Router::new()
        .route("/api/courses", get(who).route_layer(guard.require(Requirement::scopes_all(["catalog:read"]))))
        .route(
            "/api/courses/{course_id}",
            get(who).route_layer(guard.require(Requirement::scopes_all(["catalog:read"]).content_org_param("course_id"))),
        )
        .route(
            "/api/users/{username}/enrollments",
            get(who).route_layer(guard.require(Requirement::scopes_all(["enrollments:read"]).user_param("username"))),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    base
}

/// GET with `Authorization: <scheme> <token>`; status, WWW-Authenticate, body.
async fn call(base: &str, path: &str, scheme: &str, token: &str) -> (u16, String, Value) {
    let r = reqwest::Client::new()
        .get(format!("{base}{path}"))
        .header("authorization", format!("{scheme} {token}"))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let www = r.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    let text = r.text().await.unwrap();
    (status, www, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

// --- DER and PEM of an RSA public key, to try them as HMAC secrets. ---
fn der(tag: u8, body: &[u8]) -> Vec<u8> {
    let n = body.len();
    let mut out = vec![tag];
    if n < 128 {
        out.push(n as u8);
    } else {
        let len: Vec<u8> = n.to_be_bytes().into_iter().skip_while(|b| *b == 0).collect();
        out.push(0x80 | len.len() as u8);
        out.extend(len);
    }
    out.extend_from_slice(body);
    out
}
fn der_uint(b: &[u8]) -> Vec<u8> {
    let mut v = b.to_vec();
    if v[0] & 0x80 != 0 {
        v.insert(0, 0);
    }
    der(0x02, &v)
}
fn pem(label: &str, der: &[u8]) -> String {
    let b = STANDARD.encode(der);
    let lines: Vec<&str> = b.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap()).collect();
    format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwts_are_verified_and_forgeries_refused() {
    let app = spawn_app(Backend::Sqlite).await;
    catalogue_scopes(&app).await;
    let partner = app
        .client("partner", |s| {
            s.scopes = vec!["catalog:read".into()];
            s.filters = vec!["content_org:MITx".into()];
            s.restricted = true;
        })
        .await;
    let guard = Guard::start(config(&app).no_reporting()).await.unwrap();
    guard.ready().await.unwrap();

    // A valid token.
    let t = token(&app, &partner, "catalog:read").await;
    let c = guard.verify(&t).await.unwrap();
    assert_eq!(c.client_id.as_deref(), Some("partner"));
    assert_eq!(c.scopes, vec!["catalog:read".to_owned()]);
    assert_eq!(c.filters, vec!["content_org:MITx".to_owned()]);
    assert!(c.is_restricted);
    assert_eq!(c.preferred_username.as_deref(), Some("svc-partner"));
    assert_eq!((c.iss.as_str(), c.aud.clone()), (ISSUER, vec!["lms-key".to_owned()]));
    assert_eq!(c.source, TokenSource::Jwt);
    assert_eq!(c.version.as_deref(), Some("1.2.0"));

    // Claims changed and signed again with Charter's own key.
    let key = charter_signer(&app).await;
    let good = payload(&t);
    let forged = |edit: &dyn Fn(&mut Value)| {
        let mut c = good.clone();
        edit(&mut c);
        charter_core::jws::sign_compact(&key, &c).unwrap()
    };
    assert!(guard.verify(&forged(&|_| {})).await.is_ok(), "re-signing alone changes nothing");
    let now = app.clock.now().0;
    #[allow(clippy::type_complexity)]
    let cases: [(&str, &dyn Fn(&mut Value), TokenError); 6] = [
        ("wrong issuer", &|c| c["iss"] = json!("http://evil.test/oauth2"), TokenError::WrongIssuer),
        ("wrong audience", &|c| c["aud"] = json!("another-service"), TokenError::WrongAudience),
        ("expired", &|c| c["exp"] = json!(now - 60), TokenError::Expired),
        ("not yet valid", &|c| c["nbf"] = json!(now + 600), TokenError::NotYetValid),
        ("version 2", &|c| c["version"] = json!("2.0.0"), TokenError::UnsupportedVersion),
        ("no exp", &|c| { c.as_object_mut().unwrap().remove("exp"); }, TokenError::MissingClaim("exp")),
    ];
    for (what, edit, expected) in cases {
        let r = guard.verify(&forged(edit)).await;
        match r {
            Err(AuthError::Token { error, client_id }) => {
                assert_eq!(error, expected, "{what}");
                // The signature was good: the application is known (for reports).
                assert_eq!(client_id.as_deref(), Some("partner"), "{what}");
            }
            other => panic!("{what}: {other:?}"),
        }
    }

    // Bad signature: another payload under the original signature.
    let parts: Vec<&str> = t.split('.').collect();
    let mut more = good.clone();
    more["scopes"] = json!(["catalog:read", "grades:read"]);
    let tampered = format!("{}.{}.{}", parts[0], B64.encode(more.to_string()), parts[2]);
    assert_eq!(token_error(guard.verify(&tampered).await), TokenError::BadSignature);

    // alg none, with and without a signature.
    let none = json!({"alg": "none", "kid": key.kid, "typ": "JWT"});
    let unsigned = format!("{}.{}.", B64.encode(none.to_string()), B64.encode(good.to_string()));
    assert_eq!(token_error(guard.verify(&unsigned).await), TokenError::Malformed);
    assert!(guard.verify(&sign_raw(&key, &none, &good)).await.is_err());

    // The header names another algorithm than the key's (RS512 for an RS256 key).
    let other_alg = sign_raw(&key, &json!({"alg": "RS512", "kid": key.kid, "typ": "JWT"}), &good);
    assert_eq!(token_error(guard.verify(&other_alg).await), TokenError::AlgorithmMismatch);

    // HS256 with the RSA public key as the HMAC secret, in every encoding a
    // confused verifier might use.
    let jwk = key.jwk().clone();
    let n = B64.decode(jwk["n"].as_str().unwrap()).unwrap();
    let e = B64.decode(jwk["e"].as_str().unwrap()).unwrap();
    let pkcs1 = der(0x30, &[der_uint(&n), der_uint(&e)].concat());
    let rsa_oid = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
    let spki = der(
        0x30,
        &[der(0x30, &[der(0x06, &rsa_oid), vec![0x05, 0x00]].concat()), der(0x03, &[vec![0], pkcs1.clone()].concat())]
            .concat(),
    );
    let secrets: Vec<Vec<u8>> = vec![
        pkcs1.clone(),
        spki.clone(),
        pem("RSA PUBLIC KEY", &pkcs1).into_bytes(),
        pem("PUBLIC KEY", &spki).into_bytes(),
        n.clone(),
        jwk.to_string().into_bytes(),
    ];
    for secret in secrets {
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        h.kid = Some(key.kid.clone());
        let hs = jsonwebtoken::encode(&h, &good, &jsonwebtoken::EncodingKey::from_secret(&secret).unwrap()).unwrap();
        assert_eq!(token_error(guard.verify(&hs).await), TokenError::AlgorithmMismatch);
    }

    // An unknown kid (fetched again once, still unknown).
    let unknown = sign_raw(&key, &json!({"alg": "RS256", "kid": "no-such-key", "typ": "JWT"}), &good);
    assert_eq!(token_error(guard.verify(&unknown).await), TokenError::UnknownKey);

    // A guard expecting another issuer refuses this Charter's metadata.
    let other = Guard::start(GuardConfig::new("http://other.test/oauth2").charter_url(&app.base).no_reporting())
        .await
        .unwrap();
    assert!(matches!(other.ready().await, Err(AuthError::Unavailable(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_charter_token_is_refused() {
    let mut settings = test_settings();
    settings.tokens.access_token_ttl = 1;
    let app = spawn_app_with(Backend::Sqlite, settings).await;
    let c = app.client("short", |_| {}).await;
    let guard = Guard::start(config(&app).no_reporting()).await.unwrap();
    let base = serve(&guard).await;
    let t = token(&app, &c, "read").await;
    assert!(guard.verify(&t).await.is_ok());
    tokio::time::sleep(Duration::from_millis(2200)).await;
    assert_eq!(token_error(guard.verify(&t).await), TokenError::Expired);
    let (s, www, b) = call(&base, "/api/courses", "Bearer", &t).await;
    assert_eq!(s, 401);
    assert_eq!(www, r#"Bearer realm="charter", error="invalid_token", error_description="the access token expired""#);
    assert_eq!(b["error"], "invalid_token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_key_is_picked_up_without_a_restart() {
    let app = spawn_app(Backend::Sqlite).await;
    let c = app.client("rot", |_| {}).await;
    // Default intervals: the first unknown kid is fetched at once.
    let guard = Guard::start(config(&app).no_reporting()).await.unwrap();
    guard.ready().await.unwrap();
    let old = token(&app, &c, "read").await;
    assert!(guard.verify(&old).await.is_ok());
    let (fetches, _) = guard.fetch_counts();

    app.clock.advance(1);
    let sealing = app.master.sealing_key();
    let new_key = keys::rotate(app.store.as_ref(), &app.actor(), &sealing, SigningAlgorithm::RS512, 0).await.unwrap();
    let fresh = token(&app, &c, "read").await;
    assert_eq!(jsonwebtoken::decode_header(&fresh).unwrap().kid.as_deref(), Some(new_key.kid.as_str()));
    let claims = guard.verify(&fresh).await.unwrap();
    assert_eq!(claims.client_id.as_deref(), Some("rot"));
    assert_eq!(guard.fetch_counts().0, fetches + 1, "one refetch for the new kid");
    // The old key is still published: its tokens still verify, from the cache.
    assert!(guard.verify(&old).await.is_ok());

    // A flood of unknown kids right after: no further fetch within the interval.
    let key = charter_signer(&app).await;
    for i in 0..50 {
        let forged = sign_raw(&key, &json!({"alg": "RS512", "kid": format!("forged-{i}")}), &payload(&fresh));
        assert_eq!(token_error(guard.verify(&forged).await), TokenError::UnknownKey);
    }
    assert_eq!(guard.fetch_counts().0, fetches + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opaque_tokens_are_introspected_and_cached_briefly() {
    let app = spawn_app(Backend::Sqlite).await;
    catalogue_scopes(&app).await;
    let rs = resource_server(&app).await;
    let opaque = app
        .client("opaque-app", |s| {
            s.scopes = vec!["catalog:read".into()];
            s.token_format = Some("opaque".into());
        })
        .await;
    let guard = Guard::start(
        config(&app).client_credentials(&rs.client_id, &rs.secret).no_reporting().introspection_cache(Duration::from_secs(1), 1000),
    )
    .await
    .unwrap();
    let t = token(&app, &opaque, "catalog:read").await;
    assert!(!t.contains('.'));
    let c = guard.verify(&t).await.unwrap();
    assert_eq!((c.client_id.as_deref(), c.source), (Some("opaque-app"), TokenSource::Introspection));
    // Charter's answer names the audience and the token type the guard requires.
    assert_eq!(c.aud, vec!["lms-key".to_owned()]);
    assert_eq!(c.scopes, vec!["catalog:read".to_owned()]);
    assert_eq!(c.preferred_username.as_deref(), Some("svc-opaque-app"));
    assert_eq!(guard.fetch_counts().1, 1);
    // Served from the cache.
    assert!(guard.verify(&t).await.is_ok());
    assert_eq!(guard.fetch_counts().1, 1);

    // Revoked at Charter: still accepted until the cached answer expires (1 s here).
    let (s, _, _) = app.post_form("/oauth2/revoke", Some((&opaque.client_id, &opaque.secret)), &[("token", &t)]).await;
    assert_eq!(s, 200);
    assert!(guard.verify(&t).await.is_ok());
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(token_error(guard.verify(&t).await), TokenError::Inactive);
    assert_eq!(guard.fetch_counts().1, 2);

    // Unknown tokens of the right shape are inactive; anything else is malformed and
    // never sent to Charter. Without credentials, opaque tokens are not accepted.
    let unknown = format!("{}{}", "0123456789abcdef".repeat(2), "A".repeat(43));
    assert_eq!(token_error(guard.verify(&unknown).await), TokenError::Inactive);
    assert_eq!(guard.fetch_counts().1, 3);
    let garbage = "x".repeat(75);
    assert_eq!(token_error(guard.verify(&garbage).await), TokenError::Malformed);
    assert_eq!(guard.fetch_counts().1, 3);
    let no_creds = Guard::start(config(&app).no_reporting()).await.unwrap();
    assert_eq!(token_error(no_creds.verify(&unknown).await), TokenError::OpaqueNotAccepted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_open_edx_permission_rules() {
    let app = spawn_app(Backend::Sqlite).await;
    catalogue_scopes(&app).await;
    let partner = app
        .client("partner", |s| {
            s.scopes = vec!["catalog:read".into(), "enrollments:read".into()];
            s.filters = vec!["content_org:MITx".into(), "user:me".into()];
            s.restricted = true;
        })
        .await;
    let lms = app.client("lms-internal", |_| {}).await;
    let guard = Guard::start(config(&app).no_reporting()).await.unwrap();
    let base = serve(&guard).await;

    let catalog = token(&app, &partner, "catalog:read").await;
    let enrol = token(&app, &partner, "enrollments:read").await;
    // JwtHasScope: present / absent.
    assert_eq!(call(&base, "/api/courses", "JWT", &catalog).await.0, 200);
    let (s, www, b) = call(&base, "/api/courses", "Bearer", &enrol).await;
    assert_eq!(s, 403);
    assert_eq!(
        www,
        r#"Bearer realm="charter", error="insufficient_scope", error_description="the access token lacks the scopes: catalog:read", scope="catalog:read""#
    );
    assert_eq!((b["error"].as_str(), b["missing_scopes"].clone()), (Some("insufficient_scope"), json!(["catalog:read"])));
    // JwtHasContentOrgFilterForRequestedCourse: match / mismatch (new and old course keys).
    assert_eq!(call(&base, "/api/courses/course-v1:MITx+6.002x+2024_T1", "JWT", &catalog).await.0, 200);
    assert_eq!(call(&base, "/api/courses/MITx%2F6.002x%2F2012_Fall", "JWT", &catalog).await.0, 200);
    // A course key that cannot be decoded: the request's fault.
    let (s, _, b) = call(&base, "/api/courses/%FF", "JWT", &catalog).await;
    assert_eq!((s, b["reason"].as_str()), (400, Some("invalid_path_param")));
    let (s, www, b) = call(&base, "/api/courses/course-v1:HarvardX+CS50x+2024", "JWT", &catalog).await;
    assert_eq!((s, www.as_str()), (403, ""));
    assert_eq!((b["reason"].as_str(), b["filter"].as_str()), (Some("content_org_mismatch"), Some("content_org:HarvardX")));
    // JwtHasUserFilterForRequestedUser: user:me is the token's own user.
    assert_eq!(call(&base, "/api/users/svc-partner/enrollments", "JWT", &enrol).await.0, 200);
    let (s, _, b) = call(&base, "/api/users/alice/enrollments", "JWT", &enrol).await;
    assert_eq!((s, b["reason"].as_str(), b["filter"].as_str()), (403, Some("user_mismatch"), Some("user:me")));

    // Unrestricted: acts as its user, scopes and filters do not bind it.
    let free = token(&app, &lms, "read").await;
    for path in ["/api/courses", "/api/courses/course-v1:HarvardX+CS50x+2024", "/api/users/alice/enrollments"] {
        assert_eq!(call(&base, path, "Bearer", &free).await.0, 200, "{path}");
    }
    // Strict policy: every token needs the scopes.
    let strict = Guard::start(config(&app).no_reporting().policy(Policy::Strict)).await.unwrap();
    let strict_base = serve(&strict).await;
    assert_eq!(call(&strict_base, "/api/courses", "Bearer", &free).await.0, 403);
    assert_eq!(call(&strict_base, "/api/courses", "Bearer", &catalog).await.0, 200);
    assert_eq!(call(&strict_base, "/api/courses/course-v1:HarvardX+CS50x+2024", "JWT", &catalog).await.0, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_only_lets_everything_through_and_reports_the_would_be_denials() {
    let app = spawn_app(Backend::Sqlite).await;
    catalogue_scopes(&app).await;
    let rs = resource_server(&app).await;
    let legacy = app.client("legacy", |s| s.scopes = vec!["grades:read".into()]).await;
    let report = ReportConfig {
        service_name: Some("course-catalogue".into()),
        flush_interval: Duration::from_secs(3600),
        ..Default::default()
    };
    let guard = Guard::start(
        config(&app)
            .client_credentials(&rs.client_id, &rs.secret)
            .policy(Policy::Strict)
            .mode(Mode::ReportOnly)
            .report(report),
    )
    .await
    .unwrap();
    let base = serve(&guard).await;
    let t = token(&app, &legacy, "grades:read").await;
    for _ in 0..3 {
        assert_eq!(call(&base, "/api/courses", "JWT", &t).await, (200, String::new(), json!("legacy")));
    }
    assert_eq!(call(&base, "/api/courses/course-v1:MITx+6.002x+2024_T1", "JWT", &t).await.0, 200);
    assert_eq!(call(&base, "/api/users/svc-legacy/enrollments", "JWT", &t).await.0, 200);
    // Invalid tokens pass too (and are logged, not reported: no application to charge them to).
    assert_eq!(call(&base, "/api/courses", "Bearer", "not.a.token").await, (200, String::new(), json!("anonymous")));
    assert_eq!(guard.flush().await, Ok(5));
    let st = guard.reporter_stats();
    assert_eq!((st.sent_batches, st.sent_decisions, st.dropped_total), (1, 5, 0));

    // What Charter took: its access report of the legacy application, and the retrofit proposal.
    let admin = app.client("ops", |s| s.scopes = vec!["charter:admin".into()]).await;
    let admin_token = token(&app, &admin, "charter:admin").await;
    let rep: Value = app
        .http
        .get(app.url("/api/v1/applications/legacy/access-report"))
        .bearer_auth(&admin_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!((rep["requests"].as_u64(), rep["would_deny"].as_u64()), (Some(5), Some(5)), "{rep}");
    assert_eq!(rep["scopes_required"], json!(["catalog:read", "enrollments:read"]));
    let routes: Vec<&str> = rep["routes"].as_array().unwrap().iter().map(|r| r["route"].as_str().unwrap()).collect();
    assert_eq!(routes, ["/api/courses", "/api/courses/{course_id}", "/api/users/{username}/enrollments"]);
    assert_eq!(rep["routes"][0]["reporter"], "catalogue-rs");
    let proposal: Value = app
        .http
        .get(app.url("/api/v1/applications/legacy/retrofit"))
        .bearer_auth(&admin_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(proposal["proposed"], json!(["catalog:read", "enrollments:read"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reporter_drops_and_counts_while_charter_is_down_and_never_blocks() {
    let app = spawn_app(Backend::Sqlite).await;
    catalogue_scopes(&app).await;
    let rs = resource_server(&app).await;
    let partner = app.client("partner", |s| s.scopes = vec!["catalog:read".into()]).await;

    // Charter's observation endpoint behind a switch: down, or passed through to Charter.
    let down = Arc::new(AtomicBool::new(true));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let relay = format!("http://{}", listener.local_addr().unwrap());
    let (switch, target) = (down.clone(), app.url("/api/v1/observations"));
    let proxy = Router::new().route(
        "/api/v1/observations",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
            let (switch, target) = (switch.clone(), target.clone());
            async move {
                if switch.load(Ordering::SeqCst) {
                    return (axum::http::StatusCode::SERVICE_UNAVAILABLE, String::new());
                }
                let r = reqwest::Client::new()
                    .post(target)
                    .header("authorization", headers["authorization"].to_str().unwrap())
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                (axum::http::StatusCode::from_u16(r.status().as_u16()).unwrap(), r.text().await.unwrap())
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, proxy).await });

    let mut report = ReportConfig { flush_interval: Duration::from_secs(3600), ..Default::default() };
    report.url = Some(format!("{relay}/api/v1/observations"));
    let guard = Guard::start(config(&app).client_credentials(&rs.client_id, &rs.secret).report(report)).await.unwrap();
    let base = serve(&guard).await;
    let t = token(&app, &partner, "catalog:read").await;

    // Requests are never held up by the reporter.
    let started = Instant::now();
    for _ in 0..200 {
        assert_eq!(call(&base, "/api/courses", "Bearer", &t).await.0, 200);
    }
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(matches!(guard.flush().await, Err(ReportError::Delivery(_))));
    let st = guard.reporter_stats();
    assert_eq!((st.dropped_total, st.dropped_unreported, st.failed_batches, st.sent_batches), (200, 200, 1, 0));

    // Back up: the next batch carries the count of what was dropped.
    down.store(false, Ordering::SeqCst);
    assert_eq!(call(&base, "/api/courses", "Bearer", &t).await.0, 200);
    assert_eq!(guard.flush().await, Ok(1));
    assert_eq!(guard.reporter_stats().dropped_unreported, 0);
    let metrics = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let dropped: f64 = metrics
        .lines()
        .find(|l| l.starts_with("charter_observations_dropped_by_reporters_total"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    assert!(dropped >= 200.0, "{dropped}");
}
