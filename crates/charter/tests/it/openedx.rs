//! Open edX wire compatibility: `/oauth2/access_token`, the claim set, restricted applications.

use crate::both_backends;
use crate::helpers::*;
use serde_json::json;

both_backends!(access_token_endpoint_with_token_type_jwt_gives_the_openedx_claim_set, |app: TestApp| async move {
    let c = app
        .client("edx-app", |s| {
            s.scopes = vec!["grades:read user_id".into()];
            s.filters = vec!["content_org:MITx".into()];
        })
        .await;
    let (status, headers, body) = app
        .post_form(
            "/oauth2/access_token",
            Some((&c.client_id, &c.secret)),
            &[("grant_type", "client_credentials"), ("token_type", "JWT"), ("scope", "grades:read user_id email profile")],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["cache-control"], "no-store");
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["access_token", "expires_in", "scope", "token_type"]);
    assert_eq!(body["token_type"], "JWT");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "email grades:read profile user_id");
    let token = body["access_token"].as_str().unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    assert!(header.kid.is_some());
    assert!(verify_like_openedx(&app, token).await, "edx-drf-extensions style verification");
    let claims = verify_with_jwks(&app, token).await.unwrap();
    let owner = app.store.account_by_username("svc-edx-app").await.unwrap().unwrap();
    let now = app.clock_now();
    assert_eq!(claims["iss"], "http://charter.test/oauth2");
    assert_eq!(claims["aud"], "lms-key");
    let iat = claims["iat"].as_i64().unwrap();
    assert!((iat - now).abs() <= 2);
    assert_eq!(claims["exp"].as_i64().unwrap(), iat + 3600);
    let sub = claims["sub"].as_str().unwrap();
    assert_eq!(sub.len(), 32);
    assert!(sub.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(sub, owner.anonymous_id);
    assert_eq!(claims["preferred_username"], "svc-edx-app");
    assert_eq!(claims["scopes"], json!(["email", "grades:read", "profile", "user_id"]));
    assert_eq!(claims["scope"], "email grades:read profile user_id");
    assert_eq!(claims["filters"], json!(["content_org:MITx"]));
    assert_eq!(claims["is_restricted"], false);
    assert_eq!(claims["version"], "1.2.0");
    assert_eq!(claims["grant_type"], "client-credentials");
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["user_id"], owner.id);
    assert_eq!(claims["email"], "svc-edx-app@example.com");
    assert_eq!(claims["name"], "Service Account");
    assert_eq!(claims["given_name"], "Service");
    assert_eq!(claims["family_name"], "Account");
    assert_eq!(claims["administrator"], false);
    assert_eq!(claims["superuser"], false);
    assert_eq!(claims["client_id"], "edx-app");
    assert_eq!(claims["jti"].as_str().unwrap().len(), 32);
});

both_backends!(scope_driven_claims_are_absent_without_their_scope, |app: TestApp| async move {
    let c = app.client("narrow", |s| s.scopes = vec!["grades:read".into()]).await;
    let (_, _, body) = app
        .post_form("/oauth2/access_token", Some((&c.client_id, &c.secret)), &[("grant_type", "client_credentials"), ("token_type", "jwt"), ("scope", "grades:read")])
        .await;
    let claims = verify_with_jwks(&app, body["access_token"].as_str().unwrap()).await.unwrap();
    for absent in ["user_id", "email", "name", "given_name", "family_name", "administrator", "superuser"] {
        assert!(claims.get(absent).is_none(), "{absent} should be absent: {claims}");
    }
    assert_eq!(claims["filters"], json!([]));
});

both_backends!(access_token_without_token_type_is_opaque_bearer, |app: TestApp| async move {
    let c = app.client("edx-plain", |_| {}).await;
    for path in ["/oauth2/access_token", "/oauth2/access_token/"] {
        let (status, _, body) = app.post_form(path, Some((&c.client_id, &c.secret)), &[("grant_type", "client_credentials")]).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["access_token"].as_str().unwrap().matches('.').count(), 0);
    }
    // The X-Token-Type header asks for a JWT when the form does not.
    let resp = app
        .http
        .post(app.url("/oauth2/access_token"))
        .basic_auth(&c.client_id, Some(&c.secret))
        .header("X-Token-Type", "jwt")
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["token_type"], "JWT");
});

both_backends!(restricted_applications_as_openedx_issues_them, |app: TestApp| async move {
    let c = app
        .client("restricted", |s| {
            s.restricted = true;
            s.scopes = vec!["grades:read".into()];
            s.filters = vec!["content_org:HarvardX".into()];
        })
        .await;
    // Opaque: issued already expired.
    let (status, _, body) = app
        .post_form("/oauth2/access_token", Some((&c.client_id, &c.secret)), &[("grant_type", "client_credentials"), ("scope", "grades:read")])
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["expires_in"].as_i64().unwrap() < 0, "{body}");
    let intro = app.introspect(&c, body["access_token"].as_str().unwrap()).await;
    assert_eq!(intro, json!({"active": false}));
    // JWT: normal lifetime, is_restricted, filters.
    let (_, _, body) = app
        .post_form("/oauth2/access_token", Some((&c.client_id, &c.secret)), &[("grant_type", "client_credentials"), ("scope", "grades:read"), ("token_type", "jwt")])
        .await;
    assert_eq!(body["expires_in"], 3600);
    let claims = verify_with_jwks(&app, body["access_token"].as_str().unwrap()).await.unwrap();
    assert_eq!(claims["is_restricted"], true);
    assert_eq!(claims["filters"], json!(["content_org:HarvardX"]));
    assert_eq!(claims["scopes"], json!(["grades:read"]));
});

both_backends!(user_me_filter_for_non_client_credentials_applications, |app: TestApp| async move {
    // An application whose primary grant is not client-credentials gets user:me in every token.
    let c = app
        .client("mixed", |s| {
            s.grant_types = vec!["password".into(), "client_credentials".into()];
            s.filters = vec!["content_org:MITx".into()];
        })
        .await;
    let (_, _, body) = app
        .post_form("/oauth2/access_token", Some((&c.client_id, &c.secret)), &[("grant_type", "client_credentials"), ("token_type", "jwt")])
        .await;
    let claims = verify_with_jwks(&app, body["access_token"].as_str().unwrap()).await.unwrap();
    assert_eq!(claims["filters"], json!(["content_org:MITx", "user:me"]));
    assert_eq!(claims["grant_type"], "password");
    let scopes = claims["scopes"].as_array().unwrap();
    assert!(scopes.contains(&json!("user_id")), "password applications get user_id in the JWT scopes: {claims}");
});

impl TestApp {
    pub fn clock_now(&self) -> i64 {
        use charter_server::Clock;
        self.clock.now().0
    }
}
