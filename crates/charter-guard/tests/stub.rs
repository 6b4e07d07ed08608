//! The guard against a stub issuer (keys, rate limits, responses, reporter).
//! The same behaviours against the real Charter: crates/charter/tests/it/guard.rs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, Request, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use charter_guard::*;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::*;
use tower::ServiceExt;

#[derive(Clone)]
struct Stub {
    base: String,
    jwks: Arc<Mutex<String>>,
    jwks_hits: Arc<AtomicUsize>,
    /// Members put over the metadata's.
    metadata_edit: Arc<Mutex<Value>>,
    metadata_hits: Arc<AtomicUsize>,
    /// What introspection answers (for every token).
    introspection: Arc<Mutex<Value>>,
    introspect_hits: Arc<AtomicUsize>,
    introspect_delay_ms: Arc<AtomicU64>,
    fail_introspection: Arc<AtomicBool>,
    batches: Arc<Mutex<Vec<Value>>>,
    fail_reports: Arc<AtomicBool>,
    hang_reports: Arc<AtomicBool>,
}

async fn spawn_stub(jwks: String) -> Stub {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let stub = Stub {
        base,
        jwks: Arc::new(Mutex::new(jwks)),
        jwks_hits: Arc::new(AtomicUsize::new(0)),
        metadata_edit: Arc::new(Mutex::new(json!({}))),
        metadata_hits: Arc::new(AtomicUsize::new(0)),
        introspection: Arc::new(Mutex::new(active("opaque-app"))),
        introspect_hits: Arc::new(AtomicUsize::new(0)),
        introspect_delay_ms: Arc::new(AtomicU64::new(0)),
        fail_introspection: Arc::new(AtomicBool::new(false)),
        batches: Arc::new(Mutex::new(Vec::new())),
        fail_reports: Arc::new(AtomicBool::new(false)),
        hang_reports: Arc::new(AtomicBool::new(false)),
    };
    let app = Router::new()
        .route(
            "/.well-known/oauth-authorization-server/oauth2",
            get(|State(s): State<Stub>| async move {
                s.metadata_hits.fetch_add(1, Ordering::SeqCst);
                let mut md = json!({"issuer": ISSUER, "jwks_uri": format!("{}/jwks", s.base),
                                    "token_endpoint": format!("{}/token", s.base),
                                    "introspection_endpoint": format!("{}/introspect", s.base)});
                for (k, v) in s.metadata_edit.lock().unwrap().as_object().unwrap() {
                    md[k] = v.clone();
                }
                Json(md)
            }),
        )
        .route(
            "/introspect",
            post(|State(s): State<Stub>, headers: HeaderMap, body: String| async move {
                s.introspect_hits.fetch_add(1, Ordering::SeqCst);
                assert!(headers[header::AUTHORIZATION].to_str().unwrap().starts_with("Basic "));
                assert!(body.starts_with("token="), "{body}");
                let delay = s.introspect_delay_ms.load(Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(delay)).await;
                if s.fail_introspection.load(Ordering::SeqCst) {
                    return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"error": "down"})));
                }
                (StatusCode::OK, Json(s.introspection.lock().unwrap().clone()))
            }),
        )
        .route(
            "/jwks",
            get(|State(s): State<Stub>| async move {
                s.jwks_hits.fetch_add(1, Ordering::SeqCst);
                let body = s.jwks.lock().unwrap().clone();
                ([(header::CONTENT_TYPE, "application/json")], body)
            }),
        )
        .route("/token", post(|| async { Json(json!({"access_token": "report-token", "token_type": "Bearer", "expires_in": 300})) }))
        .route(
            "/api/v1/observations",
            post(|State(s): State<Stub>, headers: HeaderMap, Json(b): Json<Value>| async move {
                if s.hang_reports.load(Ordering::SeqCst) {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                }
                if s.fail_reports.load(Ordering::SeqCst) {
                    return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"error": "down"})));
                }
                assert_eq!(headers[header::AUTHORIZATION], "Bearer report-token");
                let n = b["decisions"].as_array().map(|d| d.len()).unwrap_or(0);
                s.batches.lock().unwrap().push(b);
                (StatusCode::ACCEPTED, Json(json!({"accepted": n})))
            }),
        )
        .with_state(stub.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    stub
}

/// Charter's introspection answer for an active access token.
fn active(client_id: &str) -> Value {
    let now = now();
    json!({"active": true, "scope": "catalog:read", "client_id": client_id, "username": format!("svc-{client_id}"),
           "token_type": "Bearer", "exp": now + 600, "iat": now, "sub": "0123456789abcdef0123456789abcdef",
           "aud": AUDIENCE, "iss": ISSUER, "jti": "j1", "filters": [], "is_restricted": false})
}

