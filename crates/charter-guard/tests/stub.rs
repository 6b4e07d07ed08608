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
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::*;
use tower::ServiceExt;

#[derive(Clone)]
struct Stub {
    base: String,
    jwks: Arc<Mutex<String>>,
    jwks_hits: Arc<AtomicUsize>,
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
        batches: Arc::new(Mutex::new(Vec::new())),
        fail_reports: Arc::new(AtomicBool::new(false)),
        hang_reports: Arc::new(AtomicBool::new(false)),
    };
    let app = Router::new()
        .route(
            "/.well-known/oauth-authorization-server/oauth2",
            get(|State(s): State<Stub>| async move {
                Json(json!({"issuer": ISSUER, "jwks_uri": format!("{}/jwks", s.base),
                            "token_endpoint": format!("{}/token", s.base),
                            "introspection_endpoint": format!("{}/introspect", s.base)}))
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

fn config() -> GuardConfig {
    GuardConfig::new(ISSUER).audience(AUDIENCE).leeway(Duration::ZERO)
}

fn router(guard: &Guard) -> Router {
    async fn who(t: VerifiedToken) -> String {
        t.client_id.clone()
    }
    async fn maybe(t: Option<VerifiedToken>) -> String {
        t.map(|t| t.client_id.clone()).unwrap_or_else(|| "anonymous".into())
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
        .route("/a/{course_id}", get(|t: VerifiedToken| async move { t.client_id.clone() }))
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
        assert_eq!((c.client_id.as_str(), c.scopes.clone()), ("c", vec!["a".to_owned()]), "{}", k.alg);
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
        config().charter_url(&stub.base).kid_refetch_interval(Duration::from_millis(200)).no_reporting(),
    )
    .await
    .unwrap();
    let k2 = Signer::rsa("k2", "RS512");
    *stub.jwks.lock().unwrap() = jwks(&[&k, &k2]);
    let c = quick.verify(&k2.sign(&claims("c2", &[], &[], false))).await.unwrap();
    assert_eq!(c.client_id, "c2");
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
