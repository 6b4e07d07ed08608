//! The client credentials grant, driven by a real OAuth client library.

use crate::both_backends;
use crate::helpers::*;
use oauth2::basic::BasicClient;
use oauth2::{AuthType, ClientId, ClientSecret, Scope, TokenResponse, TokenUrl};

async fn oauth2_token(app: &TestApp, c: &Client, scopes: &[&str], auth: AuthType) -> Result<String, String> {
    let client = BasicClient::new(ClientId::new(c.client_id.clone()))
        .set_client_secret(ClientSecret::new(c.secret.clone()))
        .set_auth_type(auth)
        .set_token_uri(TokenUrl::new(app.url("/oauth2/token")).unwrap());
    let mut req = client.exchange_client_credentials();
    for s in scopes {
        req = req.add_scope(Scope::new((*s).into()));
    }
    req.request_async(&app.http)
        .await
        .map(|t| t.access_token().secret().clone())
        .map_err(|e| format!("{e:?}"))
}

both_backends!(oauth2_crate_gets_a_jwt_verified_by_the_jwks, |app: TestApp| async move {
    let c = app.client("reports", |s| s.scopes = vec!["grades:read".into()]).await;
    for auth in [AuthType::BasicAuth, AuthType::RequestBody] {
        let token = oauth2_token(&app, &c, &["grades:read"], auth).await.unwrap();
        let claims = verify_with_jwks(&app, &token).await.unwrap();
        assert_eq!(claims["client_id"], "reports");
        assert_eq!(claims["scopes"], serde_json::json!(["grades:read"]));
        assert!(verify_like_openedx(&app, &token).await);
    }
});

both_backends!(wrong_secret_is_refused_by_the_library, |app: TestApp| async move {
    let mut c = app.client("wrong", |_| {}).await;
    c.secret.push('x');
    let err = oauth2_token(&app, &c, &[], AuthType::BasicAuth).await.unwrap_err();
    assert!(err.contains("invalid_client"), "{err}");
});

both_backends!(response_is_rfc6749_with_no_store, |app: TestApp| async move {
    let c = app.client("plain", |s| s.scopes = vec!["grades:read".into()]).await;
    let (status, headers, body) = app
        .post_form("/oauth2/token", Some((&c.client_id, &c.secret)), &[("grant_type", "client_credentials"), ("scope", "grades:read")])
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["pragma"], "no-cache");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "grades:read");
    assert!(body.get("refresh_token").is_none(), "client_credentials issues no refresh token unless an operator enables it");
});

both_backends!(opaque_format_applications_get_opaque_tokens, |app: TestApp| async move {
    let c = app.client("opaque", |s| s.token_format = Some("opaque".into())).await;
    let (status, body) = app.token(&c, &[]).await;
    assert_eq!(status, 200);
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(token.matches('.').count(), 0, "opaque, not a JWT: {token}");
    // "<id><secret>": the id finds the row; only the secret's keyed digest is stored.
    let (id, secret) = charter_core::token::split_opaque(token).unwrap();
    let state = app.store.token_by_id(id).await.unwrap().unwrap();
    assert_eq!(state.record.client_id, "opaque");
    assert_eq!(state.record.digest, Some(app.master.digest_key().digest(secret.as_bytes())));
    // A token with the right id and a wrong secret is not active.
    let rs = app.resource_server("rs").await;
    let forged = format!("{id}{}", "A".repeat(43));
    assert_eq!(app.introspect(&rs, &forged).await, serde_json::json!({"active": false}));
    assert_eq!(app.introspect(&rs, token).await["active"], true);
    // token_type=jwt still gives a JWT.
    let (_, body) = app.token(&c, &[("token_type", "jwt")]).await;
    assert_eq!(body["token_type"], "JWT");
    assert_eq!(body["access_token"].as_str().unwrap().matches('.').count(), 2);
});

both_backends!(suspended_application_and_owner_cannot_get_tokens, |app: TestApp| async move {
    use charter_core::client::Status;
    use charter_server::admin::{accounts, applications};
    let c = app.client("susp", |_| {}).await;
    applications::set_status(app.store.as_ref(), &app.actor(), "susp", Status::Suspended).await.unwrap();
    let (status, body) = app.token(&c, &[]).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")));
    applications::set_status(app.store.as_ref(), &app.actor(), "susp", Status::Active).await.unwrap();
    assert_eq!(app.token(&c, &[]).await.0, 200);
    accounts::set_status(app.store.as_ref(), &app.actor(), "svc-susp", Status::Suspended).await.unwrap();
    assert_eq!(app.token(&c, &[]).await.0, 401);
});

both_backends!(public_clients_cannot_use_client_credentials, |app: TestApp| async move {
    let _ = app.client("pub", |s| {
        s.client_type = Some("public".into());
        s.grant_types = vec!["authorization_code".into()];
        s.redirect_uris = vec!["https://app.example.com/cb".into()];
    }).await;
    let (status, _, body) = app.post_form("/oauth2/token", None, &[("grant_type", "client_credentials"), ("client_id", "pub")]).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "unauthorized_client");
});

both_backends!(grants_not_allowed_or_unknown, |app: TestApp| async move {
    let c = app.client("g", |_| {}).await;
    let (s, _, b) = app.post_form("/oauth2/token", Some((&c.client_id, &c.secret)), &[("grant_type", "urn:ietf:params:oauth:grant-type:device_code")]).await;
    assert_eq!((s, b["error"].as_str()), (400, Some("unsupported_grant_type")));
    let (s, _, b) = app.post_form("/oauth2/token", Some((&c.client_id, &c.secret)), &[("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange")]).await;
    assert_eq!((s, b["error"].as_str()), (400, Some("unsupported_grant_type")));
    let (s, _, b) = app.post_form("/oauth2/token", Some((&c.client_id, &c.secret)), &[("grant_type", "authorization_code"), ("code", "x")]).await;
    assert_eq!((s, b["error"].as_str()), (400, Some("unauthorized_client")));
    let (s, _, b) = app.post_form("/oauth2/token", Some((&c.client_id, &c.secret)), &[("grant_type", "refresh_token"), ("refresh_token", "x")]).await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_grant")));
    let (s, _, b) = app.post_form("/oauth2/token", Some((&c.client_id, &c.secret)), &[("grant_type", "password"), ("username", "x"), ("password", "y")]).await;
    assert_eq!((s, b["error"].as_str()), (400, Some("unauthorized_client")));
});