/// A token of the shape of Charter's opaque tokens (32 hex, 43 base64url), distinct per `n`.
fn opaque(n: u32) -> String {
    format!("{n:032x}{}", "Az09-_".repeat(7) + "x")
}

fn config() -> GuardConfig {
    GuardConfig::new(ISSUER).audience(AUDIENCE).leeway(Duration::ZERO)
}

fn router(guard: &Guard) -> Router {
    async fn who(t: VerifiedToken) -> String {
        t.client_id_or_unknown().to_owned()
    }
    async fn maybe(t: Option<VerifiedToken>) -> String {
        t.map(|t| t.client_id_or_unknown().to_owned()).unwrap_or_else(|| "anonymous".into())
    }
    Router::new()
        .route("/api/courses", get(who).route_layer(guard.require(Requirement::scopes_all(["catalog:read"]))))
        .route(
            "/api/courses/{course_id}",
            get(who).route_layer(guard.require(Requirement::scopes_all(["catalog:read"]).content_org_param("course_id"))),
        )
        .route(
            "/api/users/{username}/enrollments",
            get(who).route_layer(guard.require(Requirement::scopes_all(["enrollments:read"]).user_param("username"))),
        )
        .route(
            "/api/preview",
            get(maybe).route_layer(guard.require(Requirement::scopes_all(["catalog:read"]).mode(Mode::ReportOnly))),
        )
        .route("/api/open", get(maybe).route_layer(guard.require(Requirement::scopes_all(["catalog:read"]).mode(Mode::Off))))
}

async fn call(app: &Router, path: &str, auth: &[&str]) -> (StatusCode, HeaderMap, Value, String) {
    let mut req = Request::builder().uri(path);
    for a in auth {
        req = req.header(header::AUTHORIZATION, *a);
    }
    let r = app.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
    let status = r.status();
    let headers = r.headers().clone();
    let b = http_body_util::BodyExt::collect(r.into_body()).await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&b).into_owned();
    (status, headers, serde_json::from_str(&text).unwrap_or(Value::Null), text)
}

fn www(h: &HeaderMap) -> String {
    h.get(header::WWW_AUTHENTICATE).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
}

