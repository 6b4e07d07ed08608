//! Hostile and malformed input: always a 4xx with an RFC 6749 error body; never a 5xx.

use crate::both_backends;
use crate::helpers::*;
use base64::Engine;

struct Case {
    name: &'static str,
    path: &'static str,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    status: u16,
    error: &'static str,
}

fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}")))
}

const FORM: &str = "application/x-www-form-urlencoded";

both_backends!(hostile_requests_get_4xx_oauth_errors, |app: TestApp| async move {
    let c = app.client("target", |_| {}).await;
    let good = basic(&c.client_id, &c.secret);
    let ct = || ("content-type", FORM.to_string());
    let auth = |v: &str| ("authorization", v.to_string());
    let big_scope = format!("grant_type=client_credentials&scope={}", "a".repeat(20_000));
    let many = (0..200).map(|i| format!("p{i}=x")).collect::<Vec<_>>().join("&");
    let cases = vec![
        Case { name: "repeated grant_type", path: "/oauth2/token", headers: vec![ct(), auth(&good)], body: b"grant_type=client_credentials&grant_type=client_credentials".to_vec(), status: 400, error: "invalid_request" },
        Case { name: "repeated scope", path: "/oauth2/token", headers: vec![ct(), auth(&good)], body: b"grant_type=client_credentials&scope=read&scope=write".to_vec(), status: 400, error: "invalid_request" },
        Case { name: "repeated empty", path: "/oauth2/token", headers: vec![ct(), auth(&good)], body: b"grant_type=client_credentials&scope=&scope=".to_vec(), status: 400, error: "invalid_request" },
        Case { name: "basic and post at once", path: "/oauth2/token", headers: vec![ct(), auth(&good)], body: format!("grant_type=client_credentials&client_secret={}", c.secret).into_bytes(), status: 400, error: "invalid_request" },
        Case { name: "form id differs from basic id", path: "/oauth2/token", headers: vec![ct(), auth(&good)], body: b"grant_type=client_credentials&client_id=other".to_vec(), status: 400, error: "invalid_request" },
        Case { name: "missing grant_type", path: "/oauth2/token", headers: vec![ct(), auth(&good)], body: b"scope=read".to_vec(), status: 400, error: "invalid_request" },
        Case { name: "no client authentication", path: "/oauth2/token", headers: vec![ct()], body: b"grant_type=client_credentials".to_vec(), status: 401, error: "invalid_client" },
        Case { name: "secret without id", path: "/oauth2/token", headers: vec![ct()], body: b"grant_type=client_credentials&client_secret=x".to_vec(), status: 400, error: "invalid_request" },
        Case { name: "wrong secret", path: "/oauth2/token", headers: vec![ct(), auth(&basic(&c.client_id, "nope"))], body: b"grant_type=client_credentials".to_vec(), status: 401, error: "invalid_client" },
        Case { name: "unknown client", path: "/oauth2/token", headers: vec![ct(), auth(&basic("ghost", "nope"))], body: b"grant_type=client_credentials".to_vec(), status: 401, error: "invalid_client" },
        Case { name: "basic not base64", path: "/oauth2/token", headers: vec![ct(), auth("Basic %%%%")], body: b"grant_type=client_credentials".to_vec(), status: 401, error: "invalid_client" },
        Case { name: "basic without colon", path: "/oauth2/token", headers: vec![ct(), auth(&format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("nocolon")))], body: b"grant_type=client_credentials".to_vec(), status: 401, error: "invalid_client" },
        Case { name: "basic not utf-8", path: "/oauth2/token", headers: vec![ct(), auth(&format!("Basic {}", base64::engine::general_purpose::STANDARD.encode([0xff, 0xfe, b':', 0x80])))], body: b"grant_type=client_credentials".to_vec(), status: 401, error: "invalid_client" },
        Case { name: "bearer instead of basic", path: "/oauth2/token", headers: vec![ct(), auth("Bearer abc")], body: b"grant_type=client_credentials".to_vec(), status: 401, error: "invalid_client" },
        Case { name: "json body", path: "/oauth2/token", headers: vec![("content-type", "application/json".into()), auth(&good)], body: br#"{"grant_type":"client_credentials"}"#.to_vec(), status: 400, error: "invalid_request" },
        Case { name: "no content type", path: "/oauth2/token", headers: vec![auth(&good)], body: b"grant_type=client_credentials".to_vec(), status: 400, error: "invalid_request" },
        Case { name: "client id with NUL", path: "/oauth2/token", headers: vec![ct()], body: b"grant_type=client_credentials&client_id=a%00b&client_secret=x".to_vec(), status: 401, error: "invalid_client" },
        Case { name: "client id 10k long", path: "/oauth2/token", headers: vec![ct()], body: format!("grant_type=client_credentials&client_id={}&client_secret=x", "a".repeat(10_000)).into_bytes(), status: 401, error: "invalid_client" },
        Case { name: "scope value too long", path: "/oauth2/token", headers: vec![ct(), auth(&good)], body: big_scope.into_bytes(), status: 400, error: "invalid_request" },
        Case { name: "too many parameters", path: "/oauth2/token", headers: vec![ct(), auth(&good)], body: many.into_bytes(), status: 400, error: "invalid_request" },
        Case { name: "invalid utf-8 in scope", path: "/oauth2/token", headers: vec![ct(), auth(&good)], body: b"grant_type=client_credentials&scope=%ff%fe".to_vec(), status: 400, error: "invalid_scope" },
        Case { name: "unicode scope", path: "/oauth2/token", headers: vec![ct(), auth(&good)], body: "grant_type=client_credentials&scope=gr\u{e4}des:read".as_bytes().to_vec(), status: 400, error: "invalid_scope" },
        Case { name: "control characters in grant_type", path: "/oauth2/token", headers: vec![ct(), auth(&good)], body: b"grant_type=%0d%0aX-Injected:%201".to_vec(), status: 400, error: "unsupported_grant_type" },
        Case { name: "implicit grant", path: "/oauth2/token", headers: vec![ct(), auth(&good)], body: b"grant_type=implicit".to_vec(), status: 400, error: "unsupported_grant_type" },
        Case { name: "body over the limit", path: "/oauth2/token", headers: vec![ct(), auth(&good)], body: vec![b'a'; 70_000], status: 413, error: "invalid_request" },
        Case { name: "introspect without token", path: "/oauth2/introspect", headers: vec![ct(), auth(&good)], body: b"token_type_hint=access_token".to_vec(), status: 400, error: "invalid_request" },
        Case { name: "introspect repeated token", path: "/oauth2/introspect", headers: vec![ct(), auth(&good)], body: b"token=a&token=b".to_vec(), status: 400, error: "invalid_request" },
        Case { name: "revoke without auth", path: "/oauth2/revoke", headers: vec![ct()], body: b"token=abc".to_vec(), status: 401, error: "invalid_client" },
        Case { name: "revoke json", path: "/oauth2/revoke", headers: vec![("content-type", "application/json".into()), auth(&good)], body: b"{}".to_vec(), status: 400, error: "invalid_request" },
    ];
    for case in cases {
        let mut req = app.http.post(app.url(case.path)).body(case.body.clone());
        for (k, v) in &case.headers {
            req = req.header(*k, v);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        assert_eq!(status, case.status, "{}: {text}", case.name);
        let body: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{}: not JSON: {text}", case.name));
        assert_eq!(body["error"], case.error, "{}: {text}", case.name);
        assert!(body["error_description"].is_string(), "{}: {text}", case.name);
        assert!(!text.contains(&c.secret), "{}: the secret leaked", case.name);
        assert!(!text.contains('\r') && !text.contains("\\r") && !text.contains("\\n"), "{}: control characters echoed: {text}", case.name);
        if case.status == 401 {
            assert!(headers.contains_key("www-authenticate"), "{}", case.name);
        }
        assert_eq!(headers.get("cache-control").map(|v| v.to_str().unwrap()), Some("no-store"), "{}", case.name);
    }
});

both_backends!(two_authorization_headers_are_refused, |app: TestApp| async move {
    let c = app.client("twice", |_| {}).await;
    let resp = app
        .http
        .post(app.url("/oauth2/token"))
        .header("content-type", FORM)
        .header("authorization", basic(&c.client_id, &c.secret))
        .header("authorization", basic("other", "x"))
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
});

both_backends!(streamed_oversized_body_is_refused_without_reading_it_whole, |app: TestApp| async move {
    // No Content-Length: a chunked stream that would go on far past the limit.
    let chunks = futures_stream(200, 16 * 1024);
    let resp = app
        .http
        .post(app.url("/oauth2/token"))
        .header("content-type", FORM)
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await;
    match resp {
        Ok(r) => assert_eq!(r.status().as_u16(), 413),
        // The server may close the connection while the client is still sending.
        Err(e) => assert!(e.is_request() || e.is_body(), "{e}"),
    }
});

fn futures_stream(n: usize, size: usize) -> impl futures_core::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    struct S(usize, usize);
    impl futures_core::Stream for S {
        type Item = Result<Vec<u8>, std::io::Error>;
        fn poll_next(mut self: std::pin::Pin<&mut Self>, _: &mut std::task::Context<'_>) -> std::task::Poll<Option<Self::Item>> {
            if self.0 == 0 {
                return std::task::Poll::Ready(None);
            }
            self.0 -= 1;
            std::task::Poll::Ready(Some(Ok(vec![b'a'; self.1])))
        }
    }
    S(n, size)
}

both_backends!(wrong_methods_and_paths_get_json_errors, |app: TestApp| async move {
    let r = app.http.get(app.url("/oauth2/token")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 405);
    let b: serde_json::Value = r.json().await.unwrap();
    assert_eq!(b["error"], "invalid_request");
    let r = app.http.get(app.url("/nope")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
});