#[tokio::test]
async fn layer_answers_as_rfc_6750_says() {
    let k = Signer::rsa("k1", "RS256");
    let guard = Guard::start(config().static_jwks(jwks(&[&k])).no_reporting()).await.unwrap();
    let app = router(&guard);
    let restricted = |scopes: &[&str], filters: &[&str]| k.sign(&claims("partner", scopes, filters, true));

    // No token: 401 without an error code.
    let (s, h, _, _) = call(&app, "/api/courses", &[]).await;
    assert_eq!((s, www(&h)), (StatusCode::UNAUTHORIZED, r#"Bearer realm="charter""#.to_owned()));
    let (s, h, _, _) = call(&app, "/api/courses", &["Basic YTpi"]).await;
    assert_eq!((s, www(&h)), (StatusCode::UNAUTHORIZED, r#"Bearer realm="charter""#.to_owned()));
    // Invalid token.
    let (s, h, b, _) = call(&app, "/api/courses", &["Bearer abc.def.ghi"]).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(www(&h).starts_with(r#"Bearer realm="charter", error="invalid_token", error_description=""#), "{}", www(&h));
    assert_eq!(b["error"], "invalid_token");
    // Two Authorization headers.
    let t = restricted(&["catalog:read"], &[]);
    let (s, h, _, _) = call(&app, "/api/courses", &[&format!("Bearer {t}"), &format!("JWT {t}")]).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(www(&h).contains(r#"error="invalid_request""#));

    // Scopes: Bearer and JWT schemes.
    let (s, _, _, text) = call(&app, "/api/courses", &[&format!("Bearer {t}")]).await;
    assert_eq!((s, text.as_str()), (StatusCode::OK, "partner"));
    let (s, _, _, _) = call(&app, "/api/courses", &[&format!("JWT {t}")]).await;
    assert_eq!(s, StatusCode::OK);
    let none = restricted(&["read"], &[]);
    let (s, h, b, _) = call(&app, "/api/courses", &[&format!("Bearer {none}")]).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let w = www(&h);
    assert!(w.contains(r#"error="insufficient_scope""#) && w.ends_with(r#"scope="catalog:read""#), "{w}");
    assert_eq!(b["error"], "insufficient_scope");
    assert_eq!(b["missing_scopes"], json!(["catalog:read"]));

    // content_org.
    let mit = restricted(&["catalog:read"], &["content_org:MITx"]);
    let (s, _, _, _) = call(&app, "/api/courses/course-v1:MITx+6.002x+2024_T1", &[&format!("JWT {mit}")]).await;
    assert_eq!(s, StatusCode::OK);
    let (s, h, b, _) = call(&app, "/api/courses/course-v1:HarvardX+CS50+2024", &[&format!("JWT {mit}")]).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!((b["reason"].as_str(), b["filter"].as_str()), (Some("content_org_mismatch"), Some("content_org:HarvardX")));
    assert!(www(&h).is_empty());
    let (s, _, _, _) = call(&app, "/api/courses/MITx%2F6.002x%2F2012_Fall", &[&format!("JWT {mit}")]).await;
    assert_eq!(s, StatusCode::OK);
    // `%` is not part of a course key.
    let (s, _, b, _) = call(&app, "/api/courses/course-v1:MI%2554x+6.002x+2024_T1", &[&format!("JWT {mit}")]).await;
    assert_eq!((s, b["filter"].as_str()), (StatusCode::FORBIDDEN, Some("content_org")));
    // A parameter that cannot be decoded is the request's fault (400), not the service's.
    let (s, h, b, _) = call(&app, "/api/courses/%FF", &[&format!("JWT {mit}")]).await;
    assert_eq!(
        (s, b["error"].as_str(), b["reason"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"), Some("invalid_path_param"))
    );
    assert!(www(&h).is_empty());
    // A requirement naming a parameter its route does not have is the service's (500).
    let wrong = Router::new().route(
        "/b",
        get(|| async { "b" }).route_layer(guard.require(Requirement::authenticated().content_org_param("course_id"))),
    );
    let (s, _, b, _) = call(&wrong, "/b", &[&format!("JWT {mit}")]).await;
    assert_eq!((s, b["error"].as_str()), (StatusCode::INTERNAL_SERVER_ERROR, Some("server_error")));

    // user:me.
    let me = restricted(&["enrollments:read"], &["user:me"]);
    let (s, _, _, _) = call(&app, "/api/users/svc-partner/enrollments", &[&format!("JWT {me}")]).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _, b, _) = call(&app, "/api/users/alice/enrollments", &[&format!("JWT {me}")]).await;
    assert_eq!((s, b["reason"].as_str(), b["filter"].as_str()), (StatusCode::FORBIDDEN, Some("user_mismatch"), Some("user:me")));

    // Unrestricted tokens act as their user (Open edX policy).
    let free = k.sign(&claims("lms", &[], &[], false));
    let (s, _, _, _) = call(&app, "/api/courses/course-v1:HarvardX+CS50+2024", &[&format!("JWT {free}")]).await;
    assert_eq!(s, StatusCode::OK);

    // Report-only lets through, invalid tokens too; off does not look.
    let (s, _, _, text) = call(&app, "/api/preview", &[&format!("Bearer {none}")]).await;
    assert_eq!((s, text.as_str()), (StatusCode::OK, "partner"));
    let (s, _, _, text) = call(&app, "/api/preview", &["Bearer a.b.c"]).await;
    assert_eq!((s, text.as_str()), (StatusCode::OK, "anonymous"));
    let (s, _, _, text) = call(&app, "/api/open", &[&format!("Bearer {t}")]).await;
    assert_eq!((s, text.as_str()), (StatusCode::OK, "anonymous"));

    // An application's own mode, changed at run time.
    guard.set_client_mode("partner", Some(Mode::ReportOnly));
    let (s, _, _, _) = call(&app, "/api/courses", &[&format!("Bearer {none}")]).await;
    assert_eq!(s, StatusCode::OK);
    guard.set_client_mode("partner", None);
    let (s, _, _, _) = call(&app, "/api/courses", &[&format!("Bearer {none}")]).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // On a whole Router too: each route's template is reported.
    let whole = Router::new()
        .route("/a/{course_id}", get(|t: VerifiedToken| async move { t.client_id_or_unknown().to_owned() }))
        .route_layer(guard.require(Requirement::scopes_all(["catalog:read"]).content_org_param("course_id")));
    let (s, _, _, _) = call(&whole, "/a/course-v1:MITx+6.002x+2024_T1", &[&format!("Bearer {mit}")]).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _, _, _) = call(&whole, "/a/course-v1:edX+DemoX+1", &[&format!("Bearer {mit}")]).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Strict policy: every token needs the scopes.
    let strict = Guard::start(config().static_jwks(jwks(&[&k])).no_reporting().policy(Policy::Strict)).await.unwrap();
    let (s, _, _, _) = call(&router(&strict), "/api/courses", &[&format!("JWT {free}")]).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_algorithm_is_the_keys() {
    let rsa = Signer::rsa("rsa", "RS256");
    let rs512 = Signer::rsa("rs512", "RS512");
    let ec = Signer::es256("ec");
    let ed = Signer::eddsa("ed");
    let guard = Guard::start(config().static_jwks(jwks(&[&rsa, &rs512, &ec, &ed])).no_reporting()).await.unwrap();
    for k in [&rsa, &rs512, &ec, &ed] {
        let c = guard.verify(&k.sign(&claims("c", &["a"], &[], false))).await.unwrap();
        assert_eq!((c.client_id.as_deref(), c.scopes.clone()), (Some("c"), vec!["a".to_owned()]), "{}", k.alg);
    }
    let c = claims("c", &[], &[], false);
    let token_err = |e: AuthError| match e {
        AuthError::Token { error, .. } => error,
        other => panic!("{other:?}"),
    };
    // The header names another algorithm than the key's.
    let t = rsa.sign_with_header(&json!({"alg": "RS512", "kid": "rsa", "typ": "JWT"}), &c);
    assert_eq!(token_err(guard.verify(&t).await.unwrap_err()), TokenError::AlgorithmMismatch);
    // alg none.
    let b64 = |v: &Value| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let t = format!("{}.{}.", b64(&json!({"alg": "none", "kid": "rsa"})), b64(&c));
    assert_eq!(token_err(guard.verify(&t).await.unwrap_err()), TokenError::Malformed);
    // Another key's signature under this kid.
    let t = rs512.sign_with_header(&json!({"alg": "RS256", "kid": "rsa"}), &c);
    assert!(guard.verify(&t).await.is_err());
    // Without a kid, every key of the header's algorithm is tried.
    let t = ec.sign_with_header(&json!({"alg": "ES256"}), &c);
    assert!(guard.verify(&t).await.is_ok());
}

#[tokio::test]
async fn unknown_kids_refetch_at_most_once_per_interval() {
    let k = Signer::es256("k1");
    let stub = spawn_stub(jwks(&[&k])).await;
    let guard = Guard::start(
        config().charter_url(&stub.base).kid_refetch_interval(Duration::from_secs(60)).no_reporting(),
    )
    .await
    .unwrap();
    guard.ready().await.unwrap();
    assert_eq!(stub.jwks_hits.load(Ordering::SeqCst), 1);
    assert!(guard.verify(&k.sign(&claims("c", &[], &[], false))).await.is_ok());

    // A flood of forged kids, some concurrent: one refetch at most.
    let forger = Signer::es256("x");
    let mut tasks = Vec::new();
    for i in 0..200 {
        let g = guard.clone();
        let t = forger.sign_with_header(&json!({"alg": "ES256", "kid": format!("forged-{i}")}), &claims("c", &[], &[], false));
        tasks.push(tokio::spawn(async move { g.verify(&t).await }));
    }
    for t in tasks {
        assert!(matches!(t.await.unwrap(), Err(AuthError::Token { error: TokenError::UnknownKey, .. })));
    }
    assert_eq!(stub.jwks_hits.load(Ordering::SeqCst), 2);

    // With a short interval, a new key is picked up on first sight.
    let quick = Guard::start(
        config().charter_url(&stub.base).kid_refetch_interval(Duration::from_secs(1)).no_reporting(),
    )
    .await
    .unwrap();
    let k2 = Signer::rsa("k2", "RS512");
    *stub.jwks.lock().unwrap() = jwks(&[&k, &k2]);
    let c = quick.verify(&k2.sign(&claims("c2", &[], &[], false))).await.unwrap();
    assert_eq!(c.client_id.as_deref(), Some("c2"));
    // The slow guard still refuses it (its interval has not passed) ...
    assert!(guard.verify(&k2.sign(&claims("c2", &[], &[], false))).await.is_err());
    // ... until its background refresh runs.
    let refreshing = Guard::start(
        config().charter_url(&stub.base).jwks_refresh_interval(Duration::from_millis(100)).no_reporting(),
    )
    .await
    .unwrap();
    let k3 = Signer::eddsa("k3");
    *stub.jwks.lock().unwrap() = jwks(&[&k3]);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let before = refreshing.fetch_counts().0;
    assert!(refreshing.verify(&k3.sign(&claims("c3", &[], &[], false))).await.is_ok());
    assert_eq!(refreshing.fetch_counts().0, before, "found without a refetch");
    // The withdrawn key no longer verifies.
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(refreshing.verify(&k.sign(&claims("c", &[], &[], false))).await.is_err());
}

#[tokio::test]
async fn metadata_must_be_the_issuers() {
    let k = Signer::es256("k1");
    let stub = spawn_stub(jwks(&[&k])).await;
    let guard = Guard::start(GuardConfig::new("http://other.test/oauth2").charter_url(&stub.base).no_reporting())
        .await
        .unwrap();
    assert!(matches!(guard.ready().await, Err(AuthError::Unavailable(_))));
    assert_eq!(stub.jwks_hits.load(Ordering::SeqCst), 0);
    // Tokens cannot be checked: 503 in enforce mode.
    let app = router(&guard);
    let (s, h, _, _) = call(&app, "/api/courses", &[&format!("Bearer {}", k.sign(&claims("c", &[], &[], false)))]).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(h[header::RETRY_AFTER], "5");
}

fn headers(token: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(header::AUTHORIZATION, HeaderValue::from_str(&format!("Bearer {token}")).unwrap());
    h
}

async fn check(guard: &Guard, req: &Arc<Requirement>, token: &str, route: &'static str) -> Verdict {
    let h = headers(token);
    guard.check(req, CheckRequest { headers: &h, method: &Method::GET, route: Route::Static(route), params: &NoParams }).await
}

#[tokio::test]
async fn reporter_aggregates_drops_and_counts_and_never_blocks() {
    let k = Signer::es256("k1");
    let stub = spawn_stub(jwks(&[&k])).await;
    let report = ReportConfig { flush_interval: Duration::from_secs(3600), channel_capacity: 64, max_pending: 100, ..Default::default() };
    let guard = Guard::start(
        config().charter_url(&stub.base).client_credentials("catalogue", "s3cret").mode(Mode::ReportOnly).report(report),
    )
    .await
    .unwrap();
    let req = Arc::new(Requirement::scopes_all(["catalog:read"]));
    let legacy = k.sign(&claims("legacy", &["read"], &[], true));
    for _ in 0..10 {
        let v = check(&guard, &req, &legacy, "/api/courses").await;
        assert_eq!((v.decision, v.reason), (Decision::WouldDeny, "missing_scope"));
    }
    assert_eq!(guard.flush().await, Ok(10));
    {
        let batches = stub.batches.lock().unwrap();
        assert_eq!(batches.len(), 1);
        let b = &batches[0];
        assert_eq!(b["service"], "catalogue");
        assert_eq!(b["dropped"], 0);
        let d = &b["decisions"][0];
        assert_eq!(
            (d["client_id"].as_str(), d["route"].as_str(), d["method"].as_str(), d["count"].as_u64()),
            (Some("legacy"), Some("/api/courses"), Some("GET"), Some(10))
        );
        assert_eq!((d["mode"].as_str(), d["decision"].as_str()), (Some("report-only"), Some("would_deny")));
        assert_eq!((d["scopes_held"].clone(), d["required_all"].clone()), (json!(["read"]), json!(["catalog:read"])));
    }

    // Charter down: the batch is dropped and counted, then reported in `dropped`.
    stub.fail_reports.store(true, Ordering::SeqCst);
    for _ in 0..5 {
        check(&guard, &req, &legacy, "/api/courses").await;
    }
    assert!(matches!(guard.flush().await, Err(ReportError::Delivery(_))));
    let st = guard.reporter_stats();
    assert_eq!((st.dropped_total, st.dropped_unreported, st.failed_batches), (5, 5, 1));
    stub.fail_reports.store(false, Ordering::SeqCst);
    check(&guard, &req, &legacy, "/api/courses").await;
    assert_eq!(guard.flush().await, Ok(1));
    assert_eq!(stub.batches.lock().unwrap()[1]["dropped"], 5);
    assert_eq!(guard.reporter_stats().dropped_unreported, 0);

    // Charter hangs: requests do not wait; memory stays bounded (drops are counted).
    stub.hang_reports.store(true, Ordering::SeqCst);
    check(&guard, &req, &legacy, "/api/courses").await;
    let g = guard.clone();
    tokio::spawn(async move { g.flush().await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let routes: Vec<&'static str> = (0..300).map(|i| &*Box::leak(format!("/api/r{i}").into_boxed_str())).collect();
    for i in 0..6000 {
        check(&guard, &req, &legacy, routes[i % routes.len()]).await;
    }
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "{took:?}");
    let st = guard.reporter_stats();
    assert!(st.dropped_total > 5, "{st:?}");
}

#[tokio::test]
async fn reporter_with_charter_unreachable_counts_drops() {
    let k = Signer::es256("k1");
    // Reserve a port and close it: nothing listens there.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let mut cfg = config()
        .static_jwks(jwks(&[&k]))
        .client_credentials("catalogue", "s3cret")
        .report(ReportConfig { flush_interval: Duration::from_secs(3600), ..Default::default() });
    cfg.token_endpoint = Some(format!("{dead}/oauth2/token"));
    cfg.introspection_endpoint = Some(format!("{dead}/oauth2/introspect"));
    cfg.report.url = Some(format!("{dead}/api/v1/observations"));
    let guard = Guard::start(cfg).await.unwrap();
    let req = Arc::new(Requirement::scopes_all(["catalog:read"]));
    let t = k.sign(&claims("c", &["catalog:read"], &[], true));
    let started = Instant::now();
    for _ in 0..1000 {
        assert_eq!(check(&guard, &req, &t, "/api/courses").await.decision, Decision::Allow);
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(matches!(guard.flush().await, Err(ReportError::Delivery(_))));
    assert_eq!(guard.reporter_stats().dropped_unreported, 1000);
}

/// Collects the events logged on this thread (`target field=value …`).
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<String>>>);

impl Logs {
    fn matching(&self, needles: &[&str]) -> Vec<String> {
        self.0.lock().unwrap().iter().filter(|l| needles.iter().all(|n| l.contains(n))).cloned().collect()
    }
}

impl tracing::Subscriber for Logs {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, e: &tracing::Event<'_>) {
        struct Line(String);
        impl tracing::field::Visit for Line {
            fn record_str(&mut self, f: &tracing::field::Field, v: &str) {
                self.0.push_str(&format!(" {}={v}", f.name()));
            }
            fn record_debug(&mut self, f: &tracing::field::Field, v: &dyn std::fmt::Debug) {
                self.0.push_str(&format!(" {}={v:?}", f.name()));
            }
        }
        let mut line = Line(e.metadata().target().to_owned());
        e.record(&mut line);
        self.0.lock().unwrap().push(line.0);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

fn token_error(r: Result<Arc<Claims>, AuthError>) -> TokenError {
    match r {
        Err(AuthError::Token { error, .. }) => error,
        other => panic!("expected a token error, got {other:?}"),
    }
}

#[tokio::test]
async fn opaque_tokens_are_checked_before_and_after_introspection() {
    let stub = spawn_stub(jwks(&[&Signer::es256("k1")])).await;
    let guard = Guard::start(config().charter_url(&stub.base).client_credentials("catalogue", "s3cret").no_reporting())
        .await
        .unwrap();
    let hits = || stub.introspect_hits.load(Ordering::SeqCst);
    // Nothing that cannot be one of Charter's opaque tokens is sent to Charter.
    let malformed = ["x".repeat(75), opaque(1)[..74].to_owned(), opaque(1) + "A", opaque(0xabcdef).to_uppercase()];
    for t in malformed {
        assert_eq!(token_error(guard.verify(&t).await), TokenError::Malformed, "{t}");
    }
    let (s, h, b, _) = call(&router(&guard), "/api/courses", &["Bearer not-an-opaque-token"]).await;
    assert_eq!((s, b["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_token")));
    assert!(www(&h).contains(r#"error="invalid_token""#));
    assert_eq!(hits(), 0);

    // One of Charter's: introspected once, then served from the cache.
    let c = guard.verify(&opaque(1)).await.unwrap();
    assert_eq!((c.client_id.as_deref(), c.source), (Some("opaque-app"), TokenSource::Introspection));
    assert!(guard.verify(&opaque(1)).await.is_ok());
    assert_eq!(hits(), 1);

    // With an audience configured, the answer must name it.
    let answer = |edit: &dyn Fn(&mut Value)| {
        let mut a = active("opaque-app");
        edit(&mut a);
        *stub.introspection.lock().unwrap() = a;
    };
    answer(&|a| {
        a.as_object_mut().unwrap().remove("aud");
    });
    assert_eq!(token_error(guard.verify(&opaque(2)).await), TokenError::WrongAudience);
    answer(&|a| a["aud"] = json!("another-service"));
    assert_eq!(token_error(guard.verify(&opaque(3)).await), TokenError::WrongAudience);
    // Only access tokens (token_type absent, Bearer or access_token, in any case).
    answer(&|a| a["token_type"] = json!("refresh_token"));
    match guard.verify(&opaque(4)).await {
        Err(AuthError::Token { error, client_id }) => {
            assert_eq!((error, client_id.as_deref()), (TokenError::NotAccessToken, Some("opaque-app")))
        }
        other => panic!("{other:?}"),
    }
    for (n, tt) in [(5, json!("bearer")), (6, json!("ACCESS_TOKEN")), (7, Value::Null)] {
        answer(&|a| a["token_type"] = tt.clone());
        assert!(guard.verify(&opaque(n)).await.is_ok(), "{tt}");
    }
    // An answer naming no client: accepted, with no client id.
    answer(&|a| {
        a.as_object_mut().unwrap().remove("client_id");
    });
    assert_eq!(guard.verify(&opaque(8)).await.unwrap().client_id, None);
    answer(&|a| *a = json!({"active": false}));
    assert_eq!(token_error(guard.verify(&opaque(9)).await), TokenError::Inactive);
    assert_eq!(hits(), 9);

    // Without credentials, well-formed opaque tokens are not accepted; others are malformed.
    let no_creds = Guard::start(config().charter_url(&stub.base).no_reporting()).await.unwrap();
    assert_eq!(token_error(no_creds.verify(&opaque(1)).await), TokenError::OpaqueNotAccepted);
    assert_eq!(token_error(no_creds.verify(&"x".repeat(75)).await), TokenError::Malformed);
}

#[tokio::test]
async fn introspection_is_bounded_and_fails_fast() {
    let stub = spawn_stub(jwks(&[&Signer::es256("k1")])).await;
    let guard = Guard::start(
        config()
            .charter_url(&stub.base)
            .client_credentials("catalogue", "s3cret")
            .max_concurrent_introspections(1)
            .fail_fast_window(Duration::from_millis(500))
            .no_reporting(),
    )
    .await
    .unwrap();
    let hits = || stub.introspect_hits.load(Ordering::SeqCst);

    // One slot: a second distinct token does not queue behind a slow introspection.
    stub.introspect_delay_ms.store(1500, Ordering::SeqCst);
    let g = guard.clone();
    let slow = tokio::spawn(async move { g.verify(&opaque(1)).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    assert!(matches!(guard.verify(&opaque(2)).await, Err(AuthError::Unavailable(_))));
    assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
    // Through the layer: 503.
    let (s, h, _, _) = call(&router(&guard), "/api/courses", &[&format!("Bearer {}", opaque(3))]).await;
    assert_eq!((s, h[header::RETRY_AFTER].to_str().unwrap()), (StatusCode::SERVICE_UNAVAILABLE, "5"));
    assert!(slow.await.unwrap().is_ok());
    assert_eq!(hits(), 1);
    stub.introspect_delay_ms.store(0, Ordering::SeqCst);

    // Charter fails: one attempt, then 503 at once for the window, then asked again.
    stub.fail_introspection.store(true, Ordering::SeqCst);
    assert!(matches!(guard.verify(&opaque(4)).await, Err(AuthError::Unavailable(_))));
    assert_eq!(hits(), 2);
    for n in 5..50 {
        assert!(matches!(guard.verify(&opaque(n)).await, Err(AuthError::Unavailable(_))));
    }
    assert_eq!(hits(), 2, "no request to Charter within the window");
    // Answers already cached are still served.
    assert!(guard.verify(&opaque(1)).await.is_ok());
    stub.fail_introspection.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(guard.verify(&opaque(4)).await.is_ok());
    assert_eq!(hits(), 3);
}

#[tokio::test]
async fn discovery_fails_fast_and_metadata_endpoints_must_be_http() {
    let k = Signer::es256("k1");
    let stub = spawn_stub(jwks(&[&k])).await;
    *stub.metadata_edit.lock().unwrap() = json!({"jwks_uri": "file:///etc/jwks.json"});
    let cfg = config().charter_url(&stub.base).fail_fast_window(Duration::from_millis(300)).no_reporting();
    let guard = Guard::start(cfg).await.unwrap();
    assert_eq!(stub.metadata_hits.load(Ordering::SeqCst), 1);
    assert!(matches!(guard.ready().await, Err(AuthError::Unavailable(_))));
    // Within the window the metadata is not asked for again.
    assert_eq!(stub.metadata_hits.load(Ordering::SeqCst), 1);
    assert_eq!(stub.jwks_hits.load(Ordering::SeqCst), 0);
    *stub.metadata_edit.lock().unwrap() = json!({});
    tokio::time::sleep(Duration::from_millis(400)).await;
    guard.ready().await.unwrap();
    assert_eq!(stub.metadata_hits.load(Ordering::SeqCst), 2);
    assert!(guard.verify(&k.sign(&claims("c", &[], &[], false))).await.is_ok());
}

#[tokio::test]
async fn plain_http_to_another_host_is_warned_about() {
    let stub = spawn_stub(jwks(&[&Signer::es256("k1")])).await;
    *stub.metadata_edit.lock().unwrap() = json!({"token_endpoint": "http://10.255.0.1/oauth2/token"});
    let logs = Logs::default();
    let _on_this_thread = tracing::subscriber::set_default(logs.clone());
    let guard = Guard::start(config().charter_url(&stub.base).no_reporting()).await.unwrap();
    guard.ready().await.unwrap();
    // The issuer (an identifier here, but http on another host) and the metadata's token endpoint.
    assert_eq!(logs.matching(&["plain http", "what=issuer"]).len(), 1);
    assert_eq!(logs.matching(&["plain http", "what=token_endpoint", "10.255.0.1"]).len(), 1);
    // Charter at 127.0.0.1 is this machine: no warning.
    assert!(logs.matching(&["plain http", "what=charter_url"]).is_empty());
    assert!(logs.matching(&["plain http", "what=jwks_uri"]).is_empty());
}

#[tokio::test]
async fn an_empty_jwk_set_keeps_the_keys_in_force() {
    let k = Signer::es256("k1");
    let stub = spawn_stub(jwks(&[&k])).await;
    let guard = Guard::start(
        config()
            .charter_url(&stub.base)
            .jwks_refresh_interval(Duration::from_millis(100))
            .kid_refetch_interval(Duration::from_secs(1))
            .no_reporting(),
    )
    .await
    .unwrap();
    guard.ready().await.unwrap();
    let t = k.sign(&claims("c", &[], &[], false));
    assert!(guard.verify(&t).await.is_ok());
    // A set with no usable key (empty, or symmetric keys only) is a failed fetch.
    for set in [json!({"keys": []}), json!({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "h"}]})] {
        *stub.jwks.lock().unwrap() = set.to_string();
        let before = stub.jwks_hits.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(350)).await;
        assert!(stub.jwks_hits.load(Ordering::SeqCst) > before, "the refresher ran");
        assert!(guard.verify(&t).await.is_ok(), "{set}");
    }
}

#[tokio::test]
async fn open_edx_jwts_without_alg_or_client_id() {
    // The LMS: an RSA key published without `alg`, tokens signed RS512, no client_id.
    let lms = Signer::rsa("lms", "RS512");
    let mut jwk = lms.jwk();
    jwk.as_object_mut().unwrap().remove("alg");
    let set = json!({"keys": [jwk]}).to_string();
    let guard = Guard::start(
        config()
            .static_jwks(set)
            .client_credentials("catalogue", "s3cret")
            .report(ReportConfig { flush_interval: Duration::from_secs(3600), ..Default::default() }),
    )
    .await
    .unwrap();
    let mut c = claims("lms", &[], &[], false);
    c.as_object_mut().unwrap().remove("client_id");
    let t = lms.sign(&c);
    let verified = guard.verify(&t).await.unwrap();
    assert_eq!((verified.client_id.as_deref(), verified.preferred_username.as_deref()), (None, Some("svc-lms")));
    // The RSA family, and nothing else, on that key.
    let payload = claims("lms", &[], &[], false);
    let rs256 = lms.sign_with_header(&json!({"alg": "RS256", "kid": "lms"}), &payload);
    assert_eq!(token_error(guard.verify(&rs256).await), TokenError::BadSignature, "signed RS512, said RS256");
    for alg in ["PS512", "HS256", "ES256", "EdDSA"] {
        let t = lms.sign_with_header(&json!({"alg": alg, "kid": "lms"}), &payload);
        assert_eq!(token_error(guard.verify(&t).await), TokenError::AlgorithmMismatch, "{alg}");
    }
    // Open edX format (`version`): iat and preferred_username are required.
    for claim in ["iat", "preferred_username"] {
        let mut c = c.clone();
        c.as_object_mut().unwrap().remove(claim);
        assert!(matches!(token_error(guard.verify(&lms.sign(&c)).await), TokenError::MissingClaim(m) if m == claim));
    }

    // Through the layer: it passes (unrestricted), and is logged but not reported (no application).
    let (s, _, _, text) = call(&router(&guard), "/api/courses", &[&format!("JWT {t}")]).await;
    assert_eq!((s, text.as_str()), (StatusCode::OK, "unknown"));
    assert_eq!(guard.flush().await, Ok(0));
}

#[tokio::test]
async fn an_application_in_off_mode_is_logged_not_reported() {
    let k = Signer::es256("k1");
    let stub = spawn_stub(jwks(&[&k])).await;
    let report = ReportConfig { flush_interval: Duration::from_secs(3600), ..Default::default() };
    let guard = Guard::start(config().charter_url(&stub.base).client_credentials("catalogue", "s3cret").report(report))
        .await
        .unwrap();
    let logs = Logs::default();
    let _on_this_thread = tracing::subscriber::set_default(logs.clone());
    guard.set_client_mode("legacy", Some(Mode::Off));
    let req = Arc::new(Requirement::scopes_all(["catalog:read"]));
    let legacy = k.sign(&claims("legacy", &["read"], &[], true));
    let v = check(&guard, &req, &legacy, "/api/courses").await;
    assert_eq!((v.mode, v.decision, v.reason), (Mode::Off, Decision::Allow, "off"));
    assert!(v.claims.is_some());
    let logged =
        logs.matching(&["charter_guard::decision", "client_id=legacy", "mode=off", "decision=allow", "reason=off"]);
    assert_eq!(logged.len(), 1, "{:?}", logs.0.lock().unwrap());
    assert_eq!(guard.flush().await, Ok(0));
    // A route in off mode does not even read the token: nothing to log.
    let off = Arc::new(Requirement::scopes_all(["catalog:read"]).mode(Mode::Off));
    let v = check(&guard, &off, &k.sign(&claims("partner", &[], &[], true)), "/api/open").await;
    assert_eq!((v.reason, v.claims.is_none()), ("off", true));
    assert!(logs.matching(&["charter_guard::decision", "client_id=partner"]).is_empty());
    // Back on: reported again.
    guard.set_client_mode("legacy", None);
    check(&guard, &req, &legacy, "/api/courses").await;
    assert_eq!(guard.flush().await, Ok(1));
}
